"""image-text-to-text: vision-language models (LLaVA, SmolVLM, Qwen-VL)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Discriminator, Field, Tag

from pipeq_client.protocol import Task
from pipeq_client.types.chat import ImageChatMessage, ImagePart
from pipeq_client.types.common import Blob, NonEmptyText, StrictModel, TaskRequest
from pipeq_client.types.generation import GeneratedSequence, GenerationDetails, GenerationParameters

__all__ = ["ImageTextInput", "ImageTextToTextParameters", "ImageTextToTextRequest", "ImageTextToTextResult"]


class ImageTextInput(StrictModel):
    images: list[Blob] = Field(..., min_length=1, max_length=8, description="PNG/JPEG/WebP/GIF bytes.")
    text: NonEmptyText = Field(
        ...,
        description="The prompt: one image placeholder (the model's, e.g. <image>) per image, or none "
        "(the worker puts them before the text).",
    )


def _input_kind(value: Any) -> str:
    return "messages" if isinstance(value, list) else "prompt"


# Images plus a plain prompt, or a conversation whose messages carry image parts.
ImageTextToTextInput = Annotated[
    Annotated[ImageTextInput, Tag("prompt")]
    | Annotated[list[ImageChatMessage], Tag("messages"), Field(min_length=1, max_length=64)],
    Discriminator(_input_kind),
]


class ImageTextToTextParameters(GenerationParameters):
    return_full_text: bool = Field(False, description="Prepend the prompt to generated_text.")


class ImageTextToTextResult(StrictModel):
    generated_text: str
    details: GenerationDetails
    sequences: list[GeneratedSequence] | None = Field(None, description="All n sequences when n > 1.")


class ImageTextToTextRequest(TaskRequest[ImageTextToTextResult]):
    task: ClassVar[Task] = Task.IMAGE_TEXT_TO_TEXT
    result_type: ClassVar[type[StrictModel]] = ImageTextToTextResult

    inputs: ImageTextToTextInput
    parameters: ImageTextToTextParameters = Field(default_factory=ImageTextToTextParameters)

    def blobs(self) -> list[tuple[str, Blob]]:
        if isinstance(self.inputs, ImageTextInput):
            return [(f"inputs.images.{index}", image) for index, image in enumerate(self.inputs.images)]
        return [
            (f"inputs.{m}.content.{p}.image", part.image)
            for m, message in enumerate(self.inputs)
            if isinstance(message.content, list)
            for p, part in enumerate(message.content)
            if isinstance(part, ImagePart)
        ]
