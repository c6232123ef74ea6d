"""Runs one job: count the delivery, validate (never trust the wire), load, handle, publish.

Every failure a request can cause becomes a typed ``error`` event; the worker goes on.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from contextlib import nullcontext
from typing import Any

import redis

from pipeq_client.errors import DeadLetterError, JobCancelledError, PipeqError, WorkerError
from pipeq_client.protocol import DEAD_LETTER_KEY, EventType, Task, attempts_key, cancel_key, events_key
from pipeq_client.validation import validate_request
from pipeq_workers.handlers.registry import spec_for
from pipeq_workers.inputs.model_limits import bind_token_limit
from pipeq_workers.models.cache import LoadedPipeline, PipelineCache
from pipeq_workers.monitoring.metrics import WorkerMetrics
from pipeq_workers.runtime.batching import MicroBatcher
from pipeq_workers.runtime.context import JobContext
from pipeq_workers.runtime.interrupts import stop_abandoned_work
from pipeq_workers.runtime.job_events import EventPublisher
from pipeq_workers.runtime.messages import clean_message, cleaned
from pipeq_workers.settings import WorkerSettings

__all__ = ["Executor"]

log = logging.getLogger(__name__)


class Executor:
    """Executes jobs in this worker process; shared by every task it registers."""

    def __init__(
        self,
        settings: WorkerSettings,
        pipelines: PipelineCache,
        client: redis.Redis,
        metrics: WorkerMetrics,
        batcher: MicroBatcher | None = None,
    ) -> None:
        self.batcher = batcher
        self.settings = settings
        self.pipelines = pipelines
        self.redis = client
        self.metrics = metrics
        self._prepared: set[int] = set()
        self._prepare_lock = threading.Lock()

    def run(self, task: Task, job_id: str, payload: Any) -> Any:
        """The result's JSON (also published as ``done``); raises the typed error after publishing it."""
        events = EventPublisher(self.redis, job_id, self.settings.result_ttl_s)
        answered, cancelled, attempt = self._job_state(job_id)
        if answered is not None:
            # A redelivered job that was answered before its ack was lost: answer once only.
            return answered["result"]
        try:
            if cancelled:
                raise JobCancelledError(f"job {job_id} was cancelled before it started")
            self._check_delivery(task, job_id, payload, events, attempt)
            with self.batcher.incoming() if self.batcher is not None else nullcontext():
                return self._execute(task, job_id, payload, events)
        except PipeqError as error:
            answer = cleaned(error)
            self._failed(task, events, answer)
            if answer is error:
                raise
            raise answer from None
        except (redis.ConnectionError, redis.TimeoutError):
            # Redis lost mid-job is not the request's fault: no error answer; the task requeues
            # the message (tasks.py) or it returns when this worker's lease lapses.
            raise
        except Exception as error:
            # Any failure must reach the caller, typed; the worker goes on.
            wrapped = WorkerError(clean_message(f"{type(error).__name__}: {error}"))
            frames = "".join(traceback.format_tb(error.__traceback__))
            log.error("job %s (%s) failed: %s\n%s", job_id, task.value, wrapped.message, frames)
            self._failed(task, events, wrapped)
            raise wrapped from error

    def _prepare(self, loaded: LoadedPipeline) -> None:
        """Once per pipeline: its tokenizer learns the model's real token limit (truncation cuts
        there), and its model stops work nobody waits for any more (interrupts.py)."""
        with self._prepare_lock:
            if id(loaded.pipe) in self._prepared:
                return
            bind_token_limit(loaded.pipe)
            if self.batcher is not None:
                stop_abandoned_work(loaded.pipe.model, self.batcher.abandoned)
            self._prepared.add(id(loaded.pipe))

    def _failed(self, task: Task, events: EventPublisher, error: PipeqError) -> None:
        self.metrics.failures.labels(task.value, error.code.value).inc()
        events.publish(EventType.ERROR, error.to_wire())

    def _job_state(self, job_id: str) -> tuple[dict[str, Any] | None, bool, int]:
        """(the ``done`` event's data if already answered, cancelled, this delivery's number).
        A finished or cancelled job is not a delivery attempt: the counter moves only for a
        job that will run."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.xrevrange(events_key(job_id), count=1)
            pipe.exists(cancel_key(job_id))
            last, cancelled = pipe.execute()
        fields = last[0][1] if last else {}
        answered = json.loads(fields[b"data"]) if fields.get(b"type") == EventType.DONE.value.encode() else None
        if cancelled or answered is not None:
            return answered, bool(cancelled), 0
        key = attempts_key(job_id)
        with self.redis.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, self.settings.result_ttl_s)
            attempt = int(pipe.execute()[0])
        return None, False, attempt

    def _check_delivery(self, task: Task, job_id: str, payload: Any, events: EventPublisher, attempt: int) -> None:
        if attempt > self.settings.max_attempts:
            self._dead_letter(task, job_id, payload, attempt)
        if attempt > 1:
            # Readers drop what they saw: the job restarts from scratch.
            events.publish(EventType.RESET, {"attempt": attempt})

    def _dead_letter(self, task: Task, job_id: str, payload: Any, attempt: int) -> None:
        record = {"job_id": job_id, "task": task.value, "attempts": attempt - 1, "payload": payload}
        self.redis.lpush(DEAD_LETTER_KEY, json.dumps(record))
        raise DeadLetterError(
            f"job {job_id} was delivered {attempt - 1} times without finishing "
            f"(max_attempts={self.settings.max_attempts}); parked in {DEAD_LETTER_KEY}"
        )

    def _execute(self, task: Task, job_id: str, payload: Any, events: EventPublisher) -> Any:
        spec = spec_for(task)
        request = validate_request(spec.request_type, payload)
        loaded = self.pipelines.get(task, request.model)
        self._prepare(loaded)
        started = time.perf_counter()
        context = JobContext(job_id, task, self.settings, self.redis, events, self.batcher)
        # Job.status() reads "running" from this event; typed streams skip it.
        events.publish(EventType.STARTED, {"task": task.value, "model": loaded.model_name})
        result = spec.handler(loaded.pipe, request, context)
        if self.batcher is None:
            self.metrics.batch_size.labels(task.value).observe(1)  # the batcher reports its own
        result_json = result.model_dump(mode="json", exclude_none=True)
        events.publish(EventType.DONE, {"result": result_json, "model": loaded.model_name})
        elapsed = time.perf_counter() - started
        self.metrics.requests.labels(task.value, loaded.model_name).inc()
        self.metrics.latency.labels(task.value, loaded.model_name).observe(elapsed)
        log.debug("job %s %s on %s in %.1f ms", job_id, task.value, loaded.model_name, elapsed * 1e3)
        return result_json
