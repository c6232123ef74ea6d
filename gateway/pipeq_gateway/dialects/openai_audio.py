"""OpenAI audio: transcriptions (multipart upload) <-> automatic-speech-recognition, and speech
<-> text-to-speech. The gateway does no audio encoding of its own: speech comes back as the
worker's WAV (16-bit PCM), or as that WAV's raw samples (``pcm``)."""

from __future__ import annotations

import io
import wave
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from pipeq_client.errors import InvalidInputError, RequestValidationError, UnsupportedParameterError
from pipeq_client.protocol import Task
from pipeq_client.types import (
    AutomaticSpeechRecognitionRequest,
    AutomaticSpeechRecognitionResult,
    TextToSpeechRequest,
)
from pipeq_gateway.catalog import ModelCatalog
from pipeq_gateway.dialects.sampling import renamed

__all__ = [
    "SpeechRequest",
    "TranscriptionForm",
    "speech_audio",
    "speech_request",
    "transcription",
    "transcription_request",
]

_TIMESTAMPS: dict[str, bool | str] = {"segment": True, "word": "word"}


class TranscriptionForm(BaseModel):
    """The multipart fields besides ``file``."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    language: str | None = None
    prompt: str | None = None
    temperature: float | None = None
    response_format: Literal["json", "text", "verbose_json"] = "json"
    timestamp_granularities: list[Literal["segment", "word"]] = []
    stream: bool = False


def transcription_request(
    form: TranscriptionForm, audio: bytes, catalog: ModelCatalog
) -> AutomaticSpeechRecognitionRequest:
    for name in ("language", "prompt", "temperature"):
        if getattr(form, name) is not None:
            raise UnsupportedParameterError(f"{name}: not served for transcriptions", field=name)
    if form.stream:
        raise UnsupportedParameterError("stream: transcriptions are not streamed", field="stream")
    _, model = catalog.resolve(form.model, (Task.AUTOMATIC_SPEECH_RECOGNITION,))
    granularity = form.timestamp_granularities[0] if form.timestamp_granularities else None
    parameters = {"return_timestamps": _TIMESTAMPS[granularity]} if granularity else {}
    try:
        return AutomaticSpeechRecognitionRequest.build({"data": audio}, model, parameters)
    except RequestValidationError as error:
        raise renamed(error, {"inputs": "file", "parameters.return_timestamps": "timestamp_granularities"}) from None


def transcription(form: TranscriptionForm, result: AutomaticSpeechRecognitionResult) -> dict[str, Any] | str:
    if form.response_format == "text":
        return result.text
    if form.response_format == "json":
        return {"text": result.text}
    pieces = [
        {"id": index, "start": chunk.timestamp[0], "end": chunk.timestamp[1], "text": chunk.text}
        for index, chunk in enumerate(result.chunks or [])
    ]
    kind = "words" if "word" in form.timestamp_granularities else "segments"
    if kind == "words":
        pieces = [{"word": piece["text"], "start": piece["start"], "end": piece["end"]} for piece in pieces]
    return {"task": "transcribe", "text": result.text, kind: pieces}


class SpeechRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input: str
    model: str | None = None
    voice: Any = None  # one voice per model here: accepted and not used
    response_format: Literal["mp3", "opus", "aac", "flac", "wav", "pcm"] = "wav"
    speed: float | None = None
    instructions: str | None = None
    stream_format: Literal["sse", "audio"] | None = None
    seed: int | None = None


def speech_request(body: SpeechRequest, catalog: ModelCatalog) -> TextToSpeechRequest:
    if body.response_format not in ("wav", "pcm"):
        raise UnsupportedParameterError("response_format: wav and pcm are served", field="response_format")
    if body.speed not in (None, 1.0):
        raise UnsupportedParameterError("speed: only 1.0 is served", field="speed")
    if body.instructions is not None or body.stream_format == "sse":
        field = "instructions" if body.instructions is not None else "stream_format"
        raise UnsupportedParameterError(f"{field}: not served", field=field)
    _, model = catalog.resolve(body.model, (Task.TEXT_TO_SPEECH,))
    parameters = {} if body.seed is None else {"seed": body.seed}
    try:
        return TextToSpeechRequest.build(body.input, model, parameters)
    except RequestValidationError as error:
        raise renamed(error, {"inputs": "input", "parameters.": ""}) from None


def speech_audio(wav: bytes, response_format: str) -> tuple[bytes, str]:
    """``(body, media type)``: the WAV as it is, or its raw 16-bit little-endian samples."""
    if response_format == "wav":
        return wav, "audio/wav"
    try:
        with wave.open(io.BytesIO(wav)) as reader:
            return reader.readframes(reader.getnframes()), "audio/pcm"
    except wave.Error as error:
        raise InvalidInputError(f"the worker's audio is not PCM WAV: {error}") from None
