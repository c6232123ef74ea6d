"""What a seq2seq model says about its inputs: task prefixes and language codes.

Read from the model's config and tokenizer (never from its name), as transformers 4's
pipelines did: T5 keeps ``prefix`` per task in ``task_specific_params`` (``summarization``,
``translation_en_to_de``...); multilingual tokenizers (NLLB, M2M100, mBART) know language
codes, put the source one in the encoder input and force the target one as the first
decoded token.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["language_codes", "task_prefix", "translation_pairs"]

_PAIR = re.compile(r"translation_(?P<src>\w+?)_to_(?P<tgt>\w+)")


def _task_params(config: Any) -> dict[str, Any]:
    params = getattr(config, "task_specific_params", None)
    return params if isinstance(params, dict) else {}


def task_prefix(config: Any, task: str) -> str:
    """The prefix the model was trained with for ``task`` (T5's ``summarize: ``), or ''."""
    params = _task_params(config).get(task)
    prefix = params.get("prefix") if isinstance(params, dict) else None
    return str(prefix or getattr(config, "prefix", None) or "")


def translation_pairs(config: Any) -> dict[tuple[str, str], str]:
    """T5 style ``translation_<src>_to_<tgt>`` entries: (src, tgt) -> prefix, in config order."""
    pairs = {}
    for key, params in _task_params(config).items():
        match = _PAIR.fullmatch(key)
        if match and isinstance(params, dict):
            pairs[(match["src"], match["tgt"])] = str(params.get("prefix") or "")
    return pairs


def language_codes(tokenizer: Any) -> dict[str, int] | None:
    """Language code -> token id of a multilingual tokenizer; None for a fixed-pair one.

    Multilingual tokenizers are those with transformers' translation hook. M2M100 and mBART
    map their codes (``en`` -> ``__en__``); NLLB's codes are its extra special tokens."""
    if not hasattr(tokenizer, "_build_translation_inputs"):
        return None
    mapping = getattr(tokenizer, "lang_code_to_id", None)
    if mapping:
        return {str(code): int(token_id) for code, token_id in mapping.items()}
    extras = getattr(tokenizer, "extra_special_tokens", None) or []
    codes = [str(token) for token in (extras.values() if isinstance(extras, dict) else extras)]
    return {code: int(tokenizer.convert_tokens_to_ids(code)) for code in codes}
