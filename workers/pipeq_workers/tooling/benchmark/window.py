"""A measured window: wall time, CPU seconds per role, and (optionally) the Redis commands sent.

Roles: ``server`` does the model work (the pipeq worker's process tree; for the direct
pipeline, the bench process itself), ``client`` is the bench process when it only sends and
waits, ``redis`` is the stack's redis-server, and ``background`` is everything else the bench
started that sits idle in this window (the other stack's worker and Redis).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import redis

from pipeq_workers.tooling.benchmark.commandstats import command_calls, delta
from pipeq_workers.tooling.benchmark.cpu import ProcessGroup

__all__ = ["Probe", "Sample", "Window", "Work"]


@dataclass(frozen=True)
class Work:
    """What a measured loop did: requests answered, units produced (texts, tokens, submits),
    and named series of per-event timings in ms (request latency, time to first token...)."""

    requests: int
    units: float
    series: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Sample:
    """One window: the work, its wall time, CPU seconds per role, Redis calls per command."""

    work: Work
    elapsed_s: float
    cpu_s: dict[str, float]
    commands: dict[str, int] | None


class Window:
    """Open: snapshots taken; :meth:`close` with the work done gives the :class:`Sample`."""

    def __init__(self, probe: Probe) -> None:
        self._probe = probe
        self._commands = probe.commands()
        self._cpu = probe.cpu()
        self._started = time.perf_counter()

    def close(self, work: Work) -> Sample:
        elapsed = time.perf_counter() - self._started
        cpu = self._probe.cpu()
        commands_after = self._probe.commands()
        spent = {role: cpu[role] - self._cpu[role] for role in cpu}
        commands = None if commands_after is None or self._commands is None else delta(self._commands, commands_after)
        return Sample(work, elapsed, spent, commands)


class Probe:
    """Where a variant's CPU and Redis traffic are read from."""

    def __init__(self, roles: dict[str, ProcessGroup], redis_client: redis.Redis | None = None) -> None:
        self.roles = roles
        self.redis = redis_client

    def cpu(self) -> dict[str, float]:
        return {role: group.seconds() for role, group in self.roles.items()}

    def commands(self) -> dict[str, int] | None:
        return None if self.redis is None else command_calls(self.redis)

    def open(self) -> Window:
        return Window(self)

    def measure(self, loop: Callable[[], Work]) -> Sample:
        window = self.open()
        return window.close(loop())
