"""Helpers the handlers share: option dicts, label lists, generated sequences."""

from __future__ import annotations

from typing import Any

from transformers import Pipeline

from pipeq_client.types import GenerationParameters
from pipeq_workers.sampling import generate_kwargs

__all__ = ["as_label_list", "generation_options", "sequences_fields", "set_options"]


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


def generation_options(pipe: Pipeline, params: GenerationParameters) -> dict[str, Any]:
    vocab_size = int(pipe.model.config.get_text_config().vocab_size)
    return generate_kwargs(params, vocab_size)


def sequences_fields(key: str, outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """``{key: first}`` plus ``sequences`` with all of them when n > 1."""
    texts = [str(output[key]) for output in outputs]
    return {key: texts[0], "sequences": texts if len(texts) > 1 else None}
