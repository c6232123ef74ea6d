"""pipeq's own logits processors and seeding.

Order at each step (the sampling reference): min_new_tokens mask -> logit_bias -> repetition
penalty -> presence/frequency penalty -> temperature -> top-k -> top-p -> min-p / typical-p.
transformers has no presence/frequency penalty: a small processor does it here. Which
processors and warpers a request gets is decided once, by its SamplingPlan (plan.py).
"""

from __future__ import annotations

import random
import secrets
from typing import cast

import numpy as np
import torch
from transformers import LogitsProcessor

__all__ = ["LogitBiasProcessor", "PresenceFrequencyPenaltyProcessor", "draw_seed", "seed_everything"]


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
        penalised = scores - counts * self.frequency - (counts > 0).to(scores.dtype) * self.presence
        return cast(torch.FloatTensor, penalised)


class LogitBiasProcessor(LogitsProcessor):
    """Adds a fixed bias to chosen token ids (OpenAI ``logit_bias``); the ids were checked
    against the vocabulary when the request's plan was built."""

    def __init__(self, bias: dict[int, float]) -> None:
        self.ids = torch.tensor(list(bias), dtype=torch.long)
        self.values = torch.tensor(list(bias.values()))

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        biased = scores.clone()
        biased[:, self.ids.to(scores.device)] += self.values.to(scores.dtype).to(scores.device)
        return cast(torch.FloatTensor, biased)


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
