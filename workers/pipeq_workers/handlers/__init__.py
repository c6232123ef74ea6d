"""Task handlers: (pipeline, validated request, job context) -> typed result. One module per
modality; each handler registers itself for its task with ``@handles(Task.X)``, and
``registry.py`` loads the modules and answers lookups.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pipeq_client.protocol import Task

__all__ = ["HANDLERS", "handles"]

HandlerT = TypeVar("HandlerT", bound=Callable[..., Any])

HANDLERS: dict[Task, Callable[..., Any]] = {}


def handles(task: Task) -> Callable[[HandlerT], HandlerT]:
    """Registers the decorated function as ``task``'s handler (one per task)."""

    def register(handler: HandlerT) -> HandlerT:
        if task in HANDLERS:
            raise RuntimeError(f"{task.value} has two handlers: {HANDLERS[task].__name__} and {handler.__name__}")
        HANDLERS[task] = handler
        return handler

    return register
