"""What sync and async jobs share: identity, the stream key, result decoding."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel

from pipeq_client.errors import JobTimeoutError
from pipeq_client.protocol import Task, events_key

__all__ = ["Deadline", "JobHandle", "ResultT"]

ResultT = TypeVar("ResultT", bound=BaseModel)

# XREAD BLOCK in slices, so a timeout is honoured even while events keep arriving.
MAX_BLOCK_MS = 1000


@dataclass(frozen=True)
class JobHandle(Generic[ResultT]):
    """A submitted job: its id (the Celery task id), task and result type."""

    id: str
    task: Task
    result_type: type[ResultT]

    @property
    def events_key(self) -> str:
        return events_key(self.id)


class Deadline:
    """A wait limit: how many milliseconds to block next, or JobTimeoutError once it has passed."""

    def __init__(self, job_id: str, timeout_s: float) -> None:
        self.job_id = job_id
        self.timeout_s = timeout_s
        self.ends_at = time.monotonic() + timeout_s

    def block_ms(self) -> int:
        remaining = self.ends_at - time.monotonic()
        if remaining <= 0:
            raise JobTimeoutError(f"job {self.job_id}: no result within {self.timeout_s:g}s (it may still run)")
        return max(1, min(MAX_BLOCK_MS, int(remaining * 1000)))
