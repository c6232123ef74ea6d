"""Shared building blocks of the typed requests and results."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, Self, TypeVar

from pydantic import (
    AfterValidator,
    AllowInfNan,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    StringConstraints,
    field_serializer,
    field_validator,
    model_validator,
)

from pipeq_client.protocol import Task
from pipeq_client.validation import validate_request

__all__ = [
    "AudioInput",
    "Blob",
    "ClassificationItem",
    "ClassificationParameters",
    "ClassificationResult",
    "Float",
    "Int",
    "MAX_SAMPLING_RATE",
    "MAX_SEED",
    "MIN_SAMPLING_RATE",
    "NonEmptyText",
    "ReadableRoot",
    "ResultT",
    "StrictModel",
    "TaskRequest",
]

MAX_TEXT_CHARS = 100_000
# Audio rates pipeq decodes (raw PCM and encoded files alike): a header claiming 1 Hz would
# turn a few bytes into minutes of audio after resampling.
MIN_SAMPLING_RATE = 1000
MAX_SAMPLING_RATE = 384_000
# A claim check is ``pipeq:blob:<32 hex>``; anything much longer is not one (and is never echoed whole).
MAX_REF_CHARS = 200
MAX_SEED = 2**63 - 1  # seeds are 0..2**63-1 (a signed 64-bit integer, as TGI and vLLM take)


def _not_bool(value: Any) -> Any:
    # pydantic reads True as 1 in lax mode: `max_new_tokens: true` must not mean one token.
    if isinstance(value, bool):
        raise ValueError("must be a number, not a boolean")
    return value


# Every number of a request: never a boolean, never NaN or infinite.
Int = Annotated[int, BeforeValidator(_not_bool)]
Float = Annotated[float, BeforeValidator(_not_bool), AllowInfNan(False)]


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty or only whitespace")
    return text


NonEmptyText = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS), AfterValidator(_not_blank)]


class StrictModel(BaseModel):
    """Unknown fields are refused: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # None means "not set" throughout: printed results show what they hold, not every option.
        return ((name, value) for name, value in super().__repr_args__() if value is not None)


class _ByteCount:
    """Stands for a payload's bytes in a repr: their number, not kilobytes of escapes."""

    def __init__(self, size: int) -> None:
        self.size = size

    def __repr__(self) -> str:
        return f"<{self.size} bytes>"


class ReadableRoot:
    """Mixin for list results (root models): ``print(result)`` shows ``[...]``, not ``root=[...]``."""

    if TYPE_CHECKING:
        root: Any

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield None, self.root


class Blob(StrictModel):
    """Binary payload on the wire: inline (base64 in JSON) or by claim check (a Redis key).

    Pass ``bytes`` wherever a Blob is expected; the client decides inline vs claim check.
    """

    data: bytes | None = Field(None, description="The bytes, carried as base64 in JSON.")
    ref: str | None = Field(None, max_length=MAX_REF_CHARS, description="Claim check: the Redis key holding the bytes.")

    @model_validator(mode="before")
    @classmethod
    def _from_bytes(cls, value: Any) -> Any:
        if isinstance(value, bytes | bytearray | memoryview):
            return {"data": bytes(value)}
        return value

    @field_validator("data", mode="before")
    @classmethod
    def _decode_base64(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return base64.b64decode(value, validate=True)
            except ValueError as error:
                raise ValueError("must be base64") from error
        return value

    @field_serializer("data", when_used="json")
    def _encode_base64(self, value: bytes | None) -> str | None:
        return None if value is None else base64.b64encode(value).decode("ascii")

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if (self.data is None) == (self.ref is None):
            raise ValueError("give exactly one of data or ref")
        if self.data is not None and not self.data:
            raise ValueError("data must not be empty")
        return self

    @property
    def size(self) -> int:
        return len(self.data) if self.data is not None else 0

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, _ByteCount(len(value)) if name == "data" else value


class AudioInput(Blob):
    """Audio bytes: an encoded file (WAV/FLAC/OGG), or raw float32 little-endian PCM when
    ``sampling_rate`` is given."""

    sampling_rate: Int | None = Field(
        None, ge=MIN_SAMPLING_RATE, le=MAX_SAMPLING_RATE, description="Set only for raw float32 PCM."
    )

    @model_validator(mode="after")
    def _pcm_length(self) -> Self:
        if self.sampling_rate is not None and self.data is not None and len(self.data) % 4:
            raise ValueError("raw PCM must be float32: its length must be a multiple of 4 bytes")
        return self


ResultT = TypeVar("ResultT", bound=BaseModel)


class TaskRequest(StrictModel, Generic[ResultT]):
    """``{"inputs", "parameters", "model"}`` for one task. Subclasses fix the task and types."""

    task: ClassVar[Task]
    result_type: ClassVar[type[BaseModel]]

    model: str | None = Field(
        None, min_length=1, max_length=256, description="A model allowed by the worker's registry; default if None."
    )

    @classmethod
    def build(cls, inputs: Any, model: str | None = None, parameters: dict[str, Any] | None = None) -> Self:
        """Validated request from loose arguments; raises RequestValidationError naming the field."""
        fields: dict[str, Any] = {"inputs": inputs, "model": model}
        if parameters:
            fields["parameters"] = parameters
        request: Self = validate_request(cls, fields)
        return request

    def blobs(self) -> list[tuple[str, Blob]]:
        """The binary payloads of this request with their field paths (for claim checks and limits)."""
        return []


class ClassificationItem(StrictModel):
    label: str
    score: float


class ClassificationResult(ReadableRoot, RootModel[list[ClassificationItem]]):
    """``[{label, score}]``, most likely first."""


class ClassificationParameters(StrictModel):
    """Parameters of the text, image and audio classification tasks."""

    function_to_apply: Literal["sigmoid", "softmax", "none"] | None = Field(
        None, description="Score function; the model's default if None."
    )
    top_k: Int | None = Field(None, ge=1, le=1000, description="How many labels to return (model default: 1).")
