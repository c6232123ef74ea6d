"""Multimodal processors whose video half needs torchvision, loaded without it.

transformers 5 gives Qwen2-VL (and the other Qwen-VL processors) a video processor that exists
only with torchvision, and a processor cannot be built at all without it, even for images
(huggingface/transformers#43986). pipeq's images carry no torchvision (CPU torch has none that
matches), and pipeq sends images only: where torchvision is missing, such a processor is loaded
as a subclass whose only parts are the image processor and the tokenizer. With torchvision the
ordinary AutoProcessor path applies unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import transformers
from transformers import ProcessorMixin
from transformers.utils import is_torchvision_available

__all__ = ["image_only_processor", "load_image_only_processor"]

_PROCESSOR_CONFIG = "processor_config.json"


def image_only_processor(cls: type[ProcessorMixin]) -> type[ProcessorMixin]:
    """``cls`` without its video processor: transformers takes a processor's parts from the
    parameters of its ``__init__``, so this subclass's signature leaves the video part out."""

    class ImageOnly(cls):
        # chat_template is named: loading passes only the saved settings __init__ names.
        def __init__(
            self, image_processor: Any = None, tokenizer: Any = None, chat_template: Any = None, **kwargs: Any
        ) -> None:
            kwargs.pop("video_processor", None)  # a saved processor config names it
            super().__init__(
                image_processor=image_processor,
                tokenizer=tokenizer,
                video_processor=None,
                chat_template=chat_template,
                **kwargs,
            )

    ImageOnly.__name__ = ImageOnly.__qualname__ = f"ImageOnly{cls.__name__}"
    return ImageOnly


def _saved_processor_class(source: str) -> type[ProcessorMixin] | None:
    config = Path(source) / _PROCESSOR_CONFIG
    if not config.is_file():
        return None
    name = json.loads(config.read_text(encoding="utf-8")).get("processor_class")
    cls = getattr(transformers, str(name), None)
    return cls if isinstance(cls, type) and issubclass(cls, ProcessorMixin) else None


def load_image_only_processor(source: str) -> ProcessorMixin | None:
    """The image-only processor of a local model whose processor has a video part, when
    torchvision is missing; None where the ordinary loading works."""
    if is_torchvision_available():
        return None
    cls = _saved_processor_class(source)
    if cls is None or "video_processor" not in cls.get_attributes():
        return None
    return image_only_processor(cls).from_pretrained(source)
