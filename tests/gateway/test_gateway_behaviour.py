"""What a production front door does: a client leaving a stream cancels its job; queues over
their limit answer 429; keys are required when configured; sizes, timeouts and errors map to
statuses with the pipeq code and field; probes, metrics, CORS.

The "strict" gateway points at a Redis database no worker consumes, so queue depths and
timeouts are exact, not races."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psutil
import pytest
import redis

from pipeq_client import Client
from pipeq_client.protocol import CONSUMERS_KEY, Queue, cancel_key, events_key, inflight_key
from pipeq_client.types import TextGenerationRequest
from pipeq_gateway.process import GatewayProcess, free_port
from pipeq_workers.tooling.stack import LocalStack
from tests.gateway.conftest import gateway_env, long_generation, wait_until

pytestmark = pytest.mark.integration

KEY = "test-key-1"
DEPTH_LIMIT = 2
STRICT_BODY_LIMIT = 4096


def unconsumed_database(redis_url: str) -> str:
    """The same server, a database no worker reads (broker db + 7, results go to the one after)."""
    parts = urlsplit(redis_url)
    database = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{database + 7}"))


@pytest.fixture(scope="module")
def idle_redis(stack: LocalStack) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(unconsumed_database(str(stack.redis_url)))
    connection.flushdb()
    yield connection
    connection.flushdb()


@pytest.fixture(scope="module")
def strict(idle_redis: redis.Redis, stack: LocalStack, models_config: Path, tmp_path_factory) -> Iterator[str]:
    env = gateway_env(
        unconsumed_database(str(stack.redis_url)),
        models_config,
        PIPEQ_GATEWAY_API_KEYS=f"{KEY},another-key",
        PIPEQ_GATEWAY_MAX_QUEUE_DEPTH=str(DEPTH_LIMIT),
        PIPEQ_GATEWAY_QUEUE_DEPTH_TTL_S="0",  # exact depths: requests here come faster than any reuse
        PIPEQ_GATEWAY_MAX_BODY_BYTES=str(STRICT_BODY_LIMIT),
        PIPEQ_GATEWAY_CORS_ORIGINS="https://app.example",
    )
    with GatewayProcess(env, log=tmp_path_factory.mktemp("strict") / "gateway.log") as process:
        yield process.url


def authed(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)


def holder_pid(broker: redis.Redis, job_id: str) -> int | None:
    """The pid of the worker holding ``job_id`` in flight (pipeq's consumer registry), if any."""
    for consumer, record in broker.hgetall(CONSUMERS_KEY).items():
        for raw in broker.lrange(inflight_key(consumer.decode(), Queue.TEXT.value), 0, -1):
            if json.loads(raw)["headers"]["id"] == job_id:
                return int(json.loads(record)["pid"])
    return None


def has_event(broker: redis.Redis, job_id: str, kind: bytes) -> bool:
    return any(fields[b"type"] == kind for _, fields in broker.xrange(events_key(job_id)))


def signal_worker(pid: int, signum: signal.Signals) -> None:
    """Signals the worker and its model process (a batching worker generates there)."""
    for process in [*psutil.Process(pid).children(recursive=True), psutil.Process(pid)]:
        process.send_signal(signum)


def frozen_mid_generation(gateway: str, body: dict[str, Any], broker: redis.Redis) -> tuple[str, int]:
    """Opens a streamed chat completion, freezes the worker generating it (so its 200 steps
    cannot end before the cancel), then leaves, closing the connection mid-stream. A try
    whose job ended before the freeze landed is done again."""
    for _ in range(5):
        with (
            httpx.Client(base_url=gateway, timeout=60) as http,
            http.stream("POST", "/v1/chat/completions", json=body) as response,
        ):
            job_id = response.headers["x-pipeq-job-id"]
            wait_until(lambda: has_event(broker, job_id, b"token"), "a token")  # noqa: B023
            pid = holder_pid(broker, job_id)
            if pid is None:
                continue  # already answered and acked
            signal_worker(pid, signal.SIGSTOP)
            if not has_event(broker, job_id, b"done"):
                return job_id, pid
            signal_worker(pid, signal.SIGCONT)
    pytest.fail("no try froze the worker mid-generation")


def test_disconnect_mid_stream_cancels_the_job(
    gateway: str, client: Client, models_config: Path, stack: LocalStack
) -> None:
    body = {
        "model": "tiny/text-generation",
        "messages": [{"role": "user", "content": "hello"}],
        "stream": True,
        **long_generation(models_config),
    }
    broker = redis.Redis.from_url(str(stack.redis_url))
    job_id, pid = frozen_mid_generation(gateway, body, broker)
    try:
        wait_until(lambda: bool(broker.exists(cancel_key(job_id))), "the gateway cancels the job")
    finally:
        signal_worker(pid, signal.SIGCONT)
    result = client.job(job_id, TextGenerationRequest).result(timeout=60)
    assert result.details.finish_reason == "cancelled"
    assert 0 < result.details.generated_tokens < 200
    metrics = httpx.get(f"{gateway}/metrics").text
    counted = re.search(r"^pipeq_gateway_cancelled_on_disconnect_total (\S+)$", metrics, flags=re.MULTILINE)
    assert counted is not None and float(counted.group(1)) >= 1


def test_queue_over_its_limit_answers_429_with_retry_after(strict: str, idle_redis: redis.Redis) -> None:
    idle_redis.flushdb()
    with authed(strict) as http:
        for _ in range(DEPTH_LIMIT + 1):  # depths 0, 1, 2: not over the limit yet
            assert http.post("/v1/jobs", json={"task": "text-classification", "inputs": "x"}).status_code == 202
        assert idle_redis.llen("text") == DEPTH_LIMIT + 1
        shed = http.post("/v1/jobs", json={"task": "text-classification", "inputs": "x"})
        assert shed.status_code == 429 and int(shed.headers["retry-after"]) >= 1
        assert shed.json()["error"]["code"] == "overloaded"
        chat = http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]})
        assert chat.status_code == 429 and chat.json()["error"]["type"] == "rate_limit_error"
        hf = http.post("/models/tiny/text-classification", json={"inputs": "x"})
        assert hf.status_code == 429 and hf.json()["error_type"] == "overloaded"
        other_queue = http.post("/v1/jobs", json={"task": "text-to-speech", "inputs": "x"})
        assert other_queue.status_code == 202, "the audio queue has room"
        assert idle_redis.llen("text") == DEPTH_LIMIT + 1, "nothing was queued past the limit"
    idle_redis.flushdb()


def test_keys_are_required_when_configured(strict: str, idle_redis: redis.Redis) -> None:
    idle_redis.flushdb()
    anonymous = httpx.post(f"{strict}/v1/jobs", json={"task": "text-classification", "inputs": "x"})
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json()["error"]["code"] == "unauthorized"
    wrong = httpx.post(f"{strict}/generate", json={"inputs": "x"}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error_type"] == "authentication"
    assert httpx.get(f"{strict}/healthz").status_code == 200, "probes need no key"
    assert httpx.get(f"{strict}/").status_code == 200, "the playground page needs none (its calls do)"
    with authed(strict) as http:
        assert http.post("/v1/jobs", json={"task": "text-classification", "inputs": "x"}).status_code == 202
    idle_redis.flushdb()


def test_no_keys_on_a_public_address_refuses_to_start() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pipeq_gateway", "--host", "0.0.0.0", "--port", str(free_port())],
        capture_output=True, text=True, timeout=60, check=False,
        env={"PATH": "/usr/bin:/bin", "PIPEQ_GATEWAY_API_KEYS": ""},
    )  # fmt: skip
    assert out.returncode != 0 and "PIPEQ_GATEWAY_API_KEYS" in out.stderr


def test_request_timeout_answers_504_and_cancels(strict: str, idle_redis: redis.Redis) -> None:
    with authed(strict) as http:
        answer = http.post(
            "/models/tiny/text-classification", json={"inputs": "x"}, headers={"X-Request-Timeout": "0.5"}
        )
    assert answer.status_code == 504 and answer.json()["code"] == "job_timeout"
    job_id = answer.headers["x-pipeq-job-id"]
    assert idle_redis.exists(cancel_key(job_id)), "nobody waits for it any more: cancelled"
    idle_redis.flushdb()


def test_bodies_over_the_limit_answer_413(strict: str) -> None:
    big = {"task": "text-classification", "inputs": "x" * (2 * STRICT_BODY_LIMIT)}
    with authed(strict) as http:
        declared = http.post("/v1/jobs", json=big)
        assert declared.status_code == 413 and declared.json()["error"]["code"] == "payload_too_large"
        streamed = http.post("/models/tiny/image-classification", content=iter([b"\0" * 1024] * 8))
        assert streamed.status_code == 413 and streamed.json()["code"] == "payload_too_large"


def test_errors_are_json_with_code_and_field(http: httpx.Client) -> None:
    broken = http.post("/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and broken.json()["error"]["field"] == "body"
    assert http.get("/no/such/route").json()["error_type"] == "not_found"
    missing = http.post("/models/tiny/no-such-model", json={"inputs": "x"})
    assert missing.status_code == 404 and missing.json()["code"] == "model_not_allowed"
    invalid = http.post(
        "/models/tiny/zero-shot-classification", json={"inputs": "x", "parameters": {"multi_label": True}}
    )
    assert invalid.status_code == 422 and invalid.json()["field"] == "parameters.candidate_labels"
    image = http.post("/models/tiny/image-classification", content=b"not an image")
    assert image.status_code == 422 and image.json()["code"] == "invalid_input"


def test_probes_metrics_and_cors(http: httpx.Client, strict: str) -> None:
    assert http.get("/healthz").json() == {"status": "ok", "redis": "ok"}
    assert http.get("/livez").status_code == 200
    http.post("/models/tiny/text-classification", json={"inputs": "I love it"})
    metrics = http.get("/metrics").text
    assert 'pipeq_gateway_requests_total{method="POST",route="/models/{model:path}",status="200"}' in metrics
    assert 'pipeq_gateway_jobs_total{task="text-classification"}' in metrics
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST"}
    assert "access-control-allow-origin" not in http.options("/v1/jobs", headers=preflight).headers, "CORS off"
    allowed = httpx.options(f"{strict}/v1/jobs", headers=preflight)
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
