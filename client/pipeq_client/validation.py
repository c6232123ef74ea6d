"""Turns pydantic's ValidationError into pipeq's RequestValidationError (field + problem + value)."""

from __future__ import annotations

from typing import Any

import pydantic

from pipeq_client.errors import RequestValidationError

__all__ = ["describe_errors", "shown", "to_request_error", "validate_request"]

_MAX_SHOWN_VALUE = 60
# A message names at most this many problems, and field paths at most this long: a payload
# with thousands of bad keys (or a megabyte-long key) must not produce a message as large.
_MAX_SHOWN_ERRORS = 10
_MAX_FIELD_CHARS = 120


# Tags of the discriminated ``inputs`` unions (prompt vs chat messages): pydantic puts the
# tag in the error location; the field path users know does not have it.
_INPUT_TAGS = frozenset({"prompt", "messages"})


def _location(loc: tuple[int | str, ...]) -> str:
    parts = list(loc)
    if len(parts) > 1 and parts[0] == "inputs" and parts[1] in _INPUT_TAGS:
        del parts[1]
    path = ".".join(str(part) for part in parts) or "request"
    return path if len(path) <= _MAX_FIELD_CHARS else path[: _MAX_FIELD_CHARS - 3] + "..."


def shown(value: Any, limit: int = _MAX_SHOWN_VALUE) -> str:
    """``repr(value)``, cut to ``limit`` characters: a message never echoes a huge input whole."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def describe_errors(error: pydantic.ValidationError) -> list[tuple[str, str]]:
    """``[(field, "field: problem, got value")]`` for every error pydantic found."""
    described = []
    for item in error.errors(include_url=False):
        field = _location(item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "unknown field (not a parameter of this task)"
        elif item["type"] != "missing":
            message = f"{message}, got {shown(item.get('input'))}"
        described.append((field, f"{field}: {message}"))
    return described


def to_request_error(error: pydantic.ValidationError) -> RequestValidationError:
    described = describe_errors(error)
    field = described[0][0] if described else None
    message = "; ".join(text for _, text in described[:_MAX_SHOWN_ERRORS])
    if len(described) > _MAX_SHOWN_ERRORS:
        message += f"; and {len(described) - _MAX_SHOWN_ERRORS} more problems"
    return RequestValidationError(message, field=field)


def validate_request(model: type[pydantic.BaseModel], payload: Any) -> Any:
    """``model.model_validate(payload)``, raising RequestValidationError instead of pydantic's error."""
    try:
        return model.model_validate(payload)
    except pydantic.ValidationError as error:
        raise to_request_error(error) from None
