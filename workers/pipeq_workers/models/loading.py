"""Builds a pipeline for (task, model source) on the configured device and dtype.

transformers' own ``pipeline()`` serves 10 tasks; summarization, translation and
image-to-text use pipeq's Pipeline subclasses, instantiated directly (no patching of
transformers internals). ``trust_remote_code`` is never enabled.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import (
    AutoImageProcessor,
    AutoModelForImageTextToText,
    AutoModelForSeq2SeqLM,
    AutoTokenizer,
    Pipeline,
    pipeline,
)

from pipeq_client.protocol import Task
from pipeq_workers.errors import WorkerConfigError
from pipeq_workers.pipelines.image_to_text import ImageToTextPipeline
from pipeq_workers.pipelines.processors import load_image_only_processor
from pipeq_workers.pipelines.seq2seq import SummarizationPipeline, TranslationPipeline
from pipeq_workers.pipelines.text_to_speech import build_text_to_speech

__all__ = ["build_pipeline", "resolve_device", "resolve_dtype"]

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise WorkerConfigError("PIPEQ_DEVICE=cuda but no CUDA device is available")
    return device


def resolve_dtype(dtype: str, device: str) -> torch.dtype:
    if dtype == "auto":
        # bf16 halves memory and runs on tensor cores; CPUs gain little and lose accuracy.
        return torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    return _DTYPES[dtype]


def _seq2seq(cls: type[Pipeline], source: str, device: str, dtype: torch.dtype) -> Pipeline:
    model = AutoModelForSeq2SeqLM.from_pretrained(source, dtype=dtype)
    return cls(model=model, tokenizer=AutoTokenizer.from_pretrained(source), device=device)


def _image_to_text(source: str, device: str, dtype: torch.dtype) -> Pipeline:
    # Vision encoder-decoders (ViT+GPT-2, Donut...) and BLIP alike.
    model = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype)
    return ImageToTextPipeline(
        model=model,
        tokenizer=AutoTokenizer.from_pretrained(source),
        image_processor=AutoImageProcessor.from_pretrained(source),
        device=device,
    )


def build_pipeline(task: Task, source: str, device: str, dtype: torch.dtype) -> Pipeline:
    """A ready pipeline; raises the loader's error if the source cannot be loaded."""
    if task is Task.SUMMARIZATION:
        return _seq2seq(SummarizationPipeline, source, device, dtype)
    if task is Task.TRANSLATION:
        return _seq2seq(TranslationPipeline, source, device, dtype)
    if task is Task.IMAGE_TO_TEXT:
        return _image_to_text(source, device, dtype)
    if task is Task.TEXT_TO_SPEECH:
        return build_text_to_speech(source, device, dtype)
    options: dict[str, Any] = {"model": source, "device": device, "dtype": dtype, "trust_remote_code": False}
    if task is Task.IMAGE_TEXT_TO_TEXT:
        options["processor"] = load_image_only_processor(source)
    return pipeline(task.value, **options)
