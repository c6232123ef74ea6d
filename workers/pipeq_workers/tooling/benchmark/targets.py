"""The issue's targets, evaluated on a run: each row the measured value, the target, met or not.
A target whose workload was not run (``--workloads``) is left out."""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

__all__ = ["ratios", "targets"]

Results = dict[str, Any]  # one workload's results: {"unit": ..., "variants": {key: summary}}
_COMPARE = {">=": operator.ge, "<=": operator.le}


def _throughput(results: Results, key: str) -> float:
    return float(results["variants"][key]["throughput"]["median"])


def _over(results: Results, numerator: str, denominator: str) -> float:
    return _throughput(results, numerator) / _throughput(results, denominator)


def _later(results: Results, key: str, direct: str, series: str, quantile: str) -> float:
    """How much later ``key`` is than ``direct`` at ``quantile`` of ``series``, ms."""
    variants = results["variants"]
    return float(variants[key]["series"][series][quantile] - variants[direct]["series"][series][quantile])


@dataclass(frozen=True)
class Target:
    workload: str
    name: str
    op: str
    threshold: float
    unit: str  # "x" for ratios
    value: Callable[[Results], float]
    how: str

    def row(self, results: Results) -> dict[str, Any]:
        measured = self.value(results)
        return {
            "workload": self.workload,
            "name": self.name,
            "measured": round(measured, 3),
            "target": f"{self.op} {self.threshold:g}{'x' if self.unit == 'x' else ' ' + self.unit}",
            "op": self.op,
            "threshold": self.threshold,
            "unit": self.unit,
            "met": bool(_COMPARE[self.op](measured, self.threshold)),
            "how": self.how,
        }


def _ratio(workload: str, name: str, threshold: float, pair: tuple[str, str], how: str) -> Target:
    value = partial(_over, numerator=pair[0], denominator=pair[1])
    return Target(workload, name, ">=", threshold, "x", value, how)


def _lateness(workload: str, name: str, limit: float, keys: tuple[str, str], series: str, quantile: str) -> Target:
    value = partial(_later, key=keys[0], direct=keys[1], series=series, quantile=quantile)
    how = f"{quantile} of {series} through pipeq minus {quantile} direct, pooled over repeats"
    return Target(workload, name, "<=", limit, "ms", value, how)


def _encoder_targets(task: str) -> list[Target]:
    ceiling = "median throughput over repeats, pipeq batched worker under 32 clients over direct batch 32"
    rows = [_ratio(task, "batched, 32 clients / direct batch 32", 0.95, ("batched-32", "direct-32"), ceiling)]
    for mode in ("batched", "unbatched"):
        for quantile, limit in (("p50", 3.0), ("p99", 5.0)):
            name = f"single-request overhead {quantile}, {mode} worker"
            keys = (f"turns-{mode}", "turns-direct")  # taking turns request by request
            rows.append(_lateness(task, name, limit, keys, "latency_ms", quantile))
    return rows


def _generation_targets() -> list[Target]:
    mixed, budget = "generation-mixed", "tokens/s medians; every client the same token budget"
    return [
        _ratio(mixed, "mixed / identical settings, batched", 0.8, ("mixed-batched-32", "identical-batched-32"), budget),
        _ratio(mixed, "mixed settings, batched / unbatched", 4.0, ("mixed-batched-32", "mixed-unbatched-32"), budget),
    ]


def _streaming_targets() -> list[Target]:
    rows = []
    for mode in ("batched", "unbatched"):
        keys = (mode, "direct")
        rows += [
            _lateness("streaming", f"per-token overhead p50, {mode} worker", 0.5, keys, "gap_ms", "p50"),
            _lateness("streaming", f"time to first token over direct p50, {mode} worker", 3.0, keys, "ttft_ms", "p50"),
        ]
    return rows


def _submit_target() -> Target:
    value = partial(_throughput, key="async")
    return Target("submit-rate", "AsyncClient.submit, one process", ">=", 2000.0, "submits/s", value, "median")


def _all() -> list[Target]:
    encoders = [row for task in ("text-classification", "feature-extraction") for row in _encoder_targets(task)]
    return [*encoders, *_generation_targets(), *_streaming_targets(), _submit_target()]


def targets(workloads: dict[str, Results]) -> list[dict[str, Any]]:
    """The targets table of a run's workloads."""
    return [target.row(workloads[target.workload]) for target in _all() if target.workload in workloads]


_PAIRS = {
    "batched_32_over_direct_32": ("batched-32", "direct-32"),
    "batched_32_over_unbatched_32": ("batched-32", "unbatched-32"),
    "batched_32_over_in_process_32": ("batched-32", "in-process-32"),
    "unbatched_1_over_direct_1": ("unbatched-1", "direct-1"),
    "mixed_batched_over_identical_batched": ("mixed-batched-32", "identical-batched-32"),
    "mixed_batched_over_unbatched": ("mixed-batched-32", "mixed-unbatched-32"),
    "identical_batched_over_direct_batch_32": ("identical-batched-32", "direct-identical-32"),
    "mixed_batched_over_direct_1_per_call": ("mixed-batched-32", "direct-mixed-1"),
    "async_over_sync": ("async", "sync"),
}


def _cpu(results: Results, key: str, roles: tuple[str, ...]) -> float:
    cpu = results["variants"][key]["cpu_s_per_1000"]
    return float(sum(cpu[role]["median"] for role in roles if role in cpu))


def _cpu_ratios(results: Results) -> dict[str, float]:
    """Direct batch 32's CPU per request over batched pipeq's: the throughput ratio a machine with
    a core to spare for each would allow, whatever share of a busy machine each side got."""
    variants = results["variants"]
    if "direct-32" not in variants or "batched-32" not in variants:
        return {}
    direct = _cpu(results, "direct-32", ("server",))
    return {
        "cpu_direct_32_over_batched_32_server": round(direct / _cpu(results, "batched-32", ("server",)), 3),
        "cpu_direct_32_over_batched_32_all": round(
            direct / _cpu(results, "batched-32", ("server", "client", "redis")), 3
        ),
    }


def ratios(results: Results) -> dict[str, float]:
    """Context beside the targets: pipeq against direct and against itself unbatched."""
    variants = results["variants"]
    present = {label: pair for label, pair in _PAIRS.items() if pair[0] in variants and pair[1] in variants}
    return {label: round(_over(results, *pair), 3) for label, pair in present.items()} | _cpu_ratios(results)
