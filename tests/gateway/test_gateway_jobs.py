"""Jobs over HTTP (submit, status, events resumable with Last-Event-ID, cancel) and the Python
client's Job.status(), against real workers. Every state is waited for, never slept into."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from pipeq_client import Client
from pipeq_client.status import JobState
from pipeq_client.types import TextClassificationRequest, TextGenerationRequest
from pipeq_workers.tooling.samples import sample_png
from tests.gateway.conftest import long_generation, sse_events, wait_until

pytestmark = pytest.mark.integration


def submit(http: httpx.Client, task: str, inputs: object, **fields: object) -> str:
    answer = http.post("/v1/jobs", json={"task": task, "inputs": inputs, **fields})
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "queued" and answer.json()["events_url"].endswith("/events")
    return str(answer.json()["id"])


def status(http: httpx.Client, job_id: str) -> dict:
    answer = http.get(f"/v1/jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def events(http: httpx.Client, job_id: str, after: str | None = None) -> list:
    headers = {"Last-Event-ID": after} if after else {}
    with http.stream("GET", f"/v1/jobs/{job_id}/events", headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        return list(sse_events(response.iter_lines()))


def test_a_job_runs_to_done_with_its_result(http: httpx.Client, client: Client) -> None:
    job_id = submit(http, "text-classification", "I love it", parameters={"top_k": 2})
    assert job_id.startswith("text-classification.")
    seen = events(http, job_id)
    assert [event.event for event in seen] == ["started", "done"]
    expected = client.text_classification("I love it", top_k=2).model_dump(mode="json")
    assert seen[-1].json()["result"] == expected
    document = status(http, job_id)
    assert document["status"] == "done" and document["result"] == expected
    assert document["model"] == "tiny/text-classification" and document["task"] == "text-classification"
    assert client.job(job_id, TextClassificationRequest).status().state is JobState.DONE


def test_binary_inputs_go_as_base64(http: httpx.Client, client: Client) -> None:
    png = sample_png()
    inputs = {"data": base64.b64encode(png).decode()}  # a Blob, as on the wire
    job_id = submit(http, "image-classification", inputs, parameters={"top_k": 2})
    wait_until(lambda: status(http, job_id)["status"] == "done", "the image job to finish")
    assert status(http, job_id)["result"] == client.image_classification(png, top_k=2).model_dump(mode="json")


def test_claim_checked_outputs_come_back_resolved(http: httpx.Client, client: Client) -> None:
    job_id = submit(http, "text-to-speech", "hello world, a longer sentence", parameters={"seed": 0})
    (done,) = [event for event in events(http, job_id) if event.event == "done"]
    audio = base64.b64decode(done.json()["result"]["audio"]["data"])  # the test workers claim-check it
    assert audio == client.text_to_speech("hello world, a longer sentence", seed=0).audio.data
    assert base64.b64decode(status(http, job_id)["result"]["audio"]["data"]) == audio


def test_states_queued_running_cancelled_failed(http: httpx.Client, client: Client, models_config: Path) -> None:
    blocker = submit(http, "text-generation", "hello", parameters=long_generation(models_config))
    wait_until(lambda: status(http, blocker)["status"] == "running", "the generation to start")
    waiting = submit(http, "text-generation", "hello", parameters={"max_new_tokens": 4})
    assert status(http, waiting)["status"] == "queued", "the solo text worker is busy with the blocker"
    typed = client.job(waiting, TextGenerationRequest)
    assert typed.status().state is JobState.QUEUED

    assert http.delete(f"/v1/jobs/{blocker}").status_code == 202
    wait_until(lambda: "result" in status(http, blocker), "the cancelled generation to end")
    ended = status(http, blocker)
    assert ended["status"] == "cancelled" and ended["result"]["details"]["finish_reason"] == "cancelled"

    wait_until(lambda: typed.status().state is JobState.DONE, "the queued job to run once the worker is free")
    assert status(http, waiting)["result"]["details"]["generated_tokens"] == 4

    failing = submit(http, "text-classification", "x", model="not-allowed")
    wait_until(lambda: status(http, failing)["status"] == "failed", "the refused job to fail")
    assert status(http, failing)["error"]["code"] == "model_not_allowed"


def test_cancel_while_queued(http: httpx.Client, models_config: Path) -> None:
    blocker = submit(http, "text-generation", "hello", parameters=long_generation(models_config))
    wait_until(lambda: status(http, blocker)["status"] == "running", "the generation to start")
    queued = submit(http, "text-generation", "hello")
    cancelled = http.delete(f"/v1/jobs/{queued}")
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    http.delete(f"/v1/jobs/{blocker}")
    wait_until(lambda: "error" in status(http, queued), "the worker to refuse the cancelled job")
    assert status(http, queued)["error"]["code"] == "cancelled"


def test_events_resume_after_last_event_id(http: httpx.Client) -> None:
    job_id = submit(http, "text-generation", "hello world", parameters={"max_new_tokens": 8, "temperature": 0})
    full = events(http, job_id)
    assert full[0].event == "started" and full[-1].event == "done"
    tokens = [event for event in full if event.event == "token"]
    assert "".join(event.json()["text"] for event in tokens) == full[-1].json()["result"]["generated_text"]
    resumed = events(http, job_id, after=full[2].id)
    assert [(event.id, event.data) for event in resumed] == [(event.id, event.data) for event in full[3:]]
    assert http.get(f"/v1/jobs/{job_id}/events", headers={"Last-Event-ID": "nope"}).status_code == 400
    assert http.get("/v1/jobs/a:b*c").status_code == 404, "ids stay inside the job's own keys"


def test_submissions_are_validated_before_queueing(http: httpx.Client) -> None:
    refused = http.post("/v1/jobs", json={"task": "zero-shot-classification", "inputs": "x", "parameters": {"x": 1}})
    assert refused.status_code == 400
    assert refused.json()["error"]["field"] == "parameters.candidate_labels"
    unknown = http.post("/v1/jobs", json={"task": "no-such-task", "inputs": "x"})
    assert unknown.status_code == 400 and unknown.json()["error"]["field"] == "task"
