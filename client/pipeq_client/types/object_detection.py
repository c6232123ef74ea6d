"""object-detection: DETR, YOLOS..."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, RootModel

from pipeq_client.protocol import Task
from pipeq_client.types.common import Blob, Float, ReadableRoot, StrictModel, TaskRequest

__all__ = [
    "BoundingBox",
    "DetectedObject",
    "ObjectDetectionParameters",
    "ObjectDetectionRequest",
    "ObjectDetectionResult",
]


class ObjectDetectionParameters(StrictModel):
    threshold: Float = Field(0.5, ge=0.0, le=1.0, description="Minimum score of a returned detection.")


class BoundingBox(StrictModel):
    """Pixels, top-left origin."""

    xmin: int
    ymin: int
    xmax: int
    ymax: int


class DetectedObject(StrictModel):
    label: str
    score: float
    box: BoundingBox


class ObjectDetectionResult(ReadableRoot, RootModel[list[DetectedObject]]):
    """``[{label, score, box}]``."""


class ObjectDetectionRequest(TaskRequest[ObjectDetectionResult]):
    task: ClassVar[Task] = Task.OBJECT_DETECTION
    result_type: ClassVar[type[StrictModel]] = ObjectDetectionResult  # type: ignore[assignment]

    inputs: Blob = Field(..., description="PNG/JPEG/WebP/GIF bytes.")
    parameters: ObjectDetectionParameters = Field(default_factory=ObjectDetectionParameters)

    def blobs(self) -> list[tuple[str, Blob]]:
        return [("inputs", self.inputs)]
