"""A job's status, read from the last event on its stream and its cancel key (no registry of jobs
exists: the events are the state).

    no event yet                         queued     (cancelled, if the cancel key is set)
    started / token / reset              running    (cancelled, if the cancel key is set)
    done                                 done       (cancelled, if generation ended by cancel)
    error                                failed     (cancelled, for the ``cancelled`` code)

A job id that was never submitted reads as queued: nothing tells it apart from one that waits.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from pipeq_client.events import JobEvent, decode_event
from pipeq_client.protocol import ErrorCode, EventType

__all__ = ["JobState", "JobStatus", "job_status"]


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobStatus(BaseModel):
    """Where a job stands. ``last_event`` is the stream's last event (the final one once the job
    ended; the typed result comes from ``Job.result()``)."""

    model_config = ConfigDict(frozen=True)

    id: str
    state: JobState
    cancel_requested: bool
    last_event: JobEvent | None = None

    @property
    def finished(self) -> bool:
        return self.last_event is not None and self.last_event.final

    @property
    def error(self) -> dict[str, Any] | None:
        """``{code, message, field}`` of an ``error`` event."""
        event = self.last_event
        return event.data if event is not None and event.type is EventType.ERROR else None


def _ended_by_cancel(event: JobEvent) -> bool:
    result = event.data.get("result")
    details = result.get("details") if isinstance(result, dict) else None
    return isinstance(details, dict) and details.get("finish_reason") == "cancelled"


def _state(last: JobEvent | None, cancel_requested: bool) -> JobState:
    if last is None or not last.final:
        if cancel_requested:
            return JobState.CANCELLED
        return JobState.QUEUED if last is None else JobState.RUNNING
    if last.type is EventType.DONE:
        return JobState.CANCELLED if _ended_by_cancel(last) else JobState.DONE
    return JobState.CANCELLED if last.data.get("code") == ErrorCode.CANCELLED.value else JobState.FAILED


def job_status(job_id: str, last_reply: Any, cancel_reply: Any) -> JobStatus:
    """The status from the replies of ``XREVRANGE <events> + - COUNT 1`` and ``EXISTS <cancel key>``
    (sent in one pipeline by ``Job.status()``)."""
    last = decode_event(*last_reply[0]) if last_reply else None
    cancel_requested = bool(cancel_reply)
    return JobStatus(
        id=job_id, state=_state(last, cancel_requested), cancel_requested=cancel_requested, last_event=last
    )
