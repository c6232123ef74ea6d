"""The I/O-free core both clients share: what a submit writes, how a job's events are read,
how a result's claim-checked outputs are fetched. ``Client`` and ``AsyncClient`` are thin
shells that only send these commands (redis-py and redis.asyncio pipelines take the same
calls) and wait in their own way (``time.sleep`` or ``asyncio.sleep``).
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from pipeq_client.envelope import args_repr, event_channel, task_message, task_sent_event
from pipeq_client.errors import BlobMissingError
from pipeq_client.events import JobEvent, decode_reply
from pipeq_client.jobs import Deadline, ResultT
from pipeq_client.outage import Backoff, broker_unavailable, pause_or_raise
from pipeq_client.payload import build_payload
from pipeq_client.protocol import TASK_QUEUES, Queue, Task, cancel_key
from pipeq_client.settings import ClientSettings
from pipeq_client.types import Blob, TaskRequest, TextToSpeechResult

__all__ = ["EventCursor", "SubmitPlan", "blob_ref", "plan_submit", "queue_cancel", "queue_submit", "with_blob"]

# The Lamport clock of the task-sent events this process publishes (Flower orders by it).
_clock = itertools.count(1)


@dataclass(frozen=True)
class SubmitPlan:
    """Everything one submit writes, in one pipeline: claim-checked blobs first, then the task
    message on its queue, then the task-sent event for Flower."""

    job_id: str
    task: Task
    queue: Queue
    uploads: dict[str, bytes]
    message: bytes
    event: bytes


def plan_submit(request: TaskRequest[Any], settings: ClientSettings, job_id: str | None) -> SubmitPlan:
    """Validates sizes, claim-checks large inputs and builds the message (raises typed errors)."""
    payload = build_payload(request, settings)
    task = type(request).task
    queue = TASK_QUEUES[task]
    job = job_id or str(uuid.uuid4())
    argsrepr = args_repr(payload.body)
    message = task_message(task, job, payload.body, queue, argsrepr)
    event = task_sent_event(task, job, queue, argsrepr, next(_clock))
    return SubmitPlan(job, task, queue, payload.uploads, message, event)


def queue_submit(pipe: Any, plan: SubmitPlan, settings: ClientSettings) -> None:
    """Queues the plan's commands on a (sync or async) pipeline; one round trip sends them."""
    for key, data in plan.uploads.items():
        pipe.set(key, data, ex=settings.blob_ttl_s)
    pipe.lpush(plan.queue.value, plan.message)
    pipe.publish(event_channel(settings.redis_url), plan.event)


def queue_cancel(pipe: Any, job_id: str, settings: ClientSettings) -> None:
    pipe.set(cancel_key(job_id), 1, ex=settings.result_ttl_s)


@dataclass
class EventCursor:
    """Reading one job's stream: where to resume, how long to block, when it ended, and how
    to ride out a Redis outage shorter than the timeout."""

    job_id: str
    key: str
    last_id: str
    deadline: Deadline
    redis_url: str
    finished: bool = False
    _backoff: Backoff = field(default_factory=Backoff)
    _outage: BaseException | None = None

    @classmethod
    def open(cls, job_id: str, key: str, after: str, timeout_s: float, redis_url: str) -> EventCursor:
        return cls(job_id, key, after, Deadline(job_id, timeout_s), redis_url)

    def streams(self) -> dict[Any, Any]:  # redis-py's loosely typed XREAD argument
        return {self.key: self.last_id}

    def block_ms(self) -> int:
        """How long the next ``XREAD`` may block; raises once the wait is over (typed: a timeout,
        or BrokerUnavailableError if Redis was still away at the end)."""
        if self._outage is not None and time.monotonic() >= self.deadline.ends_at:
            raise broker_unavailable(self.redis_url, self._outage, f"reading job {self.job_id}") from self._outage
        return self.deadline.block_ms()

    def accept(self, reply: Any) -> list[JobEvent]:
        """The events of an ``XREAD`` reply, up to and including the final one."""
        self._outage = None
        self._backoff.reset()
        events: list[JobEvent] = []
        for event in decode_reply(reply):
            self.last_id = event.id
            events.append(event)
            if event.final:
                self.finished = True
                break
        return events

    def pause(self, error: BaseException) -> float:
        """Seconds to wait before reconnecting after ``error``."""
        self._outage = error
        return pause_or_raise(self._backoff, self.deadline.ends_at, self.redis_url, error, f"reading job {self.job_id}")


def blob_ref(result: Any) -> str | None:
    """The claim-check key of a result's binary output (text-to-speech audio), if any."""
    if isinstance(result, TextToSpeechResult) and result.audio.ref is not None:
        return result.audio.ref
    return None


def with_blob(result: ResultT, ref: str, data: Any) -> ResultT:
    """The result carrying the fetched bytes; BlobMissingError if they expired."""
    if data is None:
        raise BlobMissingError(f"audio output {ref} expired", field="audio")
    return result.model_copy(update={"audio": Blob(data=data)})
