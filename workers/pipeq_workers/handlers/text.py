"""Handlers of the text queue."""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
from transformers import Pipeline

from pipeq_client.errors import UnsupportedParameterError
from pipeq_client.protocol import Task
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
from pipeq_workers.generation.prompts import causal_prompt, seq2seq_prompt
from pipeq_workers.handlers import handles
from pipeq_workers.handlers.common import as_label_list, batch_key, call_pipeline, generate, set_options
from pipeq_workers.inputs.model_limits import check_hypotheses, refuse_long_rows, refuse_long_texts
from pipeq_workers.pipelines.naming import model_label
from pipeq_workers.pipelines.sentence import embedding_defaults
from pipeq_workers.runtime.context import JobContext

__all__ = [
    "feature_extraction",
    "summarization",
    "text_classification",
    "text_generation",
    "translation",
    "zero_shot_classification",
]


@handles(Task.TEXT_GENERATION)
def text_generation(pipe: Pipeline, request: TextGenerationRequest, context: JobContext) -> TextGenerationResult:
    params = request.parameters
    prompt = partial(causal_prompt, pipe, request.inputs, params.return_full_text)
    return TextGenerationResult(**generate(pipe, prompt, params, context, "generated_text", joins=True))


@handles(Task.TEXT_CLASSIFICATION)
def text_classification(
    pipe: Pipeline, request: TextClassificationRequest, context: JobContext
) -> TextClassificationResult:
    params = request.parameters
    options = set_options(top_k=params.top_k, function_to_apply=params.function_to_apply)
    # The task has no truncation option: text over the model's limit is refused, named.
    output = call_pipeline(pipe, context, request.inputs, check_batch=partial(refuse_long_texts, pipe), **options)
    return TextClassificationResult.model_validate(as_label_list(output))


@handles(Task.SUMMARIZATION)
def summarization(pipe: Pipeline, request: SummarizationRequest, context: JobContext) -> SummarizationResult:
    params = request.parameters
    prompt = partial(seq2seq_prompt, pipe, request.inputs, params.truncation, None, None)
    fields = generate(pipe, prompt, params, context, "summary_text", params.clean_up_tokenization_spaces)
    return SummarizationResult(**fields)


@handles(Task.TRANSLATION)
def translation(pipe: Pipeline, request: TranslationRequest, context: JobContext) -> TranslationResult:
    params = request.parameters
    prompt = partial(seq2seq_prompt, pipe, request.inputs, params.truncation, params.tgt_lang, params.src_lang)
    fields = generate(pipe, prompt, params, context, "translation_text", params.clean_up_tokenization_spaces)
    return TranslationResult(**fields)


def _require_entailment_label(pipe: Pipeline) -> None:
    """The entailment index is looked up in the model's labels (any case, any order);
    transformers falls back to the last label when none starts with "entail": refuse instead."""
    if pipe.entailment_id == -1:
        labels = ", ".join(str(label) for label in pipe.model.config.id2label.values())
        raise UnsupportedParameterError(
            f"model {model_label(pipe.model)!r} has no entailment label ({labels}): "
            "zero-shot classification needs an NLI model",
            field="model",
        )


@handles(Task.ZERO_SHOT_CLASSIFICATION)
def zero_shot_classification(
    pipe: Pipeline, request: ZeroShotClassificationRequest, context: JobContext
) -> ZeroShotClassificationResult:
    params = request.parameters
    _require_entailment_label(pipe)
    # The pipeline truncates the text (only_first) to the model's limit; the hypotheses must fit beside it.
    hypotheses_fit = partial(check_hypotheses, pipe, params.hypothesis_template, params.candidate_labels)
    output = call_pipeline(
        pipe,
        context,
        request.inputs,
        check_batch=lambda _: hypotheses_fit(),  # one set of labels and template per batch (its key)
        candidate_labels=params.candidate_labels,
        hypothesis_template=params.hypothesis_template,
        multi_label=params.multi_label,
    )
    # transformers answers {sequence, labels, scores}; the HF task spec says [{label, score}].
    items = [{"label": label, "score": score} for label, score in zip(output["labels"], output["scores"], strict=True)]
    return ZeroShotClassificationResult.model_validate(items)


def _pool(hidden: np.ndarray, pooling: str) -> np.ndarray:
    if pooling == "mean":
        return np.asarray(hidden.mean(axis=0))
    if pooling == "cls":
        return np.asarray(hidden[0])
    return hidden


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12))


def _embed(pipe: Pipeline, truncate: bool, max_length: int | None, batches: list[list[str]]) -> list[list[np.ndarray]]:
    """Per-token hidden states of every text of every request, from one padded forward pass;
    padding is cut off with the attention mask (the pipeline would keep it when batching).
    ``max_length``: a sentence-transformers model's max_seq_length (None: the tokenizer's)."""
    texts = [text for batch in batches for text in batch]
    encoded = pipe.tokenizer(texts, padding=True, truncation=truncate, max_length=max_length, return_tensors="pt").to(
        pipe.device
    )
    lengths = encoded["attention_mask"].sum(dim=1).tolist()
    fields = [f"inputs.{index}" for batch in batches for index in range(len(batch))]
    refuse_long_rows(pipe, lengths, fields, "; truncate: true cuts it there")
    with torch.inference_mode():
        hidden = pipe.model(**encoded)[0].float().cpu().numpy()
    per_text = iter([hidden[index, :length] for index, length in enumerate(lengths)])
    return [[next(per_text) for _ in batch] for batch in batches]


@handles(Task.FEATURE_EXTRACTION)
def feature_extraction(
    pipe: Pipeline, request: FeatureExtractionRequest, context: JobContext
) -> FeatureExtractionResult:
    params = request.parameters
    # Unset pooling / normalize: what the model was trained with (sentence-transformers layout).
    defaults = embedding_defaults(str(pipe.model.name_or_path))
    pooling, normalize = defaults.resolve(pipe.model, params.pooling, params.normalize)
    embed = partial(_embed, pipe, params.truncate, defaults.max_length)
    # Pooling and normalisation apply to each request's own hidden states: they may differ in a batch.
    key = batch_key(pipe, params.model_dump(exclude={"pooling", "normalize"}))
    outputs = context.model_call(key, embed, request.inputs)
    embeddings = []
    for hidden in outputs:
        vectors = _pool(hidden, pooling)
        embeddings.append((_normalize(vectors) if normalize else vectors).tolist())
    return FeatureExtractionResult.model_validate(embeddings)
