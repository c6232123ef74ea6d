"""What an image model can take: checked with the model's own image processor.

Processors that keep the aspect ratio (DETR, YOLOS: shortest/longest edge; CLIP: shortest
edge) shrink the short side of a long, thin image -- to nothing, for a 5x300 image and a
64-pixel longest edge, and YOLOS then rounds sides down to multiples of 16 -- and fail inside
the pipeline. The rules differ per processor, so instead of re-deriving them the processor
itself is run on the image first (on the model thread), and a failure is the input's typed
refusal. Fixed-size processors (ViT: resize to height x width) take any image and are skipped.
"""

from __future__ import annotations

from typing import Any

from PIL import Image
from transformers import Pipeline

from pipeq_client.errors import InvalidInputError
from pipeq_workers.pipelines.naming import model_label
from pipeq_workers.runtime.messages import clean_message

__all__ = ["probe_image"]


def _image_processor(pipe: Pipeline) -> Any:
    processor = getattr(pipe, "image_processor", None)
    return processor if processor is not None else getattr(getattr(pipe, "processor", None), "image_processor", None)


def _fixed_size(processor: Any) -> bool:
    size = getattr(processor, "size", None)
    if isinstance(size, dict):
        return bool(size.get("height") and size.get("width"))
    return bool(getattr(size, "height", None) and getattr(size, "width", None))


def probe_image(pipe: Pipeline, image: Image.Image, field: str) -> None:
    """InvalidInputError naming ``field`` when the model's image processor cannot take ``image``."""
    processor = _image_processor(pipe)
    if processor is None or _fixed_size(processor):
        return
    try:
        processor(images=image, return_tensors="pt")
    except (ValueError, RuntimeError, ZeroDivisionError) as error:
        raise InvalidInputError(
            f"{field}: model {model_label(pipe.model)!r} cannot take a {image.width}x{image.height} image "
            f"({clean_message(str(error), 160)})",
            field=field,
        ) from None
