"""Turns a run into the targets table, a JSON file and a PNG plot (matplotlib)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["evaluate", "write_report"]

TASKS = ("text-classification", "feature-extraction", "text-generation")
BARS = (
    ("direct, 1/call", ("direct", "single")),
    ("direct, batch 32", ("direct", "batch32")),
    ("pipeq unbatched, 1 client", ("unbatched", "1")),
    ("pipeq unbatched, 32 clients", ("unbatched", "32")),
    ("pipeq batched, 1 client", ("batched", "1")),
    ("pipeq batched, 32 clients", ("batched", "32")),
)


def _throughput(run: dict[str, Any], task: str, source: str, key: str) -> dict[str, float]:
    if source == "direct":
        return dict(run["direct"][task][key])
    return dict(run["pipeq"][source][task][key]["throughput"])


def evaluate(run: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per target and task: the measured value, the target, met or not."""
    rows = []
    for task in TASKS:
        batched = _throughput(run, task, "batched", "32")["median"]
        ceiling = _throughput(run, task, "direct", "batch32")["median"]
        unbatched = _throughput(run, task, "unbatched", "32")["median"]
        overhead = run["pipeq"]["unbatched"][task]["1"]["latency_p50_ms"] - run["direct"][task]["latency_p50_ms"]
        rows += [
            {
                "task": task,
                "target": "batched / direct batch 32 >= 0.8",
                "value": batched / ceiling,
                "met": batched / ceiling >= 0.8,
            },
            {
                "task": task,
                "target": "batched / unbatched, 32 clients >= 3",
                "value": batched / unbatched,
                "met": batched / unbatched >= 3,
            },
            {"task": task, "target": "low-load overhead p50 <= 3 ms", "value": overhead, "met": overhead <= 3},
        ]
    stream = run["pipeq"]["unbatched"]["stream"]
    per_token = stream["token_gap_p50_ms"] - run["direct"]["stream"]["token_gap_p50_ms"] + stream["delivery_lag_p50_ms"]
    rows.append(
        {
            "task": "text-generation",
            "target": "streaming per-token overhead p50 <= 1 ms",
            "value": per_token,
            "met": per_token <= 1,
        }
    )
    return rows


def _plot(run: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(TASKS), figsize=(18, 6))
    for axis, task in zip(axes, TASKS, strict=True):
        spreads = [_throughput(run, task, *source) for _, source in BARS]
        medians = [spread["median"] for spread in spreads]
        errors = [
            [m - s["low"] for m, s in zip(medians, spreads, strict=True)],
            [s["high"] - m for m, s in zip(medians, spreads, strict=True)],
        ]
        colors = ["#888888", "#444444", "#9ecae1", "#3182bd", "#fdae6b", "#e6550d"]
        axis.bar(range(len(BARS)), medians, yerr=errors, color=colors, capsize=4)
        axis.set_xticks(range(len(BARS)), [label for label, _ in BARS], rotation=35, ha="right", fontsize=8)
        axis.set_title(task)
        axis.set_ylabel("tokens/s" if task == "text-generation" else "texts/s")
    meta = run["meta"]
    figure.suptitle(
        f"pipeq vs direct pipeline: {meta['machine']}, torch threads {meta['torch_threads']}, "
        f"median of {meta['repeats']} (bars: min-max)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(run: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    """Writes ``bench-<date>.json`` / ``.png`` and ``latest.json`` / ``latest.png``."""
    directory.mkdir(parents=True, exist_ok=True)
    run = {**run, "targets": evaluate(run)}
    stamp = run["meta"]["date"][:19].replace(":", "").replace("-", "")
    json_path, png_path = directory / f"bench-{stamp}.json", directory / f"bench-{stamp}.png"
    json_path.write_text(json.dumps(run, indent=2))
    _plot(run, png_path)
    (directory / "latest.json").write_text(json_path.read_text())
    (directory / "latest.png").write_bytes(png_path.read_bytes())
    return json_path, png_path
