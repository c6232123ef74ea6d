"""Micro-batching on real workers (threads pool, batch size 8): batched results equal the
unbatched stack's for every task, a bad input in a batch gets its own error while its
batch-mates are answered, and a worker killed mid-batch loses nothing (at-least-once)."""

from __future__ import annotations

import json
import re
import signal
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from pipeq_client import Client
from pipeq_client.client import Job
from pipeq_client.errors import InputTooLongError
from pipeq_client.protocol import CONSUMERS_KEY, TASK_QUEUES, EventType, Queue, inflight_key
from pipeq_client.types import (
    AudioClassificationRequest,
    AutomaticSpeechRecognitionRequest,
    FeatureExtractionRequest,
    ImageClassificationRequest,
    ImageTextToTextRequest,
    ImageToTextRequest,
    ObjectDetectionRequest,
    SummarizationRequest,
    TaskRequest,
    TextClassificationRequest,
    TextGenerationRequest,
    TextToSpeechRequest,
    TranslationRequest,
    ZeroShotClassificationRequest,
)
from pipeq_workers.tooling.embedded import EmbeddedRedis
from pipeq_workers.tooling.samples import sample_png, sample_wav
from pipeq_workers.tooling.stack import LocalStack
from tests.integration.test_delivery import wait_for
from tests.integration.test_model_process import model_processes

pytestmark = pytest.mark.integration

BATCH_ENV = {"PIPEQ_MAX_BATCH_SIZE": "8", "PIPEQ_MAX_WAIT_MS": "200"}
TEXTS = ["I love it", "the quick brown fox jumps over the lazy dog", "no", "a queue of requests waits", "hello"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def batched(models_config: Path) -> Iterator[tuple[LocalStack, dict[Queue, int]]]:
    with EmbeddedRedis() as server, LocalStack(redis_url=server.url, models_config=models_config, queues=()) as stack:
        ports = {queue: free_port() for queue in Queue}
        for queue in Queue:
            stack.start_worker(queue, {**BATCH_ENV, "PIPEQ_HEALTH_PORT": str(ports[queue])})
        stack.wait_ready(tuple(Queue))
        yield stack, ports


def requests_per_task() -> list[list[TaskRequest[Any]]]:
    """Several requests per task, with inputs of different sizes where padding matters."""
    images = [sample_png(seed=seed) for seed in range(4)]
    clips = [sample_wav(1.0, tone_hz=hz) for hz in (220, 330, 440, 550)]
    greedy = {"temperature": 0, "max_new_tokens": 8}
    return [
        [TextClassificationRequest.build(text, parameters={"top_k": 2}) for text in TEXTS],
        [ZeroShotClassificationRequest.build(text, parameters={"candidate_labels": ["a", "b", "c"]}) for text in TEXTS],
        [FeatureExtractionRequest.build([text, "hello"], parameters={"pooling": "mean"}) for text in TEXTS],
        [TextGenerationRequest.build(text, parameters=greedy) for text in TEXTS[:3]],
        [SummarizationRequest.build(text, parameters=greedy) for text in TEXTS[:3]],
        [TranslationRequest.build(text, parameters=greedy) for text in TEXTS[:3]],
        [ImageClassificationRequest.build(image, parameters={"top_k": 3}) for image in images],
        [ObjectDetectionRequest.build(image, parameters={"threshold": 0.0}) for image in images],
        [ImageToTextRequest.build(image, parameters=greedy) for image in images[:2]],
        [
            ImageTextToTextRequest.build({"images": [image], "text": "<image> hi"}, parameters=greedy)
            for image in images[:2]
        ],
        [AutomaticSpeechRecognitionRequest.build({"data": clip}) for clip in clips],
        [AudioClassificationRequest.build({"data": clip}, parameters={"top_k": 3}) for clip in clips],
        [TextToSpeechRequest.build(text, parameters={"seed": 5}) for text in TEXTS[:2]],
    ]


def comparable(result: Any) -> Any:
    """JSON with floats rounded: batching pads inputs, which moves float32 sums in the last bits.
    Label lists become {label: score}: near-equal scores of the random tiny models may swap places."""
    data = result.model_dump(mode="json", exclude_none=True)
    if isinstance(data, list) and data and isinstance(data[0], dict) and "label" in data[0] and "box" not in data[0]:
        return {item["label"]: round(item["score"], 4) for item in data}
    return rounded(data)


def rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, list):
        return [rounded(item) for item in value]
    if isinstance(value, dict):
        return {key: rounded(item) for key, item in value.items() if key != "audio"}
    return value


def batch_stats(port: int) -> dict[str, tuple[float, float]]:
    """task -> (batches, requests) from the worker's pipeq_batch_size histogram."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    counts = dict(re.findall(r'pipeq_batch_size_count\{task="([^"]+)"\} ([0-9.]+)', text))
    sums = dict(re.findall(r'pipeq_batch_size_sum\{task="([^"]+)"\} ([0-9.]+)', text))
    return {task: (float(counts[task]), float(sums[task])) for task in counts}


def together(stack: LocalStack, port: int, requests: list[TaskRequest[Any]]) -> list[Job[Any]]:
    """The requests' jobs, all held at the worker's frozen model process until every one is
    there, so they reach its batcher together (submitted one by one to an idle worker, each
    could run alone)."""
    queue = TASK_QUEUES[type(requests[0]).task]
    model = model_processes(stack.workers[queue].pid)[0]
    with Client(stack.redis_url) as client:
        model.send_signal(signal.SIGSTOP)
        try:
            jobs = [client.submit(request) for request in requests]
            wait_for(lambda: model_process_jobs(port) == len(jobs), "every request sent to the model process")
        finally:
            model.send_signal(signal.SIGCONT)
    return jobs


def test_batched_results_equal_unbatched_results_for_every_task(batched, client: Client) -> None:
    stack, ports = batched
    for group in requests_per_task():
        task = type(group[0]).task
        jobs = together(stack, ports[TASK_QUEUES[task]], group)
        batched_results = [comparable(job.result(timeout=120)) for job in jobs]
        assert batched_results == [comparable(client.run(request, timeout=120)) for request in group], task.value
    text = batch_stats(ports[Queue.TEXT])
    batches, requests = text["text-classification"]
    assert requests == len(TEXTS) and batches < requests, "text-classification requests shared model calls"
    assert batch_stats(ports[Queue.VISION])["image-classification"][0] < 4
    for task in ("text-generation", "summarization", "translation"):
        batches, requests = text[task]
        assert requests == 3 and batches < requests, f"{task} requests shared generate() calls"


def test_a_bad_input_in_a_batch_gets_its_own_error_and_the_others_their_results(batched) -> None:
    stack, ports = batched
    before = batch_stats(ports[Queue.TEXT]).get("text-classification", (0.0, 0.0))
    too_long = " ".join(["queue"] * 400)  # over the tiny model's 128 positions: refused on the model thread
    requests = [TextClassificationRequest.build(text) for text in [*TEXTS[:3], too_long, *TEXTS[3:]]]
    jobs = together(stack, ports[Queue.TEXT], requests)
    bad = jobs.pop(3)
    with pytest.raises(InputTooLongError) as caught:
        bad.result(timeout=60)
    assert "128" in str(caught.value), "the error names the model's 128-position limit"
    assert all(job.result(timeout=60).root for job in jobs)
    after = batch_stats(ports[Queue.TEXT])["text-classification"]
    assert after[1] - before[1] == len(requests)
    assert after[0] - before[0] < len(requests), "the requests were batched"


def model_process_jobs(port: int) -> float:
    """The worker's pipeq_model_process_jobs gauge: jobs sent to its model process, unanswered."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.search(r"^pipeq_model_process_jobs ([0-9.]+)$", text, re.MULTILINE)
    assert found, "the worker exports pipeq_model_process_jobs"
    return float(found.group(1))


def test_worker_killed_mid_batch_every_request_is_redelivered_and_answered_once(models_config: Path) -> None:
    env = {**BATCH_ENV, "PIPEQ_LEASE_TTL_S": "3", "PIPEQ_LEASE_RENEW_S": "1"}
    eos = json.loads((models_config.parent / "text-generation" / "generation_config.json").read_text())["eos_token_id"]
    parameters = {"temperature": 0, "max_new_tokens": 200, "logit_bias": {eos: -100.0}}
    with EmbeddedRedis() as server, LocalStack(redis_url=server.url, models_config=models_config, queues=()) as stack:
        worker = stack.start_worker(Queue.TEXT, env)
        stack.wait_ready((Queue.TEXT,))
        broker = redis.Redis.from_url(server.url)
        with Client(server.url) as client:
            prompts = ["hello", "the quick brown fox", "a queue", "no", "I love it"]
            jobs = [client.submit(TextGenerationRequest.build(p, parameters=parameters)) for p in prompts]
            deadline = time.monotonic() + 60
            while not all(has_token(broker, job.handle.events_key) for job in jobs):
                assert time.monotonic() < deadline, "all five are generating together"
                time.sleep(0.005)
            worker.send_signal(signal.SIGSTOP)  # freeze, then look: what is in flight stays so
            held = held_job_ids(broker)
            unanswered = {job.id for job in jobs if not has_done(broker, job.handle.events_key)}
            # A job may have published its answer but not yet been acked: it is held, answered.
            assert len(unanswered) >= 2 and unanswered <= held, "a batch is mid-generation, all of it held"
            worker.send_signal(signal.SIGKILL)  # no warm shutdown: nothing is acked or restored
            worker.wait(timeout=30)
            stack.workers.pop(Queue.TEXT)
            stack.start_worker(Queue.TEXT, env)  # any live worker restores a lapsed lease's messages
            results = [job.result(timeout=120) for job in jobs]
            assert all(result.details.generated_tokens == 200 for result in results)
            for job in jobs:
                kinds = [event.type for event in job.events(timeout=5)]
                assert kinds.count(EventType.DONE) == 1, "answered once"
                assert (EventType.RESET in kinds) == (job.id in unanswered), "readers of a restarted job are told"
        # Each message is acked by its own task just after its result is stored.
        deadline = time.monotonic() + 30
        while held_job_ids(broker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not held_job_ids(broker)


def held_job_ids(broker: redis.Redis) -> set[str]:
    """Job ids in any consumer's in-flight list for the text queue."""
    held: set[str] = set()
    for consumer in broker.hkeys(CONSUMERS_KEY):
        for raw in broker.lrange(inflight_key(consumer.decode(), Queue.TEXT.value), 0, -1):
            held.add(json.loads(raw)["headers"]["id"])
    return held


def has_token(broker: redis.Redis, key: str) -> bool:
    return any(fields[b"type"] == b"token" for _, fields in broker.xrange(key, count=3))


def has_done(broker: redis.Redis, key: str) -> bool:
    last = broker.xrevrange(key, count=1)
    return bool(last) and last[0][1][b"type"] == b"done"


@pytest.mark.parametrize("env", [{}, BATCH_ENV], ids=["solo", "batched"])
def test_a_job_is_never_answered_while_its_message_is_still_in_flight(models_config: Path, env: dict[str, str]) -> None:
    """The ``done`` event and the ack are one MULTI (execution.Executor._answer): once a
    reader sees the answer, the message is gone from every in-flight list."""
    with EmbeddedRedis() as server, LocalStack(redis_url=server.url, models_config=models_config, queues=()) as stack:
        stack.start_worker(Queue.TEXT, env)
        stack.wait_ready((Queue.TEXT,))
        broker = redis.Redis.from_url(server.url)
        with Client(server.url) as client:
            jobs = [client.submit(TextClassificationRequest.build(f"text {index}")) for index in range(24)]
            for job in jobs:
                job.result(timeout=60)
                assert job.id not in held_job_ids(broker), "answered, yet still in flight"
