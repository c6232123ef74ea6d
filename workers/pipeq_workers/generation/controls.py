"""Stopping criteria checked between generation steps: stop strings, cancel, deadline.

Each records why it fired, so the runner can report the finish reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from transformers import StoppingCriteria

from pipeq_workers.generation.stops import find_stop

__all__ = ["CancelCriteria", "DeadlineCriteria", "StopStringCriteria"]


def _all_rows(input_ids: torch.LongTensor, value: bool) -> torch.BoolTensor:
    return torch.full((input_ids.shape[0],), value, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]


class StopStringCriteria(StoppingCriteria):
    """Per row: stop once the generated text (decoded from ``prefix_length`` on) holds a stop string."""

    def __init__(self, stops: list[str], prefix_length: int, decode: Callable[[list[int]], str]) -> None:
        self.stops = stops
        self.prefix_length = prefix_length
        self.decode = decode
        self.stopped_rows: set[int] = set()
        self.stopped_at: dict[int, int] = {}  # row -> generated tokens when its stop string appeared

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object) -> torch.BoolTensor:
        done = _all_rows(input_ids, False)
        for row in range(input_ids.shape[0]):
            if row in self.stopped_rows:
                done[row] = True
                continue
            generated = input_ids[row, self.prefix_length :].tolist()
            if find_stop(self.decode(generated), self.stops) is not None:
                self.stopped_rows.add(row)
                self.stopped_at[row] = len(generated)
                done[row] = True
        return done


class CancelCriteria(StoppingCriteria):
    """Stops every row once ``is_cancelled()`` says so (a Redis key set by Job.cancel())."""

    def __init__(self, is_cancelled: Callable[[], bool]) -> None:
        self.is_cancelled = is_cancelled
        self.fired = False

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object) -> torch.BoolTensor:
        self.fired = self.fired or self.is_cancelled()
        return _all_rows(input_ids, self.fired)


class DeadlineCriteria(StoppingCriteria):
    """Stops every row at a monotonic deadline. Celery's time limits do nothing under the solo
    and threads pools, so the limit is enforced here, between steps."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object) -> torch.BoolTensor:
        self.fired = self.fired or time.monotonic() >= self.deadline
        return _all_rows(input_ids, self.fired)
