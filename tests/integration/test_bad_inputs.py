"""Bad input for each task family -> the documented typed error, and the worker goes on serving.

Each raw message is sent straight to Celery (as a buggy or hostile producer would), so the
worker's own validation is what is tested: it never trusts the wire.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
import redis

from pipeq_client import Client
from pipeq_client.broker import make_producer
from pipeq_client.errors import (
    BlobMissingError,
    InvalidInputError,
    ModelNotAllowedError,
    PayloadTooLargeError,
    PipeqError,
    RequestValidationError,
    UnsupportedParameterError,
)
from pipeq_client.protocol import TASK_QUEUES, Task, blob_key, celery_task_name
from pipeq_client.types import REQUEST_TYPES, TextClassificationResult
from pipeq_workers.tooling.samples import sample_png, sample_wav

pytestmark = pytest.mark.integration


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


PNG = b64(sample_png())
WAV = b64(sample_wav(0.5))

CASES: list[tuple[str, Task, Any, type[PipeqError], str | None, str]] = [
    ("empty text", Task.TEXT_CLASSIFICATION, {"inputs": ""}, RequestValidationError, "inputs", "must not be empty"),
    ("not an object", Task.TEXT_GENERATION, ["hello"], RequestValidationError, "request", "valid dictionary"),
    (
        "missing candidate_labels",
        Task.ZERO_SHOT_CLASSIFICATION,
        {"inputs": "hi", "parameters": {}},
        RequestValidationError,
        "parameters.candidate_labels",
        "Field required",
    ),
    (
        "unknown parameter",
        Task.SUMMARIZATION,
        {"inputs": "hi", "parameters": {"max_tokens": 3}},
        RequestValidationError,
        "parameters.max_tokens",
        "unknown field",
    ),
    (
        "out-of-range value",
        Task.TEXT_GENERATION,
        {"inputs": "hi", "parameters": {"temperature": 5}},
        RequestValidationError,
        "parameters.temperature",
        "less than or equal to 2",
    ),
    (
        "invalid combination",
        Task.TRANSLATION,
        {"inputs": "hi", "parameters": {"temperature": 0, "num_return_sequences": 3}},
        RequestValidationError,
        "parameters",
        "num_return_sequences must be 1",
    ),
    (
        "disallowed model",
        Task.TEXT_CLASSIFICATION,
        {"inputs": "hi", "model": "evil/model"},
        ModelNotAllowedError,
        "model",
        "not allowed",
    ),
    (
        "corrupt image bytes",
        Task.IMAGE_CLASSIFICATION,
        {"inputs": {"data": b64(b"\x89PNG\r\n\x1a\n garbage")}},
        InvalidInputError,
        "inputs",
        "not a decodable image",
    ),
    (
        "image in a refused format",
        Task.OBJECT_DETECTION,
        {"inputs": {"data": b64(b"BM" + bytes(64))}},
        InvalidInputError,
        "inputs",
        "image",
    ),
    (
        "non-audio bytes",
        Task.AUDIO_CLASSIFICATION,
        {"inputs": {"data": b64(b"this is not audio at all")}},
        InvalidInputError,
        "inputs",
        "not decodable audio",
    ),
    (
        "image bytes sent as audio",
        Task.AUTOMATIC_SPEECH_RECOGNITION,
        {"inputs": {"data": PNG}},
        InvalidInputError,
        "inputs",
        "not decodable audio",
    ),
    (
        "not base64",
        Task.IMAGE_TO_TEXT,
        {"inputs": {"data": "%%% not base64 %%%"}},
        RequestValidationError,
        "inputs.data",
        "base64",
    ),
    (
        "forged claim check",
        Task.IMAGE_CLASSIFICATION,
        {"inputs": {"ref": "celery"}},
        BlobMissingError,
        "inputs",
        "not a pipeq claim check",
    ),
    (
        "expired claim check",
        Task.IMAGE_CLASSIFICATION,
        {"inputs": {"ref": blob_key("gone")}},
        BlobMissingError,
        "inputs",
        "expired",
    ),
    (
        "top_p zero",
        Task.TEXT_GENERATION,
        {"inputs": "hi", "parameters": {"top_p": 0}},
        RequestValidationError,
        "parameters.top_p",
        "greater than 0",
    ),
    (
        "five stop strings",
        Task.SUMMARIZATION,
        {"inputs": "hi", "parameters": {"stop": ["a", "b", "c", "d", "e"]}},
        RequestValidationError,
        "parameters.stop",
        "at most 4",
    ),
    (
        "empty stop string",
        Task.TEXT_GENERATION,
        {"inputs": "hi", "parameters": {"stop": [""]}},
        RequestValidationError,
        "parameters.stop.0",
        "at least 1 character",
    ),
    (
        "min above max tokens",
        Task.IMAGE_TO_TEXT,
        {"inputs": {"data": PNG}, "parameters": {"min_new_tokens": 9, "max_new_tokens": 3}},
        RequestValidationError,
        "parameters",
        "min_new_tokens (9) must be <= max_new_tokens (3)",
    ),
    (
        "top_logprobs without logprobs",
        Task.TEXT_GENERATION,
        {"inputs": "hi", "parameters": {"top_logprobs": 2}},
        RequestValidationError,
        "parameters",
        "needs logprobs",
    ),
    (
        "bad chat role",
        Task.TEXT_GENERATION,
        {"inputs": [{"role": "root", "content": "hi"}]},
        RequestValidationError,
        "inputs.0.role",
        "'system', 'user' or 'assistant'",
    ),
    (
        "logit bias outside vocabulary",
        Task.TEXT_GENERATION,
        {"inputs": "hi", "parameters": {"logit_bias": {"999999": 5}}},
        UnsupportedParameterError,
        "parameters.logit_bias",
        "vocabulary size",
    ),
    (
        "image-text-to-text without images",
        Task.IMAGE_TEXT_TO_TEXT,
        {"inputs": {"images": [], "text": "hi"}},
        RequestValidationError,
        "inputs.images",
        "at least 1 item",
    ),
]


def send_raw(client: Client, task: Task, payload: Any) -> str:
    producer = make_producer(client.settings)
    try:
        return str(producer.send_task(celery_task_name(task), args=[payload], queue=TASK_QUEUES[task].value).id)
    finally:
        producer.close()


@pytest.mark.parametrize(("case", "task", "payload", "error", "field", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_worker_refuses_bad_input_with_typed_error_and_keeps_serving(
    client: Client, case: str, task: Task, payload: Any, error: type[PipeqError], field: str | None, fragment: str
) -> None:
    job = client.job(send_raw(client, task, payload), REQUEST_TYPES[task])
    with pytest.raises(error) as caught:
        job.result(timeout=60)
    assert type(caught.value) is error
    assert caught.value.field == field
    assert fragment in str(caught.value)
    # The same worker answers the next (valid) request of its queue.
    follow_up = {
        Task.TEXT_CLASSIFICATION: lambda: client.text_classification("still alive"),
        Task.IMAGE_CLASSIFICATION: lambda: client.image_classification(sample_png()),
        Task.AUDIO_CLASSIFICATION: lambda: client.audio_classification(sample_wav(0.5)),
    }
    queue_task = next(t for t in follow_up if TASK_QUEUES[t] is TASK_QUEUES[task])
    assert follow_up[queue_task]().root


def test_oversized_payload_is_refused_by_the_worker_too(stack, client: Client) -> None:
    """A producer with a laxer limit than the worker's: the worker enforces its own."""
    big = b"\x89PNG" + bytes(2 * 1024 * 1024)
    key = blob_key("oversized-test")
    redis.Redis.from_url(client.settings.redis_url).set(key, big, ex=60)
    limited = stack.worker_env().get("PIPEQ_MAX_PAYLOAD_BYTES")
    assert limited == str(1024 * 1024), "the test stack runs workers with a 1 MiB payload limit"
    job = client.job(
        send_raw(client, Task.IMAGE_CLASSIFICATION, {"inputs": {"ref": key}}), REQUEST_TYPES[Task.IMAGE_CLASSIFICATION]
    )
    with pytest.raises(PayloadTooLargeError) as caught:
        job.result(timeout=60)
    assert caught.value.field == "inputs" and "over the limit" in str(caught.value)


def test_a_bad_request_does_not_lose_requests_queued_behind_it(client: Client) -> None:
    bad = [
        client.job(send_raw(client, Task.TEXT_CLASSIFICATION, {"inputs": ""}), REQUEST_TYPES[Task.TEXT_CLASSIFICATION])
        for _ in range(3)
    ]
    good = [client.submit(REQUEST_TYPES[Task.TEXT_CLASSIFICATION].build(f"text {i}")) for i in range(5)]
    for job in bad:
        with pytest.raises(RequestValidationError):
            job.result(timeout=60)
    assert all(isinstance(job.result(timeout=60), TextClassificationResult) for job in good)
