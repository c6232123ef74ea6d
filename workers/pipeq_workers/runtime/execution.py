"""Runs one job: count the delivery, hand its model work to the runner, publish the answer.

Every failure a request can cause becomes a typed ``error`` event; the worker goes on.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import redis

from pipeq_client.errors import DeadLetterError, JobCancelledError, PipeqError, error_from_wire
from pipeq_client.protocol import DEAD_LETTER_KEY, EventType, Task, attempts_key, cancel_key, events_key
from pipeq_workers.delivery.transport import held_message
from pipeq_workers.errors import ModelProcessLostError
from pipeq_workers.monitoring.metrics import WorkerMetrics
from pipeq_workers.runtime.job_events import EventPublisher
from pipeq_workers.runtime.job_runner import JobRunner
from pipeq_workers.runtime.messages import cleaned, unexpected
from pipeq_workers.settings import WorkerSettings

__all__ = ["Executor"]

log = logging.getLogger(__name__)

# KEYS: the job's events stream, its cancel key, its attempts counter; ARGV: the counter's TTL.
# Returns {last event or {}, cancelled, attempt}; attempt 0 when the job will not run (it
# was cancelled, or answered: a done or error event is its last).
_JOB_STATE_SCRIPT = """
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local cancelled = redis.call('EXISTS', KEYS[2])
if cancelled == 1 then return {last, 1, 0} end
if #last > 0 then
  local fields = last[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 'type' and (fields[i + 1] == 'done' or fields[i + 1] == 'error') then
      return {last, 0, 0}
    end
  end
end
local attempt = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[1])
return {last, 0, attempt}
"""


class Executor:
    """Executes jobs in this worker process; shared by every task it registers."""

    def __init__(
        self, settings: WorkerSettings, runner: JobRunner, client: redis.Redis, metrics: WorkerMetrics
    ) -> None:
        self.settings = settings
        self.runner = runner
        self.redis = client
        self.metrics = metrics
        self._state_script = client.register_script(_JOB_STATE_SCRIPT)

    def run(self, task: Task, job_id: str, payload: Any) -> Any:
        """The result's JSON (also published as ``done``); raises the typed error after publishing it."""
        events = EventPublisher(self.redis, job_id, self.settings.result_ttl_s)
        answered, failed, cancelled, attempt = self._job_state(job_id)
        # A redelivered job that was answered before its ack was lost: answered once only.
        if answered is not None:
            return answered["result"]
        if failed is not None:
            raise error_from_wire(failed)  # its typed error again, not published again
        try:
            if cancelled:
                raise JobCancelledError(f"job {job_id} was cancelled before it started")
            self._check_delivery(task, job_id, payload, events, attempt)
            with self.runner.coming():
                return self._execute(task, job_id, payload, events)
        except PipeqError as error:
            answer = cleaned(error)
            self._failed(task, events, answer)
            if answer is error:
                raise
            raise answer from None
        except (redis.ConnectionError, redis.TimeoutError, ModelProcessLostError):
            # Redis lost mid-job, or the model process, is not the request's fault: no error
            # answer; the task requeues the message (celery_tasks.py), or it returns when this
            # worker's lease lapses.
            raise
        except Exception as error:
            # Any failure must reach the caller, typed; the worker goes on.
            wrapped = unexpected(error, job_id, task.value)
            self._failed(task, events, wrapped)
            raise wrapped from error

    def _answer(self, job_id: str, events: EventPublisher, done: dict[str, Any]) -> None:
        """The ``done`` event and the message's ack in one MULTI, when this process's channel
        holds the message: one round trip, and no moment when the job is answered but its
        message still in flight. Celery's ack that follows then writes nothing."""
        held = held_message(job_id)
        if held is None:
            events.publish(EventType.DONE, done)
            return
        with self.redis.pipeline(transaction=True) as pipe:
            events.add(pipe, EventType.DONE, done)
            pipe.lrem(held.inflight, 1, held.raw)  # type: ignore[arg-type]  # the exact bytes it was taken as
            pipe.execute()
        held.settle()

    def _failed(self, task: Task, events: EventPublisher, error: PipeqError) -> None:
        self.metrics.failures.labels(task.value, error.code.value).inc()
        events.publish(EventType.ERROR, error.to_wire())

    def _job_state(self, job_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None, bool, int]:
        """(the ``done`` event's data if answered with a result, the ``error`` event's if answered
        with an error, cancelled, this delivery's number), in one round trip. A finished or
        cancelled job is not a delivery attempt: the counter moves only for a job that will run."""
        keys = [events_key(job_id), cancel_key(job_id), attempts_key(job_id)]
        last, cancelled, attempt = self._state_script(keys=keys, args=[self.settings.result_ttl_s])
        fields = dict(zip(last[0][1][::2], last[0][1][1::2], strict=True)) if last else {}
        kind = fields.get(b"type", b"").decode()
        data = json.loads(fields[b"data"]) if kind in (EventType.DONE.value, EventType.ERROR.value) else None
        if kind == EventType.DONE.value:
            return data, None, bool(cancelled), int(attempt)
        return None, data, bool(cancelled), int(attempt)

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
        started = time.monotonic()
        ran = self.runner.run(task, job_id, payload)
        self._answer(job_id, events, {"result": ran.result, "model": ran.model_name})
        elapsed = time.monotonic() - started
        self.metrics.requests.labels(task.value, ran.model_name).inc()
        self.metrics.latency.labels(task.value, ran.model_name).observe(elapsed)
        log.debug("job %s %s on %s in %.1f ms", job_id, task.value, ran.model_name, elapsed * 1e3)
        return ran.result
