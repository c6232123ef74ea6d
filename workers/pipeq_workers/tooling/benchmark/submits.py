"""Submit rate: how fast one process enqueues. Requests are built (validated) beforehand, so
the loops time ``submit`` alone: payload, Celery message, the Redis push."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pipeq_client import AsyncClient, Client
from pipeq_client.types import TaskRequest
from pipeq_workers.tooling.benchmark.window import Probe, Sample, Work

__all__ = ["ASYNC_IN_FLIGHT", "async_submits", "sync_submits"]

# Concurrent submits the async loop keeps in flight, as a busy gateway process would.
ASYNC_IN_FLIGHT = 64


def sync_submits(client: Client, requests: Sequence[TaskRequest[Any]]) -> Work:
    """``Client.submit`` one after another from one thread."""
    for request in requests:
        client.submit(request)
    return Work(len(requests), len(requests))


async def _submit_all(client: AsyncClient, requests: Sequence[TaskRequest[Any]]) -> Work:
    gate = asyncio.Semaphore(ASYNC_IN_FLIGHT)

    async def one(request: TaskRequest[Any]) -> None:
        async with gate:
            await client.submit(request)

    await asyncio.gather(*(one(request) for request in requests))
    return Work(len(requests), len(requests))


def async_submits(probe: Probe, redis_url: str, requests: Sequence[TaskRequest[Any]]) -> Sample:
    """``AsyncClient.submit``, :data:`ASYNC_IN_FLIGHT` at a time, on one event loop. The window
    opens inside the loop, after a first submit has made the connections and the thread pool."""

    async def run() -> Sample:
        async with AsyncClient(redis_url) as client:
            await client.submit(requests[0])
            window = probe.open()
            return window.close(await _submit_all(client, requests))

    return asyncio.run(run())
