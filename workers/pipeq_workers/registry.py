"""The table: task -> request type (from the wire contract) and handler.

One HF task = one row. The request types come from ``pipeq_client.types.REQUEST_TYPES``
so worker and client validate with the same models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from transformers import Pipeline

from pipeq_client.protocol import TASK_QUEUES, Queue, Task
from pipeq_client.types import REQUEST_TYPES, TaskRequest
from pipeq_workers.context import JobContext
from pipeq_workers.handlers import audio, text, vision

__all__ = ["HANDLERS", "TaskSpec", "spec_for", "tasks_of"]

Handler = Callable[[Pipeline, Any, JobContext], BaseModel]

HANDLERS: dict[Task, Handler] = {
    Task.TEXT_GENERATION: text.text_generation,
    Task.TEXT_CLASSIFICATION: text.text_classification,
    Task.SUMMARIZATION: text.summarization,
    Task.TRANSLATION: text.translation,
    Task.ZERO_SHOT_CLASSIFICATION: text.zero_shot_classification,
    Task.FEATURE_EXTRACTION: text.feature_extraction,
    Task.IMAGE_TO_TEXT: vision.image_to_text,
    Task.IMAGE_CLASSIFICATION: vision.image_classification,
    Task.OBJECT_DETECTION: vision.object_detection,
    Task.IMAGE_TEXT_TO_TEXT: vision.image_text_to_text,
    Task.AUTOMATIC_SPEECH_RECOGNITION: audio.automatic_speech_recognition,
    Task.AUDIO_CLASSIFICATION: audio.audio_classification,
    Task.TEXT_TO_SPEECH: audio.text_to_speech,
}


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
