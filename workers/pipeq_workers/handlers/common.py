"""Helpers the handlers share: option dicts, label lists, generated sequences."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from transformers import Pipeline

from pipeq_client.types import GeneratedSequence, GenerationParameters
from pipeq_workers.context import JobContext
from pipeq_workers.generation.controls import DEADLINE_GRACE_S
from pipeq_workers.generation.runner import GenerationControl, GenerationJob, Prompt, run_generation_batch
from pipeq_workers.sampling import draw_seed, will_sample

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


def call_pipeline(
    pipe: Pipeline, context: JobContext, inputs: Any, check: Callable[[Any], None] | None = None, **options: Any
) -> Any:
    """``pipe(inputs, **options)``, batched with other jobs' calls that have the same options.
    ``check(inputs)`` runs first, on the model thread (tokenizers are not thread-safe): a
    refusal there is this job's own answer (a failed batch reruns its items one by one)."""

    def run(items: list[Any]) -> list[Any]:
        if check is not None:
            for item in items:
                check(item)
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
    """Runs generation on the model thread (streamed to the job's events, cancellable) and
    returns the result fields: ``{key: text, details, sequences}`` (sequences only when n > 1).

    Requests with identical settings share one ``generate()`` call; seeded ones run alone
    (their seed is set on the model thread, and a shared RNG would not reproduce them).
    ``make_prompt`` runs on the model thread too: tokenizers are not thread-safe.
    """
    tokenizer = pipe.tokenizer if pipe.tokenizer is not None else pipe.processor.tokenizer
    control = context.generation_control()
    if params.seed is None and will_sample(params, pipe.model.generation_config):
        # Reproducible: the drawn seed is reported in details.seed (as TGI does). Like any
        # seeded request, it runs alone: a shared RNG would not reproduce it.
        params = params.model_copy(update={"seed": draw_seed()})

    def run(items: list[tuple[Callable[[], Prompt], GenerationControl]]) -> list[list[GeneratedSequence]]:
        jobs = [GenerationJob(build(), job_control) for build, job_control in items]
        return run_generation_batch(pipe.model, tokenizer, jobs, params, clean_up_tokenization_spaces)

    if params.seed is not None:
        sequences = context.exclusive(
            lambda: run([(make_prompt, control)])[0], seed=params.seed, grace_s=DEADLINE_GRACE_S
        )
    else:
        batch_key = ("generate", id(pipe), params.model_dump_json(), clean_up_tokenization_spaces)
        sequences = context.model_call(batch_key, run, (make_prompt, control), grace_s=DEADLINE_GRACE_S)
    first = sequences[0]
    return {key: first.text, "details": first.details, "sequences": sequences if len(sequences) > 1 else None}
