"""Poison-proof consumption: hand-made malformed messages pushed straight onto a pipeq queue.

Each is answered on its job's stream (when it names a job) or dead-lettered with the reason,
acknowledged (nothing left in flight), logged once and bounded, and the worker keeps
serving: it never exits because of a message.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis

from pipeq_client import Client
from pipeq_client.broker import make_producer
from pipeq_client.errors import RequestValidationError
from pipeq_client.protocol import CONSUMERS_KEY, DEAD_LETTER_KEY, Queue, Task, celery_task_name, inflight_key
from pipeq_client.types import TextClassificationRequest, TextClassificationResult
from pipeq_workers.tooling.stack import LocalStack

pytestmark = pytest.mark.integration

Envelope = dict[str, Any]


def captured_envelope(client: Client, job_id: str) -> Envelope:
    """A real message as Celery's producer writes it, taken from a queue nobody consumes."""
    capture = f"capture-{uuid.uuid4().hex}"
    with make_producer(client.settings) as producer:
        producer.send_task(
            celery_task_name(Task.TEXT_CLASSIFICATION), args=[{"inputs": "hi"}], queue=capture, task_id=job_id
        )
    raw = client.redis.rpop(capture)
    assert raw is not None
    envelope: Envelope = json.loads(raw)
    envelope["properties"]["delivery_info"]["routing_key"] = Queue.TEXT.value
    return envelope


def with_body(body: Any) -> Callable[[Envelope], Envelope]:
    def change(envelope: Envelope) -> Envelope:
        encoded = json.dumps(body).encode() if not isinstance(body, bytes) else body
        envelope["body"] = base64.b64encode(encoded).decode()
        return envelope

    return change


def with_header(name: str, value: Any) -> Callable[[Envelope], Envelope]:
    def change(envelope: Envelope) -> Envelope:
        envelope["headers"][name] = value
        return envelope

    return change


def with_field(name: str, value: Any) -> Callable[[Envelope], Envelope]:
    def change(envelope: Envelope) -> Envelope:
        envelope[name] = value
        return envelope

    return change


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


REQUEST = {"inputs": "hi"}
# (name, how the message is spoiled, the field named in the answer)
POISON: list[tuple[str, Callable[[Envelope], Envelope], str]] = [
    ("body null", with_body(None), "body"),
    ("body empty list", with_body([]), "body"),
    ("body string", with_body("x"), "body"),
    ("no args", with_body([[], {}, {}]), "args"),
    ("two args", with_body([[REQUEST, REQUEST], {}, {}]), "args"),
    ("extra kwarg", with_body([[REQUEST], {"verbose": True}, {}]), "kwargs"),
    ("undecodable body", with_body(b"{not json"), "body"),
    ("deeply nested body", with_body(nested(100_000)), "body"),
    ("callbacks", with_body([[REQUEST], {}, {"callbacks": [{"task": "celery.accumulate"}]}]), "embed"),
    ("unknown pipeq task", with_header("task", "pipeq.no-such-task"), "headers.task"),
    ("foreign task", with_header("task", "celery.accumulate"), "headers.task"),
    ("pickle content type", with_field("content-type", "application/x-python-serialize"), "content-type"),
    ("garbage eta", with_header("eta", "tomorrow-ish"), "headers.eta"),
    ("garbage time limit", with_header("timelimit", "soon"), "headers.timelimit"),
    ("huge undecodable body", with_body(b"{" + b"x" * 5_000_000), "body"),
]


@pytest.fixture(scope="module")
def broker(stack: LocalStack) -> redis.Redis:
    return redis.Redis.from_url(str(stack.redis_url))


def push_raw(broker: redis.Redis, raw: bytes) -> None:
    broker.lpush(Queue.TEXT.value, raw)


def text_worker_holds_nothing(broker: redis.Redis) -> bool:
    """Waits until every text consumer's in-flight list is empty (an ack follows its answer)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        keys = [inflight_key(consumer.decode(), Queue.TEXT.value) for consumer in broker.hkeys(CONSUMERS_KEY)]
        if all(broker.llen(key) == 0 for key in keys):
            return True
        time.sleep(0.02)
    return False


def dead_letter_for(broker: redis.Redis, job_id: str) -> dict[str, Any] | None:
    for raw in broker.lrange(DEAD_LETTER_KEY, 0, 200):
        record = json.loads(raw)
        if record.get("job_id") == job_id:
            return record
    return None


@pytest.mark.parametrize(("name", "spoil", "field"), POISON, ids=[case[0] for case in POISON])
def test_a_poison_message_is_answered_dead_lettered_and_the_worker_serves_on(
    stack: LocalStack, client: Client, broker: redis.Redis, name: str, spoil: Callable[[Envelope], Envelope], field: str
) -> None:
    job_id = f"poison-{uuid.uuid4().hex}"
    push_raw(broker, json.dumps(spoil(captured_envelope(client, job_id))).encode())
    job = client.job(job_id, TextClassificationRequest)
    with pytest.raises(RequestValidationError) as caught:
        job.result(timeout=60)
    assert caught.value.field == field, caught.value.message
    assert len(caught.value.message) < 1000, "echoed values are bounded"
    record = dead_letter_for(broker, job_id)
    assert record is not None and record["field"] == field
    assert len(json.dumps(record)) < 2000, "the dead-letter record is bounded"
    assert stack.workers[Queue.TEXT].poll() is None, "the worker is still running"
    assert isinstance(client.text_classification("still serving", timeout=60), TextClassificationResult)
    assert text_worker_holds_nothing(broker), "the refused message was acknowledged"
    log_lines = [line for line in stack.log_tail(Queue.TEXT, lines=400).splitlines() if job_id in line]
    assert len(log_lines) == 1 and len(log_lines[0]) < 2000, "logged once, bounded"


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("not json", b"\x00\xffnot a message"),
        ("json null", b"null"),
        ("json list", b"[1, 2, 3]"),
        ("no headers", json.dumps({"body": "e30=", "properties": {"delivery_tag": "t"}}).encode()),
    ],
)
def test_a_message_without_a_job_id_is_dead_lettered_and_the_worker_serves_on(
    stack: LocalStack, client: Client, broker: redis.Redis, name: str, raw: bytes
) -> None:
    before = broker.llen(DEAD_LETTER_KEY)
    push_raw(broker, raw)
    deadline = time.monotonic() + 60
    while broker.llen(DEAD_LETTER_KEY) == before:
        assert time.monotonic() < deadline, "the message was dead-lettered"
        time.sleep(0.02)
    record = json.loads(broker.lindex(DEAD_LETTER_KEY, 0) or b"{}")
    assert record["reason"] and record["size"] == len(raw)
    assert stack.workers[Queue.TEXT].poll() is None
    assert isinstance(client.text_classification("still serving", timeout=60), TextClassificationResult)
    assert text_worker_holds_nothing(broker)
