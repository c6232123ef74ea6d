"""Records the model's raw next-token logits at every step (a forward hook), so logprobs come
from the raw distribution -- before penalties, temperature or top-k/top-p -- and are known
while streaming, not only at the end."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import torch

__all__ = ["RawLogitsRecorder"]


class RawLogitsRecorder:
    """``with RawLogitsRecorder(model) as recorder: model.generate(...)``; ``recorder.steps[i]``
    holds the log-softmax of step i's raw logits, shape (rows, vocab)."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model = model
        self.steps: list[torch.Tensor] = []
        self._handle: Any = None

    def _hook(self, _module: torch.nn.Module, _args: Any, output: Any) -> None:
        logits = output.logits if hasattr(output, "logits") else output[0]
        self.record(logits[:, -1, :])

    def record(self, logits: torch.Tensor) -> None:
        """One step's raw logits, shape (rows, vocab); the step loop of continuous batching
        records each cohort's own rows this way instead of through the hook."""
        self.steps.append(torch.log_softmax(logits.float(), dim=-1).cpu())

    def __enter__(self) -> Self:
        self._handle = self.model.register_forward_hook(self._hook)
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._handle.remove()

    def logprob(self, step: int, row: int, token_id: int) -> float:
        return float(self.steps[step][row, token_id])

    def top(self, step: int, row: int, k: int) -> list[tuple[int, float]]:
        values, ids = torch.topk(self.steps[step][row], k)
        return [(int(i), float(v)) for i, v in zip(ids, values, strict=True)]
