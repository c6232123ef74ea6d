"""Error messages as they leave the worker: bounded, and without object reprs.

Library messages can carry a whole input (a 5 MB claim-check ref) or a Python object's
repr with its memory address (``<_io.BytesIO object at 0x7f...>``): neither helps a caller,
and the first floods events and logs.
"""

from __future__ import annotations

import logging
import re
import traceback

from pipeq_client.errors import PipeqError, WorkerError

__all__ = ["MAX_MESSAGE_CHARS", "clean_message", "cleaned", "unexpected"]

log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 1000
_OBJECT_REPR = re.compile(r"<[\w.]+ object at 0x[0-9a-fA-F]+>")


def clean_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` without object reprs, cut to ``limit`` characters."""
    text = _OBJECT_REPR.sub("the input", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def cleaned(error: PipeqError) -> PipeqError:
    """The same error (same class and field) with a clean message; itself if already clean."""
    message = clean_message(error.message)
    if message == error.message:
        return error
    return type(error)(message, field=error.field)


def unexpected(error: Exception, job_id: str, task: str) -> WorkerError:
    """A failure the request did not name, typed for its caller (the worker goes on), and
    logged once with its frames."""
    wrapped = WorkerError(clean_message(f"{type(error).__name__}: {error}"))
    frames = "".join(traceback.format_tb(error.__traceback__))
    log.error("job %s (%s) failed: %s\n%s", job_id, task, wrapped.message, frames)
    return wrapped
