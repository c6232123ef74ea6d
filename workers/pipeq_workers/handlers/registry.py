"""Task -> request type (from the wire contract) and handler.

Importing the modality modules registers their handlers (``@handles``). The request types come
from ``pipeq_client.types.REQUEST_TYPES`` so worker and client validate with the same models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from transformers import Pipeline

from pipeq_client.protocol import TASK_QUEUES, Queue, Task
from pipeq_client.types import REQUEST_TYPES, TaskRequest
from pipeq_workers.handlers import HANDLERS, audio, text, vision
from pipeq_workers.runtime.context import JobContext

__all__ = ["HANDLERS", "TaskSpec", "spec_for", "tasks_of"]

_MODULES = (audio, text, vision)  # imported for their @handles registrations

Handler = Callable[[Pipeline, Any, JobContext], BaseModel]


@dataclass(frozen=True)
class TaskSpec:
    task: Task
    request_type: type[TaskRequest[Any]]
    handler: Handler


def spec_for(task: Task) -> TaskSpec:
    return TaskSpec(task, REQUEST_TYPES[task], HANDLERS[task])


def tasks_of(queues: list[Queue]) -> list[Task]:
    """The tasks a worker consuming ``queues`` serves (and so warms up)."""
    return [task for task, queue in TASK_QUEUES.items() if queue in queues]
