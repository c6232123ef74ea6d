"""GenerationParameters: the sampling settings shared by every generative task.

Semantics and ranges follow the project's sampling reference (OpenAI for presence and
frequency penalties, transformers for repetition penalty, vLLM for validation).
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import Field, StringConstraints, field_validator, model_validator

from pipeq_client.types.common import MAX_SEED, Float, Int, StrictModel

__all__ = [
    "FinishReason",
    "GeneratedSequence",
    "GeneratedToken",
    "GenerationDetails",
    "GenerationParameters",
    "MAX_NEW_TOKENS_LIMIT",
    "MAX_STOP_SEQUENCES",
]

MAX_NEW_TOKENS_LIMIT = 8192
MAX_STOP_SEQUENCES = 4
LOGIT_BIAS_LIMIT = 100.0
MAX_LOGIT_BIAS_ENTRIES = 1024
# Below these, logits / T and logits / θ overflow float32 (5e-324 becomes 0 on the device):
# vLLM's floor for temperature; the same one for the repetition penalty's divisor.
MIN_TEMPERATURE = 0.01
MIN_REPETITION_PENALTY = 0.01


class GenerationParameters(StrictModel):
    """Sampling settings. ``None`` means: the model's generation config decides."""

    max_new_tokens: Int | None = Field(None, ge=1, le=MAX_NEW_TOKENS_LIMIT, description="Cap on generated tokens.")
    min_new_tokens: Int | None = Field(None, ge=0, le=MAX_NEW_TOKENS_LIMIT, description="EOS blocked until reached.")
    temperature: Float | None = Field(
        None, ge=0.0, le=2.0, description=f"0 = greedy; else logits / T, T >= {MIN_TEMPERATURE}."
    )
    top_p: Float | None = Field(None, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    top_k: Int | None = Field(None, ge=0, le=100_000, description="0 = off.")
    min_p: Float | None = Field(None, ge=0.0, le=1.0, description="Minimum probability relative to the top token.")
    typical_p: Float | None = Field(None, gt=0.0, le=1.0, description="Locally typical sampling mass.")
    repetition_penalty: Float | None = Field(
        None, ge=MIN_REPETITION_PENALTY, le=10.0, description="CTRL rule over prompt and generated tokens; 1 = off."
    )
    presence_penalty: Float | None = Field(None, ge=-2.0, le=2.0, description="OpenAI presence penalty; 0 = off.")
    frequency_penalty: Float | None = Field(None, ge=-2.0, le=2.0, description="OpenAI frequency penalty; 0 = off.")
    stop: list[Annotated[str, StringConstraints(min_length=1, max_length=256)]] | None = Field(
        None, max_length=MAX_STOP_SEQUENCES, description="Stop strings; not included in the returned text."
    )
    seed: Int | None = Field(
        None, ge=0, le=MAX_SEED, description="Same seed and settings give the same output; unset: drawn, reported."
    )
    num_return_sequences: Int | None = Field(None, ge=1, le=16, description="n: sequences returned.")
    do_sample: bool | None = Field(None, description="Sample instead of greedy; implied by temperature > 0.")
    logprobs: bool | None = Field(None, description="Return log-probabilities of the generated tokens.")
    top_logprobs: Int | None = Field(None, ge=0, le=20, description="Alternatives per step (needs logprobs).")
    logit_bias: dict[int, Float] | None = Field(
        None, max_length=MAX_LOGIT_BIAS_ENTRIES, description="token id -> bias added to its logit."
    )
    max_time: Float | None = Field(
        None, gt=0, le=3600, description="Deadline in seconds, enforced between steps (finish_reason time_limit)."
    )

    @field_validator("temperature")
    @classmethod
    def _usable_temperature(cls, value: float | None) -> float | None:
        if value is not None and 0 < value < MIN_TEMPERATURE:
            raise ValueError(f"must be 0 (greedy) or at least {MIN_TEMPERATURE}")
        return value

    @field_validator("logit_bias")
    @classmethod
    def _clamp_bias(cls, value: dict[int, float] | None) -> dict[int, float] | None:
        if value is None:
            return None
        if any(token_id < 0 for token_id in value):
            raise ValueError("token ids must be >= 0")
        return {k: max(-LOGIT_BIAS_LIMIT, min(LOGIT_BIAS_LIMIT, v)) for k, v in value.items()}

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        low, high = self.min_new_tokens, self.max_new_tokens
        if low is not None and high is not None and low > high:
            raise ValueError(f"min_new_tokens ({low}) must be <= max_new_tokens ({high})")
        if self.temperature == 0 and (self.num_return_sequences or 1) > 1:
            raise ValueError("num_return_sequences must be 1 when temperature is 0 (greedy decoding)")
        if self.do_sample is False and (self.num_return_sequences or 1) > 1:
            raise ValueError("num_return_sequences must be 1 when do_sample is false (greedy decoding)")
        if self.temperature == 0 and self.do_sample:
            raise ValueError("do_sample cannot be true when temperature is 0 (greedy decoding)")
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs=true")
        return self


FinishReason = Literal["length", "eos_token", "stop_sequence", "cancelled", "time_limit"]


class GeneratedToken(StrictModel):
    """One generated token; ``logprob`` under the model's raw distribution (log_softmax of raw logits)."""

    id: int
    text: str
    logprob: float | None = None
    special: bool = False


class GenerationDetails(StrictModel):
    """How a sequence ended, and (with ``logprobs``) its tokens (TGI-like)."""

    finish_reason: FinishReason
    generated_tokens: int
    prompt_tokens: int | None = Field(None, description="Tokens of the model's text input (chat template included).")
    seed: int | None = None
    tokens: list[GeneratedToken] | None = None
    top_tokens: list[list[GeneratedToken]] | None = None


class GeneratedSequence(StrictModel):
    """One of the n sequences when num_return_sequences > 1."""

    text: str
    details: GenerationDetails
