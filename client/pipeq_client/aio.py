"""The asyncio client: the same ``core`` as :class:`pipeq_client.Client`, over redis.asyncio.

Safe in FastAPI handlers and other event loops: a submit is one pipelined round trip on
the loop (no thread hop); waiting uses ``XREAD BLOCK`` and ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Generic, Self

import redis.asyncio as aioredis

from pipeq_client._methods import AsyncTaskMethods
from pipeq_client.core import EventCursor, blob_ref, plan_submit, queue_cancel, queue_submit, with_blob
from pipeq_client.events import DoneEvent, JobEvent, StreamEvent, result_from_event, stream_event
from pipeq_client.jobs import JobHandle, ResultT
from pipeq_client.liveness import live_consumers_args, no_worker_error
from pipeq_client.outage import CONNECTION_ERRORS, broker_unavailable
from pipeq_client.protocol import TASK_QUEUES, Queue, cancel_key
from pipeq_client.settings import ClientSettings
from pipeq_client.status import JobStatus, job_status
from pipeq_client.types import TaskRequest

__all__ = ["AsyncClient", "AsyncJob"]


class AsyncJob(Generic[ResultT]):
    """A submitted request, awaited: ``await job.result()``, ``async for event in job.stream()``."""

    def __init__(self, client: AsyncClient, handle: JobHandle[ResultT]) -> None:
        self._client = client
        self.handle = handle

    @property
    def id(self) -> str:
        return self.handle.id

    async def events(self, *, after: str = "0-0", timeout: float | None = None) -> AsyncIterator[JobEvent]:
        """Every event after the stream id ``after`` (all by default), ending with the final one.
        Rides out a Redis outage shorter than ``timeout``."""
        settings = self._client.settings
        cursor = EventCursor.open(
            self.id, self.handle.events_key, after, timeout or settings.default_timeout_s, settings.redis_url
        )
        while not cursor.finished:
            try:
                reply = await self._client.redis.xread(cursor.streams(), block=cursor.block_ms())
            except CONNECTION_ERRORS as error:
                await asyncio.sleep(cursor.pause(error))
                continue
            for event in cursor.accept(reply):
                yield event

    async def stream(self, *, after: str = "0-0", timeout: float | None = None) -> AsyncIterator[StreamEvent]:
        """Typed events as they arrive: TokenEvent..., then DoneEvent (or the typed error raised).

        Resume after a disconnect with ``after=<last event_id>``; nothing is missed.
        """
        async for event in self.events(after=after, timeout=timeout):
            typed = stream_event(event, self.handle.result_type)
            if isinstance(typed, DoneEvent):
                typed = typed.model_copy(update={"result": await self._client.resolve(typed.result)})
            if typed is not None:
                yield typed

    async def result(self, timeout: float | None = None) -> ResultT:
        """The typed result; raises a :class:`~pipeq_client.errors.PipeqError` subclass on failure."""
        async for event in self.events(timeout=timeout):
            if event.final:
                return await self._client.resolve(result_from_event(event, self.handle.result_type))
        raise AssertionError("unreachable: events() ends with a final event or raises")

    async def cancel(self) -> None:
        """Cancels the job: a queued job never runs (JobCancelledError); a running generation stops
        between steps and returns what it has, with finish_reason ``cancelled``."""
        round_trip = self._client.pipeline(f"cancelling job {self.id}")
        async with round_trip as pipe:
            queue_cancel(pipe, self.id, self._client.settings)

    async def status(self) -> JobStatus:
        """queued / running / done / failed / cancelled, in one round trip (see ``status.py``)."""
        round_trip = self._client.pipeline(f"reading job {self.id}")
        async with round_trip as pipe:
            pipe.xrevrange(self.handle.events_key, count=1)
            pipe.exists(cancel_key(self.id))
        last, cancelled = round_trip.replies
        return job_status(self.id, last, cancelled)


class _AsyncPipeline:
    """One round trip: commands queued in the ``async with`` block are sent on exit."""

    def __init__(self, client: AsyncClient, what: str) -> None:
        self.client = client
        self.what = what
        self.pipe = client.redis.pipeline(transaction=False)
        self.replies: list[Any] = []

    async def __aenter__(self) -> Any:
        return self.pipe

    async def __aexit__(self, kind: type[BaseException] | None, *rest: BaseException | TracebackType | None) -> None:
        if kind is not None:
            return
        try:
            self.replies = await self.pipe.execute()
        except CONNECTION_ERRORS as error:
            raise broker_unavailable(self.client.settings.redis_url, error, self.what) from error


class AsyncClient(AsyncTaskMethods):
    """The asyncio twin of :class:`pipeq_client.Client`."""

    def __init__(self, redis_url: str | None = None, *, settings: ClientSettings | None = None) -> None:
        base = settings or ClientSettings()
        self.settings = base if redis_url is None else base.model_copy(update={"redis_url": redis_url})
        self.redis: aioredis.Redis = aioredis.Redis.from_url(self.settings.redis_url)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        await self.redis.aclose()

    def pipeline(self, what: str) -> _AsyncPipeline:
        """Commands sent in one round trip; a lost Redis raises BrokerUnavailableError naming ``what``."""
        return _AsyncPipeline(self, what)

    async def live_consumers(self, queue: Queue) -> int:
        """How many workers consume ``queue`` right now (registered, with a live lease)."""
        try:
            return int(await self.redis.eval(*live_consumers_args(queue)))
        except CONNECTION_ERRORS as error:
            raise broker_unavailable(self.settings.redis_url, error, "checking workers") from error

    async def submit(
        self, request: TaskRequest[ResultT], job_id: str | None = None, *, require_worker: bool | None = None
    ) -> AsyncJob[ResultT]:
        """Validates sizes, claim-checks large inputs, and enqueues by task name: one round trip.

        ``job_id``: your own id (e.g. an idempotency key); default a random UUID.
        ``require_worker`` (default: the ``require_worker`` setting): raise NoWorkerError at once
        if no live worker consumes the task's queue, instead of queueing until one starts."""
        plan = plan_submit(request, self.settings, job_id)
        wanted = self.settings.require_worker if require_worker is None else require_worker
        if wanted and await self.live_consumers(TASK_QUEUES[plan.task]) == 0:
            raise no_worker_error(TASK_QUEUES[plan.task])
        async with self.pipeline(f"submitting {plan.task.value}") as pipe:
            queue_submit(pipe, plan, self.settings)
        return AsyncJob(self, JobHandle(plan.job_id, plan.task, type(request).result_type))  # type: ignore[arg-type]

    async def run(self, request: TaskRequest[ResultT], timeout: float | None = None) -> ResultT:
        """``await (await submit(request)).result(timeout)``."""
        return await (await self.submit(request)).result(timeout)

    def job(self, job_id: str, request_type: type[TaskRequest[ResultT]]) -> AsyncJob[ResultT]:
        """Re-attaches to a job submitted earlier (by this or another process)."""
        return AsyncJob(self, JobHandle(job_id, request_type.task, request_type.result_type))  # type: ignore[arg-type]

    async def resolve(self, result: ResultT) -> ResultT:
        """Fetches claim-checked binary outputs (TTS audio) so the result carries the bytes."""
        ref = blob_ref(result)
        if ref is None:
            return result
        try:
            return with_blob(result, ref, await self.redis.get(ref))
        except CONNECTION_ERRORS as error:
            raise broker_unavailable(self.settings.redis_url, error, "fetching the audio output") from error
