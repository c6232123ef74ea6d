"""Writes a run as ``bench-<date>.json`` / ``.png`` and copies them to ``latest.json`` / ``.png``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeq_workers.tooling.benchmark.plot import plot

__all__ = ["format_targets", "write_report"]


def write_report(run: dict[str, Any], directory: Path) -> tuple[Path, Path]:
    """Returns the paths of the dated JSON and PNG."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = run["meta"]["date"][:19].replace(":", "").replace("-", "")
    json_path, png_path = directory / f"bench-{stamp}.json", directory / f"bench-{stamp}.png"
    json_path.write_text(json.dumps(run, indent=2) + "\n")
    plot(run, png_path)
    (directory / "latest.json").write_text(json_path.read_text())
    (directory / "latest.png").write_bytes(png_path.read_bytes())
    return json_path, png_path


def format_targets(rows: list[dict[str, Any]]) -> str:
    """The targets table as console lines."""
    return "\n".join(
        f"{row['workload']:<20} {row['name']:<52} {row['measured']:>10,.2f}  {row['target']:<16} "
        f"{'met' if row['met'] else 'NOT met'}"
        for row in rows
    )
