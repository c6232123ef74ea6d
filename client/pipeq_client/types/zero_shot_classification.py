"""zero-shot-classification: an NLI model scores each candidate label as a hypothesis."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints, field_validator

from pipeq_client.protocol import Task
from pipeq_client.types.common import ClassificationResult, NonEmptyText, StrictModel, TaskRequest

__all__ = ["ZeroShotClassificationParameters", "ZeroShotClassificationRequest", "ZeroShotClassificationResult"]

Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class ZeroShotClassificationParameters(StrictModel):
    candidate_labels: list[Label] = Field(..., min_length=1, max_length=100, description="Labels to score (required).")
    hypothesis_template: str = Field(
        "This example is {}.", max_length=500, description="Hypothesis per label; must contain {}."
    )
    multi_label: bool = Field(False, description="Score labels independently (several can be true).")

    @field_validator("candidate_labels")
    @classmethod
    def _unique(cls, labels: list[str]) -> list[str]:
        if len(set(labels)) != len(labels):
            raise ValueError("labels must be unique")
        return labels

    @field_validator("hypothesis_template")
    @classmethod
    def _has_placeholder(cls, template: str) -> str:
        if "{}" not in template:
            raise ValueError("must contain {} (where the label goes)")
        return template


class ZeroShotClassificationResult(ClassificationResult):
    """``[{label, score}]`` sorted by score (transformers' ``{labels, scores}`` reshaped)."""


class ZeroShotClassificationRequest(TaskRequest[ZeroShotClassificationResult]):
    task: ClassVar[Task] = Task.ZERO_SHOT_CLASSIFICATION
    result_type: ClassVar[type[StrictModel]] = ZeroShotClassificationResult  # type: ignore[assignment]

    inputs: NonEmptyText
    parameters: ZeroShotClassificationParameters
