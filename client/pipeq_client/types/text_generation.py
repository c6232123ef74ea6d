"""text-generation: decoder-only models (Llama, GPT-2, Gemma...)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Discriminator, Field, Tag

from pipeq_client.protocol import Task
from pipeq_client.types.chat import ChatMessage
from pipeq_client.types.common import NonEmptyText, StrictModel, TaskRequest
from pipeq_client.types.generation import GeneratedSequence, GenerationDetails, GenerationParameters

__all__ = ["TextGenerationParameters", "TextGenerationRequest", "TextGenerationResult"]


class TextGenerationParameters(GenerationParameters):
    return_full_text: bool = Field(False, description="Prepend the prompt to generated_text (plain prompts).")


def _input_kind(value: Any) -> str:
    return "prompt" if isinstance(value, str) else "messages"


# A prompt, or a conversation the worker renders with the tokenizer's chat template.
TextGenerationInput = Annotated[
    Annotated[NonEmptyText, Tag("prompt")]
    | Annotated[list[ChatMessage], Tag("messages"), Field(min_length=1, max_length=256)],
    Discriminator(_input_kind),
]


class TextGenerationResult(StrictModel):
    generated_text: str
    details: GenerationDetails
    sequences: list[GeneratedSequence] | None = Field(None, description="All n sequences when n > 1.")


class TextGenerationRequest(TaskRequest[TextGenerationResult]):
    task: ClassVar[Task] = Task.TEXT_GENERATION
    result_type: ClassVar[type[StrictModel]] = TextGenerationResult

    inputs: TextGenerationInput
    parameters: TextGenerationParameters = Field(default_factory=TextGenerationParameters)
