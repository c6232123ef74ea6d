"""OpenAI chat completions <-> text-generation / image-text-to-text requests with chat messages.

Images come as ``image_url`` parts holding ``data:`` URLs; the gateway never fetches a URL
(server-side request forgery), so http(s) URLs are refused.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeq_client.errors import RequestValidationError, UnsupportedParameterError
from pipeq_client.events import TokenEvent
from pipeq_client.protocol import Task
from pipeq_client.types import (
    GenerationDetails,
    ImageTextToTextRequest,
    TaskRequest,
    TextGenerationRequest,
)
from pipeq_gateway.catalog import ModelCatalog
from pipeq_gateway.dialects.sampling import (
    OPENAI_NAMES,
    OpenAISampling,
    finish_reason,
    renamed,
    sampling_parameters,
    sequences_of,
    usage,
)

__all__ = ["ChatCompletionRequest", "ChatStream", "chat_completion", "chat_request"]

CHAT_NAMES = {"inputs": "messages", **OPENAI_NAMES}
_UNSUPPORTED = ("tools", "tool_choice", "functions", "function_call", "audio", "prediction")


class ImageURL(BaseModel):
    url: str
    detail: str | None = None


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: str
    text: str | None = None
    image_url: ImageURL | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class ChatCompletionRequest(OpenAISampling):
    messages: list[Message] = Field(..., min_length=1)
    max_completion_tokens: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    response_format: dict[str, Any] | None = None
    tools: Any = None
    tool_choice: Any = None
    functions: Any = None
    function_call: Any = None
    audio: Any = None
    prediction: Any = None


def data_url_bytes(url: str, field: str) -> bytes:
    """The bytes of a ``data:<type>;base64,<data>`` URL."""
    if not url.startswith("data:"):
        raise RequestValidationError(f"{field}: only data: URLs are accepted (URLs are never fetched)", field=field)
    header, comma, data = url.partition(",")
    if not comma or not header.endswith(";base64"):
        raise RequestValidationError(f"{field}: expected data:<type>;base64,<data>", field=field)
    try:
        return base64.b64decode(data, validate=True)
    except binascii.Error:
        raise RequestValidationError(f"{field}: the data is not valid base64", field=field) from None


def _has_images(messages: list[Message]) -> bool:
    return any(isinstance(m.content, list) and any(p.type == "image_url" for p in m.content) for m in messages)


def _role(index: int, message: Message) -> str:
    if message.role in ("tool", "function"):
        raise UnsupportedParameterError(
            f"messages.{index}.role: {message.role} messages need tools, which pipeq does not serve",
            field=f"messages.{index}.role",
        )
    if message.content is None:
        raise RequestValidationError(f"messages.{index}.content: required", field=f"messages.{index}.content")
    return "system" if message.role == "developer" else message.role


def _part(where: str, part: ContentPart, images: bool) -> dict[str, Any]:
    if part.type == "text" and part.text is not None:
        return {"type": "text", "text": part.text}
    if part.type == "image_url" and part.image_url is not None:
        if not images:
            message = f"{where}: image parts need an image-text-to-text model"
            raise RequestValidationError(message, field=where)
        return {"type": "image", "image": data_url_bytes(part.image_url.url, f"{where}.image_url.url")}
    raise UnsupportedParameterError(f"{where}: content parts of type {part.type!r} are not served", field=where)


def _message(index: int, message: Message, images: bool) -> dict[str, Any]:
    role = _role(index, message)
    if isinstance(message.content, str):
        return {"role": role, "content": message.content}
    parts = [_part(f"messages.{index}.content.{i}", part, images) for i, part in enumerate(message.content or [])]
    if images:
        return {"role": role, "content": parts}
    return {"role": role, "content": "\n".join(part["text"] for part in parts)}


def _refuse_unsupported(body: ChatCompletionRequest) -> None:
    for name in _UNSUPPORTED:
        if getattr(body, name) is not None:
            raise UnsupportedParameterError(f"{name}: not served by pipeq", field=name)
    if body.response_format is not None and body.response_format.get("type") != "text":
        raise UnsupportedParameterError("response_format: only {'type': 'text'} is served", field="response_format")


def chat_request(body: ChatCompletionRequest, catalog: ModelCatalog) -> TaskRequest[Any]:
    """The pipeq request: image-text-to-text when the model (or an image part) says so."""
    _refuse_unsupported(body)
    order = (
        (Task.IMAGE_TEXT_TO_TEXT, Task.TEXT_GENERATION)
        if _has_images(body.messages)
        else (Task.TEXT_GENERATION, Task.IMAGE_TEXT_TO_TEXT)
    )
    task, model = catalog.resolve(body.model, order)
    images = task is Task.IMAGE_TEXT_TO_TEXT
    parameters = sampling_parameters(body, body.max_completion_tokens or body.max_tokens)
    if body.logprobs:
        parameters["logprobs"] = True
    if body.top_logprobs is not None:
        parameters["top_logprobs"] = body.top_logprobs
    messages = [_message(index, message, images) for index, message in enumerate(body.messages)]
    request_type = ImageTextToTextRequest if images else TextGenerationRequest
    try:
        return request_type.build(messages, model, parameters)
    except RequestValidationError as error:
        raise renamed(error, CHAT_NAMES) from None


def _logprob_entry(text: str, logprob: float | None) -> dict[str, Any]:
    return {"token": text, "logprob": logprob, "bytes": list(text.encode())}


def chat_logprobs(details: GenerationDetails) -> dict[str, Any] | None:
    if details.tokens is None:
        return None
    alternatives = details.top_tokens or [[] for _ in details.tokens]
    return {
        "content": [
            {
                **_logprob_entry(token.text, token.logprob),
                "top_logprobs": [_logprob_entry(a.text, a.logprob) for a in top],
            }
            for token, top in zip(details.tokens, alternatives, strict=False)
        ]
    }


def chat_completion(job_id: str, model: str, created: int, result: Any) -> dict[str, Any]:
    sequences = sequences_of(result)
    choices = [
        {
            "index": index,
            "message": {"role": "assistant", "content": sequence.text},
            "logprobs": chat_logprobs(sequence.details),
            "finish_reason": finish_reason(sequence.details.finish_reason),
        }
        for index, sequence in enumerate(sequences)
    ]
    return {
        "id": f"chatcmpl-{job_id}",
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "usage": usage(result.details, sequences),
    }


class ChatStream:
    """The ``chat.completion.chunk`` objects of one streamed completion."""

    def __init__(self, job_id: str, model: str, created: int, n: int) -> None:
        self.head = {"id": f"chatcmpl-{job_id}", "object": "chat.completion.chunk", "created": created, "model": model}
        self.n = n

    def chunk(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {**self.head, "choices": choices, **extra}

    def opening(self) -> dict[str, Any]:
        delta = {"role": "assistant", "content": ""}
        return self.chunk(
            [{"index": i, "delta": delta, "logprobs": None, "finish_reason": None} for i in range(self.n)]
        )

    def token(self, event: TokenEvent, text: str) -> dict[str, Any]:
        logprobs = (
            None
            if event.logprob is None
            else {"content": [{**_logprob_entry(text, event.logprob), "top_logprobs": []}]}
        )
        choice = {"index": event.sequence, "delta": {"content": text}, "logprobs": logprobs, "finish_reason": None}
        return self.chunk([choice])

    def closing(self, result: Any, include_usage: bool) -> list[dict[str, Any]]:
        sequences = sequences_of(result)
        finals = [
            self.chunk(
                [{"index": i, "delta": {}, "logprobs": None, "finish_reason": finish_reason(s.details.finish_reason)}]
            )
            for i, s in enumerate(sequences)
        ]
        if include_usage:
            finals.append(self.chunk([], usage=usage(result.details, sequences)))
        return finals
