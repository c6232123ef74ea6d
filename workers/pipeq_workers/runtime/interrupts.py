"""Ends abandoned model work at the next forward call.

What can be interrupted, and what cannot: a running torch forward pass cannot (no safe way
to stop a thread inside a C++ kernel). Work that calls the model several times -- every
generation step, every chunk of long audio, every pipeline batch -- passes through the
model's forward once per piece, and a forward pre-hook there can end it. The hook raises
only when every caller of the running model call has given up at its deadline (their jobs
were already answered with ``time_limit``), so live work is never cut.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

__all__ = ["AbandonedWork", "stop_abandoned_work"]

_MARK = "_pipeq_stops_abandoned_work"


class AbandonedWork(RuntimeError):  # noqa: N818 -- a signal, not a failure: nobody waits for the result
    """Raised inside a forward call nobody waits for any more."""


def stop_abandoned_work(model: torch.nn.Module, abandoned: Callable[[], bool]) -> None:
    """Once per model: a forward pre-hook that raises AbandonedWork when ``abandoned()``."""
    if getattr(model, _MARK, False):
        return

    def hook(_module: torch.nn.Module, _args: Any) -> None:
        if abandoned():
            raise AbandonedWork("every caller of this model call passed its time limit")

    model.register_forward_pre_hook(hook)
    setattr(model, _MARK, True)
