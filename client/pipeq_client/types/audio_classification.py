"""audio-classification: Wav2Vec2, AST..."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pipeq_client.protocol import Task
from pipeq_client.types.common import (
    AudioInput,
    Blob,
    ClassificationParameters,
    ClassificationResult,
    StrictModel,
    TaskRequest,
)

__all__ = ["AudioClassificationParameters", "AudioClassificationRequest", "AudioClassificationResult"]


class AudioClassificationParameters(ClassificationParameters):
    pass


class AudioClassificationResult(ClassificationResult):
    pass


class AudioClassificationRequest(TaskRequest[AudioClassificationResult]):
    task: ClassVar[Task] = Task.AUDIO_CLASSIFICATION
    result_type: ClassVar[type[StrictModel]] = AudioClassificationResult  # type: ignore[assignment]

    inputs: AudioInput = Field(..., description="WAV/FLAC/OGG bytes, or float32 PCM with sampling_rate.")
    parameters: AudioClassificationParameters = Field(default_factory=AudioClassificationParameters)

    def blobs(self) -> list[tuple[str, Blob]]:
        return [("inputs", self.inputs)]
