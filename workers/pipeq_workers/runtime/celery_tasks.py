"""Thin Celery tasks over the registry: one per HF task, named and routed by the wire contract."""

from __future__ import annotations

from typing import Any

import redis
from celery import Celery
from celery import Task as CeleryTask
from celery.exceptions import Reject

from pipeq_client.protocol import TASK_QUEUES, Task, celery_task_name
from pipeq_workers.errors import ModelProcessLostError
from pipeq_workers.runtime.worker_runtime import WorkerRuntime

__all__ = ["register_tasks"]

# Celery's request building, wrapped so that a message it cannot read is refused, not fatal.
GUARDED_STRATEGY = "pipeq_workers.delivery.strategy:guarded"


def _register(app: Celery, runtime: WorkerRuntime, task: Task) -> None:
    def run(self: CeleryTask, payload: Any) -> Any:
        try:
            return runtime.executor.run(task, str(self.request.id), payload)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            # Redis went away mid-job: the answer may not be stored, so the message must not be
            # acked as done. Back to the queue (or, if Redis is still away, it stays in flight
            # and returns when this consumer's lease lapses).
            raise Reject(f"Redis unavailable during job: {error}", requeue=True) from error
        except ModelProcessLostError as error:
            raise Reject(str(error), requeue=True) from error

    run.__name__ = run.__qualname__ = task.value.replace("-", "_")
    app.task(name=celery_task_name(task), bind=True, queue=TASK_QUEUES[task].value, Strategy=GUARDED_STRATEGY)(run)


def register_tasks(app: Celery, runtime: WorkerRuntime) -> None:
    """Registers all 13 tasks; a worker only receives those of the queues it consumes."""
    for task in TASK_QUEUES:
        _register(app, runtime, task)
