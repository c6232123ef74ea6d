"""A real Flower process against the test Redis: its REST API lists the workers of every
queue and the tasks with their states, and headless Chromium renders its tasks page (the
screenshot is kept in test-artifacts/)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeq_client import Client
from pipeq_client.errors import ModelNotAllowedError
from pipeq_workers.monitoring.flower import flower_command, wait_http
from pipeq_workers.tooling.samples import sample_png, sample_wav

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AUTH = "admin:s3cret"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def flower(stack) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        flower_command(port, basic_auth=AUTH),
        env=stack.worker_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/healthcheck")
        time.sleep(1.0)  # Flower's event receiver connects just after the web server starts
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def api(url: str, auth: str | None = AUTH) -> Any:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_flower_shows_workers_per_queue_and_tasks_with_states(flower: str, client: Client) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        api(f"{flower}/api/workers", auth=None)
    assert refused.value.code == 401, "the API requires basic auth"

    jobs = {
        client.submit(request).id: expected
        for request, expected in [
            (client_request("text-classification", "flower test"), "SUCCESS"),
            (client_request("image-classification", sample_png()), "SUCCESS"),
            (client_request("audio-classification", {"data": sample_wav(0.5)}), "SUCCESS"),
        ]
    }
    failing = client.submit(client_request("text-classification", "x", model="not-allowed"))
    with pytest.raises(ModelNotAllowedError):
        failing.result(timeout=60)
    jobs[failing.id] = "FAILURE"

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        tasks = api(f"{flower}/api/tasks")
        if all(tasks.get(job_id, {}).get("state") == state for job_id, state in jobs.items()):
            break
        time.sleep(0.5)
    for job_id, state in jobs.items():
        assert tasks[job_id]["state"] == state
        assert tasks[job_id]["name"].startswith("pipeq.") and tasks[job_id]["worker"]
    assert tasks[next(iter(jobs))]["runtime"] > 0

    workers = api(f"{flower}/api/workers?refresh=1")
    queues = {queue["name"] for info in workers.values() for queue in info.get("active_queues", [])}
    assert {"text", "vision", "audio"} <= queues

    with urllib.request.urlopen(f"{flower}/metrics", timeout=10) as response:  # Prometheus, no auth
        assert "flower_events_total" in response.read().decode()

    screenshot_tasks_page(flower, list(jobs))


def client_request(task: str, inputs: Any, model: str | None = None) -> Any:
    return client_request_type(task).build(inputs, model)


def client_request_type(task: str) -> Any:
    from pipeq_client.protocol import Task
    from pipeq_client.types import REQUEST_TYPES

    return REQUEST_TYPES[Task(task)]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed: .ci/run installs it (Debian package chromium)")
    pytest.skip("chromium not installed (Debian package chromium)")


def screenshot_tasks_page(flower: str, job_ids: list[str]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / "flower-tasks.png"
    target.unlink(missing_ok=True)
    url = flower.replace("http://", f"http://{AUTH}@") + "/tasks"
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--virtual-time-budget=8000", "--window-size=1600,1000",
    ]  # fmt: skip
    profile = ARTIFACTS / "chromium-profile"
    dom = subprocess.run(
        [chromium(), *flags, f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert any(job_id in dom.stdout for job_id in job_ids), "the rendered tasks page lists the tasks"
    subprocess.run(
        [chromium(), *flags, f"--user-data-dir={profile}", f"--screenshot={target}", url],
        capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    shutil.rmtree(profile, ignore_errors=True)
    assert target.exists() and target.stat().st_size > 10_000
