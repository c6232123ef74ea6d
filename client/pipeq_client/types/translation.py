"""translation: encoder-decoder models (Marian, T5, NLLB, M2M100)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pipeq_client.protocol import Task
from pipeq_client.types.common import NonEmptyText, StrictModel, TaskRequest
from pipeq_client.types.generation import GeneratedSequence, GenerationDetails, GenerationParameters

__all__ = ["TranslationParameters", "TranslationRequest", "TranslationResult"]


class TranslationParameters(GenerationParameters):
    src_lang: str | None = Field(
        None, min_length=1, max_length=32, description="Source language code (multilingual models)."
    )
    tgt_lang: str | None = Field(
        None, min_length=1, max_length=32, description="Target language code (multilingual models)."
    )
    clean_up_tokenization_spaces: bool | None = Field(None, description="Remove spaces before punctuation.")
    truncation: bool | None = Field(None, description="Truncate inputs longer than the model's limit.")


class TranslationResult(StrictModel):
    translation_text: str
    details: GenerationDetails
    sequences: list[GeneratedSequence] | None = Field(None, description="All n sequences when n > 1.")


class TranslationRequest(TaskRequest[TranslationResult]):
    task: ClassVar[Task] = Task.TRANSLATION
    result_type: ClassVar[type[StrictModel]] = TranslationResult

    inputs: NonEmptyText
    parameters: TranslationParameters = Field(default_factory=TranslationParameters)
