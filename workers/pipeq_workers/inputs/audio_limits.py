"""What an audio model can take, from its config and pipeline (never from its family's name):
the shortest clip its convolutional feature encoder reads, the chunk lengths that keep every
chunk above it, the text a speech model can speak."""

from __future__ import annotations

from typing import Any

from transformers import Pipeline

from pipeq_client.errors import InputTooLongError, InvalidInputError, UnsupportedParameterError
from pipeq_workers.inputs.model_limits import token_limit
from pipeq_workers.pipelines.naming import model_label

__all__ = ["check_chunk_length", "check_speech_text", "min_audio_samples"]


def min_audio_samples(config: Any) -> int:
    """Samples a convolutional feature encoder (Wav2Vec2, HuBERT, WavLM...) needs for two output
    frames; shorter input fails inside a conv or norm layer. 1 for models that pad (Whisper, AST)."""
    kernels, strides = getattr(config, "conv_kernel", None), getattr(config, "conv_stride", None)
    if not kernels or not strides:
        return 1
    needed = 2
    for kernel, stride in reversed(list(zip(kernels, strides, strict=False))):
        needed = (needed - 1) * int(stride) + int(kernel)
    return needed


def _chunking(pipe: Pipeline, chunk_length_s: float) -> tuple[int, int]:
    """(chunk, stride) in samples, as transformers' ASR pipeline rounds them (stride: chunk / 6)."""
    rate = int(pipe.feature_extractor.sampling_rate)
    align = int(getattr(pipe.model.config, "inputs_to_logits_ratio", 1) or 1)
    chunk = round(chunk_length_s * rate / align) * align
    stride = round(chunk_length_s / 6 * rate / align) * align
    return chunk, stride


def _chunks_fit(pipe: Pipeline, chunk_length_s: float, needed: int) -> bool:
    chunk, stride = _chunking(pipe, chunk_length_s)
    # Every chunk but the last holds `chunk` samples; the last more than both strides.
    return chunk > 2 * stride and chunk >= needed and 2 * stride + 1 >= needed


def check_chunk_length(pipe: Pipeline, chunk_length_s: float | None) -> None:
    """UnsupportedParameterError when a chunk (or the last, shorter one) would be below the
    model's shortest input; the message gives the shortest chunk_length_s that works."""
    if chunk_length_s is None:
        return
    needed = min_audio_samples(pipe.model.config)
    if _chunks_fit(pipe, chunk_length_s, needed):
        return
    align = max(int(getattr(pipe.model.config, "inputs_to_logits_ratio", 1) or 1), 1)
    step = align / pipe.feature_extractor.sampling_rate
    shortest = step
    while not _chunks_fit(pipe, shortest, needed) and shortest < 60:
        shortest += step
    raise UnsupportedParameterError(
        f"parameters.chunk_length_s: {chunk_length_s:g} s is too short for model {model_label(pipe.model)!r}: "
        f"each chunk needs at least {needed} samples; use chunk_length_s >= {shortest:.3f}",
        field="parameters.chunk_length_s",
    )


def check_speech_text(pipe: Pipeline, text: str, default_limit: int) -> None:
    """InvalidInputError when no character of ``text`` is in the model's vocabulary (nothing to
    speak: VITS fails inside), InputTooLongError over the model's limit (its own, else
    ``default_limit``: memory grows with the square of the length)."""
    tokenizer = pipe.tokenizer
    ids = list(tokenizer(text)["input_ids"])
    special = set(tokenizer.all_special_ids)
    if all(token_id in special for token_id in ids):
        raise InvalidInputError(
            f"inputs: no character of the text is in the vocabulary of model {model_label(pipe.model)!r}; "
            "nothing to speak",
            field="inputs",
        )
    limit = token_limit(pipe) or default_limit
    if len(ids) > limit:
        raise InputTooLongError(
            f"inputs: {len(ids)} tokens is over the limit of {limit} tokens of model {model_label(pipe.model)!r}",
            field="inputs",
        )
