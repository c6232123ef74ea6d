"""text-classification: encoder-only classifiers (BERT, DistilBERT, ModernBERT)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from pipeq_client.protocol import Task
from pipeq_client.types.common import (
    ClassificationParameters,
    ClassificationResult,
    NonEmptyText,
    StrictModel,
    TaskRequest,
)

__all__ = ["TextClassificationParameters", "TextClassificationRequest", "TextClassificationResult"]


class TextClassificationParameters(ClassificationParameters):
    pass


class TextClassificationResult(ClassificationResult):
    pass


class TextClassificationRequest(TaskRequest[TextClassificationResult]):
    task: ClassVar[Task] = Task.TEXT_CLASSIFICATION
    result_type: ClassVar[type[StrictModel]] = TextClassificationResult  # type: ignore[assignment]

    inputs: NonEmptyText
    parameters: TextClassificationParameters = Field(default_factory=TextClassificationParameters)
