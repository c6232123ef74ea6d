"""The three benchmarked tasks: their inputs, the direct in-process call, the pipeq request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from transformers import Pipeline

from pipeq_client.protocol import Task
from pipeq_client.types import FeatureExtractionRequest, TaskRequest, TextClassificationRequest, TextGenerationRequest

__all__ = ["NEW_TOKENS", "Workload", "left_padded", "produced", "texts", "workloads"]

NEW_TOKENS = 32
_SENTENCES = (
    "the quick brown fox jumps over the lazy dog while a queue of requests waits for a worker",
    "I love this movie, it was wonderful and moving, and the music was great from start to end",
    "summaries are short texts that keep the main points of a much longer document intact",
    "speech recognition turns sound into written words, one short segment of audio at a time",
)


def texts(count: int) -> list[str]:
    return [f"{_SENTENCES[index % len(_SENTENCES)]} ({index})" for index in range(count)]


def produced(result: Any, expected: float) -> float:
    """Units one pipeq answer carries: the tokens the worker reports generating, else ``expected``
    (so a server that stops early is not credited with tokens it never made)."""
    details = getattr(result, "details", None)
    return float(details.generated_tokens) if details is not None else expected


@dataclass(frozen=True)
class Workload:
    """``direct(pipe, inputs, batch_size)`` runs the in-process pipeline; ``request(x)`` is
    the same work through pipeq; ``units`` counts what one request produces (items, tokens)."""

    task: Task
    unit: str
    units: int
    direct: Callable[[Pipeline, list[Any], int], None]
    request: Callable[[Any], TaskRequest[Any]]


def _classify(pipe: Pipeline, inputs: list[str], batch_size: int) -> None:
    pipe(inputs, batch_size=batch_size)


def _embed(pipe: Pipeline, inputs: list[str], batch_size: int) -> None:
    # Tensors, not nested lists, and mean pooling: what pipeq's handler computes.
    for output in pipe(inputs, batch_size=batch_size, return_tensors=True):
        output[0].mean(dim=0)


def left_padded(pipe: Pipeline) -> Pipeline:
    """Decoder-only generation continues at the right edge: pad prompts on the left."""
    if pipe.tokenizer is not None:
        pipe.tokenizer.padding_side = "left"
    return pipe


def _generate(pipe: Pipeline, inputs: list[str], batch_size: int) -> None:
    left_padded(pipe)
    with torch.inference_mode():
        pipe(
            inputs, batch_size=batch_size, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS,
            do_sample=False, return_full_text=False,
        )  # fmt: skip


def workloads() -> list[Workload]:
    exact = {"max_new_tokens": NEW_TOKENS, "min_new_tokens": NEW_TOKENS, "temperature": 0}
    return [
        Workload(Task.TEXT_CLASSIFICATION, "texts/s", 1, _classify, TextClassificationRequest.build),
        Workload(
            Task.FEATURE_EXTRACTION,
            "texts/s",
            1,
            _embed,
            lambda text: FeatureExtractionRequest.build(text, parameters={"pooling": "mean"}),
        ),
        Workload(
            Task.TEXT_GENERATION,
            "tokens/s",
            NEW_TOKENS,
            _generate,
            lambda text: TextGenerationRequest.build(text, parameters=exact),
        ),
    ]
