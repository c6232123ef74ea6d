"""image-classification: ViT, ConvNeXt..."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pipeq_client.protocol import Task
from pipeq_client.types.common import Blob, ClassificationParameters, ClassificationResult, StrictModel, TaskRequest

__all__ = ["ImageClassificationParameters", "ImageClassificationRequest", "ImageClassificationResult"]


class ImageClassificationParameters(ClassificationParameters):
    pass


class ImageClassificationResult(ClassificationResult):
    pass


class ImageClassificationRequest(TaskRequest[ImageClassificationResult]):
    task: ClassVar[Task] = Task.IMAGE_CLASSIFICATION
    result_type: ClassVar[type[StrictModel]] = ImageClassificationResult  # type: ignore[assignment]

    inputs: Blob = Field(..., description="PNG/JPEG/WebP/GIF bytes.")
    parameters: ImageClassificationParameters = Field(default_factory=ImageClassificationParameters)

    def blobs(self) -> list[tuple[str, Blob]]:
        return [("inputs", self.inputs)]
