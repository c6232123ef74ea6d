"""Helpers the handlers share: option dicts, label lists, generated sequences."""

from __future__ import annotations

from typing import Any

from transformers import Pipeline

from pipeq_client.types import GeneratedSequence, GenerationParameters
from pipeq_workers.context import JobContext
from pipeq_workers.generation.runner import Prompt, run_generation

__all__ = ["as_label_list", "generate", "set_options"]


def set_options(**options: Any) -> dict[str, Any]:
    """Only the options the request set: the pipeline's own defaults apply to the rest."""
    return {name: value for name, value in options.items() if value is not None}


def as_label_list(output: Any) -> list[dict[str, Any]]:
    """``[{label, score}]`` from a classification pipeline's single-input output."""
    if isinstance(output, dict):
        return [output]
    if output and isinstance(output[0], list):
        return list(output[0])
    return list(output)


def generate(
    pipe: Pipeline,
    prompt: Prompt,
    params: GenerationParameters,
    context: JobContext,
    key: str,
    clean_up_tokenization_spaces: bool | None = None,
) -> dict[str, Any]:
    """Runs generation (streamed to the job's events, cancellable) and returns the result
    fields: ``{key: text, details, sequences}`` (sequences only when n > 1)."""
    tokenizer = pipe.tokenizer if pipe.tokenizer is not None else pipe.processor.tokenizer
    sequences: list[GeneratedSequence] = run_generation(
        pipe.model, tokenizer, prompt, params, context.generation_control(), clean_up_tokenization_spaces
    )
    first = sequences[0]
    return {key: first.text, "details": first.details, "sequences": sequences if len(sequences) > 1 else None}
