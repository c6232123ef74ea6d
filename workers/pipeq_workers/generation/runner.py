"""Runs ``generate()`` for one or several compatible requests (same model, same settings) and
turns the output into sequences with finish reasons, trimmed stop strings and (on request)
raw logprobs. Row r of the output is sequence r % n of request r // n."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from transformers import StoppingCriteriaList

from pipeq_client.types import GeneratedSequence, GeneratedToken, GenerationDetails, GenerationParameters
from pipeq_client.types.generation import FinishReason
from pipeq_workers.generation.batch import combine_prompts
from pipeq_workers.generation.controls import CancelCriteria, DeadlineCriteria, StopStringCriteria
from pipeq_workers.generation.limits import check_room
from pipeq_workers.generation.logits import RawLogitsRecorder
from pipeq_workers.generation.stops import find_stop
from pipeq_workers.generation.streamer import Publish, TokenEventStreamer
from pipeq_workers.sampling import generate_kwargs

__all__ = ["GenerationControl", "GenerationJob", "Prompt", "run_generation_batch"]


@dataclass
class Prompt:
    """Model inputs for ``generate()``. Output positions before ``prefix_length`` are not
    generated; ``prefix_text`` goes before the generated text in the result. ``field`` is the
    request field that errors about the decoder's prompt name."""

    inputs: dict[str, Any]
    prefix_length: int
    prefix_text: str = ""
    generate_options: dict[str, Any] = field(default_factory=dict)
    # Token ids the generated text is decoded after (the decoder prompt): WordPiece and
    # similar tokenizers decode a token differently at the start of a text than after others.
    decode_context: list[int] = field(default_factory=list)
    field: str = "inputs"


@dataclass
class GenerationControl:
    """What a job adds: token streaming, cancel checks, and its own deadline."""

    publish: Publish | None = None
    is_cancelled: Callable[[], bool] = lambda: False
    deadline: float | None = None


@dataclass
class GenerationJob:
    prompt: Prompt
    control: GenerationControl


@dataclass
class _Run:
    model: Any
    tokenizer: Any
    params: GenerationParameters
    n: int
    decode: Callable[[list[int]], str]
    stop: StopStringCriteria | None
    cancel: CancelCriteria
    deadline: DeadlineCriteria
    recorder: RawLogitsRecorder | None


def _eos_ids(model: Any) -> set[int]:
    eos = model.generation_config.eos_token_id
    return set() if eos is None else ({eos} if isinstance(eos, int) else set(eos))


def _deadline(params: GenerationParameters, control: GenerationControl) -> float | None:
    candidates = [control.deadline] if control.deadline is not None else []
    if params.max_time is not None:
        candidates.append(time.monotonic() + params.max_time)
    return min(candidates) if candidates else None


def _finish(run: _Run, row: int, ids: list[int]) -> tuple[list[int], FinishReason]:
    if run.stop is not None and row in run.stop.stopped_rows:
        return ids[: run.stop.stopped_at[row]], "stop_sequence"
    eos = _eos_ids(run.model)
    eos_at = next((i for i, token in enumerate(ids) if token in eos), None)
    if eos_at is not None:
        return ids[: eos_at + 1], "eos_token"
    if row // run.n in run.cancel.fired:
        return ids, "cancelled"
    if row // run.n in run.deadline.fired:
        return ids, "time_limit"
    return ids, "length"


def _token(run: _Run, token_id: int, logprob: float) -> GeneratedToken:
    special = token_id in run.tokenizer.all_special_ids
    return GeneratedToken(id=token_id, text=run.tokenizer.decode([token_id]), logprob=logprob, special=special)


def _token_details(run: _Run, row: int, ids: list[int]) -> dict[str, Any]:
    if run.recorder is None:
        return {}
    tokens = [_token(run, token_id, run.recorder.logprob(step, row, token_id)) for step, token_id in enumerate(ids)]
    details: dict[str, Any] = {"tokens": tokens}
    if run.params.top_logprobs:
        details["top_tokens"] = [
            [_token(run, alt, value) for alt, value in run.recorder.top(step, row, run.params.top_logprobs)]
            for step in range(len(ids))
        ]
    return details


def _sequence(run: _Run, row: int, generated: list[int]) -> GeneratedSequence:
    ids, reason = _finish(run, row, generated)
    text = run.decode(ids)
    if reason == "stop_sequence" and run.params.stop:
        text = text[: find_stop(text, run.params.stop)]
    details = GenerationDetails(
        finish_reason=reason, generated_tokens=len(ids), seed=run.params.seed, **_token_details(run, row, ids)
    )
    return GeneratedSequence(text=text, details=details)


def _streamer(run: _Run, jobs: list[GenerationJob]) -> TokenEventStreamer | None:
    if all(job.control.publish is None for job in jobs):
        return None

    def publish(row: int, event: dict[str, Any]) -> None:
        target = jobs[row // run.n].control.publish
        if target is not None:
            # ts: when the worker published it (wall clock), so clients can measure delivery lag.
            target({**event, "index": row % run.n, "ts": time.time()})

    return TokenEventStreamer(
        publish,
        run.decode,
        run.params.stop or [],
        _eos_ids(run.model),
        set(run.tokenizer.all_special_ids),
        run.recorder,
    )


def run_generation_batch(
    model: Any,
    tokenizer: Any,
    jobs: list[GenerationJob],
    params: GenerationParameters,
    clean_up_tokenization_spaces: bool | None = None,
) -> list[list[GeneratedSequence]]:
    """The n sequences of each job, in order. All jobs share ``params`` and the model."""
    for job in jobs:
        # Before batching: each job's own prompt length, so a refusal is that job's own answer.
        check_room(model, job.prompt.prefix_length, params, job.prompt.field)
    n = params.num_return_sequences or 1
    owners = [row // n for row in range(len(jobs) * n)]
    prompt = combine_prompts([job.prompt for job in jobs], model, tokenizer.pad_token_id)
    decode = _decoder(tokenizer, prompt.decode_context, clean_up_tokenization_spaces)
    run = _Run(
        model=model,
        tokenizer=tokenizer,
        params=params,
        n=n,
        decode=decode,
        stop=StopStringCriteria(params.stop, prompt.prefix_length, decode) if params.stop else None,
        cancel=CancelCriteria([job.control.is_cancelled for job in jobs], owners),
        deadline=DeadlineCriteria([_deadline(params, job.control) for job in jobs], owners),
        recorder=RawLogitsRecorder(model) if params.logprobs else None,
    )
    criteria = StoppingCriteriaList([c for c in (run.cancel, run.deadline, run.stop) if c is not None])
    options = generate_kwargs(params, int(model.config.get_text_config().vocab_size))
    streamer = _streamer(run, jobs)
    with torch.inference_mode(), run.recorder if run.recorder is not None else nullcontext():
        output = model.generate(
            **prompt.inputs, **options, **prompt.generate_options, stopping_criteria=criteria, streamer=streamer
        )
    rows = [_sequence(run, row, ids) for row, ids in enumerate(output[:, prompt.prefix_length :].tolist())]
    if streamer is not None:
        streamer.flush([sequence.text for sequence in rows])
    return [
        [_for_job(sequence, job.prompt) for sequence in rows[index * n : (index + 1) * n]]
        for index, job in enumerate(jobs)
    ]


def _decoder(tokenizer: Any, context: list[int], clean_up: bool | None) -> Callable[[list[int]], str]:
    """Generated ids -> text; with a context, the text those ids add after the context's own."""
    plain = partial(tokenizer.decode, skip_special_tokens=True, clean_up_tokenization_spaces=clean_up)
    if not context:
        return plain
    offset = len(plain(context))
    return lambda ids: plain(context + ids)[offset:]


def _prompt_tokens(prompt: Prompt) -> int | None:
    """The job's own prompt length (counted before batching pads it), for usage reports."""
    mask = prompt.inputs.get("attention_mask")
    if mask is not None:
        return int(mask.sum())
    ids = prompt.inputs.get("input_ids")
    return None if ids is None else int(ids.shape[-1])


def _for_job(sequence: GeneratedSequence, prompt: Prompt) -> GeneratedSequence:
    details = sequence.details.model_copy(update={"prompt_tokens": _prompt_tokens(prompt)})
    return sequence.model_copy(update={"text": prompt.prefix_text + sequence.text, "details": details})
