"""Helpers the handlers share: option dicts, label lists, generated sequences."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from transformers import Pipeline

from pipeq_client.types import GeneratedSequence, GenerationParameters
from pipeq_workers.generation.continuous import StepLoop, decodes_in_steps
from pipeq_workers.generation.controls import DEADLINE_GRACE_S
from pipeq_workers.generation.plan import SamplingPlan
from pipeq_workers.generation.runner import GenerationControl, GenerationJob, Prompt, run_generation_batch
from pipeq_workers.runtime.context import JobContext

__all__ = ["as_label_list", "batch_key", "call_pipeline", "generate", "set_options"]


def batch_key(pipe: Pipeline, settings: Mapping[str, Any]) -> tuple[int, str]:
    """The key under which model calls of different jobs share one batch: the same pipeline
    and equal ``settings``. Give every setting of the call; only what is applied per request
    (per row) may be left out, by the code that applies it so (SamplingPlan.shared_settings)."""
    return id(pipe), json.dumps(settings, sort_keys=True, default=str)


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
    pipe: Pipeline,
    context: JobContext,
    inputs: Any,
    check: Callable[[Any], None] | None = None,
    check_batch: Callable[[list[Any]], None] | None = None,
    **options: Any,
) -> Any:
    """``pipe(inputs, **options)``, batched with other jobs' calls that have the same options.
    ``check(inputs)`` (each item) or ``check_batch(items)`` (all at once, e.g. one tokenizer
    call) runs first, on the model thread (tokenizers are not thread-safe): a refusal there is
    this job's own answer (a failed batch reruns its items one by one)."""

    def run(items: list[Any]) -> list[Any]:
        if check is not None:
            for item in items:
                check(item)
        if check_batch is not None:
            check_batch(items)
        return list(pipe(items, batch_size=len(items), **options))

    return context.model_call(batch_key(pipe, options), run, inputs)


def generate(
    pipe: Pipeline,
    make_prompt: Callable[[], Prompt],
    params: GenerationParameters,
    context: JobContext,
    key: str,
    clean_up_tokenization_spaces: bool | None = None,
    joins: bool = False,
) -> dict[str, Any]:
    """Runs generation on the model thread (streamed to the job's events, cancellable) and
    returns the result fields: ``{key: text, details, sequences}`` (sequences only when n > 1).
    ``joins``: the prompts are plain token ids, so on a decoder-only model requests may join
    a running batch between steps (``generation/continuous.py``).

    The request's SamplingPlan is built here, once; requests whose plans share their batch key
    share one ``generate()`` call, each row with its own settings and its own seeded random
    stream (``generation/rows.py``). ``make_prompt`` runs on the model thread too: tokenizers
    are not thread-safe.
    """
    tokenizer = pipe.tokenizer if pipe.tokenizer is not None else pipe.processor.tokenizer
    plan = SamplingPlan.build(params, pipe.model)

    def run(items: list[tuple[Callable[[], Prompt], GenerationControl, SamplingPlan]]) -> list[list[GeneratedSequence]]:
        jobs = [GenerationJob(build(), control, job_plan) for build, control, job_plan in items]
        return run_generation_batch(pipe.model, tokenizer, jobs, clean_up_tokenization_spaces)

    item = (make_prompt, context.generation_control(), plan)
    joinable = None
    if joins and context.settings.continuous_batching and decodes_in_steps(pipe.model):
        joinable = StepLoop(pipe.model, tokenizer, clean_up_tokenization_spaces)
    batch = batch_key(pipe, plan.shared_settings())
    sequences = context.model_call(batch, run, item, grace_s=DEADLINE_GRACE_S, joinable=joinable)
    first = sequences[0]
    return {key: first.text, "details": first.details, "sequences": sequences if len(sequences) > 1 else None}
