"""Image placeholders in plain image-text-to-text prompts.

A vision-language processor expands each of its image tokens (``<image>`` for LLaVA and
Idefics3) into the image's patch tokens and refuses a text whose count differs from the
number of images. Users should not have to know the model's token: a text without any
gets one per image in front (as the chat form's image parts do); a text with some must have
exactly one per image.
"""

from __future__ import annotations

from typing import Any

from pipeq_client.errors import RequestValidationError, UnsupportedParameterError
from pipeq_client.types import ImageChatMessage, TextPart
from pipeq_workers.pipelines.naming import model_label

__all__ = ["refuse_placeholders_in_chat", "with_image_placeholders"]


def with_image_placeholders(processor: Any, model: Any, text: str, images: int) -> str:
    """``text`` with one image placeholder per image: inserted before it when it has none."""
    token = getattr(processor, "image_token", None)
    if not isinstance(token, str) or not token:
        raise UnsupportedParameterError(
            f"inputs: model {model_label(model)!r} declares no image placeholder for plain prompts; "
            "send chat messages with image parts instead",
            field="inputs",
        )
    found = text.count(token)
    if found == 0:
        return token * images + "\n" + text
    if found != images:
        raise RequestValidationError(
            f"inputs.text: {found} {token} placeholders for {images} image(s); "
            f"give one per image, or none (they are then put before the text)",
            field="inputs.text",
        )
    return text


def _texts(messages: list[ImageChatMessage]) -> list[tuple[str, str]]:
    """(field, text) of every text in a conversation."""
    texts = []
    for index, message in enumerate(messages):
        if isinstance(message.content, str):
            texts.append((f"inputs.{index}.content", message.content))
            continue
        for part_index, part in enumerate(message.content):
            if isinstance(part, TextPart):
                texts.append((f"inputs.{index}.content.{part_index}.text", part.text))
    return texts


def refuse_placeholders_in_chat(processor: Any, messages: list[ImageChatMessage]) -> None:
    """In a conversation, image parts place the images: a placeholder typed into a text would
    stand for an image that is not there."""
    token = getattr(processor, "image_token", None)
    if not isinstance(token, str) or not token:
        return
    for field, text in _texts(messages):
        if token in text:
            raise RequestValidationError(
                f"{field}: contains the image placeholder {token}; in messages, images go in image parts",
                field=field,
            )
