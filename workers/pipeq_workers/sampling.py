"""GenerationParameters -> ``generate()`` kwargs and pipeq's own logits processors.

Order at each step (the sampling reference): min_new_tokens mask (transformers, before any
custom processor) -> logit_bias -> repetition penalty -> presence/frequency penalty ->
temperature -> top-k -> top-p -> min-p / typical-p (transformers' warpers, after every
custom processor). transformers has no presence/frequency penalty and applies top_k=50
whenever it samples unless told otherwise: both are handled here.
"""

from __future__ import annotations

import random
import secrets
from typing import Any

import numpy as np
import torch
from transformers import LogitsProcessor, LogitsProcessorList, RepetitionPenaltyLogitsProcessor

from pipeq_client.errors import UnsupportedParameterError
from pipeq_client.types import GenerationParameters

__all__ = [
    "LogitBiasProcessor",
    "PresenceFrequencyPenaltyProcessor",
    "draw_seed",
    "generate_kwargs",
    "seed_everything",
    "will_sample",
]

_SAMPLING_WARPERS = ("top_p", "min_p", "typical_p")


class PresenceFrequencyPenaltyProcessor(LogitsProcessor):
    """``logit[j] -= c[j] * frequency + (c[j] > 0) * presence``, c counting generated tokens only.

    The first call sees exactly the prompt (or the decoder start), so its length marks where
    generated tokens begin: one instance per generate() call.
    """

    def __init__(self, presence: float, frequency: float) -> None:
        self.presence = presence
        self.frequency = frequency
        self.prompt_length: int | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.prompt_length is None:
            self.prompt_length = input_ids.shape[1]
        generated = input_ids[:, self.prompt_length :]
        counts = torch.zeros_like(scores)
        counts.scatter_add_(1, generated, torch.ones_like(generated, dtype=scores.dtype))
        return scores - counts * self.frequency - (counts > 0).to(scores.dtype) * self.presence


class LogitBiasProcessor(LogitsProcessor):
    """Adds a fixed bias to chosen token ids (OpenAI ``logit_bias``)."""

    def __init__(self, bias: dict[int, float], vocab_size: int) -> None:
        too_large = [token_id for token_id in bias if token_id >= vocab_size]
        if too_large:
            raise UnsupportedParameterError(
                f"parameters.logit_bias: token ids {too_large} are not below the vocabulary size {vocab_size}",
                field="parameters.logit_bias",
            )
        self.ids = torch.tensor(list(bias), dtype=torch.long)
        self.values = torch.tensor(list(bias.values()))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        biased = scores.clone()
        biased[:, self.ids] += self.values.to(scores.dtype).to(scores.device)
        return biased


def _sampling(params: GenerationParameters) -> bool | None:
    """True/False when the request decides, None when the model's generation config does.
    n > 1 samples unless the request asks for greedy (which validation refuses with n > 1):
    greedy decoding has only one sequence to give."""
    if params.temperature == 0:
        return False
    if params.do_sample is not None:
        return params.do_sample
    if params.temperature is not None or params.top_k is not None:
        return True
    if (params.num_return_sequences or 1) > 1:
        return True
    if any(getattr(params, name) is not None for name in _SAMPLING_WARPERS):
        return True
    return None


def _sampling_kwargs(params: GenerationParameters) -> dict[str, Any]:
    # Always explicit: transformers would otherwise add top_k=50 or the model's own warpers.
    kwargs: dict[str, Any] = {
        "do_sample": True,
        "temperature": params.temperature if params.temperature is not None else 1.0,
        "top_k": params.top_k if params.top_k is not None else 0,
        "top_p": params.top_p if params.top_p is not None else 1.0,
    }
    if params.min_p is not None:
        kwargs["min_p"] = params.min_p
    if params.typical_p is not None:
        kwargs["typical_p"] = params.typical_p
    return kwargs


def _processors(params: GenerationParameters, vocab_size: int) -> LogitsProcessorList:
    processors = LogitsProcessorList()
    if params.logit_bias:
        processors.append(LogitBiasProcessor(params.logit_bias, vocab_size))
    if params.repetition_penalty is not None:
        processors.append(RepetitionPenaltyLogitsProcessor(params.repetition_penalty))
    if params.presence_penalty or params.frequency_penalty:
        processors.append(
            PresenceFrequencyPenaltyProcessor(params.presence_penalty or 0.0, params.frequency_penalty or 0.0)
        )
    return processors


def will_sample(params: GenerationParameters, generation_config: Any) -> bool:
    """Whether generate() will sample: the request decides, else the model's generation config."""
    decided = _sampling(params)
    return bool(generation_config.do_sample) if decided is None else decided


def draw_seed() -> int:
    """A seed for a request that samples without one: reported in ``details.seed``, it
    reproduces the output. In the request's range, 0..2**63-1."""
    return secrets.randbelow(2**63)


def seed_everything(seed: int) -> None:
    """Seeds Python, NumPy and torch (every device) for ``seed`` in 0..2**63-1.

    transformers.set_seed gives NumPy the seed as it is, and NumPy takes only 32 bits: seeds
    of 2**32 and above failed there. NumPy gets the low 32 bits (the same value below 2**32,
    so earlier seeds reproduce); torch and Python take the whole seed."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds CUDA too


def generate_kwargs(params: GenerationParameters, vocab_size: int) -> dict[str, Any]:
    """``generate()`` kwargs for these settings (``vocab_size`` bounds logit_bias ids)."""
    kwargs: dict[str, Any] = {}
    for name in ("max_new_tokens", "min_new_tokens", "num_return_sequences"):
        if getattr(params, name) is not None:
            kwargs[name] = getattr(params, name)
    if params.repetition_penalty is not None:
        # Applied by pipeq's processor list (after logit_bias); the model's own value is overridden.
        kwargs["repetition_penalty"] = 1.0
    sampling = _sampling(params)
    if sampling is True:
        kwargs.update(_sampling_kwargs(params))
    elif sampling is False:
        kwargs["do_sample"] = False
    processors = _processors(params, vocab_size)
    if processors:
        kwargs["logits_processor"] = processors
    return kwargs
