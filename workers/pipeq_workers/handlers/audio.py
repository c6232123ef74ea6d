"""Handlers of the audio queue."""

from __future__ import annotations

from typing import Any

import numpy as np
from transformers import Pipeline

from pipeq_client.types import (
    AudioClassificationRequest,
    AudioClassificationResult,
    AudioInput,
    AutomaticSpeechRecognitionRequest,
    AutomaticSpeechRecognitionResult,
    TextToSpeechRequest,
    TextToSpeechResult,
)
from pipeq_workers.context import JobContext
from pipeq_workers.decoding import decode_audio, encode_wav
from pipeq_workers.handlers.common import as_label_list, call_pipeline, set_options

__all__ = ["audio_classification", "automatic_speech_recognition", "text_to_speech"]


def _audio(pipe: Pipeline, context: JobContext, audio: AudioInput) -> dict[str, Any]:
    """The pipeline's raw-array input at the model's rate: pipelines given bytes call ffmpeg."""
    rate = int(pipe.feature_extractor.sampling_rate)
    samples = decode_audio(
        context.blob_bytes(audio, "inputs"), "inputs", rate, context.settings.max_audio_seconds, audio.sampling_rate
    )
    return {"raw": samples, "sampling_rate": rate}


def automatic_speech_recognition(
    pipe: Pipeline, request: AutomaticSpeechRecognitionRequest, context: JobContext
) -> AutomaticSpeechRecognitionResult:
    params = request.parameters
    options = set_options(return_timestamps=params.return_timestamps or None, chunk_length_s=params.chunk_length_s)
    output = call_pipeline(pipe, context, _audio(pipe, context, request.inputs), **options)
    return AutomaticSpeechRecognitionResult(text=output["text"], chunks=output.get("chunks"))


def audio_classification(
    pipe: Pipeline, request: AudioClassificationRequest, context: JobContext
) -> AudioClassificationResult:
    params = request.parameters
    options = set_options(top_k=params.top_k, function_to_apply=params.function_to_apply)
    output = call_pipeline(pipe, context, _audio(pipe, context, request.inputs), **options)
    return AudioClassificationResult.model_validate(as_label_list(output))


def text_to_speech(pipe: Pipeline, request: TextToSpeechRequest, context: JobContext) -> TextToSpeechResult:
    # Never batched: VITS samples noise (seeded per request) and pads batched waveforms.
    output = context.exclusive(lambda: pipe(request.inputs), seed=request.parameters.seed)
    wav = encode_wav(np.asarray(output["audio"]), int(output["sampling_rate"]))
    return TextToSpeechResult(audio=context.output_blob(wav), sampling_rate=int(output["sampling_rate"]))
