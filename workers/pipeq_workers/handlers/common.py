"""Helpers the handlers share: option dicts, label lists, generated sequences."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from transformers import Pipeline

from pipeq_client.types import GeneratedSequence, GenerationParameters
from pipeq_workers.context import JobContext
from pipeq_workers.generation.runner import Prompt, run_generation

__all__ = ["as_label_list", "call_pipeline", "generate", "set_options"]


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


def call_pipeline(pipe: Pipeline, context: JobContext, inputs: Any, **options: Any) -> Any:
    """``pipe(inputs, **options)``, batched with other jobs' calls that have the same options."""

    def run(items: list[Any]) -> list[Any]:
        return list(pipe(items, batch_size=len(items), **options))

    key = (id(pipe), json.dumps(options, sort_keys=True, default=str))
    return context.model_call(key, run, inputs)


def generate(
    pipe: Pipeline,
    make_prompt: Callable[[], Prompt],
    params: GenerationParameters,
    context: JobContext,
    key: str,
    clean_up_tokenization_spaces: bool | None = None,
) -> dict[str, Any]:
    """Runs generation on the model thread (seeded there, streamed to the job's events,
    cancellable) and returns the result fields: ``{key: text, details, sequences}``
    (sequences only when n > 1). ``make_prompt`` runs there too: tokenizers are not thread-safe."""
    tokenizer = pipe.tokenizer if pipe.tokenizer is not None else pipe.processor.tokenizer
    control = context.generation_control()

    def work() -> list[GeneratedSequence]:
        return run_generation(pipe.model, tokenizer, make_prompt(), params, control, clean_up_tokenization_spaces)

    sequences = context.exclusive(work, seed=params.seed)
    first = sequences[0]
    return {key: first.text, "details": first.details, "sequences": sequences if len(sequences) > 1 else None}
