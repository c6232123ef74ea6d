"""What a loaded model can take, read from its tokenizer and config (never from its family's name).

Text: a model has a fixed number of token positions; past them its embedding lookup fails
(``IndexError: index out of range in self``). Tokenizers often declare no limit (the tiny
models, some real checkpoints: ``model_max_length`` is then 1e30), so ``truncation=True`` would
cut nothing. The real limit is the smaller of the tokenizer's declared one and the config's
position count; :func:`bind_token_limit` teaches it to the tokenizer, so every truncating
tokenizer call (pipelines included) cuts there, and the checks here refuse the rest with a
typed ``input_too_long`` naming the limit and the length.
"""

from __future__ import annotations

from typing import Any

from transformers import Pipeline

from pipeq_client.errors import InputTooLongError
from pipeq_workers.pipelines.naming import model_label

__all__ = [
    "bind_token_limit",
    "check_hypotheses",
    "decoder_limit",
    "refuse_long",
    "refuse_long_rows",
    "refuse_long_texts",
    "text_tokenizer",
    "token_limit",
]

# Tokenizers without a declared limit report int(1e30); no real model has a billion positions.
_UNDECLARED = 10**9
_ENCODER_POSITIONS = ("max_position_embeddings", "n_positions", "max_text_positions")
_DECODER_POSITIONS = ("max_target_positions", "max_position_embeddings", "n_positions")


def text_tokenizer(pipe: Pipeline) -> Any:
    """The pipeline's tokenizer, or its processor's (vision-language models); None if it has none."""
    if pipe.tokenizer is not None:
        return pipe.tokenizer
    processor = getattr(pipe, "processor", None)
    return getattr(processor, "tokenizer", None)


def _positions(config: Any, names: tuple[str, ...]) -> int | None:
    for name in names:
        value = getattr(config, name, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


def _declared(tokenizer: Any) -> int | None:
    value = getattr(tokenizer, "model_max_length", None)
    return value if isinstance(value, int) and 0 < value < _UNDECLARED else None


def _smallest(*limits: int | None) -> int | None:
    known = [limit for limit in limits if limit is not None]
    return min(known) if known else None


_LIMIT_ATTRIBUTE = "_pipeq_token_limit"


def token_limit(pipe: Pipeline) -> int | None:
    """Tokens the model's text input may have (the encoder's, for encoder-decoder models); None: no known limit.
    Read once per pipeline (config lookups cost more than a short text's tokenization)."""
    if not hasattr(pipe, _LIMIT_ATTRIBUTE):
        positions = _positions(pipe.model.config.get_text_config(), _ENCODER_POSITIONS)
        setattr(pipe, _LIMIT_ATTRIBUTE, _smallest(_declared(text_tokenizer(pipe)), positions))
    limit: int | None = getattr(pipe, _LIMIT_ATTRIBUTE)
    return limit


def decoder_limit(model: Any) -> int | None:
    """Positions the decoder may reach (prompt or start tokens plus generated ones); None: unknown."""
    return _positions(model.config.get_text_config(decoder=True), _DECODER_POSITIONS)


def bind_token_limit(pipe: Pipeline) -> None:
    """Sets the tokenizer's ``model_max_length`` to the real limit, so truncation cuts there.
    Idempotent: once bound, the declared limit is the real one."""
    tokenizer = text_tokenizer(pipe)
    limit = token_limit(pipe)
    if tokenizer is not None and limit is not None and tokenizer.model_max_length != limit:
        tokenizer.model_max_length = limit


def refuse_long(length: int, limit: int | None, field: str, model: Any, hint: str = "") -> None:
    """InputTooLongError naming ``field``, the length and the model's limit when ``length > limit``."""
    if limit is not None and length > limit:
        raise InputTooLongError(
            f"{field}: {length} tokens is over the limit of {limit} tokens of model {model_label(model)!r}{hint}",
            field=field,
        )


def refuse_long_texts(pipe: Pipeline, texts: list[str], field: str = "inputs") -> None:
    """Tokenizes the texts as the model will read them (special tokens included), in one call
    for the whole batch, and refuses the first over the limit. On the model thread:
    tokenizers are not thread-safe."""
    limit = token_limit(pipe)
    if limit is not None:
        for ids in text_tokenizer(pipe)(texts)["input_ids"]:
            refuse_long(len(ids), limit, field, pipe.model)


def check_hypotheses(pipe: Pipeline, template: str, labels: list[str]) -> None:
    """Zero-shot pairs (text, template.format(label)) are truncated in the text only: each
    hypothesis must leave at least one token of the text within the limit."""
    limit = token_limit(pipe)
    if limit is None:
        return
    tokenizer = text_tokenizer(pipe)
    room = limit - tokenizer.num_special_tokens_to_add(pair=True) - 1
    bare = len(tokenizer(template.format(""), add_special_tokens=False)["input_ids"])
    hint = f" for a hypothesis (it shares the model's {limit} tokens with the text)"
    refuse_long(bare, room, "parameters.hypothesis_template", pipe.model, hint)
    for index, label in enumerate(labels):
        length = len(tokenizer(template.format(label), add_special_tokens=False)["input_ids"])
        refuse_long(length, room, f"parameters.candidate_labels.{index}", pipe.model, hint)


def refuse_long_rows(pipe: Pipeline, lengths: list[int], fields: list[str], hint: str = "") -> None:
    """The first of several tokenized texts (``lengths[i]`` tokens, named ``fields[i]``) over the limit."""
    limit = token_limit(pipe)
    for length, field in zip(lengths, fields, strict=True):
        refuse_long(length, limit, field, pipe.model, hint)
