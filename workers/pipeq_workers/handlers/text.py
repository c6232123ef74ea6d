"""Handlers of the text queue."""

from __future__ import annotations

import numpy as np
from transformers import Pipeline

from pipeq_client.types import (
    FeatureExtractionRequest,
    FeatureExtractionResult,
    SummarizationRequest,
    SummarizationResult,
    TextClassificationRequest,
    TextClassificationResult,
    TextGenerationRequest,
    TextGenerationResult,
    TranslationRequest,
    TranslationResult,
    ZeroShotClassificationRequest,
    ZeroShotClassificationResult,
)
from pipeq_workers.context import JobContext
from pipeq_workers.handlers.common import as_label_list, generation_options, sequences_fields, set_options

__all__ = [
    "feature_extraction",
    "summarization",
    "text_classification",
    "text_generation",
    "translation",
    "zero_shot_classification",
]


def text_generation(pipe: Pipeline, request: TextGenerationRequest, _: JobContext) -> TextGenerationResult:
    params = request.parameters
    outputs = pipe(request.inputs, return_full_text=params.return_full_text, **generation_options(pipe, params))
    return TextGenerationResult(**sequences_fields("generated_text", outputs))


def text_classification(pipe: Pipeline, request: TextClassificationRequest, _: JobContext) -> TextClassificationResult:
    params = request.parameters
    output = pipe(request.inputs, **set_options(top_k=params.top_k, function_to_apply=params.function_to_apply))
    return TextClassificationResult.model_validate(as_label_list(output))


def summarization(pipe: Pipeline, request: SummarizationRequest, _: JobContext) -> SummarizationResult:
    params = request.parameters
    options = set_options(
        truncation=params.truncation, clean_up_tokenization_spaces=params.clean_up_tokenization_spaces
    )
    outputs = pipe(request.inputs, **options, **generation_options(pipe, params))
    return SummarizationResult(**sequences_fields("summary_text", outputs))


def translation(pipe: Pipeline, request: TranslationRequest, _: JobContext) -> TranslationResult:
    params = request.parameters
    options = set_options(
        src_lang=params.src_lang,
        tgt_lang=params.tgt_lang,
        truncation=params.truncation,
        clean_up_tokenization_spaces=params.clean_up_tokenization_spaces,
    )
    outputs = pipe(request.inputs, **options, **generation_options(pipe, params))
    return TranslationResult(**sequences_fields("translation_text", outputs))


def zero_shot_classification(
    pipe: Pipeline, request: ZeroShotClassificationRequest, _: JobContext
) -> ZeroShotClassificationResult:
    params = request.parameters
    output = pipe(
        request.inputs,
        candidate_labels=params.candidate_labels,
        hypothesis_template=params.hypothesis_template,
        multi_label=params.multi_label,
    )
    # transformers answers {sequence, labels, scores}; the HF task spec says [{label, score}].
    items = [{"label": label, "score": score} for label, score in zip(output["labels"], output["scores"], strict=True)]
    return ZeroShotClassificationResult.model_validate(items)


def _pool(hidden: np.ndarray, pooling: str) -> np.ndarray:
    if pooling == "mean":
        return hidden.mean(axis=0)
    if pooling == "cls":
        return hidden[0]
    return hidden


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def feature_extraction(pipe: Pipeline, request: FeatureExtractionRequest, _: JobContext) -> FeatureExtractionResult:
    params = request.parameters
    outputs = pipe(request.inputs, tokenize_kwargs={"truncation": params.truncate})
    embeddings = []
    for output in outputs:
        vectors = _pool(np.asarray(output[0], dtype=np.float32), params.pooling)
        embeddings.append((_normalize(vectors) if params.normalize else vectors).tolist())
    return FeatureExtractionResult.model_validate(embeddings)
