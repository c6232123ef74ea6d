"""Embedding defaults from a sentence-transformers layout: what the model was trained with.

A sentence-transformers model keeps its pooling and normalisation beside the weights
(``modules.json``, ``1_Pooling/config.json``, ``sentence_bert_config.json``); requests that
leave ``pooling`` / ``normalize`` unset get those. A plain encoder gets per-token vectors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from transformers.utils import cached_file

from pipeq_client.errors import UnsupportedParameterError
from pipeq_workers.pipelines.naming import model_label

__all__ = ["EmbeddingDefaults", "embedding_defaults"]

_ST = "sentence_transformers.models."
# sentence-transformers pooling flags -> pipeq's pooling names (the others pipeq does not compute).
_POOLING_FLAGS = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean"}
_KNOWN_MODULES = {f"{_ST}Transformer", f"{_ST}Pooling", f"{_ST}Normalize"}


@dataclass(frozen=True)
class EmbeddingDefaults:
    """``pooling`` / ``normalize`` for requests that leave them unset, and the longest input.

    ``unsupported`` says why the model's own pooling cannot be reproduced (then a request
    must choose its pooling)."""

    pooling: str = "none"
    normalize: bool = False
    max_length: int | None = None
    unsupported: str | None = None

    def resolve(self, model: Any, pooling: str | None, normalize: bool | None) -> tuple[str, bool]:
        """The request's choices where it made them, the model's elsewhere."""
        if pooling is None and self.unsupported is not None:
            raise UnsupportedParameterError(
                f"parameters.pooling: model {model_label(model)!r} {self.unsupported}, which pipeq does not "
                "compute; choose pooling none, mean or cls",
                field="parameters.pooling",
            )
        return pooling or self.pooling, self.normalize if normalize is None else normalize


def _read_json(source: str, filename: str) -> Any:
    path = cached_file(
        source,
        filename,
        _raise_exceptions_for_missing_entries=False,
        _raise_exceptions_for_connection_errors=False,
    )
    if path is None:
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def _pooling(source: str, modules: list[dict[str, Any]]) -> tuple[str, str | None]:
    pooling_module = next((module for module in modules if module.get("type") == f"{_ST}Pooling"), None)
    if pooling_module is None:
        return "none", None
    folder = str(pooling_module.get("path") or "")
    config = _read_json(source, f"{folder}/config.json" if folder else "config.json") or {}
    modes = [name for name, value in config.items() if name.startswith("pooling_mode_") and value is True]
    if len(modes) == 1 and modes[0] in _POOLING_FLAGS:
        return _POOLING_FLAGS[modes[0]], None
    return "none", f"pools with {', '.join(modes) or 'no mode'} (sentence-transformers)"


@cache
def embedding_defaults(source: str) -> EmbeddingDefaults:
    """The defaults of the model at ``source`` (a directory or a Hub id), read once."""
    modules = _read_json(source, "modules.json")
    if not isinstance(modules, list):
        return EmbeddingDefaults()
    pooling, unsupported = _pooling(source, modules)
    extra = sorted({str(module.get("type")) for module in modules} - _KNOWN_MODULES)
    if extra:
        # A Dense or other head changes the vectors after pooling: pipeq would return others.
        unsupported = f"has sentence-transformers modules {', '.join(extra)}"
    settings = _read_json(source, "sentence_bert_config.json") or {}
    return EmbeddingDefaults(
        pooling=pooling,
        normalize=any(module.get("type") == f"{_ST}Normalize" for module in modules),
        max_length=settings.get("max_seq_length"),
        unsupported=unsupported,
    )
