"""The PNG: one panel per workload (medians, min-max bars, server and client CPU seconds per
1,000 requests under each bar) and the targets table below them."""

from __future__ import annotations

from typing import Any

__all__ = ["plot"]

COLUMNS = 3
_DIRECT, _PIPEQ = "#777777", "#3182bd"


def _cpu_note(summary: dict[str, Any]) -> str:
    """Server / client CPU s per 1,000 requests, as printed under a bar."""
    cpu = summary["cpu_s_per_1000"]
    parts = [f"{role[0]} {cpu[role]['median']:.2f}" for role in ("server", "client") if role in cpu]
    return "\n".join(parts)


def _throughput_panel(axis: Any, name: str, results: dict[str, Any]) -> None:
    # Variants measured in windows of their own; turns (latency only) have their own panel.
    variants = [variant for variant in results["variants"].values() if variant["cpu_s_per_1000"]]
    medians = [variant["throughput"]["median"] for variant in variants]
    errors = [
        [m - variant["throughput"]["low"] for m, variant in zip(medians, variants, strict=True)],
        [variant["throughput"]["high"] - m for m, variant in zip(medians, variants, strict=True)],
    ]
    colors = [_DIRECT if variant["label"].startswith("direct") else _PIPEQ for variant in variants]
    bars = axis.bar(range(len(variants)), medians, yerr=errors, color=colors, capsize=3)
    labels = [f"{variant['label']}\n{_cpu_note(variant)}" for variant in variants]
    axis.set_xticks(range(len(variants)), labels, rotation=40, ha="right", fontsize=7)
    axis.bar_label(bars, [f"{m:,.0f}" for m in medians], fontsize=7, padding=2)
    axis.set_title(name, fontsize=10)
    axis.set_ylabel(results["unit"])


def _streaming_panel(axis: Any, results: dict[str, Any]) -> None:
    variants = results["variants"]
    keys = list(variants)
    width = 0.38
    for offset, (series, label) in enumerate((("ttft_ms", "time to first token p50"), ("gap_ms", "token gap p50"))):
        values = [variants[key]["series"][series]["p50"] for key in keys]
        bars = axis.bar([i + offset * width for i in range(len(keys))], values, width, label=label)
        axis.bar_label(bars, [f"{v:.1f}" for v in values], fontsize=7, padding=2)
    axis.set_xticks([i + width / 2 for i in range(len(keys))], [variants[k]["label"] for k in keys], fontsize=7)
    axis.set_title("streaming (32 tokens, greedy)", fontsize=10)
    axis.set_ylabel("ms")
    axis.legend(fontsize=7)


def _latency_panel(axis: Any, workloads: dict[str, Any]) -> None:
    """Single-request latency, p50 and p99, from the turns (direct and pipeq alternating)."""
    bars, labels = [], []
    for name, results in workloads.items():
        for key, variant in results["variants"].items():
            if key.startswith("turns-"):
                latency = variant["series"]["latency_ms"]
                bars.append((latency["p50"], latency["p99"]))
                labels.append(f"{name}\n{key.removeprefix('turns-')}")
    width = 0.38
    for offset, label in enumerate(("p50", "p99")):
        values = [pair[offset] for pair in bars]
        drawn = axis.bar([i + offset * width for i in range(len(bars))], values, width, label=label)
        axis.bar_label(drawn, [f"{v:.1f}" for v in values], fontsize=7, padding=2)
    axis.set_xticks([i + width / 2 for i in range(len(bars))], labels, rotation=40, ha="right", fontsize=7)
    axis.set_title("single request, taking turns", fontsize=10)
    axis.set_ylabel("ms")
    axis.legend(fontsize=7)


def _targets_table(axis: Any, rows: list[dict[str, Any]]) -> None:
    axis.axis("off")
    if not rows:
        return
    cells = [
        [row["workload"], row["name"], f"{row['measured']:,.2f}", row["target"], "yes" if row["met"] else "no"]
        for row in rows
    ]
    table = axis.table(cellText=cells, colLabels=["workload", "target", "measured", "goal", "met"], loc="center")
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.3)
    table.auto_set_column_width(list(range(5)))
    for index, row in enumerate(rows, start=1):
        table[index, 4].set_facecolor("#c7e9c0" if row["met"] else "#fcbba1")


def _title(meta: dict[str, Any]) -> str:
    environment = meta["environment"]
    load = f"load avg {environment['load_average_start'][0]:.1f} -> {environment['load_average_end'][0]:.1f}"
    return (
        f"pipeq vs direct pipeline, interleaved: {environment['machine']} (shared, {load}), torch threads "
        f"{meta['torch_threads']}, median of {meta['repeats']} (bars: min-max)\nunder each bar: s = server, "
        f"c = client CPU seconds per 1,000 requests; {meta['date']}"
    )


def plot(run: dict[str, Any], path: Any) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = run["workloads"]
    turns = any(key.startswith("turns-") for results in workloads.values() for key in results["variants"])
    panels = [*workloads, *(["single-request"] if turns else [])]
    panel_rows = max(1, -(-len(panels) // COLUMNS))
    free = panel_rows * COLUMNS - len(panels)
    # The table takes the free cells of the last row when there are two, else a row of its own.
    table_height = 0.5 + 0.28 * len(run["targets"])
    heights = [6.2] * panel_rows + ([] if free >= 2 else [table_height])
    figure = plt.figure(figsize=(20, sum(heights) + 0.8))
    grid = figure.add_gridspec(len(heights), COLUMNS, height_ratios=heights)
    for index, name in enumerate(panels):
        axis = figure.add_subplot(grid[index // COLUMNS, index % COLUMNS])
        if name == "single-request":
            _latency_panel(axis, workloads)
        elif name == "streaming":
            _streaming_panel(axis, workloads[name])
        else:
            _throughput_panel(axis, name, workloads[name])
    table_cells = grid[panel_rows - 1, COLUMNS - free :] if free >= 2 else grid[panel_rows, :]
    _targets_table(figure.add_subplot(table_cells), run["targets"])
    figure.suptitle(_title(run["meta"]), fontsize=11)
    figure.tight_layout(rect=(0, 0, 1, 1 - 0.6 / (sum(heights) + 0.8)))
    figure.savefig(path, dpi=100)
    plt.close(figure)
