"""Thin Celery tasks over the registry: one per HF task, named and routed by the wire contract."""

from __future__ import annotations

from typing import Any

from celery import Celery, Task

from pipeq_client.protocol import TASK_QUEUES, celery_task_name
from pipeq_client.protocol import Task as PipeqTask
from pipeq_workers.runtime import WorkerRuntime

__all__ = ["register_tasks"]


def _register(app: Celery, runtime: WorkerRuntime, task: PipeqTask) -> None:
    def run(self: Task, payload: Any) -> Any:
        return runtime.executor.run(task, str(self.request.id), payload)

    run.__name__ = run.__qualname__ = task.value.replace("-", "_")
    app.task(name=celery_task_name(task), bind=True, queue=TASK_QUEUES[task].value)(run)


def register_tasks(app: Celery, runtime: WorkerRuntime) -> None:
    """Registers all 13 tasks; a worker only receives those of the queues it consumes."""
    for task in TASK_QUEUES:
        _register(app, runtime, task)
