"""OpenAI embeddings <-> feature-extraction, pooled (one vector per input).

Defaults: mean pooling, L2-normalised, as OpenAI's embeddings are unit vectors; ``pooling``
(mean / cls) and ``normalize`` may be sent as extra fields. Token-id inputs and ``dimensions``
are refused. ``usage`` reports 0 tokens: pooled results carry no token count.
"""

from __future__ import annotations

import base64
from array import array
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from pipeq_client.errors import RequestValidationError, UnsupportedParameterError
from pipeq_client.protocol import Task
from pipeq_client.types import FeatureExtractionRequest, FeatureExtractionResult
from pipeq_gateway.catalog import ModelCatalog
from pipeq_gateway.dialects.sampling import renamed

__all__ = ["EmbeddingRequest", "embedding_request", "embeddings"]


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input: str | list[str] | list[int] | list[list[int]]
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    pooling: Literal["mean", "cls"] = "mean"
    normalize: bool = True


def embedding_request(body: EmbeddingRequest, catalog: ModelCatalog) -> FeatureExtractionRequest:
    if body.dimensions is not None:
        raise UnsupportedParameterError("dimensions: the model's own size is served", field="dimensions")
    if isinstance(body.input, list) and any(not isinstance(item, str) for item in body.input):
        raise UnsupportedParameterError("input: send text, not token ids", field="input")
    _, model = catalog.resolve(body.model, (Task.FEATURE_EXTRACTION,))
    parameters = {"pooling": body.pooling, "normalize": body.normalize}
    try:
        return FeatureExtractionRequest.build(body.input, model, parameters)
    except RequestValidationError as error:
        raise renamed(error, {"inputs": "input", "parameters.": ""}) from None


def _encoded(vector: list[float], encoding: str) -> list[float] | str:
    if encoding == "float":
        return vector
    packed = array("f", vector)  # little-endian float32 on every platform pipeq runs on
    return base64.b64encode(packed.tobytes()).decode("ascii")


def embeddings(model: str, result: FeatureExtractionResult, encoding: str) -> dict[str, Any]:
    data = [
        {"object": "embedding", "index": index, "embedding": _encoded(vector, encoding)}  # type: ignore[arg-type]
        for index, vector in enumerate(result.root)
    ]
    return {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": 0, "total_tokens": 0}}
