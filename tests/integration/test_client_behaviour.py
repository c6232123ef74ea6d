"""Client behaviour over real Redis and workers: async twin, claim checks, re-attaching, timeouts."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import redis

from pipeq_client import AsyncClient, Client
from pipeq_client.errors import DeadLetterError, JobTimeoutError
from pipeq_client.protocol import DEAD_LETTER_KEY, EventType, attempts_key
from pipeq_client.types import (
    AudioClassificationRequest,
    ImageClassificationRequest,
    TextClassificationRequest,
    TextClassificationResult,
    TextToSpeechRequest,
    TextToSpeechResult,
)
from pipeq_workers.tooling.samples import sample_png, sample_wav

pytestmark = pytest.mark.integration


def test_async_client_waits_without_blocking_the_event_loop(stack) -> None:
    """The waiter starts before the job exists; the job can only be submitted (from the same
    loop) if waiting does not block it."""

    async def main() -> tuple[object, object, object]:
        async with AsyncClient(stack.redis_url) as client:
            job_id = f"async-{uuid.uuid4().hex}"
            waiter = asyncio.create_task(client.job(job_id, TextClassificationRequest).result(timeout=60))
            await asyncio.sleep(0.2)
            assert not waiter.done()
            await client.submit(TextClassificationRequest.build("I love it", parameters={"top_k": 2}), job_id=job_id)
            vision, speech = await asyncio.gather(
                client.image_classification(sample_png()), client.text_to_speech("hello", seed=1)
            )
            return await waiter, vision, speech

    text, vision, speech = asyncio.run(main())
    assert isinstance(text, TextClassificationResult) and len(text.root) == 2
    assert vision.root and isinstance(speech, TextToSpeechResult) and speech.audio.data[:4] == b"RIFF"


def test_large_audio_travels_by_claim_check_and_gives_the_inline_result(client: Client) -> None:
    wav = sample_wav(10.0, rate=16_000)  # ~320 KB, above the 256 KiB inline limit
    assert len(wav) > client.settings.inline_limit_bytes
    by_reference = client.run(AudioClassificationRequest.build({"data": wav}, parameters={"top_k": 3}))
    with Client(
        client.settings.redis_url, settings=client.settings.model_copy(update={"inline_limit_bytes": 10**7})
    ) as inline:
        direct = inline.run(AudioClassificationRequest.build({"data": wav}, parameters={"top_k": 3}))
    assert by_reference == direct


def test_large_tts_output_comes_back_by_claim_check(stack, client: Client) -> None:
    assert stack.worker_env()["PIPEQ_INLINE_LIMIT_BYTES"] == "1024", "test workers claim-check outputs over 1 KiB"
    job = client.submit(TextToSpeechRequest.build("hello world, this is a longer sentence", parameters={"seed": 0}))
    result = job.result(timeout=60)
    (done,) = [event for event in job.events(timeout=5) if event.type is EventType.DONE]
    ref = done.data["result"]["audio"]["ref"]
    assert ref.startswith("pipeq:blob:") and "data" not in done.data["result"]["audio"]
    assert result.audio.ref is None and result.audio.data == redis.Redis.from_url(stack.redis_url).get(ref)
    assert result.audio.data[:4] == b"RIFF" and len(result.audio.data) > 1024


def test_a_job_can_be_re_attached_by_id(client: Client) -> None:
    job = client.submit(TextClassificationRequest.build("x"))
    first = job.result(timeout=60)
    # Another process knowing only the id reads the same events again.
    again = client.job(job.id, TextClassificationRequest)
    assert again.result(timeout=5) == first
    assert [event.type for event in again.events(timeout=5)] == [EventType.STARTED, EventType.DONE]


def test_result_wait_times_out_with_typed_error(client: Client) -> None:
    ghost = client.job("no-such-job", TextClassificationRequest)
    with pytest.raises(JobTimeoutError) as caught:
        ghost.result(timeout=0.3)
    assert "no-such-job" in str(caught.value)


def test_a_job_delivered_too_often_goes_to_the_dead_letter_list(client: Client) -> None:
    connection = redis.Redis.from_url(client.settings.redis_url)
    request = ImageClassificationRequest.build(sample_png())
    # Simulate a poison message that already crashed workers max_attempts times: the
    # delivery counter is keyed by job id, which the client picks through Celery's task id.
    from pipeq_client.broker import make_producer
    from pipeq_client.protocol import TASK_QUEUES, celery_task_name

    producer = make_producer(client.settings)
    job_id = "poison-job-1"
    connection.set(attempts_key(job_id), 3)
    producer.send_task(
        celery_task_name(request.task),
        args=[request.model_dump(mode="json")],
        queue=TASK_QUEUES[request.task].value,
        task_id=job_id,
    )
    producer.close()
    with pytest.raises(DeadLetterError) as caught:
        client.job(job_id, ImageClassificationRequest).result(timeout=60)
    assert "delivered 3 times" in str(caught.value)
    parked = [json.loads(item) for item in connection.lrange(DEAD_LETTER_KEY, 0, -1)]
    assert any(record["job_id"] == job_id and record["task"] == "image-classification" for record in parked)
