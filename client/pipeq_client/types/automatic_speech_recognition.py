"""automatic-speech-recognition: Wav2Vec2-CTC, Whisper."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from pipeq_client.protocol import Task
from pipeq_client.types.common import AudioInput, Blob, StrictModel, TaskRequest

__all__ = [
    "AutomaticSpeechRecognitionChunk",
    "AutomaticSpeechRecognitionParameters",
    "AutomaticSpeechRecognitionRequest",
    "AutomaticSpeechRecognitionResult",
]


class AutomaticSpeechRecognitionParameters(StrictModel):
    return_timestamps: bool | Literal["word", "char"] = Field(
        False, description="Timestamped chunks: True (segments, Whisper), 'word' or 'char' (CTC)."
    )
    chunk_length_s: float | None = Field(None, gt=0, le=60, description="Split long audio into chunks of this length.")


class AutomaticSpeechRecognitionChunk(StrictModel):
    text: str
    timestamp: tuple[float | None, float | None]


class AutomaticSpeechRecognitionResult(StrictModel):
    text: str
    chunks: list[AutomaticSpeechRecognitionChunk] | None = None


class AutomaticSpeechRecognitionRequest(TaskRequest[AutomaticSpeechRecognitionResult]):
    task: ClassVar[Task] = Task.AUTOMATIC_SPEECH_RECOGNITION
    result_type: ClassVar[type[StrictModel]] = AutomaticSpeechRecognitionResult

    inputs: AudioInput = Field(..., description="WAV/FLAC/OGG bytes, or float32 PCM with sampling_rate.")
    parameters: AutomaticSpeechRecognitionParameters = Field(default_factory=AutomaticSpeechRecognitionParameters)

    def blobs(self) -> list[tuple[str, Blob]]:
        return [("inputs", self.inputs)]
