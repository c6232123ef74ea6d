"""``pipeq health``: one JSON line per worker heartbeat and a verdict (exit status) for probes."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from pipeq_workers.monitoring.health import HealthState, probe_passes, read_health, scan_heartbeats

__all__ = ["report_directory", "report_file"]


def _report(path: Path, state: HealthState, probe: str, max_age_s: float) -> bool:
    passed = probe_passes(state, probe, max_age_s)
    click.echo(json.dumps({"file": str(path), "probe": probe, "healthy": passed, **dataclasses.asdict(state)}))
    return passed


def report_file(path: Path, probe: str, max_age_s: float) -> bool:
    """One worker's heartbeat file (``--file`` / ``PIPEQ_HEALTH_FILE``)."""
    try:
        state = read_health(path)
    except (OSError, ValueError, TypeError) as error:
        click.echo(f"unhealthy: cannot read {path}: {error}", err=True)
        return False
    return _report(path, state, probe, max_age_s)


def report_directory(directory: Path, probe: str, max_age_s: float) -> bool:
    """Every worker's heartbeat in ``directory``: passes only if there is one and all pass."""
    found = scan_heartbeats(directory)
    for path in found.exited:
        click.echo(f"removed stale heartbeat {path}: its worker exited without cleaning up", err=True)
    for path, reason in found.unreadable.items():
        click.echo(f"unhealthy: cannot read {path}: {reason}", err=True)
    if not found.workers:
        click.echo(
            f"unhealthy: no worker heartbeat in {directory} (is a worker running on this host? "
            "one with PIPEQ_HEALTH_FILE set: pass --file)",
            err=True,
        )
        return False
    verdicts = [_report(path, state, probe, max_age_s) for path, state in found.workers.items()]
    return all(verdicts) and not found.unreadable
