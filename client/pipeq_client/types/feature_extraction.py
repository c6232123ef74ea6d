"""feature-extraction: encoder hidden states, per token or pooled."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, RootModel

from pipeq_client.protocol import Task
from pipeq_client.types.common import NonEmptyText, StrictModel, TaskRequest

__all__ = ["Embedding", "FeatureExtractionParameters", "FeatureExtractionRequest", "FeatureExtractionResult"]

Embedding = list[float] | list[list[float]]


class FeatureExtractionParameters(StrictModel):
    pooling: Literal["none", "mean", "cls"] = Field(
        "none", description="none: one vector per token; mean / cls: one vector per input."
    )
    normalize: bool = Field(False, description="L2-normalise each vector.")
    truncate: bool = Field(True, description="Truncate inputs longer than the model's limit.")


class FeatureExtractionResult(RootModel[list[Embedding]]):
    """One embedding per input, in input order (a single string gives a list of one)."""


class FeatureExtractionRequest(TaskRequest[FeatureExtractionResult]):
    task: ClassVar[Task] = Task.FEATURE_EXTRACTION
    result_type: ClassVar[type[StrictModel]] = FeatureExtractionResult  # type: ignore[assignment]

    inputs: NonEmptyText | Annotated[list[NonEmptyText], Field(min_length=1, max_length=256)] = Field(
        ..., description="A text or a list of 1..256 texts."
    )
    parameters: FeatureExtractionParameters = Field(default_factory=FeatureExtractionParameters)

    def texts(self) -> list[str]:
        return [self.inputs] if isinstance(self.inputs, str) else list(self.inputs)
