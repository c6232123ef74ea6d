"""Continuous batching for decoder-only generation: requests join a running batch between
decoding steps, and each leaves it, answered, as soon as its own rows end.

Each request is set up exactly as a ``generate()`` call of its own (``runner.prepare_batch``:
its RowSampler, RowEnds, token stream and raw logits) and sees only its own ids, so it
decodes what it decodes alone: greedy exactly, seeded sampling exactly (its own random
stream). What requests share is the forward pass: the requests that arrive at one step
boundary are prefilled together, and their KV cache joins the batch's along the batch
dimension, the shorter one left-padded (masked out; each row's positions come from its own
mask, as generate() derives them). A request's rows leave the cache when it ends, and
columns that are padding in every row left are cut.

Why a loop of pipeq's own rather than transformers' ContinuousBatchingManager (``bench/engines.py``
measures both): that one samples with per-request temperature/top-k/top-p only and one
random stream for the batch (no seeded rows, penalties, logit_bias, min tokens, stop strings
or raw logprobs per row); this loop reuses the per-row machinery generate() runs with, on
the model's own DynamicCache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import DynamicLayer

from pipeq_client.errors import PipeqError
from pipeq_workers.generation.controls import CancelPoll
from pipeq_workers.generation.runner import GenerationJob, PreparedBatch, eos_ids, prepare_batch
from pipeq_workers.runtime.batching import Call
from pipeq_workers.runtime.job_events import EventPublisher, cancelled, publish_tokens

__all__ = ["StepLoop", "decodes_in_steps"]

_PLAIN_INPUTS = frozenset({"input_ids", "attention_mask"})
# Logits processors generate() builds from the model's generation config and runs before
# pipeq's RowSampler; the step loop has none of them, so a model setting any decodes with
# generate() (its requests still batch, a batch at a time).
_CONFIG_PROCESSORS = (
    "sequence_bias",
    "no_repeat_ngram_size",
    "bad_words_ids",
    "min_length",
    "forced_bos_token_id",
    "forced_eos_token_id",
    "remove_invalid_values",
    "exponential_decay_length_penalty",
    "suppress_tokens",
    "begin_suppress_tokens",
    "watermarking_config",
    "renormalize_logits",
)


def decodes_in_steps(model: Any) -> bool:
    """Whether the step loop decodes for this model exactly as generate() would: decoder-only,
    full attention in every layer (a plain KV cache), no processors of its own config."""
    if model.config.is_encoder_decoder:
        return False
    text = model.config.get_text_config()
    if getattr(text, "sliding_window", None) is not None:
        return False
    if any(kind != "full_attention" for kind in getattr(text, "layer_types", None) or []):
        return False
    config = model.generation_config
    if config.guidance_scale not in (None, 1):
        return False
    return not any(getattr(config, name, None) for name in _CONFIG_PROCESSORS)


@dataclass
class _Running:
    """A request in the batch."""

    call: Call
    batch: PreparedBatch
    ids: torch.Tensor  # (rows, length): its prompt, a row per sequence, and what it generated since
    unfinished: torch.Tensor  # (rows,) bool

    @property
    def rows(self) -> int:
        return int(self.ids.shape[0])


class StepLoop:
    """One joinable batch on the model thread (``runtime.batching.JoinableFn``): call it with
    the first calls and the batcher's ``join``."""

    def __init__(self, model: Any, tokenizer: Any, clean_up_tokenization_spaces: bool | None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.clean_up = clean_up_tokenization_spaces
        self.eos = eos_ids(model)
        pad = model.generation_config.pad_token_id
        self.pad_id = pad if pad is not None else min(self.eos, default=0)
        self.running: list[_Running] = []
        self.cache: DynamicCache | None = None
        self.mask = torch.zeros(0, 0, dtype=torch.long)
        self.logits = torch.zeros(0, 0)
        self.tokens = torch.zeros(0, dtype=torch.long)
        self.events: list[tuple[EventPublisher, dict[str, Any]]] = []
        # One cancel round trip per poll for every running request, not one each.
        self.cancel_poll = CancelPoll(cancelled, self._cancel_keys)

    def __call__(self, calls: list[Call], join: Callable[[int], list[Call]]) -> None:
        limit = calls[0].limit
        with torch.inference_mode():
            self._admit(calls)
            while self.running:
                self._choose()
                self._retire()
                if self.running:
                    self._decode()
                self._admit(join(limit - len(self.running)))

    # -- joining ---------------------------------------------------------------------------

    def _admit(self, calls: list[Call]) -> None:
        """Prefills the calls together (one forward pass) and joins their cache to the
        batch's; each call runs as a request of its own, so it leaves the batch when it ends."""
        prepared = self._prepared(calls)
        if not prepared:
            return
        own = [self._prompt_rows(batch) for _, batch in prepared]
        width = max(ids.shape[1] for ids, _ in own)
        ids = torch.cat([torch.nn.functional.pad(ids, (width - ids.shape[1], 0), value=self.pad_id) for ids, _ in own])
        mask = torch.cat([_pad_mask(own_mask, width) for _, own_mask in own])
        cache = DynamicCache()
        logits = self._forward(ids, mask, cache)
        if any(type(layer) is not DynamicLayer for layer in cache.layers):
            raise RuntimeError(f"{type(self.model).__name__} keeps a cache the step loop cannot join")
        self.logits = torch.cat([self.logits, logits]) if self.running else logits
        self._join_cache(cache, mask)
        for (call, batch), (own_ids, _) in zip(prepared, own, strict=True):
            if batch.streamer is not None:
                batch.streamer.put(own_ids)  # generate() hands its streamer the prompt first
            unfinished = torch.ones(own_ids.shape[0], dtype=torch.bool, device=own_ids.device)
            self.running.append(_Running(call, batch, own_ids, unfinished))

    def _cancel_keys(self) -> list[str]:
        return [
            job.control.cancel_key
            for request in self.running
            for job in request.batch.jobs
            if job.control.cancel_key is not None
        ]

    @staticmethod
    def _prompt_rows(batch: PreparedBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """A request's prompt ids and mask, a row per sequence (as generate() expands n)."""
        inputs, n = batch.prompt.inputs, batch.rows.n
        ids = inputs["input_ids"]
        mask = inputs.get("attention_mask", torch.ones_like(ids))
        return ids.repeat_interleave(n, dim=0), mask.repeat_interleave(n, dim=0)

    def _prepared(self, calls: list[Call]) -> list[tuple[Call, PreparedBatch]]:
        """Each call set up as a ``generate()`` call of its own; a call whose prompt is refused
        is answered with its own error, one whose prompt is not plain token ids runs alone."""
        prepared = []
        for call in calls:
            make_prompt, control, plan = call.item
            try:
                job = GenerationJob(make_prompt(), control, plan)
                if not set(job.prompt.inputs) <= _PLAIN_INPUTS or job.prompt.generate_options:
                    self._alone(call)
                    continue
                batch = prepare_batch(
                    self.model, self.tokenizer, [job], self.clean_up, self.events.extend, self.cancel_poll
                )
            except PipeqError as error:
                call.fail(error)
                continue
            prepared.append((call, batch))
        return prepared

    @staticmethod
    def _alone(call: Call) -> None:
        try:
            call.answer(call.run([call.item])[0])
        except Exception as error:
            call.fail(error)

    def _join_cache(self, cache: DynamicCache, mask: torch.Tensor) -> None:
        """Joins newcomers' cache rows after the batch's, the shorter left-padded."""
        if self.cache is None:
            self.cache, self.mask = cache, mask
            return
        width = max(self.mask.shape[1], mask.shape[1])
        self.mask = torch.cat([_pad_mask(self.mask, width), _pad_mask(mask, width)])
        for ours, theirs in zip(self.cache.layers, cache.layers, strict=True):
            ours.keys = torch.cat([_pad_cache(ours.keys, width), _pad_cache(theirs.keys, width)])
            ours.values = torch.cat([_pad_cache(ours.values, width), _pad_cache(theirs.values, width)])

    # -- decoding --------------------------------------------------------------------------

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor, cache: DynamicCache) -> torch.Tensor:
        positions = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 1)[:, -ids.shape[1] :]
        output = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, cache=cache, use_cache=True)
        return output.logits[:, -1, :].to(dtype=torch.float32)

    def _choose(self) -> None:
        """Each request's next tokens from this step's logits, as generate() chooses them."""
        tokens, start = [], 0
        for request in self.running:
            scores = self.logits[start : start + request.rows]
            start += request.rows
            batch = request.batch
            if batch.recorder is not None:
                batch.recorder.record(scores)
            chosen = batch.sampler(request.ids, scores).argmax(dim=-1)  # logits that hold one token
            if self.eos:
                chosen = torch.where(request.unfinished, chosen, torch.full_like(chosen, self.pad_id))
            request.ids = torch.cat([request.ids, chosen[:, None]], dim=-1)
            if batch.streamer is not None:
                batch.streamer.put(chosen.cpu())
            request.unfinished &= ~batch.rows.ends(request.ids, scores)
            tokens.append(chosen)
        self.tokens = torch.cat(tokens)
        self._publish()

    def _decode(self) -> None:
        assert self.cache is not None
        self.mask = torch.cat([self.mask, self.mask.new_ones(self.mask.shape[0], 1)], dim=-1)
        self.logits = self._forward(self.tokens[:, None], self.mask, self.cache)

    def _publish(self) -> None:
        events = list(self.events)  # the requests' streamers add to this very list
        self.events.clear()
        publish_tokens(events)

    # -- leaving ---------------------------------------------------------------------------

    def _retire(self) -> None:
        """Answers each request whose rows all ended, and drops its rows from the batch."""
        keep: list[int] = []
        staying: list[_Running] = []
        start = 0
        for request in self.running:
            if bool(request.unfinished.any()):
                staying.append(request)
                keep.extend(range(start, start + request.rows))
            else:
                self._answer(request)
            start += request.rows
        if len(staying) == len(self.running):
            return
        self.running = staying
        if not staying:
            self.cache = None
            return
        self._keep_rows(torch.tensor(keep, device=self.tokens.device))

    def _answer(self, request: _Running) -> None:
        sequences = request.batch.results(request.ids)[0]
        self._publish()  # its last token events (the streamer's flush) before its answer
        request.call.answer(sequences)

    def _keep_rows(self, keep: torch.Tensor) -> None:
        """The kept rows of the cache, mask, tokens and logits; columns that are padding in
        every kept row are cut (the cache stays as long as its longest row needs)."""
        assert self.cache is not None
        mask = self.mask[keep]
        first = int(mask.any(dim=0).nonzero()[0])
        self.mask = mask[:, first:]
        for layer in self.cache.layers:
            layer.keys = layer.keys[keep, :, first:]
            layer.values = layer.values[keep, :, first:]
        self.tokens = self.tokens[keep]


def _pad_mask(mask: torch.Tensor, width: int) -> torch.Tensor:
    return torch.nn.functional.pad(mask, (width - mask.shape[1], 0))


def _pad_cache(states: torch.Tensor, width: int) -> torch.Tensor:
    """(batch, heads, length, dim) zero-padded on the left of its length to ``width``."""
    return torch.nn.functional.pad(states, (0, 0, width - states.shape[2], 0))
