"""image-to-text: captioning with vision encoder-decoder models (ViT+GPT-2, BLIP)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pipeq_client.protocol import Task
from pipeq_client.types.common import Blob, StrictModel, TaskRequest
from pipeq_client.types.generation import GeneratedSequence, GenerationDetails, GenerationParameters

__all__ = ["ImageToTextParameters", "ImageToTextRequest", "ImageToTextResult"]


class ImageToTextParameters(GenerationParameters):
    prompt: str | None = Field(None, min_length=1, max_length=1000, description="Text the caption starts with.")


class ImageToTextResult(StrictModel):
    generated_text: str
    details: GenerationDetails
    sequences: list[GeneratedSequence] | None = Field(None, description="All n sequences when n > 1.")


class ImageToTextRequest(TaskRequest[ImageToTextResult]):
    task: ClassVar[Task] = Task.IMAGE_TO_TEXT
    result_type: ClassVar[type[StrictModel]] = ImageToTextResult

    inputs: Blob = Field(..., description="PNG/JPEG/WebP/GIF bytes.")
    parameters: ImageToTextParameters = Field(default_factory=ImageToTextParameters)

    def blobs(self) -> list[tuple[str, Blob]]:
        return [("inputs", self.inputs)]
