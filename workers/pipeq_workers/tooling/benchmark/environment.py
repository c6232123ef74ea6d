"""Where a run happened: versions, the machine, and how busy it was (it may be shared)."""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import psutil
import torch
import transformers

__all__ = ["describe"]


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            return next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "unknown")
    except OSError:
        return platform.processor() or "unknown"


def describe(*, end: bool = False) -> dict[str, Any]:
    """Versions and the machine at the start of a run; with ``end``, only the load at its end."""
    load = [round(value, 2) for value in os.getloadavg()]
    if end:
        return {"load_average_end": load, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "cpu": _cpu_model(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_start": load,
        "shared": (
            f"{os.cpu_count()} cores shared by everything: the bench process (direct pipeline and pipeq "
            "clients), the pipeq workers and redis-servers it starts, and other users' jobs that may run at "
            "the same time (load averages at start and end are recorded)"
        ),
    }
