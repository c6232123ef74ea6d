"""Reliable delivery, tried as an operator would: real redis-server, real worker processes.

- SIGKILL in the window kombu's BRPOP leaves open (the broker handed the message over, the
  worker never recorded it): the job is answered once after a restart.
- Random SIGKILLs during a run of mixed jobs: every job answered exactly once; the time from
  each kill until its in-flight jobs are answered is recorded (test-artifacts/).
- Redis SIGKILLed and restarted from its AOF with jobs queued and running: none lost.
- A dead worker's jobs return within the lease TTL, not the visibility timeout.

The heavy loop runs a few hundred jobs with ``--chaos``; by default a smaller run.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from prometheus_client import generate_latest

from pipeq_client import Client
from pipeq_client.client import Job
from pipeq_client.core import plan_submit
from pipeq_client.errors import BrokerUnavailableError
from pipeq_client.protocol import CONSUMERS_KEY, EventType, Queue, attempts_key, inflight_key
from pipeq_client.types import (
    FeatureExtractionRequest,
    TaskRequest,
    TextClassificationRequest,
    TextGenerationRequest,
    ZeroShotClassificationRequest,
)
from pipeq_workers.monitoring.metrics import WorkerMetrics
from pipeq_workers.tooling.embedded import EmbeddedRedis
from pipeq_workers.tooling.stack import LocalStack

pytestmark = pytest.mark.integration

# Short leases keep the suite fast; the default-settings recovery is its own test.
FAST_LEASE = {"PIPEQ_LEASE_TTL_S": "4", "PIPEQ_LEASE_RENEW_S": "1"}
ARTIFACTS = Path("test-artifacts")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.02)


def done_count(job: Job[Any]) -> int:
    return [event.type for event in job.events(timeout=10)].count(EventType.DONE)


def blocked_fetchers(broker: redis.Redis) -> list[dict[str, Any]]:
    """Redis clients blocked in BLMOVE: idle workers waiting for a message."""
    return [entry for entry in broker.client_list() if entry.get("cmd") == "blmove" and "b" in entry.get("flags", "")]


def in_flight_job_ids(broker: redis.Redis, consumer_id: str, queue: Queue) -> set[str]:
    raw_messages = broker.lrange(inflight_key(consumer_id, queue.value), 0, -1)
    return {json.loads(raw)["headers"]["id"] for raw in raw_messages}


def consumer_of(broker: redis.Redis, pid: int) -> str | None:
    for consumer_id, record in broker.hgetall(CONSUMERS_KEY).items():
        if json.loads(record)["pid"] == pid:
            return consumer_id.decode()
    return None


def wait_registered(broker: redis.Redis, pid: int) -> str:
    wait_for(lambda: consumer_of(broker, pid) is not None, "the worker registered")
    return str(consumer_of(broker, pid))


@pytest.fixture
def aof_redis() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis(appendonly=True) as server:
        yield server


@pytest.fixture
def bare_stack(aof_redis: EmbeddedRedis, models_config: Path) -> Iterator[LocalStack]:
    with LocalStack(redis_url=aof_redis.url, models_config=models_config, queues=()) as stack:
        yield stack


def replace_worker(stack: LocalStack, process: subprocess.Popen[bytes], env: dict[str, str]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    stack.start_worker(Queue.TEXT, env)


def test_sigkill_after_the_broker_handed_over_a_message_loses_nothing(bare_stack: LocalStack) -> None:
    """kombu's BRPOP window: SIGSTOP an idle worker waiting for a message, submit, SIGKILL."""
    env = {**FAST_LEASE, "PIPEQ_FETCH_WAIT_S": "10"}  # a long wait: the window stays open
    stack = bare_stack
    worker, broker = text_worker(stack, env)
    with Client(stack.redis_url) as client:
        job = None
        for _ in range(5):
            wait_for(lambda: len(blocked_fetchers(broker)) == 1, "the idle worker waits in BLMOVE")
            worker.send_signal(signal.SIGSTOP)
            if not blocked_fetchers(broker):  # its wait ran out just now: try again
                worker.send_signal(signal.SIGCONT)
                continue
            job = client.submit(TextClassificationRequest.build("handed over, then killed"))
            if broker.llen(Queue.TEXT.value) == 0:
                break  # Redis handed the message to the frozen worker
            worker.send_signal(signal.SIGCONT)  # the wait ran out first: serve it, try again
            job.result(timeout=60)
            job = None
        assert job is not None, "the message was handed to a frozen worker"
        replace_worker(stack, worker, env)
        assert job.result(timeout=120).root
        assert done_count(job) == 1


@pytest.mark.parametrize("answer", [EventType.DONE, EventType.ERROR])
def test_a_message_back_in_the_queue_after_its_job_was_answered_does_not_run_again(
    bare_stack: LocalStack, answer: EventType
) -> None:
    """A worker that dies between a job's answer and its ack leaves the message to return:
    the job, answered with a result or with an error, is not run again."""
    stack = bare_stack
    worker, broker = text_worker(stack)
    consumer = wait_registered(broker, worker.pid)
    text = "answered" if answer is EventType.DONE else " ".join(["queue"] * 400)  # over 128 positions
    with Client(stack.redis_url) as client:
        plan = plan_submit(TextClassificationRequest.build(text), client.settings, None)
        job = client.job(plan.job_id, TextClassificationRequest)
        assert not broker.exists(job.handle.events_key)

        def delivered() -> None:
            broker.lpush(Queue.TEXT.value, plan.message)
            wait_for(
                lambda: broker.llen(Queue.TEXT.value) == 0 and not in_flight_job_ids(broker, consumer, Queue.TEXT),
                "the worker took the message and acked it",
            )

        delivered()
        delivered()  # the same message again, as after the lost ack
    # The whole stream (a reader's events() ends at the first answer).
    kinds = [fields[b"type"].decode() for _, fields in broker.xrange(job.handle.events_key)]
    assert kinds == [EventType.STARTED.value, answer.value], "no reset, no second run, no second answer"
    assert broker.get(attempts_key(job.id)) == b"1", "delivered twice, run once"


def test_a_dead_workers_jobs_return_within_30s_with_default_settings(bare_stack: LocalStack) -> None:
    stack = bare_stack
    worker, broker = text_worker(stack)
    long_run = long_generation(stack, tokens=240)
    with Client(stack.redis_url) as client:
        job = client.submit(TextGenerationRequest.build("a long one", parameters=long_run))
        wait_for(lambda: has_event(broker, job, EventType.TOKEN), "the job runs")
        worker.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        worker.wait(timeout=30)
        stack.workers.pop(Queue.TEXT)
        # The replacement starts at once; what is measured is how soon the job runs again.
        stack.start_worker(Queue.TEXT)
        wait_for(lambda: has_event(broker, job, EventType.RESET), "the job restarts", timeout=60)
        recovered_s = time.monotonic() - killed_at
        record("default-lease-recovery", {"recovered_s": recovered_s})
        assert recovered_s <= 30, f"the dead worker's job came back after {recovered_s:.1f}s"
        job.cancel()
        assert job.result(timeout=120).details.finish_reason in ("cancelled", "length")


def generation_eos(stack: LocalStack) -> int:
    config = Path(str(stack.models_config)).parent / "text-generation" / "generation_config.json"
    return int(json.loads(config.read_text())["eos_token_id"])


def long_generation(stack: LocalStack, tokens: int = 200) -> dict[str, Any]:
    """Greedy, EOS masked: exactly ``tokens`` steps, long enough to act on while it runs."""
    return {"temperature": 0, "max_new_tokens": tokens, "logit_bias": {generation_eos(stack): -100.0}}


def text_worker(stack: LocalStack, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[bytes], redis.Redis]:
    """A ready text worker on ``stack``, and a Redis connection to watch it."""
    worker = stack.start_worker(Queue.TEXT, env)
    stack.wait_ready((Queue.TEXT,))
    return worker, redis.Redis.from_url(str(stack.redis_url))


def has_event(broker: redis.Redis, job: Job[Any], kind: EventType) -> bool:
    return any(fields[b"type"] == kind.value.encode() for _, fields in broker.xrange(job.handle.events_key))


def mixed_requests(count: int, seed: int) -> list[TaskRequest[Any]]:
    rng = random.Random(seed)
    makers: list[Callable[[int], TaskRequest[Any]]] = [
        lambda i: TextClassificationRequest.build(f"request {i}", parameters={"top_k": 2}),
        lambda i: FeatureExtractionRequest.build(f"embed {i}", parameters={"pooling": "mean"}),
        lambda i: ZeroShotClassificationRequest.build(f"label {i}", parameters={"candidate_labels": ["a", "b"]}),
        lambda i: TextGenerationRequest.build(
            f"story {i}", parameters={"temperature": 0, "max_new_tokens": rng.randint(8, 48)}
        ),
    ]
    return [rng.choice(makers)(index) for index in range(count)]


def test_random_sigkills_during_a_mixed_run_lose_nothing_and_answer_once(
    bare_stack: LocalStack, request: pytest.FixtureRequest
) -> None:
    chaos = bool(request.config.getoption("--chaos"))
    jobs_count, kills = (300, 10) if chaos else (60, 3)
    stack = bare_stack
    worker, broker = text_worker(stack, FAST_LEASE)
    requests = mixed_requests(jobs_count, seed=11)
    recoveries: list[float] = []
    rng = random.Random(7)
    jobs: list[Job[Any]] = []
    with Client(stack.redis_url) as client:
        for wave in range(kills):  # each wave of jobs meets one SIGKILL
            jobs += [client.submit(request) for request in requests[wave::kills]]
            victim = worker
            consumer = wait_registered(broker, victim.pid)
            wait_for(lambda c=consumer: bool(in_flight_job_ids(broker, c, Queue.TEXT)), "the worker holds a job")
            time.sleep(rng.uniform(0, 0.05))  # the kill lands at a random point of the job
            victim.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            victim.wait(timeout=30)
            stranded = in_flight_job_ids(broker, consumer, Queue.TEXT)
            worker = stack.start_worker(Queue.TEXT, FAST_LEASE)
            by_id = {job.id: job for job in jobs}
            for job_id in stranded:
                by_id[job_id].result(timeout=180)
            recoveries.append(round(time.monotonic() - killed_at, 3))
        results = [job.result(timeout=300) for job in jobs]
    assert len(results) == jobs_count
    duplicates = [job.id for job in jobs if done_count(job) != 1]
    assert not duplicates, f"answered more than once: {duplicates}"
    record("random-sigkills", {"jobs": jobs_count, "kills": kills, "recovery_s": recoveries})


@pytest.mark.parametrize(
    "env", [FAST_LEASE, {**FAST_LEASE, "PIPEQ_MAX_BATCH_SIZE": "4"}], ids=["solo", "batched-model-process"]
)
def test_redis_killed_and_restarted_from_its_aof_loses_no_job(
    bare_stack: LocalStack, aof_redis: EmbeddedRedis, env: dict[str, str]
) -> None:
    stack = bare_stack
    _, broker = text_worker(stack, env)
    slow = long_generation(stack)
    with Client(stack.redis_url) as client:
        running = client.submit(TextGenerationRequest.build("running when Redis dies", parameters=slow))
        queued = [client.submit(request) for request in mixed_requests(12, seed=3)]
        wait_for(lambda: has_event(broker, running, EventType.TOKEN), "a job is running")
        assert broker.llen(Queue.TEXT.value) > 0, "jobs are still queued"
        aof_redis.kill()
        aof_redis.start()
        results = [job.result(timeout=240) for job in [running, *queued]]
        assert len(results) == 13
        assert all(done_count(job) == 1 for job in [running, *queued])


def record(name: str, data: dict[str, Any]) -> None:
    """Measured figures go to test-artifacts/ (never asserted as times, except the 30 s bound)."""
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"delivery-{name}.json").write_text(json.dumps(data, indent=2))


def test_the_client_raises_typed_errors_while_redis_is_away_and_rides_out_a_short_outage(
    bare_stack: LocalStack, aof_redis: EmbeddedRedis
) -> None:
    stack = bare_stack
    _, broker = text_worker(stack, FAST_LEASE)
    slow = long_generation(stack)
    with Client(stack.redis_url) as client:
        job = client.submit(TextGenerationRequest.build("across an outage", parameters=slow))
        wait_for(lambda: has_event(broker, job, EventType.TOKEN), "the job runs")
        aof_redis.kill()
        with pytest.raises(BrokerUnavailableError) as refused:
            client.submit(TextClassificationRequest.build("Redis is away"))
        assert "127.0.0.1" in str(refused.value) and refused.value.code == "broker_unavailable"
        with pytest.raises(BrokerUnavailableError):
            job.result(timeout=1)  # the outage outlasts this wait: typed, not a redis exception
        outage = threading.Timer(2.0, aof_redis.start)  # a short outage, inside the next wait
        outage.start()
        result = job.result(timeout=180)
        outage.join()
        assert result.details.generated_tokens == 200


def test_metrics_and_the_queue_list_show_waiting_and_in_flight_work(
    bare_stack: LocalStack, aof_redis: EmbeddedRedis
) -> None:
    """What KEDA reads (LLEN of the queue list), and pipeq's gauges, see queued and in-flight work."""
    stack = bare_stack
    worker, broker = text_worker(stack, FAST_LEASE)
    slow = long_generation(stack)
    with Client(stack.redis_url) as client:
        running = client.submit(TextGenerationRequest.build("busy", parameters=slow))
        wait_for(lambda: has_event(broker, running, EventType.TOKEN), "the job runs")
        worker.send_signal(signal.SIGSTOP)  # hold the state still while it is read
        try:
            waiting = [client.submit(TextClassificationRequest.build(f"wait {i}")) for i in range(3)]
            assert broker.llen(Queue.TEXT.value) == 3, "queued work stays in the list KEDA and Flower read"
            text = generate_latest(WorkerMetrics(broker).registry).decode()
        finally:
            worker.send_signal(signal.SIGCONT)
        assert 'pipeq_queue_depth{queue="text"} 3.0' in text
        assert 'pipeq_in_flight{queue="text"} 1.0' in text
        assert 'pipeq_live_consumers{queue="text"} 1.0' in text
        assert all(job.result(timeout=120).root for job in waiting)
