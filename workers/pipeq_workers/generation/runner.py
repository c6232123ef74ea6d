"""Runs one ``generate()`` for one or several requests and turns its rows into sequences.

Requests in one call share the model, ``num_return_sequences`` and their task's own
parameters (their batch key says so); everything else is applied per row from each
request's own SamplingPlan: processors, warpers and seeded sampling (``rows.RowSampler``),
stop strings, EOS, cancel, deadline and max_new_tokens (``ends.RowEnds``), logprobs. A
request alone runs the same code. Row r of the output is sequence r % n of request r // n.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import redis
import torch
from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

from pipeq_client.types import GeneratedSequence
from pipeq_client.types.generation import FinishReason
from pipeq_workers.generation.batch import combine_prompts, own_offsets
from pipeq_workers.generation.controls import CancelCriteria, DeadlineCriteria, StopStringCriteria
from pipeq_workers.generation.ends import RowEnds
from pipeq_workers.generation.limits import check_room, fits, new_tokens
from pipeq_workers.generation.logits import RawLogitsRecorder
from pipeq_workers.generation.plan import SamplingPlan
from pipeq_workers.generation.results import Rows, decoder
from pipeq_workers.generation.rows import RowGroup, RowSampler
from pipeq_workers.generation.streamer import TokenEventStreamer
from pipeq_workers.runtime.job_events import EventPublisher, cancelled, publish_tokens

__all__ = [
    "CancelLookup",
    "GenerationControl",
    "GenerationJob",
    "PreparedBatch",
    "Prompt",
    "TokenSink",
    "eos_ids",
    "prepare_batch",
    "run_generation_batch",
]

# Where a batch's token events go, a step at a time: (the job's stream, the event) for each row.
TokenSink = Callable[[list[tuple[EventPublisher, dict[str, Any]]]], None]
# Which of the given cancel keys exist, looked at with a job's Redis client.
CancelLookup = Callable[[redis.Redis, list[str]], list[bool]]

# generate() samples from what RowSampler hands it: logits that hold one token. Its own
# warpers, were any applied, could only keep that token; these leave them out altogether.
# (Greedy mode would not do: transformers refuses it with num_return_sequences > 1.)
_ONE_TOKEN_SAMPLING = {"do_sample": True, "temperature": 1.0, "top_k": 0, "top_p": 1.0, "typical_p": 1.0}


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
    """What a job adds: its event stream (token events), cancel checks, and its own deadline."""

    events: EventPublisher | None = None
    cancel_key: str | None = None  # set by Job.cancel(); looked at with the events' Redis client
    deadline: float | None = None


@dataclass
class GenerationJob:
    prompt: Prompt
    control: GenerationControl
    plan: SamplingPlan


def eos_ids(model: Any) -> set[int]:
    eos = model.generation_config.eos_token_id
    return set() if eos is None else ({eos} if isinstance(eos, int) else set(eos))


def _deadline(job: GenerationJob) -> float | None:
    candidates = [job.control.deadline] if job.control.deadline is not None else []
    if job.plan.max_time is not None:
        candidates.append(time.monotonic() + job.plan.max_time)
    return min(candidates) if candidates else None


def _ends(
    jobs: list[GenerationJob],
    caps: list[int],
    prompt: Prompt,
    decode: Callable[[list[int]], str],
    eos: set[int],
    lookup: CancelLookup,
) -> RowEnds:
    """Each row's stopping: its request's stop strings, cancel, deadline and length cap."""
    n = jobs[0].plan.num_return_sequences
    owners = [row // n for row in range(len(jobs) * n)]
    stops = [list(jobs[owner].plan.stop) for owner in owners]
    checks: list[tuple[FinishReason, StoppingCriteria]] = []
    if any(stops):
        checks.append(("stop_sequence", StopStringCriteria(stops, prompt.prefix_length, decode)))
    streams = [job.control.events for job in jobs if job.control.events is not None]
    keys = [job.control.cancel_key for job in jobs]
    if streams and all(key is not None for key in keys):
        look = partial(lookup, streams[0].client)
        checks.append(("cancelled", CancelCriteria(look, [str(key) for key in keys], owners)))
    checks.append(("time_limit", DeadlineCriteria([_deadline(job) for job in jobs], owners)))
    return RowEnds(checks, [caps[owner] for owner in owners], eos, prompt.prefix_length)


def _streamer(rows: Rows, jobs: list[GenerationJob], eos: set[int], sink: TokenSink) -> TokenEventStreamer | None:
    if all(job.control.events is None for job in jobs):
        return None

    def publish(step: list[tuple[int, dict[str, Any]]]) -> None:
        # ts: when the worker published it (wall clock), so clients can measure delivery lag.
        now = time.time()
        batch: list[tuple[EventPublisher, dict[str, Any]]] = []
        for row, event in step:
            stream = jobs[row // rows.n].control.events
            if stream is not None:
                batch.append((stream, {**event, "sequence": row % rows.n, "ts": now}))
        sink(batch)

    count = len(jobs) * rows.n
    return TokenEventStreamer(
        publish,
        rows.decode,
        [list(rows.plan(row).stop) for row in range(count)],
        eos,
        set(rows.tokenizer.all_special_ids),
        [rows.recorder if rows.plan(row).logprobs else None for row in range(count)],
        rows.ends.kept,
    )


def _sampler(model: Any, jobs: list[GenerationJob], prompt: Prompt) -> RowSampler:
    n = jobs[0].plan.num_return_sequences
    groups = [
        RowGroup.of(job.plan, index * n, offset)
        for index, (job, offset) in enumerate(zip(jobs, own_offsets([job.prompt for job in jobs], model), strict=True))
    ]
    return RowSampler(groups, prompt.prefix_length, eos_ids(model))


@dataclass
class PreparedBatch:
    """Requests set up to decode together: their joined prompt, and each row's sampling
    (``sampler``), ends, token stream and raw logits. ``generate()`` runs it in
    :func:`run_generation_batch`; ``continuous.py`` runs it in its own step loop."""

    jobs: list[GenerationJob]
    prompt: Prompt
    caps: list[int]
    rows: Rows
    sampler: RowSampler
    streamer: TokenEventStreamer | None
    recorder: RawLogitsRecorder | None

    def generate_options(self) -> dict[str, Any]:
        return {
            **_ONE_TOKEN_SAMPLING,
            "num_return_sequences": self.rows.n,
            "max_new_tokens": max(self.caps),
            # Applied per row by RowSampler (the plans hold the model's own values where the request has none).
            "min_new_tokens": 0,
            "repetition_penalty": 1.0,
            "logits_processor": LogitsProcessorList([self.sampler]),
            "stopping_criteria": StoppingCriteriaList([self.rows.ends]),
            "streamer": self.streamer,
            **self.prompt.generate_options,
        }

    def results(self, output: torch.Tensor) -> list[list[GeneratedSequence]]:
        """The n sequences of each job from the rows' ids (prompt included), in order."""
        generated = output[:, self.prompt.prefix_length :].tolist()
        sequences = [self.rows.sequence(row, ids) for row, ids in enumerate(generated)]
        if self.streamer is not None:
            self.streamer.flush(dict(enumerate(sequence.text for sequence in sequences)))
        n = self.rows.n
        return [
            [_for_job(sequence, job.prompt) for sequence in sequences[index * n : (index + 1) * n]]
            for index, job in enumerate(self.jobs)
        ]


def prepare_batch(
    model: Any,
    tokenizer: Any,
    jobs: list[GenerationJob],
    clean_up_tokenization_spaces: bool | None = None,
    sink: TokenSink = publish_tokens,
    lookup: CancelLookup = cancelled,
) -> PreparedBatch:
    """``sink``: where each step's token events go (all of a step's rows in one call);
    ``lookup``: which cancel keys exist (one round trip for the keys it is given)."""
    for job in jobs:
        # Before batching: each job's own prompt length, so a refusal is that job's own answer.
        check_room(model, job.prompt.prefix_length, job.plan.max_new_tokens, job.prompt.field)
    caps = [max(new_tokens(model, job.plan.max_new_tokens, job.prompt.prefix_length), 1) for job in jobs]
    prompt = combine_prompts([job.prompt for job in jobs], model, tokenizer.pad_token_id)
    n = jobs[0].plan.num_return_sequences
    recorder = RawLogitsRecorder(model) if any(job.plan.logprobs for job in jobs) else None
    decode = decoder(tokenizer, prompt.decode_context, clean_up_tokenization_spaces)
    eos = eos_ids(model)
    rows = Rows(
        tokenizer, [job.plan for job in jobs], n, decode, _ends(jobs, caps, prompt, decode, eos, lookup), recorder
    )
    return PreparedBatch(
        jobs, prompt, caps, rows, _sampler(model, jobs, prompt), _streamer(rows, jobs, eos, sink), recorder
    )


def run_generation_batch(
    model: Any,
    tokenizer: Any,
    jobs: list[GenerationJob],
    clean_up_tokenization_spaces: bool | None = None,
) -> list[list[GeneratedSequence]]:
    """The n sequences of each job, in order."""
    batch = prepare_batch(model, tokenizer, jobs, clean_up_tokenization_spaces)
    if not fits(model, batch.prompt.prefix_length, max(batch.caps)):
        # Each fits alone; padded to the longest prompt and run to the largest cap, together they would not.
        return [run_generation_batch(model, tokenizer, [job], clean_up_tokenization_spaces)[0] for job in jobs]
    recorder = batch.recorder
    with torch.inference_mode(), recorder if recorder is not None else nullcontext():
        output = model.generate(**batch.prompt.inputs, **batch.generate_options())
    return batch.results(output)


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
