"""A finished ``generate()`` row -> the request's GeneratedSequence: cut where the row ended,
stop string trimmed, raw logprobs (when its request asked), prompt prefix and usage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from pipeq_client.types import GeneratedSequence, GeneratedToken, GenerationDetails
from pipeq_workers.generation.ends import RowEnds
from pipeq_workers.generation.logits import RawLogitsRecorder
from pipeq_workers.generation.plan import SamplingPlan
from pipeq_workers.generation.stops import find_stop

__all__ = ["Rows", "decoder"]


@dataclass
class Rows:
    """What a generate() call's rows need to become sequences; row r is request r // n."""

    tokenizer: Any
    plans: list[SamplingPlan]
    n: int
    decode: Callable[[list[int]], str]
    ends: RowEnds
    recorder: RawLogitsRecorder | None

    def plan(self, row: int) -> SamplingPlan:
        return self.plans[row // self.n]

    def sequence(self, row: int, generated: list[int]) -> GeneratedSequence:
        plan = self.plan(row)
        end = self.ends.end(row, len(generated))
        ids = generated[: end.length]
        text = self.decode(ids)
        if end.reason == "stop_sequence":
            text = text[: find_stop(text, list(plan.stop))]
        details = GenerationDetails(
            finish_reason=end.reason, generated_tokens=len(ids), seed=plan.seed, **self._token_details(row, ids)
        )
        return GeneratedSequence(text=text, details=details)

    def _token(self, token_id: int, logprob: float) -> GeneratedToken:
        special = token_id in self.tokenizer.all_special_ids
        return GeneratedToken(id=token_id, text=self.tokenizer.decode([token_id]), logprob=logprob, special=special)

    def _token_details(self, row: int, ids: list[int]) -> dict[str, Any]:
        recorder, plan = self.recorder, self.plan(row)
        if recorder is None or not plan.logprobs:
            return {}
        tokens = [self._token(token_id, recorder.logprob(step, row, token_id)) for step, token_id in enumerate(ids)]
        details: dict[str, Any] = {"tokens": tokens}
        if plan.top_logprobs:
            details["top_tokens"] = [
                [self._token(alt, value) for alt, value in recorder.top(step, row, plan.top_logprobs)]
                for step in range(len(ids))
            ]
        return details


def decoder(tokenizer: Any, context: list[int], clean_up: bool | None) -> Callable[[list[int]], str]:
    """Generated ids -> text; with a context, the text those ids add after the context's own."""
    plain = partial(tokenizer.decode, skip_special_tokens=True, clean_up_tokenization_spaces=clean_up)
    if not context:
        return plain
    offset = len(plain(context))
    return lambda ids: plain(context + ids)[offset:]
