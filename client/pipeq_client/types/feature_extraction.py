"""feature-extraction: encoder hidden states, per token or pooled."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, RootModel, field_validator

from pipeq_client.protocol import Task
from pipeq_client.types.common import NonEmptyText, ReadableRoot, StrictModel, TaskRequest

__all__ = ["Embedding", "FeatureExtractionParameters", "FeatureExtractionRequest", "FeatureExtractionResult"]

Embedding = list[float] | list[list[float]]


class FeatureExtractionParameters(StrictModel):
    pooling: Literal["none", "mean", "cls"] | None = Field(
        None,
        description="none: one vector per token; mean / cls: one vector per input. "
        "Unset: the model's own (a sentence-transformers pooling config), else none.",
    )
    normalize: bool | None = Field(
        None, description="L2-normalise each vector. Unset: as the model was trained (sentence-transformers), else no."
    )
    truncate: bool = Field(True, description="Truncate inputs longer than the model's limit.")


class FeatureExtractionResult(ReadableRoot, RootModel[list[Embedding]]):
    """One embedding per input, in input order (a single string gives a list of one)."""


class FeatureExtractionRequest(TaskRequest[FeatureExtractionResult]):
    task: ClassVar[Task] = Task.FEATURE_EXTRACTION
    result_type: ClassVar[type[StrictModel]] = FeatureExtractionResult  # type: ignore[assignment]

    inputs: Annotated[list[NonEmptyText], Field(min_length=1, max_length=256)] = Field(
        ..., description="A text or a list of 1..256 texts (a single text becomes a list of one)."
    )
    parameters: FeatureExtractionParameters = Field(default_factory=FeatureExtractionParameters)

    @field_validator("inputs", mode="before")
    @classmethod
    def _listed(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value
