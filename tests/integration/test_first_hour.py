"""What a new user runs into first: their own job ids, and a queue no worker consumes."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from pipeq_client import AsyncClient, Client
from pipeq_client.errors import NoWorkerError
from pipeq_client.protocol import Queue
from pipeq_client.types import TextClassificationRequest
from pipeq_workers.embedded import EmbeddedRedis
from pipeq_workers.stack import LocalStack

pytestmark = pytest.mark.integration


def test_sync_submit_uses_the_callers_job_id(client: Client) -> None:
    job_id = f"idempotency-{uuid.uuid4().hex}"
    job = client.submit(TextClassificationRequest.build("mine"), job_id=job_id)
    assert job.id == job_id
    assert job.result(timeout=60).root
    assert client.job(job_id, TextClassificationRequest).result(timeout=5).root, "re-attached by the same id"


def test_async_submit_uses_the_callers_job_id(stack: LocalStack) -> None:
    job_id = f"idempotency-{uuid.uuid4().hex}"

    async def run() -> str:
        async with AsyncClient(stack.redis_url) as client:
            job = await client.submit(TextClassificationRequest.build("mine"), job_id=job_id)
            await job.result(timeout=60)
            return job.id

    assert asyncio.run(run()) == job_id


def test_live_workers_are_counted_per_queue(client: Client) -> None:
    assert client.live_consumers(Queue.TEXT) >= 1
    assert client.submit(TextClassificationRequest.build("served"), require_worker=True).result(timeout=60).root


def test_require_worker_fails_fast_when_no_worker_consumes_the_queue() -> None:
    with EmbeddedRedis() as server, Client(server.url) as client:
        assert client.live_consumers(Queue.TEXT) == 0
        with pytest.raises(NoWorkerError) as caught:
            client.submit(TextClassificationRequest.build("nobody listens"), require_worker=True)
        assert "'text'" in str(caught.value) and caught.value.field == "queue"
        assert client.redis.llen(Queue.TEXT.value) == 0, "nothing was queued"
