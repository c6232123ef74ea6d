"""Where and why each row of a batch ends.

Rows of one ``generate()`` call end at different steps: their own stop strings, EOS, cancel,
deadline, or their own ``max_new_tokens``. ``RowEnds`` is the one stopping criterion the
runner gives generate(): it asks the others, tells generate() which rows are done (so it pads
them from then on), and records each row's kept length and finish reason the first time it
ends. The runner cuts each row there and the streamer publishes nothing past it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import StoppingCriteria

from pipeq_client.types.generation import FinishReason

__all__ = ["RowEnd", "RowEnds"]


@dataclass(frozen=True)
class RowEnd:
    length: int  # generated tokens kept, the last one included
    reason: FinishReason


class RowEnds(StoppingCriteria):
    """``checks``: (reason, criteria) in order of precedence when several fire at one step;
    EOS comes after the first of them (a stop string), each row's length cap last."""

    def __init__(
        self,
        checks: list[tuple[FinishReason, StoppingCriteria]],
        caps: list[int],
        eos_ids: set[int],
        prefix_length: int,
    ) -> None:
        self.checks = checks
        self.caps = caps
        self.eos_ids = eos_ids
        self.prefix_length = prefix_length
        self.ended: dict[int, RowEnd] = {}

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object) -> torch.BoolTensor:
        generated = input_ids.shape[1] - self.prefix_length
        fired = [(reason, criteria(input_ids, scores).tolist()) for reason, criteria in self.checks]
        last = input_ids[:, -1].tolist()
        for row in range(input_ids.shape[0]):
            if row not in self.ended:
                reason = self._reason(row, fired, last[row] in self.eos_ids, generated)
                if reason is not None:
                    self.ended[row] = RowEnd(generated, reason)
        done = [row in self.ended for row in range(input_ids.shape[0])]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def _reason(
        self, row: int, fired: list[tuple[FinishReason, list[bool]]], eos: bool, generated: int
    ) -> FinishReason | None:
        reasons: list[FinishReason] = [reason for reason, rows in fired if rows[row]]
        if eos:
            reasons.insert(1 if reasons[:1] == ["stop_sequence"] else 0, "eos_token")
        if generated >= self.caps[row]:
            reasons.append("length")
        return reasons[0] if reasons else None

    def end(self, row: int, generated: int) -> RowEnd:
        """How ``row`` ended; a row no check stopped ran to the end of the call: ``length``."""
        return self.ended.get(row, RowEnd(generated, "length"))

    def kept(self, row: int) -> int | None:
        """The tokens ``row`` keeps once it has ended, else None (still generating)."""
        end = self.ended.get(row)
        return None if end is None else end.length
