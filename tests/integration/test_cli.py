"""The `pipeq` command as a new user meets it, driven through the real console script: one
readable line for every setup mistake (no worker, wrong Redis URL, no models config, a
missing file, a typo), and submit's options against real workers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from pipeq_client.protocol import Queue
from pipeq_workers.tooling.embedded import EmbeddedRedis
from pipeq_workers.tooling.stack import LocalStack

pytestmark = pytest.mark.integration

PIPEQ = str(Path(sys.executable).with_name("pipeq"))
NOISE = ("Loading weights", "sacremoses", "SecurityWarning", "requires torchvision")


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any PIPEQ_* setting, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIPEQ_")}
    return {**env, **extra}


def pipeq(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PIPEQ, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False)


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def refused_url() -> str:
    """A URL with a password on a loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://:hunter2@127.0.0.1:{port}/0"


@pytest.fixture
def idle_redis() -> Iterator[EmbeddedRedis]:
    """A private Redis that no worker consumes."""
    with EmbeddedRedis() as server:
        yield server


# --- no worker for the queue -------------------------------------------------------------


def test_submit_fails_fast_when_no_worker_consumes_the_queue(idle_redis: EmbeddedRedis) -> None:
    out = pipeq("submit", "text-classification", "hello", env=clean_env(PIPEQ_REDIS_URL=idle_redis.url))
    assert out.returncode == 1
    assert lines(out.stderr) == [
        "Error: NoWorkerError: no live worker consumes queue 'text': start one (`pipeq worker --queue text`), "
        "or pass --no-require-worker to queue the job until one starts"
    ]
    assert redis.Redis.from_url(idle_redis.url).llen(Queue.TEXT.value) == 0, "nothing was queued"


def test_submit_without_require_worker_warns_first_then_queues(idle_redis: EmbeddedRedis) -> None:
    env = clean_env(PIPEQ_REDIS_URL=idle_redis.url)
    out = pipeq("submit", "text-classification", "hello", "--no-require-worker", "--timeout", "1", env=env)
    assert out.returncode == 1
    warning, error = lines(out.stderr)
    assert warning.startswith("warning: no live worker consumes queue 'text'"), "the warning comes before the wait"
    assert error.startswith("Error: JobTimeoutError")
    assert redis.Redis.from_url(idle_redis.url).llen(Queue.TEXT.value) == 1, "the job waits in the queue"


# --- wrong Redis URL: one line naming the masked URL, for every command that uses Redis ---


@pytest.mark.parametrize(
    "args",
    [
        ("submit", "text-classification", "hello"),
        ("worker", "--queue", "text", "--redis-wait", "0"),
        ("worker", "--queue", "text", "--redis-wait", "0", "--loglevel", "INFO"),  # the old option name still works
        ("demo",),
        ("flower", "--no-auth"),
    ],
    ids=["submit", "worker", "worker-old-loglevel", "demo", "flower"],
)
def test_wrong_redis_url_is_one_line_with_the_password_masked(args: tuple[str, ...], models_config: Path) -> None:
    url = refused_url()
    out = pipeq(*args, env=clean_env(PIPEQ_REDIS_URL=url, PIPEQ_MODELS_CONFIG=str(models_config)))
    assert out.returncode == 1, out.stderr
    assert 1 <= len(lines(out.stderr)) <= 2, out.stderr
    assert url.replace("hunter2", "***") in out.stderr and "hunter2" not in out.stderr + out.stdout
    assert "BrokerUnavailableError" in out.stderr and "Traceback" not in out.stderr


def test_worker_says_once_per_attempt_while_it_waits_for_redis(models_config: Path) -> None:
    env = clean_env(PIPEQ_REDIS_URL=refused_url(), PIPEQ_MODELS_CONFIG=str(models_config))
    out = pipeq("worker", "--queue", "text", "--redis-wait", "1.5", env=env)
    assert out.returncode == 1
    *waiting, final = lines(out.stderr)
    assert waiting and all("is unavailable" in line and "retrying for" in line for line in waiting)
    assert final.startswith("Error: BrokerUnavailableError: pipeq worker: Redis at redis://:***@")


def test_a_url_without_scheme_is_one_line() -> None:
    out = pipeq("submit", "text-classification", "hello", env=clean_env(PIPEQ_REDIS_URL="localhost:6379"))
    assert out.returncode == 1
    assert lines(out.stderr) == [
        "Error: PIPEQ_REDIS_URL=localhost:6379: Redis URL must specify one of the following schemes "
        "(redis://, rediss://, unix://)"
    ]


# --- no models config ----------------------------------------------------------------------


def test_worker_without_models_config_offline_says_what_is_missing(tmp_path: Path, idle_redis: EmbeddedRedis) -> None:
    # An empty Hugging Face cache and the Hub off: the Hub defaults cannot be had.
    env = clean_env(PIPEQ_REDIS_URL=idle_redis.url, HF_HOME=str(tmp_path / "hf"), HF_HUB_OFFLINE="1")
    out = pipeq("worker", "--queue", "text", env=env)
    assert out.returncode != 0
    (line,) = lines(out.stderr + out.stdout)
    assert "PIPEQ_MODELS_CONFIG" in line and "`pipeq models tiny DIR`" in line and "`pipeq models fetch DIR`" in line
    assert "HF_HUB_OFFLINE" in line


def test_worker_with_a_missing_models_config_file_is_one_line(tmp_path: Path, idle_redis: EmbeddedRedis) -> None:
    missing = tmp_path / "nope" / "models.json"
    env = clean_env(PIPEQ_REDIS_URL=idle_redis.url, PIPEQ_MODELS_CONFIG=str(missing))
    out = pipeq("worker", "--queue", "text", env=env)
    assert out.returncode == 1
    (line,) = lines(out.stderr)
    assert line.startswith(f"Error: PIPEQ_MODELS_CONFIG={missing}: no such file;") and "pipeq models tiny DIR" in line


# --- submit's arguments, refused before anything is sent ------------------------------------


def test_missing_input_file_is_one_line() -> None:
    out = pipeq("submit", "image-classification", "@missing.png", env=clean_env(PIPEQ_REDIS_URL=refused_url()))
    assert out.returncode == 1
    assert lines(out.stderr) == [
        "Error: cannot read @missing.png: No such file or directory (text that starts with @: write @@)"
    ]


def test_parameter_typo_gets_a_suggestion() -> None:
    out = pipeq("submit", "text-classification", "hi", "--param", "topk=2", env=clean_env())
    assert out.returncode == 2
    assert "text-classification has no parameter 'topk' (did you mean 'top_k'?)" in out.stderr


def test_task_typo_gets_a_suggestion() -> None:
    out = pipeq("submit", "text-clasification", "hi", env=clean_env())
    assert out.returncode == 2
    assert "unknown task 'text-clasification' (did you mean 'text-classification'?)" in out.stderr


def test_stream_on_a_task_that_does_not_stream_is_refused() -> None:
    out = pipeq("submit", "text-classification", "hi", "--stream", env=clean_env(PIPEQ_REDIS_URL=refused_url()))
    assert out.returncode == 2 and out.stdout == ""
    assert "--stream: text-classification answers at once, not token by token" in out.stderr


def test_text_to_speech_without_output_is_refused() -> None:
    out = pipeq("submit", "text-to-speech", "hello", env=clean_env(PIPEQ_REDIS_URL=refused_url()))
    assert out.returncode == 2 and out.stdout == ""
    assert "pass --output FILE.wav" in out.stderr


def test_worker_help_names_one_log_level_option() -> None:
    out = pipeq("worker", "--help", env=clean_env())
    assert "--log-level" in out.stdout and "--loglevel" not in out.stdout


# --- submit against real workers ---------------------------------------------------------------


@pytest.fixture
def stack_env(stack: LocalStack) -> dict[str, str]:
    return clean_env(PIPEQ_REDIS_URL=str(stack.redis_url))


def test_comma_list_fills_a_list_parameter(stack_env: dict[str, str]) -> None:
    args = ("submit", "zero-shot-classification", "The match ended 2-1", "--param", "candidate_labels=sports,politics")
    out = pipeq(*args, env=stack_env)
    assert out.returncode == 0, out.stderr
    assert {item["label"] for item in json.loads(out.stdout)} == {"sports", "politics"}


def test_output_writes_the_json_result(stack_env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "result.json"
    args = ("submit", "text-classification", "I love it", "--param", "top_k=2", "--output", str(target))
    out = pipeq(*args, env=stack_env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"wrote the JSON result to {target}"
    assert len(json.loads(target.read_text())) == 2


def test_output_writes_text_to_speech_audio(stack_env: dict[str, str], tmp_path: Path) -> None:
    target = tmp_path / "hello.wav"
    out = pipeq("submit", "text-to-speech", "hello", "--output", str(target), env=stack_env)
    assert out.returncode == 0, out.stderr
    assert target.read_bytes()[:4] == b"RIFF" and f"to {target}" in out.stdout


def test_stream_prints_escaped_tokens_then_the_result(stack_env: dict[str, str]) -> None:
    args = ("submit", "text-generation", "Once upon", "--param", "max_new_tokens=8", "--stream")
    out = pipeq(*args, env=stack_env)
    assert out.returncode == 0, out.stderr
    assert all(char.isprintable() or char == "\n" for char in out.stdout), "random-weight text is escaped"
    result = json.loads(out.stdout[out.stdout.rindex('\n{\n  "generated_text"') :])
    assert 1 <= result["details"]["generated_tokens"] <= 8


def test_worker_logs_are_quiet(stack: LocalStack) -> None:
    for queue in Queue:
        log = stack.log_tail(queue, 1000)
        assert not [fragment for fragment in NOISE if fragment in log], f"{queue.value} worker log:\n{log}"


def test_models_tiny_is_quiet(tmp_path: Path) -> None:
    out = pipeq("models", "tiny", str(tmp_path / "tiny"), env=clean_env())
    assert out.returncode == 0, out.stderr
    assert not [fragment for fragment in NOISE if fragment in out.stdout + out.stderr], out.stdout + out.stderr


# --- pipeq health without --file: every worker's heartbeat in the default directory ------------


def test_health_reads_every_worker_in_the_default_directory(stack: LocalStack, tmp_path: Path) -> None:
    # XDG_RUNTIME_DIR is where the default heartbeat directory lives; nothing else is configured.
    env = clean_env(PIPEQ_REDIS_URL=str(stack.redis_url), XDG_RUNTIME_DIR=str(tmp_path))
    ready = tmp_path / "ready"
    worker = subprocess.Popen(
        [PIPEQ, "worker", "--queue", "text", "--log-level", "WARNING", "--ready-file", str(ready)],
        env={**env, "PIPEQ_MODELS_CONFIG": str(stack.models_config)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not ready.exists():  # the worker's own signal that its models are loaded
            assert worker.poll() is None, "the worker exited at start"
            time.sleep(0.1)
        heartbeat = tmp_path / "pipeq" / f"text-{worker.pid}.json"
        dead = exited_pid()
        stale = tmp_path / "pipeq" / f"text-{dead}.json"
        stale.write_text(heartbeat.read_text().replace(f'"pid": {worker.pid}', f'"pid": {dead}'))

        # --max-age: this test is about finding every worker, not about a loaded machine's beat timing.
        out = pipeq("health", "--max-age", "600", env=env)
        assert out.returncode == 0, out.stdout + out.stderr
        (report,) = [json.loads(line) for line in lines(out.stdout)]
        assert report["queues"] == ["text"] and report["healthy"] and report["pid"] == worker.pid
        assert f"removed stale heartbeat {stale}" in out.stderr and not stale.exists()

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=120) == 0
        assert not heartbeat.exists(), "a clean exit removes the worker's heartbeat"
        out = pipeq("health", env=env)
        assert out.returncode == 1 and "no worker heartbeat in" in out.stderr
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def exited_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid
