"""Text Generation Inference: ``{"inputs", "parameters", "stream"}`` <-> text-generation; answers as
``TextGenerationOutput`` and streams ``TextGenerationStreamOutput`` events.

TGI parameters pipeq has pass through; ``details`` and ``top_n_tokens`` turn on logprobs;
TGI-only features (best_of > 1, grammar, watermark, adapters, truncate, decoder input
details) are refused by name.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from pipeq_client.errors import RequestValidationError, UnsupportedParameterError
from pipeq_client.events import TokenEvent
from pipeq_client.protocol import Task
from pipeq_client.types import GenerationDetails, TextGenerationRequest
from pipeq_client.types.generation import MAX_NEW_TOKENS_LIMIT, MAX_STOP_SEQUENCES

__all__ = ["GenerateRequest", "generate_request", "generated", "stream_final", "stream_token", "tgi_info"]

_REFUSED_UNLESS_UNSET = ("grammar", "adapter_id", "truncate")
_REFUSED_UNLESS_FALSE = ("watermark", "decoder_input_details")
# pipeq reasons TGI has no name for are reported as the nearest: the output was cut short.
_FINISH = {"eos_token": "eos_token", "stop_sequence": "stop_sequence", "length": "length"}


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    inputs: Any
    parameters: dict[str, Any] = Field(default_factory=dict)
    stream: bool = False
    model: str | None = Field(None, description="pipeq extension: a model of the allow-list (default otherwise).")
    options: dict[str, Any] | None = Field(None, description="The old Inference API's cache/wait switches: ignored.")


def _parameters(raw: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """(pipeq parameters, whether details were asked for)."""
    parameters = dict(raw)
    for name in _REFUSED_UNLESS_UNSET:
        if parameters.pop(name, None) is not None:
            raise UnsupportedParameterError(f"parameters.{name}: not served by pipeq", field=f"parameters.{name}")
    for name in _REFUSED_UNLESS_FALSE:
        if parameters.pop(name, None):
            raise UnsupportedParameterError(f"parameters.{name}: not served by pipeq", field=f"parameters.{name}")
    if parameters.pop("best_of", None) not in (None, 1):
        raise UnsupportedParameterError("parameters.best_of: only 1 is served", field="parameters.best_of")
    details = bool(parameters.pop("details", False))
    top_n = parameters.pop("top_n_tokens", None)
    if details or top_n:
        parameters["logprobs"] = True
    if top_n:
        parameters["top_logprobs"] = top_n
    return parameters, details


def generate_request(body: GenerateRequest, model: str | None) -> tuple[TextGenerationRequest, bool]:
    """(the request, whether the answer carries details)."""
    parameters, details = _parameters(body.parameters)
    try:
        return TextGenerationRequest.build(body.inputs, model, parameters), details
    except RequestValidationError as error:
        raise type(error)(error.message.replace("top_logprobs", "top_n_tokens"), field=error.field) from None


def finish(reason: str) -> str:
    return _FINISH.get(reason, "length")


def _token(token: Any) -> dict[str, Any]:
    return {"id": token.id, "text": token.text, "logprob": token.logprob, "special": token.special}


def _details(details: GenerationDetails) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "finish_reason": finish(details.finish_reason),
        "generated_tokens": details.generated_tokens,
        "seed": details.seed,
        "prefill": [],
        "tokens": [_token(token) for token in details.tokens or []],
    }
    if details.top_tokens is not None:
        shaped["top_tokens"] = [[_token(alt) for alt in step] for step in details.top_tokens]
    return shaped


def generated(result: Any, details: bool) -> dict[str, Any]:
    """``TextGenerationOutput``."""
    answer: dict[str, Any] = {"generated_text": result.generated_text}
    if details:
        answer["details"] = _details(result.details)
    return answer


def stream_token(position: int, event: TokenEvent, text: str) -> dict[str, Any]:
    # A flush of held-back text has no single token id: -1.
    token_id = -1 if event.token_id is None else event.token_id
    token = {"id": token_id, "text": text, "logprob": event.logprob, "special": event.special}
    return {"index": position, "token": token, "top_tokens": None, "generated_text": None, "details": None}


def stream_final(index: int, result: Any) -> dict[str, Any]:
    """The last event: an empty end-of-stream token, the whole text and the stream details."""
    details = result.details
    stream_details = {
        "finish_reason": finish(details.finish_reason),
        "generated_tokens": details.generated_tokens,
        "seed": details.seed,
        "input_length": details.prompt_tokens or 0,
    }
    token = {"id": -1, "text": "", "logprob": None, "special": True}
    return {
        "index": index,
        "token": token,
        "top_tokens": None,
        "generated_text": result.generated_text,
        "details": stream_details,
    }


def tgi_info(model: str | None, task: Task) -> dict[str, Any]:
    return {
        "model_id": model or task.value,
        "model_pipeline_tag": task.value,
        "router": "pipeq-gateway",
        "version": "0.1.0",
        "max_best_of": 1,
        "max_stop_sequences": MAX_STOP_SEQUENCES,
        "max_new_tokens": MAX_NEW_TOKENS_LIMIT,
    }
