"""automatic-speech-recognition: Wav2Vec2-CTC, Whisper."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from pipeq_client.protocol import Task
from pipeq_client.types.common import AudioInput, Blob, Float, StrictModel, TaskRequest
from pipeq_client.types.generation import GenerationParameters

__all__ = [
    "AutomaticSpeechRecognitionChunk",
    "AutomaticSpeechRecognitionParameters",
    "AutomaticSpeechRecognitionRequest",
    "AutomaticSpeechRecognitionResult",
]


class AutomaticSpeechRecognitionParameters(GenerationParameters):
    """Generation parameters apply to models that generate text (Whisper); a CTC model
    (Wav2Vec2) refuses them, and the language and task options, as unsupported."""

    language: str | None = Field(
        None, min_length=2, max_length=32, description="Whisper: spoken language, as 'fr', 'french' or '<|fr|>'."
    )
    task: Literal["transcribe", "translate"] | None = Field(
        None, description="Whisper: transcribe, or translate into English."
    )
    return_timestamps: bool | Literal["word", "char"] = Field(
        False, description="Timestamped chunks: True (segments, Whisper), 'word' (Whisper, CTC), 'char' (CTC)."
    )
    chunk_length_s: Float | None = Field(
        None,
        gt=0,
        le=60,
        description="Split long audio into chunks of this length (at least the model's shortest clip).",
    )


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
