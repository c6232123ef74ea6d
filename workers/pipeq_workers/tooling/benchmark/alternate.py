"""Request-level interleaving for latency measurements: direct and pipeq take turns, one
request each, the order rotated every turn.

On a shared machine the scheduler favours a process that sleeps between bursts over one that
computes without pause: a direct loop that runs call after call is preempted at regular
intervals, while a worker waiting on Redis between requests is woken with credit and runs at
once. Measured one loop at a time, a direct call came out slower than the same call through
pipeq. Taking turns makes every call a burst after a wait, for both sides alike. The windows
are too short for CPU accounting; CPU per 1,000 requests comes from the throughput windows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from pipeq_workers.tooling.benchmark.window import Sample, Work

__all__ = ["Stepper", "alternate", "merge"]


@dataclass(frozen=True)
class Stepper:
    """``step(i)`` runs request ``i`` of ``count`` alone and returns its work and timings."""

    key: str
    label: str
    step: Callable[[int], Work]
    count: int


def merge(works: list[Work]) -> Work:
    """Many single steps as one piece of work: counts summed, series joined."""
    names = {name for work in works for name in work.series}
    series = {name: [value for work in works for value in work.series.get(name, [])] for name in sorted(names)}
    return Work(sum(work.requests for work in works), sum(work.units for work in works), series)


def alternate(steppers: list[Stepper], shift: int) -> dict[str, Sample]:
    """One round: every stepper's requests in turns; elapsed is each one's own busy time."""
    works: dict[str, list[Work]] = {stepper.key: [] for stepper in steppers}
    busy = dict.fromkeys(works, 0.0)
    for index in range(min(stepper.count for stepper in steppers)):
        turn = (shift + index) % len(steppers)
        for stepper in steppers[turn:] + steppers[:turn]:
            started = time.perf_counter()
            works[stepper.key].append(stepper.step(index))
            busy[stepper.key] += time.perf_counter() - started
    return {key: Sample(merge(done), busy[key], {}, None) for key, done in works.items()}
