"""Handlers of the audio queue."""

from __future__ import annotations

from typing import Any

import numpy as np
from transformers import Pipeline

from pipeq_client.protocol import Task
from pipeq_client.types import (
    AudioClassificationRequest,
    AudioClassificationResult,
    AudioInput,
    AutomaticSpeechRecognitionRequest,
    AutomaticSpeechRecognitionResult,
    TextToSpeechRequest,
    TextToSpeechResult,
)
from pipeq_workers.generation.plan import SamplingMode
from pipeq_workers.handlers import handles
from pipeq_workers.handlers.common import as_label_list, call_pipeline, set_options
from pipeq_workers.handlers.speech_recognition import recognition_options, recognition_plan
from pipeq_workers.inputs.audio_limits import check_chunk_length, check_speech_text, min_audio_samples
from pipeq_workers.inputs.media import decode_audio, encode_wav
from pipeq_workers.runtime.context import JobContext

__all__ = ["audio_classification", "automatic_speech_recognition", "text_to_speech"]


def _audio(pipe: Pipeline, context: JobContext, audio: AudioInput) -> dict[str, Any]:
    """The pipeline's raw-array input at the model's rate: pipelines given bytes call ffmpeg."""
    rate = int(pipe.feature_extractor.sampling_rate)
    data = context.blob_bytes(audio, "inputs")
    shortest = min_audio_samples(pipe.model.config)
    samples = decode_audio(data, "inputs", rate, context.settings.max_audio_seconds, audio.sampling_rate, shortest)
    return {"raw": samples, "sampling_rate": rate}


@handles(Task.AUTOMATIC_SPEECH_RECOGNITION)
def automatic_speech_recognition(
    pipe: Pipeline, request: AutomaticSpeechRecognitionRequest, context: JobContext
) -> AutomaticSpeechRecognitionResult:
    params = request.parameters
    audio = _audio(pipe, context, request.inputs)
    plan = recognition_plan(pipe, params)
    options = recognition_options(pipe, params, plan, len(audio["raw"]) / audio["sampling_rate"])
    check_chunk_length(pipe, options.get("chunk_length_s"))
    if plan is not None and plan.mode is SamplingMode.SEEDED:
        # Seeded sampling runs alone on the model thread, seeded there: a shared RNG would not reproduce it.
        output = context.exclusive(lambda: pipe(audio, **options), seed=plan.seed)
    else:
        output = call_pipeline(pipe, context, audio, **options)
    return AutomaticSpeechRecognitionResult(text=output["text"], chunks=output.get("chunks"))


@handles(Task.AUDIO_CLASSIFICATION)
def audio_classification(
    pipe: Pipeline, request: AudioClassificationRequest, context: JobContext
) -> AudioClassificationResult:
    params = request.parameters
    options = set_options(top_k=params.top_k, function_to_apply=params.function_to_apply)
    output = call_pipeline(pipe, context, _audio(pipe, context, request.inputs), **options)
    return AudioClassificationResult.model_validate(as_label_list(output))


@handles(Task.TEXT_TO_SPEECH)
def text_to_speech(pipe: Pipeline, request: TextToSpeechRequest, context: JobContext) -> TextToSpeechResult:
    # Never batched: VITS samples noise (seeded per request) and pads batched waveforms.
    def speak() -> dict[str, Any]:
        check_speech_text(pipe, request.inputs, context.settings.max_speech_tokens)  # tokenizer: model thread
        return pipe(request.inputs)  # type: ignore[no-any-return]

    output = context.exclusive(speak, seed=request.parameters.seed)
    wav = encode_wav(np.asarray(output["audio"]), int(output["sampling_rate"]))
    return TextToSpeechResult(audio=context.output_blob(wav), sampling_rate=int(output["sampling_rate"]))
