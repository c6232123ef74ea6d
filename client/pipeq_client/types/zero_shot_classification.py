"""zero-shot-classification: an NLI model scores each candidate label as a hypothesis."""

from __future__ import annotations

from string import Formatter
from typing import Annotated, ClassVar, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from pipeq_client.protocol import Task
from pipeq_client.types.common import ClassificationResult, NonEmptyText, StrictModel, TaskRequest

__all__ = ["ZeroShotClassificationParameters", "ZeroShotClassificationRequest", "ZeroShotClassificationResult"]

Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
_PLACEHOLDER_RULE = "must contain exactly one {} placeholder (write other braces doubled: {{ and }})"


def _placeholders(template: str) -> list[tuple[str, str | None, str | None]]:
    """(field name, format spec, conversion) of every replacement field, as str.format reads them."""
    try:
        fields = Formatter().parse(template)
        return [(name, spec, conversion) for _, name, spec, conversion in fields if name is not None]
    except ValueError:  # a lone { or }
        raise ValueError(_PLACEHOLDER_RULE) from None


class ZeroShotClassificationParameters(StrictModel):
    candidate_labels: list[Label] = Field(..., min_length=1, max_length=100, description="Labels to score (required).")
    hypothesis_template: str = Field(
        "This example is {}.", max_length=500, description="Hypothesis per label: exactly one {} placeholder."
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
    def _one_placeholder(cls, template: str) -> str:
        # transformers calls template.format(label): "{} and {}", "{} {foo}" or "{} {" would crash there.
        if _placeholders(template) != [("", "", None)]:
            raise ValueError(_PLACEHOLDER_RULE)
        return template

    @model_validator(mode="after")
    def _label_changes_template(self) -> Self:
        # transformers refuses a template the first label leaves unchanged (the label "{}").
        if self.hypothesis_template.format(self.candidate_labels[0]) == self.hypothesis_template:
            raise ValueError("candidate_labels: the first label leaves hypothesis_template unchanged; reorder them")
        return self


class ZeroShotClassificationResult(ClassificationResult):
    """``[{label, score}]`` sorted by score (transformers' ``{labels, scores}`` reshaped)."""


class ZeroShotClassificationRequest(TaskRequest[ZeroShotClassificationResult]):
    task: ClassVar[Task] = Task.ZERO_SHOT_CLASSIFICATION
    result_type: ClassVar[type[StrictModel]] = ZeroShotClassificationResult  # type: ignore[assignment]

    inputs: NonEmptyText
    parameters: ZeroShotClassificationParameters
