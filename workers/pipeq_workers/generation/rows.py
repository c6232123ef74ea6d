"""Per-row decoding inside one ``generate()`` call: each request's own processors, warpers and
random stream, so requests with different settings share decoding steps.

``RowSampler`` is the last logits processor. For each request's rows it applies, in the
reference order, the min_new_tokens mask, the request's processors (logit_bias, repetition,
presence/frequency) and, when it samples, its warpers (temperature, top-k, top-p, min-p,
typical-p), then chooses the next token itself: argmax, or a draw from the request's own
seeded ``torch.Generator``. It hands back logits that hold only the chosen token, so
whatever generate() then does (argmax, or a draw from a one-token distribution) picks it.

A request runs the same code alone as in a batch, and sees the same ids (its own, without
the batch's left padding) and the same random stream: a seeded request reproduces exactly,
whatever it shares the batch with. All n rows of a request are drawn in one call, as
transformers draws them, so a request alone samples what transformers would with that seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import torch
from transformers import LogitsProcessor, LogitsProcessorList

from pipeq_workers.generation.plan import SamplingPlan

__all__ = ["RowGroup", "RowSampler"]


@dataclass
class RowGroup:
    """One request's rows ``[first, first + count)`` and what decides their next tokens.
    ``offset``: where the request's own ids start in a row (after the batch's left padding)."""

    first: int
    count: int
    offset: int
    min_new_tokens: int
    processors: LogitsProcessorList
    plan: SamplingPlan
    warpers: LogitsProcessorList
    generator: torch.Generator | None = None  # made on the logits' device at the first step

    @classmethod
    def of(cls, plan: SamplingPlan, first: int, offset: int) -> RowGroup:
        return cls(
            first=first,
            count=plan.num_return_sequences,
            offset=offset,
            min_new_tokens=plan.min_new_tokens or 0,
            processors=plan.processors(),
            plan=plan,
            warpers=plan.warpers(),
        )

    def draw(self, probs: torch.Tensor) -> torch.Tensor:
        """One token per row, all rows in one draw from the request's own stream."""
        if self.generator is None:
            self.generator = self.plan.generator(probs.device)
        return torch.multinomial(probs, num_samples=1, generator=self.generator).squeeze(1)


def _mask(scores: torch.Tensor, token_ids: torch.Tensor) -> torch.Tensor:
    """``scores`` with ``token_ids`` at -inf; unchanged where that would leave a row nothing (a
    processor of the model's own, run before, already forced one of them: forced_eos_token_id)."""
    masked = scores.clone()
    masked[:, token_ids] = -float("inf")
    nothing_left = torch.isinf(masked).all(dim=-1, keepdim=True)
    return torch.where(nothing_left, scores, masked)


def _only(scores: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
    """Logits that hold only the chosen token per row (0 there, -inf elsewhere)."""
    return torch.full_like(scores, -float("inf")).scatter_(1, chosen[:, None], 0.0)


class RowSampler(LogitsProcessor):
    """One instance per generate() call. ``prefix_length``: where generated tokens start."""

    def __init__(self, groups: list[RowGroup], prefix_length: int, eos_ids: set[int]) -> None:
        self.groups = groups
        self.prefix_length = prefix_length
        self.eos_ids = torch.tensor(sorted(eos_ids), dtype=torch.long)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        generated = input_ids.shape[1] - self.prefix_length
        chosen = torch.cat([self._choose(group, input_ids, scores, generated) for group in self.groups])
        return _only(scores, chosen)

    def _choose(
        self, group: RowGroup, input_ids: torch.LongTensor, scores: torch.FloatTensor, generated: int
    ) -> torch.Tensor:
        rows = slice(group.first, group.first + group.count)
        ids = cast(torch.LongTensor, input_ids[rows, group.offset :])
        row_scores = cast(torch.FloatTensor, scores[rows])
        if generated < group.min_new_tokens and len(self.eos_ids):
            row_scores = cast(torch.FloatTensor, _mask(row_scores, self.eos_ids.to(scores.device)))
        processed = _apply(group.processors, ids, row_scores)
        if not group.plan.samples:
            return processed.argmax(dim=-1)
        return group.draw(torch.softmax(_apply(group.warpers, ids, processed), dim=-1))


def _apply(processors: LogitsProcessorList, ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
    """Each processor in turn. Not ``LogitsProcessorList.__call__``: it inspects every
    processor's signature at every call, which cost more than the processing (every row
    group, every step); these all take (input_ids, scores)."""
    for processor in processors:
        scores = processor(ids, scores)
    return scores
