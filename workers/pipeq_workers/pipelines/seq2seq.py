"""Summarization and translation: transformers 5 removed both pipelines, pipeq brings them back.

Outputs keep the transformers 4 keys (``summary_text``, ``translation_text``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from transformers import Pipeline


class Seq2SeqPipeline(Pipeline):
    """Text in, ``generate()`` on an encoder-decoder model, decoded text out."""

    _pipeline_calls_generate = True
    _load_tokenizer = True
    _load_processor = False
    _load_image_processor = False
    _load_feature_extractor = False
    output_key: ClassVar[str] = "generated_text"

    def _sanitize_parameters(
        self,
        truncation: bool | None = None,
        clean_up_tokenization_spaces: bool | None = None,
        **generate_kwargs: Any,
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        preprocess = {} if truncation is None else {"truncation": truncation}
        postprocess = {}
        if clean_up_tokenization_spaces is not None:
            postprocess["clean_up_tokenization_spaces"] = clean_up_tokenization_spaces
        return preprocess, {"generate_kwargs": generate_kwargs}, postprocess

    def preprocess(self, text: str, truncation: bool = False) -> dict[str, torch.Tensor]:  # type: ignore[override]
        return dict(self.tokenizer(text, return_tensors="pt", truncation=truncation))

    def _forward(self, model_inputs: dict[str, torch.Tensor], generate_kwargs: dict[str, Any]) -> dict[str, Any]:
        batch_size = model_inputs["input_ids"].shape[0]
        kwargs = self._prepare_generate_kwargs(generate_kwargs)
        output_ids = self.model.generate(**model_inputs, **kwargs)
        # (batch * n, length) -> (batch, n, length) so the pipeline's unbatching keeps each
        # input's n sequences together.
        return {"output_ids": output_ids.reshape(batch_size, -1, output_ids.shape[-1])}

    def postprocess(  # type: ignore[override]
        self, model_outputs: dict[str, torch.Tensor], clean_up_tokenization_spaces: bool = False
    ) -> list[dict[str, str]]:
        texts = self.tokenizer.batch_decode(
            model_outputs["output_ids"][0],
            skip_special_tokens=True,
            clean_up_tokenization_spaces=clean_up_tokenization_spaces,
        )
        return [{self.output_key: text} for text in texts]


class SummarizationPipeline(Seq2SeqPipeline):
    """``{summary_text}`` from BART, T5, Pegasus... style models."""

    output_key = "summary_text"


class TranslationPipeline(Seq2SeqPipeline):
    """``{translation_text}`` from Marian, T5, NLLB, M2M100... style models.

    ``src_lang`` / ``tgt_lang`` apply to multilingual tokenizers (NLLB, M2M100, mBART); a
    fixed-pair model such as Marian refuses them rather than silently ignoring them.
    """

    output_key = "translation_text"

    def _sanitize_parameters(  # type: ignore[override]
        self, src_lang: str | None = None, tgt_lang: str | None = None, **kwargs: Any
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        preprocess, forward, postprocess = super()._sanitize_parameters(**kwargs)
        if src_lang is not None:
            preprocess["src_lang"] = src_lang
        if tgt_lang is not None:
            forward["generate_kwargs"]["forced_bos_token_id"] = self._language_token_id(tgt_lang)
        return preprocess, forward, postprocess

    def preprocess(  # type: ignore[override]
        self, text: str, truncation: bool = False, src_lang: str | None = None
    ) -> dict[str, torch.Tensor]:
        if src_lang is not None:
            self._language_token_id(src_lang)
            self.tokenizer.src_lang = src_lang
        return super().preprocess(text, truncation=truncation)

    def _language_token_id(self, language: str) -> int:
        if not hasattr(self.tokenizer, "src_lang"):
            raise ValueError(
                f"this translation model has a fixed language pair; it takes no language code ({language!r})"
            )
        token_id = self.tokenizer.convert_tokens_to_ids(language)
        if token_id is None or token_id == self.tokenizer.unk_token_id:
            raise ValueError(f"unknown language code {language!r} for this model")
        return int(token_id)
