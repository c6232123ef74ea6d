"""Chat messages: text-generation and image-text-to-text accept a conversation instead of a prompt;
the worker applies the model's chat template."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from pipeq_client.types.common import MAX_TEXT_CHARS, Blob, StrictModel

__all__ = ["ChatMessage", "ImageChatMessage", "ImagePart", "Role", "TextPart"]

Role = Literal["system", "user", "assistant"]
MessageText = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS)]


class ChatMessage(StrictModel):
    role: Role
    content: MessageText


class TextPart(StrictModel):
    type: Literal["text"]
    text: MessageText


class ImagePart(StrictModel):
    type: Literal["image"]
    image: Blob = Field(..., description="PNG/JPEG/WebP/GIF bytes.")


class ImageChatMessage(StrictModel):
    role: Role
    content: MessageText | list[Annotated[TextPart | ImagePart, Field(discriminator="type")]]
