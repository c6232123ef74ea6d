"""Refuses a generation the model's positions cannot hold, before ``generate()`` fails inside it.

A decoder writes at most as many positions as it has: the prompt (decoder-only models) or
the decoder's start tokens (encoder-decoder models), then every new token. Past that, an
absolute position table raises ``IndexError`` mid-generation. As TGI does, pipeq refuses
``prompt + max_new_tokens`` over the limit instead, naming both numbers.
"""

from __future__ import annotations

from typing import Any

from pipeq_client.errors import InputTooLongError
from pipeq_client.types import GenerationParameters
from pipeq_workers.model_limits import decoder_limit, refuse_long
from pipeq_workers.pipelines.naming import model_label

__all__ = ["check_room"]


def _new_tokens(model: Any, params: GenerationParameters, prefix: int) -> int:
    """How many tokens generate() may add: the request's cap, else the model's generation config."""
    if params.max_new_tokens is not None:
        return params.max_new_tokens
    config = model.generation_config
    if config.max_new_tokens is not None:
        return int(config.max_new_tokens)
    return max(int(config.max_length or 0) - prefix, 0)


def check_room(model: Any, prefix: int, params: GenerationParameters, field: str = "inputs") -> None:
    """InputTooLongError unless ``prefix`` decoder positions plus the new tokens fit the model."""
    limit = decoder_limit(model)
    if limit is None:
        return
    refuse_long(prefix, limit, field, model)
    new = _new_tokens(model, params, prefix)
    if prefix + new <= limit:
        return
    room = limit - prefix
    if room < 1:
        raise InputTooLongError(
            f"{field}: {prefix} prompt tokens fill all {limit} positions of model {model_label(model)!r}; "
            "no room is left for new tokens",
            field=field,
        )
    if params.max_new_tokens is not None:
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
