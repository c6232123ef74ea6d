"""One variant's samples (one per repeat) as JSON-ready figures: medians over repeats with
their min-max, CPU seconds per 1,000 requests by role, pooled percentiles, Redis calls."""

from __future__ import annotations

import statistics
from typing import Any

from pipeq_workers.tooling.benchmark.stats import Spread, percentile
from pipeq_workers.tooling.benchmark.window import Sample

__all__ = ["ROLES", "summarise"]

ROLES = ("server", "client", "redis")


def _per_1000(samples: list[Sample], role: str) -> dict[str, float]:
    return Spread.of([sample.cpu_s[role] / sample.work.requests * 1000 for sample in samples]).as_dict()


def _series(samples: list[Sample]) -> dict[str, dict[str, float]]:
    """Every repeat's values pooled, so p99 rests on all of them."""
    names = samples[0].work.series
    pooled = {name: [value for sample in samples for value in sample.work.series[name]] for name in names}
    return {
        name: {"p50": round(percentile(values, 50), 4), "p99": round(percentile(values, 99), 4), "n": len(values)}
        for name, values in pooled.items()
        if values
    }


def _commandstats(samples: list[Sample]) -> dict[str, Any] | None:
    if any(sample.commands is None for sample in samples):
        return None
    requests = sum(sample.work.requests for sample in samples)
    calls: dict[str, int] = {}
    for sample in samples:
        for name, count in (sample.commands or {}).items():
            calls[name] = calls.get(name, 0) + count
    return {
        "calls_per_request": round(sum(calls.values()) / requests, 3),
        "per_request": {name: round(count / requests, 3) for name, count in sorted(calls.items())},
    }


def _background(samples: list[Sample]) -> float | None:
    """The idle servers' CPU while this variant ran, in cores (0.01: 1% of one core)."""
    if "background" not in samples[0].cpu_s:
        return None  # alternating turns: no window of its own
    return round(statistics.median(sample.cpu_s["background"] / sample.elapsed_s for sample in samples), 4)


def summarise(samples: list[Sample]) -> dict[str, Any]:
    roles = [role for role in ROLES if role in samples[0].cpu_s]
    return {
        "requests_per_repeat": samples[0].work.requests,
        "throughput": Spread.of([sample.work.units / sample.elapsed_s for sample in samples]).as_dict(),
        "requests_per_s": Spread.of([sample.work.requests / sample.elapsed_s for sample in samples]).as_dict(),
        "cpu_s_per_1000": {role: _per_1000(samples, role) for role in roles},
        "background_cores": _background(samples),
        "series": _series(samples),
        "commandstats": _commandstats(samples),
    }
