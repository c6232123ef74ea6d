"""What every route does with the queue: submit (after load shedding), wait with a deadline,
cancel when the caller leaves or the deadline passes. All of it through ``AsyncClient``.

Job ids the gateway gives out are ``<task>.<uuid>``: any replica can re-attach to a job with
its typed result from the id alone (the gateway keeps no state of its own).
"""

from __future__ import annotations

import asyncio
import math
import re
import time
import uuid
from typing import Any

from starlette.requests import Request

from pipeq_client import AsyncClient, AsyncJob
from pipeq_client.errors import JobTimeoutError, PipeqError
from pipeq_client.protocol import TASK_QUEUES, Queue, Task
from pipeq_client.types import REQUEST_TYPES, TaskRequest
from pipeq_gateway.catalog import ModelCatalog
from pipeq_gateway.errors import GatewayError
from pipeq_gateway.metrics import GatewayMetrics
from pipeq_gateway.settings import GatewaySettings

__all__ = ["Gateway", "task_of"]

TIMEOUT_HEADER = "x-request-timeout"
# Ids the clients make (UUIDs, <task>.<hex>, your own idempotency keys): nothing that could
# reach outside the job's own Redis keys.
_JOB_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")


def task_of(job_id: str) -> Task | None:
    """The task of a gateway-issued job id; None for ids from elsewhere (the Python client)."""
    prefix, dot, _ = job_id.partition(".")
    return Task(prefix) if dot and prefix in Task._value2member_map_ else None


class ClientGoneError(Exception):
    """The HTTP client disconnected while waiting; the job was cancelled."""


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass


class Gateway:
    """The queue as the routes see it."""

    def __init__(
        self, settings: GatewaySettings, client: AsyncClient, catalog: ModelCatalog, metrics: GatewayMetrics
    ) -> None:
        self.settings = settings
        self.client = client
        self.catalog = catalog
        self.metrics = metrics
        self._depths: dict[Queue, tuple[int, float]] = {}  # queue -> (depth, when read: monotonic s)

    def timeout(self, request: Request) -> float:
        """The setting, or less when the request asks (``X-Request-Timeout: <seconds>``)."""
        asked = request.headers.get(TIMEOUT_HEADER)
        try:
            return min(self.settings.request_timeout_s, float(asked)) if asked else self.settings.request_timeout_s
        except ValueError:
            raise GatewayError(400, "invalid_request", f"{TIMEOUT_HEADER}: not a number", TIMEOUT_HEADER) from None

    async def shed(self, task: Task) -> None:
        """429 when the task's queue is deeper than its limit, instead of queueing forever."""
        queue = TASK_QUEUES[task]
        limit = self.settings.depth_limit(queue)
        if limit is None:
            return
        depth = await self._depth(queue)
        if depth > limit:
            self.metrics.shed.labels(queue.value).inc()
            retry = str(self.settings.retry_after_s)
            message = f"queue {queue.value} holds {depth} waiting jobs (limit {limit}); retry after {retry}s"
            raise GatewayError(429, "overloaded", message, headers={"Retry-After": retry})

    async def _depth(self, queue: Queue) -> int:
        """Waiting jobs (the queue's list length), re-read at most every ``queue_depth_ttl_s``: a
        shedder needs the trend, not the exact count, and this saves a round trip per request."""
        depth, read_at = self._depths.get(queue, (0, -math.inf))
        now = time.monotonic()
        if now - read_at >= self.settings.queue_depth_ttl_s:
            depth = int(await self.client.redis.llen(queue.value))
            self._depths[queue] = (depth, now)
        return depth

    async def submit(self, request: TaskRequest[Any]) -> AsyncJob[Any]:
        task = type(request).task
        await self.shed(task)
        job = await self.client.submit(request, job_id=f"{task.value}.{uuid.uuid4().hex}")
        self.metrics.submitted.labels(task.value).inc()
        return job

    def job(self, job_id: str) -> AsyncJob[Any]:
        """Re-attaches by id; typed when the id names its task (any type serves the raw events)."""
        if not _JOB_ID.fullmatch(job_id):
            raise GatewayError(404, "not_found", f"no such job id {job_id[:80]!r}", "id")
        task = task_of(job_id) or Task.TEXT_GENERATION
        return self.client.job(job_id, REQUEST_TYPES[task])

    async def cancel_on_disconnect(self, job: AsyncJob[Any]) -> None:
        self.metrics.disconnects.inc()
        await job.cancel()

    async def run(self, request: TaskRequest[Any], http: Request) -> tuple[AsyncJob[Any], Any]:
        """Submits and waits; cancels the job if the caller leaves or the deadline passes. An
        error raised after the submit carries ``job_id`` (the answer names the job)."""
        timeout = self.timeout(http)
        job = await self.submit(request)
        waiter = asyncio.ensure_future(job.result(timeout=timeout))
        watcher = asyncio.ensure_future(_disconnected(http))
        try:
            await asyncio.wait((waiter, watcher), return_when=asyncio.FIRST_COMPLETED)
        finally:
            watcher.cancel()
            if not waiter.done():
                waiter.cancel()
        if not waiter.done() or waiter.cancelled():
            await self.cancel_on_disconnect(job)
            raise ClientGoneError(job.id)
        try:
            return job, waiter.result()
        except PipeqError as error:
            error.job_id = job.id  # type: ignore[attr-defined]
            if isinstance(error, JobTimeoutError):
                await job.cancel()  # nobody waits for it any more
            raise
