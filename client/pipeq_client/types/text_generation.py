"""text-generation: decoder-only models (Llama, GPT-2, Gemma...)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pipeq_client.protocol import Task
from pipeq_client.types.common import NonEmptyText, StrictModel, TaskRequest
from pipeq_client.types.generation import GenerationParameters

__all__ = ["TextGenerationParameters", "TextGenerationRequest", "TextGenerationResult"]


class TextGenerationParameters(GenerationParameters):
    return_full_text: bool = Field(False, description="Prepend the prompt to generated_text.")


class TextGenerationResult(StrictModel):
    generated_text: str
    sequences: list[str] | None = Field(None, description="All n sequences when num_return_sequences > 1.")


class TextGenerationRequest(TaskRequest[TextGenerationResult]):
    task: ClassVar[Task] = Task.TEXT_GENERATION
    result_type: ClassVar[type[StrictModel]] = TextGenerationResult

    inputs: NonEmptyText
    parameters: TextGenerationParameters = Field(default_factory=TextGenerationParameters)
