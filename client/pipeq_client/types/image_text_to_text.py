"""image-text-to-text: vision-language models (LLaVA, SmolVLM, Qwen-VL)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pipeq_client.protocol import Task
from pipeq_client.types.common import Blob, NonEmptyText, StrictModel, TaskRequest
from pipeq_client.types.generation import GenerationParameters

__all__ = ["ImageTextInput", "ImageTextToTextParameters", "ImageTextToTextRequest", "ImageTextToTextResult"]


class ImageTextInput(StrictModel):
    images: list[Blob] = Field(..., min_length=1, max_length=8, description="PNG/JPEG/WebP/GIF bytes.")
    text: NonEmptyText = Field(..., description="The prompt; plain prompts need one image token per image.")


class ImageTextToTextParameters(GenerationParameters):
    return_full_text: bool = Field(False, description="Prepend the prompt to generated_text.")


class ImageTextToTextResult(StrictModel):
    generated_text: str
    sequences: list[str] | None = Field(None, description="All n sequences when num_return_sequences > 1.")


class ImageTextToTextRequest(TaskRequest[ImageTextToTextResult]):
    task: ClassVar[Task] = Task.IMAGE_TEXT_TO_TEXT
    result_type: ClassVar[type[StrictModel]] = ImageTextToTextResult

    inputs: ImageTextInput
    parameters: ImageTextToTextParameters = Field(default_factory=ImageTextToTextParameters)

    def blobs(self) -> list[tuple[str, Blob]]:
        return [(f"inputs.images.{index}", image) for index, image in enumerate(self.inputs.images)]
