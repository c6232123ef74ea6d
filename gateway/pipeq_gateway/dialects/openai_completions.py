"""OpenAI (legacy) completions <-> text-generation with a plain prompt. One prompt per request."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from pipeq_client.errors import RequestValidationError, UnsupportedParameterError
from pipeq_client.events import TokenEvent
from pipeq_client.protocol import Task
from pipeq_client.types import GenerationDetails, TaskRequest, TextGenerationRequest
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

__all__ = ["CompletionRequest", "CompletionStream", "completion", "completion_request", "prompt_text"]

COMPLETION_NAMES = {"inputs": "prompt", **OPENAI_NAMES}


class CompletionRequest(OpenAISampling):
    prompt: str | list[str]
    echo: bool = False
    logprobs: int | None = Field(None, description="Alternatives per token (0 = the chosen token only).")
    best_of: int | None = None
    suffix: str | None = None


def prompt_text(body: CompletionRequest) -> str:
    if isinstance(body.prompt, str):
        return body.prompt
    if len(body.prompt) != 1:
        raise UnsupportedParameterError("prompt: send one prompt per request (a string)", field="prompt")
    return body.prompt[0]


def completion_request(body: CompletionRequest, catalog: ModelCatalog) -> TaskRequest[Any]:
    if body.suffix is not None:
        raise UnsupportedParameterError("suffix: insertion is not served", field="suffix")
    if body.best_of not in (None, 1):
        raise UnsupportedParameterError("best_of: only 1 is served", field="best_of")
    _, model = catalog.resolve(body.model, (Task.TEXT_GENERATION,))
    parameters = sampling_parameters(body, body.max_tokens)
    if body.echo:
        parameters["return_full_text"] = True
    if body.logprobs is not None:
        parameters.update(logprobs=True, top_logprobs=body.logprobs or None)
    try:
        return TextGenerationRequest.build(prompt_text(body), model, parameters)
    except RequestValidationError as error:
        raise renamed(error, COMPLETION_NAMES) from None


def completion_logprobs(details: GenerationDetails) -> dict[str, Any] | None:
    if details.tokens is None:
        return None
    offsets, position = [], 0
    for token in details.tokens:
        offsets.append(position)
        position += len(token.text)
    top = [{alt.text: alt.logprob for alt in step} for step in details.top_tokens] if details.top_tokens else None
    return {
        "tokens": [token.text for token in details.tokens],
        "token_logprobs": [token.logprob for token in details.tokens],
        "top_logprobs": top,
        "text_offset": offsets,
    }


def completion(job_id: str, model: str, created: int, result: Any) -> dict[str, Any]:
    sequences = sequences_of(result)
    choices = [
        {
            "index": index,
            "text": sequence.text,
            "logprobs": completion_logprobs(sequence.details),
            "finish_reason": finish_reason(sequence.details.finish_reason),
        }
        for index, sequence in enumerate(sequences)
    ]
    head = {"id": f"cmpl-{job_id}", "object": "text_completion", "created": created, "model": model}
    return {**head, "choices": choices, "usage": usage(result.details, sequences)}


class CompletionStream:
    """The ``text_completion`` chunks of one streamed completion."""

    def __init__(self, job_id: str, model: str, created: int) -> None:
        self.head = {"id": f"cmpl-{job_id}", "object": "text_completion", "created": created, "model": model}

    def prompt_chunk(self, prompt: str, n: int) -> dict[str, Any]:
        """With echo: the prompt, first, for each of the n sequences."""
        choices = [{"index": i, "text": prompt, "logprobs": None, "finish_reason": None} for i in range(n)]
        return {**self.head, "choices": choices}

    def token(self, event: TokenEvent, text: str) -> dict[str, Any]:
        logprobs = None
        if event.logprob is not None:
            logprobs = {"tokens": [text], "token_logprobs": [event.logprob], "top_logprobs": None, "text_offset": [0]}
        return {
            **self.head,
            "choices": [{"index": event.sequence, "text": text, "logprobs": logprobs, "finish_reason": None}],
        }

    def closing(self, result: Any, include_usage: bool) -> list[dict[str, Any]]:
        sequences = sequences_of(result)
        finals = [
            {
                **self.head,
                "choices": [
                    {"index": i, "text": "", "logprobs": None, "finish_reason": finish_reason(s.details.finish_reason)}
                ],
            }
            for i, s in enumerate(sequences)
        ]
        if include_usage:
            finals.append({**self.head, "choices": [], "usage": usage(result.details, sequences)})
        return finals
