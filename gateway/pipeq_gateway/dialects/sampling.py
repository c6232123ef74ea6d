"""OpenAI sampling fields <-> pipeq GenerationParameters, shared by chat and completions; and what
both answer with: finish reasons, usage, the n sequences of a result."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict

from pipeq_client.errors import RequestValidationError
from pipeq_client.types import GeneratedSequence, GenerationDetails

__all__ = [
    "OpenAISampling",
    "StreamOptions",
    "finish_reason",
    "renamed",
    "sampling_parameters",
    "sequences_of",
    "usage",
]

# pipeq finish reasons -> OpenAI's; a generation cut short by a deadline or a cancel is "length".
_FINISH = {"eos_token": "stop", "stop_sequence": "stop", "length": "length", "time_limit": "length"}

# pipeq field paths in validation errors -> the names an OpenAI caller sent.
OPENAI_NAMES = {
    "parameters.max_new_tokens": "max_tokens",
    "parameters.min_new_tokens": "min_tokens",
    "parameters.num_return_sequences": "n",
    "parameters.return_full_text": "echo",
    "parameters.": "",
}


class StreamOptions(BaseModel):
    include_usage: bool = False


class OpenAISampling(BaseModel):
    """The sampling fields of chat and completions requests, plus vLLM-style extras (top_k, min_p,
    typical_p, repetition_penalty, min_tokens, max_time). Fields OpenAI has that change nothing
    here (user, store, metadata, service_tier...) are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    top_k: int | None = None
    min_p: float | None = None
    typical_p: float | None = None
    repetition_penalty: float | None = None
    min_tokens: int | None = None
    max_time: float | None = None

    @property
    def include_usage(self) -> bool:
        return self.stream_options is not None and self.stream_options.include_usage


def _token_bias(bias: dict[str, float]) -> dict[int, float]:
    try:
        return {int(token): value for token, value in bias.items()}
    except ValueError:
        raise RequestValidationError("logit_bias: keys must be token ids", field="logit_bias") from None


def sampling_parameters(body: OpenAISampling, max_tokens: int | None) -> dict[str, Any]:
    """GenerationParameters fields (unset ones left out: the model's generation config decides)."""
    mapped: dict[str, Any] = {
        "max_new_tokens": max_tokens,
        "min_new_tokens": body.min_tokens,
        "temperature": body.temperature,
        "top_p": body.top_p,
        "top_k": body.top_k,
        "min_p": body.min_p,
        "typical_p": body.typical_p,
        "repetition_penalty": body.repetition_penalty,
        "presence_penalty": body.presence_penalty,
        "frequency_penalty": body.frequency_penalty,
        "stop": [body.stop] if isinstance(body.stop, str) else body.stop,
        "seed": body.seed,
        "num_return_sequences": body.n,
        "max_time": body.max_time,
        "logit_bias": _token_bias(body.logit_bias) if body.logit_bias else None,
    }
    return {name: value for name, value in mapped.items() if value is not None}


def renamed(error: RequestValidationError, names: dict[str, str]) -> RequestValidationError:
    """The same error with pipeq's field paths replaced by the caller's names (first match wins)."""
    pattern = re.compile("|".join(re.escape(name) for name in names))
    field = pattern.sub(lambda found: names[found.group(0)], error.field, count=1) if error.field else None
    message = pattern.sub(lambda found: names[found.group(0)], error.message)
    return type(error)(message, field=field)


def finish_reason(reason: str) -> str:
    return _FINISH.get(reason, "length")


def sequences_of(result: Any) -> list[GeneratedSequence]:
    """The n sequences of a generation result (one when n = 1)."""
    text = getattr(result, "generated_text", None)
    return result.sequences or [GeneratedSequence(text=text or "", details=result.details)]


def usage(details: GenerationDetails, sequences: list[GeneratedSequence]) -> dict[str, int]:
    prompt = details.prompt_tokens or 0
    completion = sum(sequence.details.generated_tokens for sequence in sequences)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
