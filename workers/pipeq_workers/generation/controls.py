"""Stopping criteria checked between generation steps: stop strings, cancel, deadline.

Each records why it fired, so the runner can report the finish reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from transformers import StoppingCriteria

from pipeq_workers.generation.stops import find_stop

__all__ = ["DEADLINE_GRACE_S", "CancelCriteria", "CancelPoll", "DeadlineCriteria", "StopStringCriteria"]

# A generation ends itself at its deadline (finish_reason time_limit: a result). Its caller
# waits this much longer for that before giving up with a time_limit error: one more step,
# decoding and logprobs must fit in it.
DEADLINE_GRACE_S = 5.0


def _all_rows(input_ids: torch.LongTensor, value: bool) -> torch.BoolTensor:
    return torch.full((input_ids.shape[0],), value, dtype=torch.bool, device=input_ids.device)


class StopStringCriteria(StoppingCriteria):
    """Per row: stop once the generated text (decoded from ``prefix_length`` on) holds one of
    that row's stop strings (``stops[row]``; rows without any are never decoded here)."""

    def __init__(self, stops: list[list[str]], prefix_length: int, decode: Callable[[list[int]], str]) -> None:
        self.stops = stops
        self.prefix_length = prefix_length
        self.decode = decode
        self.stopped_rows: set[int] = set()

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object) -> torch.BoolTensor:
        done = _all_rows(input_ids, False)
        for row, stops in enumerate(self.stops):
            if row not in self.stopped_rows and stops:
                generated = input_ids[row, self.prefix_length :].tolist()
                if find_stop(self.decode(generated), stops) is not None:
                    self.stopped_rows.add(row)
            done[row] = row in self.stopped_rows
        return done


class CancelCriteria(StoppingCriteria):
    """Stops the rows of each request whose cancel key exists (set by Job.cancel()).
    ``owners[row]`` is the request of each row. One round trip looks at every request's key;
    it runs at most every ``poll_interval_s``, not at every step."""

    def __init__(
        self,
        cancelled: Callable[[list[str]], list[bool]],
        keys: list[str],
        owners: list[int],
        poll_interval_s: float = 0.05,
    ) -> None:
        self.cancelled = cancelled
        self.keys = keys
        self.owners = owners
        self.poll_interval_s = poll_interval_s
        self.fired: set[int] = set()
        self._next_poll = 0.0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object) -> torch.BoolTensor:
        now = time.monotonic()
        if now >= self._next_poll:
            self._next_poll = now + self.poll_interval_s
            for request, found in enumerate(self.cancelled(self.keys)):
                if found:
                    self.fired.add(request)
        return _rows_of(input_ids, self.owners, self.fired)


class CancelPoll:
    """Cancel lookups shared by many requests decoding together, each with its own
    CancelCriteria: a lookup answers from one round trip over every running request's keys
    (``running_keys()``), made at most every ``poll_interval_s`` or when it is asked about a
    key it has not looked at yet (a request that just joined)."""

    def __init__(
        self,
        lookup: Callable[[Any, list[str]], list[bool]],
        running_keys: Callable[[], list[str]],
        poll_interval_s: float = 0.05,
    ) -> None:
        self.lookup = lookup
        self.running_keys = running_keys
        self.poll_interval_s = poll_interval_s
        self._looked_at: set[str] = set()
        self._found: set[str] = set()
        self._next_poll = 0.0

    def __call__(self, client: Any, keys: list[str]) -> list[bool]:
        now = time.monotonic()
        if now >= self._next_poll or not self._looked_at.issuperset(keys):
            every = sorted(set(self.running_keys()).union(keys))
            self._found = {key for key, found in zip(every, self.lookup(client, every), strict=True) if found}
            self._looked_at = set(every)
            self._next_poll = now + self.poll_interval_s
        return [key in self._found for key in keys]


class DeadlineCriteria(StoppingCriteria):
    """Stops each request's rows at its monotonic deadline. Celery's time limits do nothing
    under the solo and threads pools, so the limit is enforced here, between steps."""

    def __init__(self, deadlines: list[float | None], owners: list[int]) -> None:
        self.deadlines = deadlines
        self.owners = owners
        self.fired: set[int] = set()

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object) -> torch.BoolTensor:
        now = time.monotonic()
        for request, deadline in enumerate(self.deadlines):
            if deadline is not None and now >= deadline:
                self.fired.add(request)
        return _rows_of(input_ids, self.owners, self.fired)


def _rows_of(input_ids: torch.LongTensor, owners: list[int], requests: set[int]) -> torch.BoolTensor:
    flags = [owner in requests for owner in owners]
    return torch.tensor(flags, dtype=torch.bool, device=input_ids.device)
