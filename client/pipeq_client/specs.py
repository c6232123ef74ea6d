"""Each task declared once on the client side: its request type (which names its task,
parameters and result types), its queue (the wire contract), its binary inputs and outputs,
and the positional inputs of its client method. Everything else is derived: the
per-task methods of both clients are generated from this table and the Parameters models
(``_codegen.py``), and a test checks that every table in client and worker covers every task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeq_client.protocol import TASK_QUEUES, Queue, Task
from pipeq_client.types import REQUEST_TYPES, TaskRequest

__all__ = ["TASK_SPECS", "MethodInputs", "TaskSpec", "spec_of"]


@dataclass(frozen=True)
class MethodInputs:
    """The client method's positional inputs: their signature, the expression that builds the
    request's ``inputs`` from them, and Parameters fields taken positionally (required ones)."""

    signature: str
    inputs: str
    promoted: tuple[str, ...] = ()


_TEXT = MethodInputs("text: str", "text")
_IMAGE = MethodInputs("image: bytes", "image")
_AUDIO = MethodInputs("audio: bytes, sampling_rate: int | None = None", "_audio(audio, sampling_rate)")

_METHOD_INPUTS: dict[Task, MethodInputs] = {
    Task.TEXT_GENERATION: MethodInputs("prompt: str | list[dict[str, Any]]", "prompt"),
    Task.TEXT_CLASSIFICATION: _TEXT,
    Task.SUMMARIZATION: _TEXT,
    Task.TRANSLATION: _TEXT,
    Task.ZERO_SHOT_CLASSIFICATION: MethodInputs(
        "text: str, candidate_labels: list[str]", "text", promoted=("candidate_labels",)
    ),
    Task.FEATURE_EXTRACTION: MethodInputs("text: str | list[str]", "text"),
    Task.IMAGE_TO_TEXT: _IMAGE,
    Task.IMAGE_CLASSIFICATION: _IMAGE,
    Task.OBJECT_DETECTION: _IMAGE,
    Task.IMAGE_TEXT_TO_TEXT: MethodInputs(
        "images: bytes | list[bytes], text: str",
        '{"images": [images] if isinstance(images, bytes) else images, "text": text}',
    ),
    Task.AUTOMATIC_SPEECH_RECOGNITION: _AUDIO,
    Task.AUDIO_CLASSIFICATION: _AUDIO,
    Task.TEXT_TO_SPEECH: _TEXT,
}

# Fields of a result holding bytes that may come back by claim check.
_BINARY_OUTPUTS: dict[Task, tuple[str, ...]] = {Task.TEXT_TO_SPEECH: ("audio",)}


@dataclass(frozen=True)
class TaskSpec:
    task: Task
    queue: Queue
    request_type: type[TaskRequest[Any]]
    method: MethodInputs
    binary_outputs: tuple[str, ...] = ()

    @property
    def method_name(self) -> str:
        return self.task.value.replace("-", "_")


TASK_SPECS: dict[Task, TaskSpec] = {
    task: TaskSpec(task, TASK_QUEUES[task], REQUEST_TYPES[task], _METHOD_INPUTS[task], _BINARY_OUTPUTS.get(task, ()))
    for task in Task
}


def spec_of(task: Task) -> TaskSpec:
    return TASK_SPECS[task]
