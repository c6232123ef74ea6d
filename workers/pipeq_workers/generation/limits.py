"""Refuses a generation the model's positions cannot hold, before ``generate()`` fails inside it.

A decoder writes at most as many positions as it has: the prompt (decoder-only models) or
the decoder's start tokens (encoder-decoder models), then every new token. Past that, an
absolute position table raises ``IndexError`` mid-generation. As TGI does, pipeq refuses
``prompt + max_new_tokens`` over the limit instead, naming both numbers.
"""

from __future__ import annotations

from typing import Any

from pipeq_client.errors import InputTooLongError
from pipeq_workers.inputs.model_limits import decoder_limit, refuse_long
from pipeq_workers.pipelines.naming import model_label

__all__ = ["check_room", "fits", "new_tokens"]

_TRANSFORMERS_MAX_LENGTH = 20  # generate()'s max_length when the generation config sets none


def new_tokens(model: Any, max_new_tokens: int | None, prefix: int) -> int:
    """How many tokens generate() may add: the request's cap, else the model's generation config."""
    if max_new_tokens is not None:
        return max_new_tokens
    config = model.generation_config
    if config.max_new_tokens is not None:
        return int(config.max_new_tokens)
    max_length = config.max_length if config.max_length is not None else _TRANSFORMERS_MAX_LENGTH
    return max(int(max_length) - prefix, 0)


def fits(model: Any, prefix: int, new: int) -> bool:
    """Whether ``prefix`` decoder positions plus ``new`` tokens fit the model."""
    limit = decoder_limit(model)
    return limit is None or prefix + new <= limit


def check_room(model: Any, prefix: int, max_new_tokens: int | None, field: str = "inputs") -> None:
    """InputTooLongError unless ``prefix`` decoder positions plus the new tokens fit the model
    (``max_new_tokens``: the request's cap; None: the model's generation config)."""
    limit = decoder_limit(model)
    if limit is None:
        return
    refuse_long(prefix, limit, field, model)
    new = new_tokens(model, max_new_tokens, prefix)
    if prefix + new <= limit:
        return
    room = limit - prefix
    if room < 1:
        raise InputTooLongError(
            f"{field}: {prefix} prompt tokens fill all {limit} positions of model {model_label(model)!r}; "
            "no room is left for new tokens",
            field=field,
        )
    if max_new_tokens is not None:
        raise InputTooLongError(
            f"parameters.max_new_tokens: {prefix} prompt tokens + {new} new tokens is over the limit of {limit} "
            f"positions of model {model_label(model)!r}; at most {room} new tokens fit",
            field="parameters.max_new_tokens",
        )
    raise InputTooLongError(
        f"{field}: {prefix} prompt tokens leave room for {room} of the {new} new tokens model "
        f"{model_label(model)!r} generates by default within its {limit} positions; set max_new_tokens <= {room}",
        field=field,
    )
