"""Summarization and translation: transformers 5 removed both pipelines, pipeq brings them back.

Outputs keep the transformers 4 keys (``summary_text``, ``translation_text``), and so does
what the model's config asks of its inputs (pipelines/languages.py): T5's task prefixes,
multilingual models' language codes.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

import torch
from transformers import Pipeline

from pipeq_client.errors import RequestValidationError, UnsupportedParameterError
from pipeq_workers.pipelines.languages import language_codes, task_prefix, translation_pairs
from pipeq_workers.pipelines.naming import model_label


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

    def preprocess(self, text: str, truncation: bool = False, prefix: str = "") -> dict[str, torch.Tensor]:
        return dict(self.tokenizer(prefix + text, return_tensors="pt", truncation=truncation))

    def _forward(self, model_inputs: dict[str, torch.Tensor], generate_kwargs: dict[str, Any]) -> dict[str, Any]:
        batch_size = model_inputs["input_ids"].shape[0]
        kwargs = self._prepare_generate_kwargs(generate_kwargs)
        output_ids = self.model.generate(**model_inputs, **kwargs)
        # (batch * n, length) -> (batch, n, length) so the pipeline's unbatching keeps each
        # input's n sequences together.
        return {"output_ids": output_ids.reshape(batch_size, -1, output_ids.shape[-1])}

    def postprocess(
        self, model_outputs: dict[str, torch.Tensor], clean_up_tokenization_spaces: bool = False
    ) -> list[dict[str, str]]:
        texts = self.tokenizer.batch_decode(
            model_outputs["output_ids"][0],
            skip_special_tokens=True,
            clean_up_tokenization_spaces=clean_up_tokenization_spaces,
        )
        return [{self.output_key: text} for text in texts]


class SummarizationPipeline(Seq2SeqPipeline):
    """``{summary_text}`` from BART, T5, Pegasus... style models; T5's ``summarize: `` prefix
    (from the config's ``task_specific_params``) goes before the text."""

    output_key = "summary_text"

    def _sanitize_parameters(  # type: ignore[override]
        self, **kwargs: Any
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        preprocess, forward, postprocess = super()._sanitize_parameters(**kwargs)
        preprocess["prefix"] = task_prefix(self.model.config, "summarization")
        return preprocess, forward, postprocess


class TranslationPipeline(Seq2SeqPipeline):
    """``{translation_text}`` from Marian, T5, NLLB, M2M100... style models.

    ``src_lang`` / ``tgt_lang`` select what the model knows: the language codes of a
    multilingual tokenizer (NLLB, M2M100, mBART: ``tgt_lang`` required), or one of T5's
    ``translation_<src>_to_<tgt>`` prefixes (none given: the model's first pair, as
    transformers 4 did). A fixed-pair model such as Marian refuses them rather than
    silently ignoring them. Only the prefixes of ``task_specific_params`` apply: generation
    settings come from the request and the model's generation config, as for every model.
    """

    output_key = "translation_text"

    @cached_property
    def languages(self) -> dict[str, int] | None:
        return language_codes(self.tokenizer)

    @cached_property
    def default_src_lang(self) -> str | None:
        # Read before any request changes it: the tokenizer's src_lang is per request.
        return getattr(self.tokenizer, "src_lang", None)

    def _sanitize_parameters(  # type: ignore[override]
        self, src_lang: str | None = None, tgt_lang: str | None = None, **kwargs: Any
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        preprocess, forward, postprocess = super()._sanitize_parameters(**kwargs)
        if self.languages is not None:
            source = src_lang or self.default_src_lang
            if source is not None:
                preprocess["src_lang"] = self._code(source, "src_lang")
            if tgt_lang is not None:
                preprocess["tgt_lang"] = tgt_lang
                forward["generate_kwargs"]["forced_bos_token_id"] = self.languages[self._code(tgt_lang, "tgt_lang")]
        elif translation_pairs(self.model.config):
            preprocess["prefix"] = self._pair_prefix(src_lang, tgt_lang)
        elif src_lang is not None or tgt_lang is not None:
            field = "src_lang" if src_lang is not None else "tgt_lang"
            raise UnsupportedParameterError(
                f"parameters.{field}: model {model_label(self.model)!r} translates one fixed language pair; "
                "it takes no src_lang / tgt_lang",
                field=f"parameters.{field}",
            )
        return preprocess, forward, postprocess

    def preprocess(
        self,
        text: str,
        truncation: bool = False,
        prefix: str = "",
        src_lang: str | None = None,
        tgt_lang: str | None = None,
    ) -> dict[str, torch.Tensor]:
        if self.languages is not None and tgt_lang is None:
            raise RequestValidationError(
                f"parameters.tgt_lang: model {model_label(self.model)!r} is multilingual; "
                f"give the target language (one of {self._known()})",
                field="parameters.tgt_lang",
            )
        if src_lang is not None:
            # The tokenizer puts the source language token in the encoder input.
            self.tokenizer.src_lang = src_lang
        return super().preprocess(text, truncation=truncation, prefix=prefix)

    def _code(self, code: str | None, field: str) -> str:
        if code is None or self.languages is None or code not in self.languages:
            raise UnsupportedParameterError(
                f"parameters.{field}: model {model_label(self.model)!r} does not know the language code "
                f"{code!r}; it knows {self._known()}",
                field=f"parameters.{field}",
            )
        return code

    def _known(self, shown: int = 12) -> str:
        codes = sorted(self.languages or {})
        listed = ", ".join(codes[:shown])
        return listed if len(codes) <= shown else f"{listed}, ... ({len(codes)} codes)"

    def _pair_prefix(self, src_lang: str | None, tgt_lang: str | None) -> str:
        pairs = translation_pairs(self.model.config)
        if src_lang is None and tgt_lang is None:
            return next(iter(pairs.values()))
        matches = [
            prefix for (src, tgt), prefix in pairs.items() if src_lang in (None, src) and tgt_lang in (None, tgt)
        ]
        if len(matches) == 1:
            return matches[0]
        known = ", ".join(f"{src}->{tgt}" for src, tgt in pairs)
        field = "tgt_lang" if tgt_lang is not None else "src_lang"
        problem = "matches several of its pairs (give both)" if matches else "is not among its pairs"
        raise UnsupportedParameterError(
            f"parameters.{field}: src_lang={src_lang!r} tgt_lang={tgt_lang!r} {problem}; "
            f"model {model_label(self.model)!r} translates {known}",
            field=f"parameters.{field}",
        )
