"""text-to-speech: VITS/MMS, SpeechT5."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pipeq_client.protocol import Task
from pipeq_client.types.common import MAX_SEED, Blob, Int, NonEmptyText, StrictModel, TaskRequest

__all__ = ["TextToSpeechParameters", "TextToSpeechRequest", "TextToSpeechResult"]


class TextToSpeechParameters(StrictModel):
    seed: Int | None = Field(None, ge=0, le=MAX_SEED, description="VITS samples noise: a seed makes output repeatable.")


class TextToSpeechResult(StrictModel):
    audio: Blob = Field(..., description="WAV bytes (the client resolves a claim check into data).")
    sampling_rate: int


class TextToSpeechRequest(TaskRequest[TextToSpeechResult]):
    task: ClassVar[Task] = Task.TEXT_TO_SPEECH
    result_type: ClassVar[type[StrictModel]] = TextToSpeechResult

    inputs: NonEmptyText
    parameters: TextToSpeechParameters = Field(default_factory=TextToSpeechParameters)
