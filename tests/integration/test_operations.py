"""Worker operations with real processes on a private Redis: health (file, HTTP probes,
`pipeq health`) through model loading and Redis loss/recovery, Prometheus metrics, and a
warm shutdown on SIGTERM mid-task."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipeq_client import Client
from pipeq_client.events import TokenEvent
from pipeq_client.protocol import Queue
from pipeq_client.types import TextGenerationRequest
from pipeq_workers.monitoring.health import read_health
from pipeq_workers.tooling.embedded import EmbeddedRedis
from pipeq_workers.tooling.stack import LocalStack

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


@pytest.fixture
def private_redis() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        yield server


def start_text_worker(stack: LocalStack, health_file: Path, port: int) -> subprocess.Popen[bytes]:
    stack.extra_env.update(
        {
            "PIPEQ_HEALTH_FILE": str(health_file),
            "PIPEQ_HEALTH_PORT": str(port),
            "PIPEQ_HEARTBEAT_INTERVAL_S": "0.2",
        }
    )
    return stack.start_worker(Queue.TEXT)


def test_health_follows_model_loading_and_redis_loss_and_recovery(
    private_redis: EmbeddedRedis, models_config: Path, tmp_path: Path
) -> None:
    health_file, port = tmp_path / "health.json", free_port()
    with LocalStack(redis_url=private_redis.url, models_config=models_config, queues=()) as stack:
        start_text_worker(stack, health_file, port)
        seen: list[bool] = []

        def loaded() -> bool:
            if health_file.exists():
                seen.append(read_health(health_file).models_loaded)
            return bool(seen) and seen[-1]

        wait_for(loaded, what="models loaded")
        assert seen[0] is False, "the heartbeat said 'alive, loading' before the models were in"
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_status(f"{base}/readyz") == 200, what="ready")
        assert http_status(f"{base}/startupz") == 200 and http_status(f"{base}/livez") == 200
        assert run_health_command(health_file, "ready").returncode == 0

        private_redis.stop()
        wait_for(lambda: not read_health(health_file).redis_ok, what="redis loss noticed")
        assert http_status(f"{base}/readyz") == 503 and http_status(f"{base}/livez") == 200
        assert run_health_command(health_file, "ready").returncode == 1
        assert run_health_command(health_file, "live").returncode == 0

        private_redis.start()
        wait_for(lambda: read_health(health_file).redis_ok, what="redis recovery noticed")
        assert http_status(f"{base}/readyz") == 200
        with Client(private_redis.url) as client:  # the worker reconnected and serves again
            assert client.text_classification("back again", timeout=90).root


def run_health_command(health_file: Path, probe: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pipeq_workers.cli", "health", "--file", str(health_file), "--probe", probe]
    return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)


def test_metrics_count_requests_failures_and_queue_depth(
    private_redis: EmbeddedRedis, models_config: Path, tmp_path: Path
) -> None:
    port = free_port()
    with LocalStack(redis_url=private_redis.url, models_config=models_config, queues=()) as stack:
        start_text_worker(stack, tmp_path / "health.json", port)
        stack.wait_ready((Queue.TEXT,))
        with Client(private_redis.url) as client:
            client.text_classification("one")
            client.text_classification("two")
            with pytest.raises(Exception, match="not allowed"):
                client.text_classification("three", model="nope")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    assert 'pipeq_requests_total{model="tiny/text-classification",task="text-classification"} 2.0' in text
    assert 'pipeq_failures_total{code="model_not_allowed",task="text-classification"} 1.0' in text
    assert 'pipeq_request_seconds_count{model="tiny/text-classification",task="text-classification"} 2.0' in text
    assert 'pipeq_queue_depth{queue="text"} 0.0' in text and "pipeq_models_loaded 1.0" in text


def test_sigterm_mid_task_finishes_the_task_then_exits_cleanly(
    private_redis: EmbeddedRedis, models_config: Path, tmp_path: Path
) -> None:
    with LocalStack(redis_url=private_redis.url, models_config=models_config, queues=(Queue.TEXT,)) as stack:
        worker = stack.workers[Queue.TEXT]
        with Client(private_redis.url) as client:
            eos = json.loads((models_config.parent / "text-generation" / "generation_config.json").read_text())
            parameters = {"temperature": 0, "max_new_tokens": 200, "logit_bias": {eos["eos_token_id"]: -100.0}}
            job = client.submit(TextGenerationRequest.build("hello", parameters=parameters))
            for event in job.stream(timeout=60):
                if isinstance(event, TokenEvent):
                    worker.send_signal(signal.SIGTERM)  # mid-task: the first token is out
                    break
            result = job.result(timeout=60)
        assert (result.details.finish_reason, result.details.generated_tokens) == ("length", 200)
        assert worker.wait(timeout=60) == 0
        assert "Warm shutdown" in stack.log_tail(Queue.TEXT, lines=200)
        stack.workers.pop(Queue.TEXT)
