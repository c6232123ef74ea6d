"""A batching worker runs its models in a process of their own (runtime/model_process.py).

Tried with real processes: the model process is where the model work happens (frozen, no job
starts; thawed, they finish), a SIGKILLed model process loses no job (its jobs are requeued,
answered once, by a new model process under the same worker), and a SIGKILLed worker takes
its model process with it.
"""

from __future__ import annotations

import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis

from pipeq_client import Client
from pipeq_client.client import Job
from pipeq_client.protocol import EventType, Queue
from pipeq_client.types import TextClassificationRequest, TextGenerationRequest
from pipeq_workers.tooling.embedded import EmbeddedRedis
from pipeq_workers.tooling.stack import LocalStack
from tests.integration.test_delivery import (
    FAST_LEASE,
    done_count,
    has_event,
    in_flight_job_ids,
    long_generation,
    mixed_requests,
    wait_for,
    wait_registered,
)

pytestmark = pytest.mark.integration

BATCHED = {**FAST_LEASE, "PIPEQ_MAX_BATCH_SIZE": "4"}


@pytest.fixture
def batched_stack(models_config: Path) -> Iterator[LocalStack]:
    with EmbeddedRedis() as server, LocalStack(server.url, models_config, queues=()) as stack:
        stack.start_worker(Queue.TEXT, BATCHED)
        stack.wait_ready((Queue.TEXT,))
        yield stack


def model_processes(worker_pid: int) -> list[psutil.Process]:
    """The worker's model processes (spawned: ``multiprocessing.spawn`` in their command line)."""
    try:
        children = psutil.Process(worker_pid).children()
    except psutil.NoSuchProcess:
        return []
    return [child for child in children if "multiprocessing.spawn" in " ".join(child.cmdline())]


def gone(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def the_model_process(stack: LocalStack) -> psutil.Process:
    worker_pid = stack.workers[Queue.TEXT].pid
    wait_for(lambda: len(model_processes(worker_pid)) == 1, "the worker has one model process")
    return model_processes(worker_pid)[0]


def test_the_model_work_happens_in_the_model_process(batched_stack: LocalStack) -> None:
    model = the_model_process(batched_stack)
    broker = redis.Redis.from_url(str(batched_stack.redis_url))
    with Client(batched_stack.redis_url) as client:
        assert client.run(TextClassificationRequest.build("warm"), timeout=60)  # it serves
        model.send_signal(signal.SIGSTOP)
        try:
            job = client.submit(TextClassificationRequest.build("waits for the model process"))
            # The worker process took it (it is in flight, off the queue) but cannot start it.
            wait_for(lambda: broker.llen(Queue.TEXT.value) == 0, "the worker took the job")
            assert not has_event(broker, job, EventType.STARTED)
        finally:
            model.send_signal(signal.SIGCONT)
        assert job.result(timeout=60)
        assert has_event(broker, job, EventType.STARTED)


def test_a_killed_model_process_loses_no_job_and_is_replaced(batched_stack: LocalStack) -> None:
    stack = batched_stack
    worker_pid = stack.workers[Queue.TEXT].pid
    first = the_model_process(stack)
    broker = redis.Redis.from_url(str(stack.redis_url))
    slow = long_generation(stack)
    with Client(stack.redis_url) as client:
        running = client.submit(TextGenerationRequest.build("running when the model process dies", parameters=slow))
        wait_for(lambda: has_event(broker, running, EventType.TOKEN), "the job runs in the model process")
        queued: list[Job[Any]] = [client.submit(TextClassificationRequest.build(f"queued {i}")) for i in range(6)]
        first.send_signal(signal.SIGKILL)
        wait_for(lambda: gone(first), "the model process is dead")
        jobs = [running, *queued]
        for job in jobs:
            assert job.result(timeout=180)
        assert all(done_count(job) == 1 for job in jobs), "every job answered exactly once"
        assert has_event(broker, running, EventType.RESET), "the running job was requeued and restarted"
    assert psutil.pid_exists(worker_pid) and not gone(psutil.Process(worker_pid)), "the worker lived on"
    replacement = the_model_process(stack)
    assert replacement.pid != first.pid


def test_a_killed_worker_takes_its_model_process_with_it(batched_stack: LocalStack) -> None:
    stack = batched_stack
    model = the_model_process(stack)
    worker = stack.workers.pop(Queue.TEXT)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    wait_for(lambda: gone(model), "the orphaned model process exits", timeout=60)


def test_random_kills_of_a_batched_worker_and_its_model_process_lose_nothing(
    batched_stack: LocalStack, request: pytest.FixtureRequest
) -> None:
    """Waves of mixed jobs, each meeting a SIGKILL at a random point: of the model process
    (the worker requeues what it held) or of the worker itself (its lease lapses; a new
    worker takes the jobs back). Every job is answered, exactly once."""
    chaos = bool(request.config.getoption("--chaos"))
    jobs_count, kills = (240, 10) if chaos else (48, 4)
    stack = batched_stack
    broker = redis.Redis.from_url(str(stack.redis_url))
    requests = mixed_requests(jobs_count, seed=23)
    rng = random.Random(5)
    jobs: list[Job[Any]] = []
    with Client(stack.redis_url) as client:
        for wave in range(kills):
            jobs += [client.submit(request) for request in requests[wave::kills]]
            worker = stack.workers[Queue.TEXT]
            consumer = wait_registered(broker, worker.pid)
            wait_for(lambda c=consumer: bool(in_flight_job_ids(broker, c, Queue.TEXT)), "the worker holds a job")
            time.sleep(rng.uniform(0, 0.05))  # the kill lands at a random point of the work
            if wave % 2 == 0:
                victim = the_model_process(stack)
                victim.send_signal(signal.SIGKILL)
                wait_for(lambda v=victim: gone(v), "the model process is dead")
            else:
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=30)
                stack.workers.pop(Queue.TEXT)
                stack.start_worker(Queue.TEXT, BATCHED)
        results = [job.result(timeout=300) for job in jobs]
    assert len(results) == jobs_count
    duplicates = [job.id for job in jobs if done_count(job) != 1]
    assert not duplicates, f"answered more than once: {duplicates}"
