"""What a new user runs into first: their own job ids, and a queue no worker consumes."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from pipeq_client import AsyncClient, Client, DoneEvent, TokenEvent
from pipeq_client.errors import NoWorkerError
from pipeq_client.protocol import Queue
from pipeq_client.types import TextClassificationRequest, TextGenerationRequest
from pipeq_workers.tooling.embedded import EmbeddedRedis
from pipeq_workers.tooling.stack import LocalStack

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


def test_token_events_name_their_sequence_and_position(client: Client) -> None:
    parameters = {"temperature": 0.8, "seed": 3, "max_new_tokens": 6, "num_return_sequences": 2}
    job = client.submit(TextGenerationRequest.build("hello", parameters=parameters))
    events = list(job.stream(timeout=60))
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.result.sequences is not None
    for sequence, generated in enumerate(done.result.sequences):
        tokens = [e for e in events if isinstance(e, TokenEvent) and e.sequence == sequence]
        positions = [e.position for e in tokens if e.position is not None]
        assert positions == list(range(generated.details.generated_tokens)), "one event per token, in order"
        assert "".join(e.text for e in tokens) == generated.text
