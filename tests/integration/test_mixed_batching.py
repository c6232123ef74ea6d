"""Generation batched across settings on a real worker (threads pool, batch size 8): requests
with different temperatures, top-k/top-p, penalties, logit_bias, stop strings, seeds,
max_new_tokens and logprobs share one ``generate()`` call, and each gets what it gets alone
(the session's unbatched stack): greedy and seeded rows token for token, logprobs equal, its
own stop strings, its own cancel.

Batches are formed on purpose, not by luck: a blocker (n = 16, so another batch key; as long
as the model's positions allow) holds the model thread while the requests arrive; once each
has started (and so is queued at the batcher or on its way there), the blocker is cancelled
and the batcher takes them all at once. The blocker must end cancelled, not by itself, and the
worker's batch-size metrics must show the blocker's batch and exactly one more."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from pipeq_client import Client
from pipeq_client.events import TokenEvent
from pipeq_client.protocol import Queue
from pipeq_client.status import JobState
from pipeq_client.types import TextGenerationRequest, TextGenerationResult
from pipeq_workers.tooling.embedded import EmbeddedRedis
from pipeq_workers.tooling.stack import LocalStack
from tests.integration.test_batching import batch_stats, comparable, free_port, has_token, model_process_jobs
from tests.integration.test_model_process import model_processes

pytestmark = pytest.mark.integration

# The batcher waits for requests on their way to it (never when none are): long enough that
# every started request joins the batch, whatever the machine's load.
BATCH_ENV = {"PIPEQ_MAX_BATCH_SIZE": "8", "PIPEQ_MAX_WAIT_MS": "1000"}
WAIT_S = 60.0
TASK = "text-generation"
POSITIONS = 256  # the tiny text-generation model's


@pytest.fixture(scope="module")
def eos(models_config: Path) -> int:
    config = json.loads((models_config.parent / TASK / "generation_config.json").read_text())
    return int(config["eos_token_id"])


@pytest.fixture(scope="module")
def batched_stack(models_config: Path) -> Iterator[tuple[LocalStack, int]]:
    with EmbeddedRedis() as server, LocalStack(redis_url=server.url, models_config=models_config, queues=()) as stack:
        port = free_port()
        stack.start_worker(Queue.TEXT, {**BATCH_ENV, "PIPEQ_HEALTH_PORT": str(port)})
        stack.wait_ready((Queue.TEXT,))
        yield stack, port


@pytest.fixture(scope="module")
def batched(batched_stack: tuple[LocalStack, int]) -> Iterator[tuple[Client, int]]:
    stack, port = batched_stack
    with Client(stack.redis_url) as client:
        yield client, port


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.01)


def request(prompt: str, **parameters: Any) -> TextGenerationRequest:
    return TextGenerationRequest.build(prompt, parameters=parameters)


def generating(client: Client, job: Any) -> bool:
    return has_token(redis.Redis.from_url(client.settings.redis_url), job.handle.events_key)


def one_batch(batched: tuple[Client, int], eos: int, requests: list[TextGenerationRequest]) -> list[Any]:
    """The jobs of ``requests``, run as one generate() call behind a blocker (see the module doc)."""
    client, port = batched
    before = batch_stats(port).get(TASK, (0.0, 0.0))
    blocker = client.submit(
        request("hold", temperature=1.0, seed=1, num_return_sequences=16, max_new_tokens=POSITIONS - 8,
                logprobs=True, top_logprobs=20, logit_bias={eos: -100})
    )  # fmt: skip
    wait_for(lambda: generating(client, blocker), "the blocker generating on the model thread")
    jobs = [client.submit(item) for item in requests]
    wait_for(lambda: all(job.status().state is not JobState.QUEUED for job in jobs), "every request started")
    blocker.cancel()
    assert blocker.result(timeout=WAIT_S).details.finish_reason == "cancelled", "the blocker held until cancelled"
    wait_for(lambda: all(generating(client, job) for job in jobs), "the batch generating")
    after = batch_stats(port)[TASK]
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1 + len(requests)), "the blocker, then one batch"
    return jobs


def streamed_text(job: Any) -> str:
    return "".join(event.text for event in job.stream(timeout=WAIT_S) if isinstance(event, TokenEvent))


def test_mixed_settings_in_one_batch_equal_each_request_alone(batched, client: Client, eos: int) -> None:
    requests = [
        request("hello", temperature=0, max_new_tokens=8, logprobs=True, top_logprobs=2),
        request("the quick brown fox", temperature=0.9, seed=7, top_k=20, max_new_tokens=12, logprobs=True),
        request("no", temperature=1.3, seed=3, top_p=0.9, repetition_penalty=1.5, max_new_tokens=5),
        request(
            "a queue of requests waits", temperature=0, presence_penalty=1.0, logit_bias={5: 3.0}, min_new_tokens=3
        ),
        request("I love it", temperature=0.7, seed=11, min_p=0.05, typical_p=0.9, max_new_tokens=9, logprobs=True),
        request("hello", temperature=1.0, seed=5, frequency_penalty=0.5, max_new_tokens=14, logit_bias={eos: -100}),
    ]
    jobs = one_batch(batched, eos, requests)
    together: list[TextGenerationResult] = [job.result(timeout=WAIT_S) for job in jobs]
    alone = [client.run(item, timeout=WAIT_S) for item in requests]
    for item, mixed, single in zip(requests, together, alone, strict=True):
        # Same tokens and texts; logprobs to 4 places (a padded batch moves float32 sums in the last bits).
        assert comparable(mixed) == comparable(single), item.parameters
        assert mixed.details.seed == item.parameters.seed
    assert [result.details.generated_tokens for result in together[:3]] == [8, 12, 5], "each its own max_new_tokens"
    assert [streamed_text(job) for job in jobs] == [result.generated_text for result in together]


def test_seeded_requests_with_n_sequences_share_a_batch_and_reproduce(batched, client: Client, eos: int) -> None:
    requests = [
        request("hello", temperature=0.9, seed=7, num_return_sequences=2, max_new_tokens=8),
        request("the quick brown fox", temperature=1.5, seed=8, num_return_sequences=2, top_k=5, max_new_tokens=6),
    ]
    jobs = one_batch(batched, eos, requests)
    together = [job.result(timeout=WAIT_S) for job in jobs]
    alone = [client.run(item, timeout=WAIT_S) for item in requests]
    assert [comparable(result) for result in together] == [comparable(result) for result in alone]


def greedy_text(client: Client, prompt: str, tokens: int) -> str:
    return client.run(request(prompt, temperature=0, max_new_tokens=tokens), timeout=WAIT_S).generated_text


def stop_in(text: str) -> str:
    """Two characters of ``text``, first seen past its start: a stop string it meets mid-way."""
    for index in range(3, len(text) - 2):
        stop = text[index : index + 2]
        if "\ufffd" not in stop and text.find(stop) == index:
            return stop
    pytest.fail(f"no stop string to cut {text!r} with")


def test_stop_strings_apply_per_row(batched, client: Client, eos: int) -> None:
    prompt = "the quick brown fox"
    full = greedy_text(client, prompt, 16)
    stop = stop_in(full)
    requests = [
        request(prompt, temperature=0, max_new_tokens=16, stop=[stop]),
        request(prompt, temperature=0, max_new_tokens=16),
        request(prompt, temperature=0, max_new_tokens=16, stop=["\u2603\u2603 never"]),
    ]
    jobs = one_batch(batched, eos, requests)
    cut, uncut, unmet = (job.result(timeout=WAIT_S) for job in jobs)
    assert (cut.generated_text, cut.details.finish_reason) == (full[: full.find(stop)], "stop_sequence")
    assert stop not in streamed_text(jobs[0]) and streamed_text(jobs[0]) == cut.generated_text
    for result in (uncut, unmet):
        assert (result.generated_text, result.details.finish_reason) == (full, "length")
    assert comparable(cut) == comparable(client.run(requests[0], timeout=WAIT_S))


def test_cancel_stops_only_its_own_row(batched, client: Client, eos: int) -> None:
    long = {"temperature": 0, "max_new_tokens": 200, "logit_bias": {eos: -100}}
    requests = [request("hello", **long), request("a queue of requests waits", **long)]
    cancelled, kept = one_batch(batched, eos, requests)
    cancelled.cancel()
    stopped = cancelled.result(timeout=WAIT_S)
    assert stopped.details.finish_reason == "cancelled" and 0 < stopped.details.generated_tokens < 200
    assert streamed_text(cancelled) == stopped.generated_text, "nothing streamed past the cancel"
    finished = kept.result(timeout=WAIT_S)
    assert (finished.details.finish_reason, finished.details.generated_tokens) == ("length", 200)
    assert comparable(finished) == comparable(client.run(requests[1], timeout=WAIT_S))


def done_id(client: Client, job: Any) -> bytes:
    """The Redis stream id of the job's ``done`` event (ids grow with the server's clock)."""
    events = redis.Redis.from_url(client.settings.redis_url).xrange(job.handle.events_key)
    return next(entry_id for entry_id, fields in events if fields[b"type"] == b"done")


def last_token_id(client: Client, job: Any) -> bytes:
    events = redis.Redis.from_url(client.settings.redis_url).xrange(job.handle.events_key)
    return [entry_id for entry_id, fields in events if fields[b"type"] == b"token"][-1]


def stream_id(entry_id: bytes) -> tuple[int, int]:
    milliseconds, sequence = entry_id.split(b"-")
    return int(milliseconds), int(sequence)


def test_a_request_joining_mid_batch_streams_correctly(
    batched, batched_stack: tuple[LocalStack, int], client: Client, eos: int
) -> None:
    """Continuous batching: a request that arrives while another generates joins its running
    batch between steps (same batch key, other settings), streams its own tokens, and is
    answered when its own rows end, while the long one is still generating."""
    batched_client, port = batched
    stack, _ = batched_stack
    before = batch_stats(port).get(TASK, (0.0, 0.0))
    long_one = request("a long one", temperature=0, max_new_tokens=POSITIONS - 16, logit_bias={eos: -100})
    joiner = request("the quick brown fox", temperature=0.8, seed=3, top_p=0.9, max_new_tokens=12, logprobs=True)
    running = batched_client.submit(long_one)
    wait_for(lambda: generating(batched_client, running), "the long request generating")
    # Frozen at its first tokens, the model process gets the joiner; thawed, it has ~230 steps
    # left while the joiner only has to cross to the batcher.
    model = model_processes(stack.workers[Queue.TEXT].pid)[0]
    model.send_signal(signal.SIGSTOP)
    try:
        joined = batched_client.submit(joiner)
        wait_for(lambda: model_process_jobs(port) == 2, "the joiner sent to the model process")
    finally:
        model.send_signal(signal.SIGCONT)
    result = joined.result(timeout=WAIT_S)
    long_result = running.result(timeout=WAIT_S)
    # It ran beside the long one: the long one streamed tokens after the joiner's answer.
    assert stream_id(last_token_id(batched_client, running)) > stream_id(done_id(batched_client, joined))
    after = batch_stats(port)[TASK]
    assert (after[0] - before[0], after[1] - before[1]) == (2, 2), "the long one's batch, then one joining it"
    assert streamed_text(joined) == result.generated_text
    assert streamed_text(running) == long_result.generated_text
    assert comparable(result) == comparable(client.run(joiner, timeout=WAIT_S)), "what it gets alone"
    assert comparable(long_result) == comparable(client.run(long_one, timeout=WAIT_S))
    assert (result.details.generated_tokens, long_result.details.generated_tokens) == (12, POSITIONS - 16)
