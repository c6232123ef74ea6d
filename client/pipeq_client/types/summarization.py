"""summarization: encoder-decoder models (BART, T5, Pegasus)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pipeq_client.protocol import Task
from pipeq_client.types.common import NonEmptyText, StrictModel, TaskRequest
from pipeq_client.types.generation import GeneratedSequence, GenerationDetails, GenerationParameters

__all__ = ["SummarizationParameters", "SummarizationRequest", "SummarizationResult"]


class SummarizationParameters(GenerationParameters):
    clean_up_tokenization_spaces: bool | None = Field(None, description="Remove spaces before punctuation.")
    truncation: bool | None = Field(None, description="Truncate inputs longer than the model's limit.")


class SummarizationResult(StrictModel):
    summary_text: str
    details: GenerationDetails
    sequences: list[GeneratedSequence] | None = Field(None, description="All n sequences when n > 1.")


class SummarizationRequest(TaskRequest[SummarizationResult]):
    task: ClassVar[Task] = Task.SUMMARIZATION
    result_type: ClassVar[type[StrictModel]] = SummarizationResult

    inputs: NonEmptyText
    parameters: SummarizationParameters = Field(default_factory=SummarizationParameters)
