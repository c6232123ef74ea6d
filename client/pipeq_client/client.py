"""The synchronous client: a thin shell over ``core`` (redis-py, ``time.sleep``).

``Client.submit(request) -> Job``; ``Job.result()``, ``Job.stream()``, ``Job.events()``,
``Job.status()``, ``Job.cancel()``. The per-task methods come from ``_methods.TaskMethods``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import TracebackType
from typing import Generic, Self

import redis

from pipeq_client._methods import TaskMethods
from pipeq_client.core import EventCursor, blob_ref, plan_submit, queue_cancel, queue_submit, with_blob
from pipeq_client.events import DoneEvent, JobEvent, StreamEvent, result_from_event, stream_event
from pipeq_client.jobs import JobHandle, ResultT
from pipeq_client.liveness import live_consumers_args, no_worker_error
from pipeq_client.outage import CONNECTION_ERRORS, broker_unavailable
from pipeq_client.protocol import TASK_QUEUES, Queue, cancel_key
from pipeq_client.settings import ClientSettings
from pipeq_client.status import JobStatus, job_status
from pipeq_client.types import TaskRequest

__all__ = ["Client", "Job"]


class Job(Generic[ResultT]):
    """A submitted request. ``result()`` waits for the typed result or raises the typed error."""

    def __init__(self, client: Client, handle: JobHandle[ResultT]) -> None:
        self._client = client
        self.handle = handle

    @property
    def id(self) -> str:
        return self.handle.id

    def events(self, *, after: str = "0-0", timeout: float | None = None) -> Iterator[JobEvent]:
        """Every event after the stream id ``after`` (all by default), ending with the final one.
        Rides out a Redis outage shorter than ``timeout``."""
        settings = self._client.settings
        cursor = EventCursor.open(
            self.id, self.handle.events_key, after, timeout or settings.default_timeout_s, settings.redis_url
        )
        while not cursor.finished:
            try:
                reply = self._client.redis.xread(cursor.streams(), block=cursor.block_ms())
            except CONNECTION_ERRORS as error:
                time.sleep(cursor.pause(error))
                continue
            yield from cursor.accept(reply)

    def stream(self, *, after: str = "0-0", timeout: float | None = None) -> Iterator[StreamEvent]:
        """Typed events as they arrive: TokenEvent..., then DoneEvent (or the typed error raised).

        Resume after a disconnect with ``after=<last event_id>``; nothing is missed.
        """
        for event in self.events(after=after, timeout=timeout):
            typed = stream_event(event, self.handle.result_type)
            if isinstance(typed, DoneEvent):
                typed = typed.model_copy(update={"result": self._client.resolve(typed.result)})
            if typed is not None:
                yield typed

    def result(self, timeout: float | None = None) -> ResultT:
        """The typed result; raises a :class:`~pipeq_client.errors.PipeqError` subclass on failure."""
        for event in self.events(timeout=timeout):
            if event.final:
                return self._client.resolve(result_from_event(event, self.handle.result_type))
        raise AssertionError("unreachable: events() ends with a final event or raises")

    def cancel(self) -> None:
        """Cancels the job: a queued job never runs (JobCancelledError); a running generation stops
        between steps and returns what it has, with finish_reason ``cancelled``."""
        with self._client.pipeline(f"cancelling job {self.id}") as pipe:
            queue_cancel(pipe, self.id, self._client.settings)

    def status(self) -> JobStatus:
        """queued / running / done / failed / cancelled, in one round trip (see ``status.py``)."""
        round_trip = self._client.pipeline(f"reading job {self.id}")
        with round_trip as pipe:
            pipe.xrevrange(self.handle.events_key, count=1)
            pipe.exists(cancel_key(self.id))
        last, cancelled = round_trip.replies
        return job_status(self.id, last, cancelled)


class _Pipeline:
    """One round trip: commands queued in the ``with`` block are sent on exit; replies kept."""

    def __init__(self, client: Client, what: str) -> None:
        self.client = client
        self.what = what
        self.pipe = client.redis.pipeline(transaction=False)
        self.replies: list[object] = []

    def __enter__(self) -> redis.client.Pipeline:
        return self.pipe

    def __exit__(self, kind: type[BaseException] | None, *rest: BaseException | TracebackType | None) -> None:
        if kind is not None:
            return
        try:
            self.replies = self.pipe.execute()
        except CONNECTION_ERRORS as error:
            raise broker_unavailable(self.client.settings.redis_url, error, self.what) from error


class Client(TaskMethods):
    """Enqueues typed requests into Redis and reads typed results back.

    ``Client()`` reads ``PIPEQ_*`` environment variables; arguments override them.
    """

    def __init__(self, redis_url: str | None = None, *, settings: ClientSettings | None = None) -> None:
        base = settings or ClientSettings()
        self.settings = base if redis_url is None else base.model_copy(update={"redis_url": redis_url})
        self.redis: redis.Redis = redis.Redis.from_url(self.settings.redis_url)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.redis.close()

    def pipeline(self, what: str) -> _Pipeline:
        """Commands sent in one round trip; a lost Redis raises BrokerUnavailableError naming ``what``."""
        return _Pipeline(self, what)

    def live_consumers(self, queue: Queue) -> int:
        """How many workers consume ``queue`` right now (registered, with a live lease)."""
        try:
            return int(self.redis.eval(*live_consumers_args(queue)))
        except CONNECTION_ERRORS as error:
            raise broker_unavailable(self.settings.redis_url, error, "checking workers") from error

    def submit(
        self, request: TaskRequest[ResultT], job_id: str | None = None, *, require_worker: bool | None = None
    ) -> Job[ResultT]:
        """Validates sizes, claim-checks large inputs, and enqueues by task name: one round trip.

        ``job_id``: your own id (e.g. an idempotency key); default a random UUID.
        ``require_worker`` (default: the ``require_worker`` setting): raise NoWorkerError at once
        if no live worker consumes the task's queue, instead of queueing until one starts."""
        plan = plan_submit(request, self.settings, job_id)
        wanted = self.settings.require_worker if require_worker is None else require_worker
        if wanted and self.live_consumers(TASK_QUEUES[plan.task]) == 0:
            raise no_worker_error(TASK_QUEUES[plan.task])
        with self.pipeline(f"submitting {plan.task.value}") as pipe:
            queue_submit(pipe, plan, self.settings)
        return Job(self, JobHandle(plan.job_id, plan.task, type(request).result_type))  # type: ignore[arg-type]

    def run(self, request: TaskRequest[ResultT], timeout: float | None = None) -> ResultT:
        """``submit(request).result(timeout)``."""
        return self.submit(request).result(timeout)

    def job(self, job_id: str, request_type: type[TaskRequest[ResultT]]) -> Job[ResultT]:
        """Re-attaches to a job submitted earlier (by this or another process)."""
        return Job(self, JobHandle(job_id, request_type.task, request_type.result_type))  # type: ignore[arg-type]

    def resolve(self, result: ResultT) -> ResultT:
        """Fetches claim-checked binary outputs (TTS audio) so the result carries the bytes."""
        ref = blob_ref(result)
        if ref is None:
            return result
        try:
            return with_blob(result, ref, self.redis.get(ref))
        except CONNECTION_ERRORS as error:
            raise broker_unavailable(self.settings.redis_url, error, "fetching the audio output") from error
