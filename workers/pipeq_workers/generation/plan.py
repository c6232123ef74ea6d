"""SamplingPlan: what a request's generation settings mean for this model, decided once.

Built from the request's parameters and the model (its generation config and vocabulary)
on the request's own thread, before it reaches the model thread; every later stage -- the
batch key, the processors, the runner, the reported seed -- reads the plan and never
re-derives a decision from the parameters. As vLLM's ``SamplingParams.sampling_type``,
``mode`` says once whether a request is greedy, sampled with a drawn seed, or seeded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any, Self

import torch
from transformers import (
    LogitsProcessorList,
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)

from pipeq_client.errors import UnsupportedParameterError
from pipeq_client.types import GenerationParameters
from pipeq_workers.generation.sampling import LogitBiasProcessor, PresenceFrequencyPenaltyProcessor, draw_seed

__all__ = ["PER_ROW_SETTINGS", "SamplingMode", "SamplingPlan", "will_sample"]

# Settings the runner applies per row (per request) inside one generate() call: requests
# that differ only in these share a batch. Every other plan field -- and any field added
# later, until the runner applies it per row -- is part of the batch key: today
# num_return_sequences (generate() expands every prompt alike) and the task's own options.
PER_ROW_SETTINGS: frozenset[str] = frozenset(
    {
        "mode",
        "seed",
        "max_new_tokens",
        "min_new_tokens",
        "temperature",
        "top_k",
        "top_p",
        "min_p",
        "typical_p",
        "repetition_penalty",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "stop",
        "logprobs",
        "top_logprobs",
        "max_time",
    }
)

_WARPERS = ("top_p", "min_p", "typical_p")
# transformers' values where neither the request nor the model's generation config sets one.
_MODEL_DEFAULTS: dict[str, Any] = {"temperature": 1.0, "top_k": 50, "top_p": 1.0, "min_p": None, "typical_p": 1.0}


class SamplingMode(StrEnum):
    """How the next token is chosen."""

    GREEDY = "greedy"
    SAMPLED = "sampled"  # sampling without a seed of its own: the worker drew one (reported)
    SEEDED = "seeded"  # sampling with the request's seed: must reproduce


def _request_samples(params: GenerationParameters) -> bool | None:
    """True/False when the request decides, None when the model's generation config does.
    n > 1 samples unless the request asks for greedy (which validation refuses with n > 1):
    greedy decoding has only one sequence to give."""
    if params.temperature == 0:
        return False
    if params.do_sample is not None:
        return params.do_sample
    if params.temperature is not None or params.top_k is not None:
        return True
    if (params.num_return_sequences or 1) > 1:
        return True
    if any(getattr(params, name) is not None for name in _WARPERS):
        return True
    return None


def will_sample(params: GenerationParameters, generation_config: Any) -> bool:
    """Whether generation samples: the request decides, else the model's generation config."""
    decided = _request_samples(params)
    return bool(generation_config.do_sample) if decided is None else decided


def _warpers(params: GenerationParameters, generation_config: Any) -> dict[str, Any]:
    """The warper values in force when sampling. A request that asks to sample gets its own
    values and pipeq's defaults (top_k 0: transformers would add top_k=50); one that leaves
    it to the model gets the model's generation config, as transformers would apply it
    (of its warpers, these five: top_h, epsilon and eta cutoffs are not carried over)."""
    if _request_samples(params) is None:
        return {name: _config_value(generation_config, name) for name in _MODEL_DEFAULTS}
    return {
        "temperature": params.temperature if params.temperature is not None else 1.0,
        "top_k": params.top_k if params.top_k is not None else 0,
        "top_p": params.top_p if params.top_p is not None else 1.0,
        "min_p": params.min_p,
        "typical_p": params.typical_p,
    }


def _config_value(generation_config: Any, name: str) -> Any:
    value = getattr(generation_config, name, None)
    return _MODEL_DEFAULTS[name] if value is None else value


def _mode(params: GenerationParameters, generation_config: Any) -> SamplingMode:
    if not will_sample(params, generation_config):
        return SamplingMode.GREEDY
    return SamplingMode.SAMPLED if params.seed is None else SamplingMode.SEEDED


def _model_default(value: Any, generation_config: Any, name: str, off: Any) -> Any:
    """The request's value, else the model's own unless it is ``off``: pipeq applies it per row."""
    if value is not None:
        return value
    own = getattr(generation_config, name, None)
    return None if own is None or own == off else own


def _check_logit_bias(bias: dict[int, float], vocab_size: int) -> None:
    too_large = [token_id for token_id in bias if token_id >= vocab_size]
    if too_large:
        raise UnsupportedParameterError(
            f"parameters.logit_bias: token ids {too_large} are not below the vocabulary size {vocab_size}",
            field="parameters.logit_bias",
        )


def _task_options(params: GenerationParameters) -> tuple[tuple[str, str], ...]:
    """The task's own parameters (prompt, tgt_lang, truncation...): every field a task adds to
    GenerationParameters, as JSON, so none can be left out of the batch key."""
    own = params.model_dump(mode="json", exclude=set(GenerationParameters.model_fields))
    return tuple(sorted((name, json.dumps(value, sort_keys=True)) for name, value in own.items()))


@dataclass(frozen=True)
class SamplingPlan:
    """One request's generation settings, resolved against the model. Warper fields are None
    when greedy; ``seed`` is the request's, or the drawn one when it samples without one."""

    mode: SamplingMode
    seed: int | None
    num_return_sequences: int
    max_new_tokens: int | None  # None: the model's generation config decides (limits.new_tokens)
    min_new_tokens: int | None  # the request's, else the model's own
    temperature: float | None
    top_k: int | None
    top_p: float | None
    min_p: float | None
    typical_p: float | None
    repetition_penalty: float | None  # the request's, else the model's own; None: off
    presence_penalty: float
    frequency_penalty: float
    logit_bias: tuple[tuple[int, float], ...]
    stop: tuple[str, ...]
    logprobs: bool
    top_logprobs: int
    max_time: float | None
    options: tuple[tuple[str, str], ...]

    @classmethod
    def build(cls, params: GenerationParameters, model: Any, draw: Callable[[], int] = draw_seed) -> Self:
        """The plan of ``params`` on ``model``; UnsupportedParameterError for a setting the
        model cannot take (a logit_bias id past its vocabulary)."""
        config = model.generation_config
        _check_logit_bias(params.logit_bias or {}, int(model.config.get_text_config().vocab_size))
        mode = _mode(params, config)
        warpers = _warpers(params, config) if mode is not SamplingMode.GREEDY else dict.fromkeys(_MODEL_DEFAULTS)
        return cls(
            mode=mode,
            # Sampling without a seed: one is drawn and reported (as TGI does), so it reproduces.
            seed=draw() if mode is SamplingMode.SAMPLED else params.seed,
            num_return_sequences=params.num_return_sequences or 1,
            max_new_tokens=params.max_new_tokens,
            min_new_tokens=_model_default(params.min_new_tokens, config, "min_new_tokens", 0),
            **warpers,
            repetition_penalty=_model_default(params.repetition_penalty, config, "repetition_penalty", 1.0),
            presence_penalty=params.presence_penalty or 0.0,
            frequency_penalty=params.frequency_penalty or 0.0,
            logit_bias=tuple((params.logit_bias or {}).items()),
            stop=tuple(params.stop or ()),
            logprobs=bool(params.logprobs),
            top_logprobs=params.top_logprobs or 0,
            max_time=params.max_time,
            options=_task_options(params),
        )

    @property
    def samples(self) -> bool:
        return self.mode is not SamplingMode.GREEDY

    def shared_settings(self) -> dict[str, Any]:
        """Every field but the per-row ones: what requests must agree on to share a batch."""
        return {field.name: getattr(self, field.name) for field in fields(self) if field.name not in PER_ROW_SETTINGS}

    def processors(self) -> LogitsProcessorList:
        """Fresh instances (some count from their first call): logit_bias -> repetition ->
        presence/frequency, the reference order."""
        processors = LogitsProcessorList()
        if self.logit_bias:
            processors.append(LogitBiasProcessor(dict(self.logit_bias)))
        if self.repetition_penalty is not None:
            processors.append(RepetitionPenaltyLogitsProcessor(self.repetition_penalty))
        if self.presence_penalty or self.frequency_penalty:
            processors.append(PresenceFrequencyPenaltyProcessor(self.presence_penalty, self.frequency_penalty))
        return processors

    def warpers(self) -> LogitsProcessorList:
        """temperature -> top-k -> top-p -> min-p -> typical-p, built as transformers builds
        them when it samples (identity values left out): empty when greedy."""
        warpers = LogitsProcessorList()
        if not self.samples:
            return warpers
        if self.temperature is not None and self.temperature != 1.0:
            warpers.append(TemperatureLogitsWarper(self.temperature))
        if self.top_k:
            warpers.append(TopKLogitsWarper(top_k=self.top_k))
        if self.top_p is not None and self.top_p < 1.0:
            warpers.append(TopPLogitsWarper(top_p=self.top_p))
        if self.min_p is not None:
            warpers.append(MinPLogitsWarper(min_p=self.min_p))
        if self.typical_p is not None and self.typical_p < 1.0:
            warpers.append(TypicalLogitsWarper(mass=self.typical_p))
        return warpers

    def generator(self, device: torch.device) -> torch.Generator | None:
        """This request's own random stream: seeded, so it does not depend on its batch-mates."""
        if not self.samples or self.seed is None:
            return None
        return torch.Generator(device=device).manual_seed(self.seed)

    def generate_kwargs(self) -> dict[str, Any]:
        """``generate()`` kwargs for a pipeline that samples through transformers itself
        (speech recognition): explicit warpers, so the model's own never creep in."""
        kwargs: dict[str, Any] = {"num_return_sequences": self.num_return_sequences, "do_sample": self.samples}
        if self.max_new_tokens is not None:
            kwargs["max_new_tokens"] = self.max_new_tokens
        if self.min_new_tokens is not None:
            kwargs["min_new_tokens"] = self.min_new_tokens
        if self.repetition_penalty is not None:
            # Applied by pipeq's processor list (after logit_bias), in place of transformers' own.
            kwargs["repetition_penalty"] = 1.0
        if self.samples:
            kwargs.update(temperature=self.temperature, top_k=self.top_k, top_p=self.top_p)
            kwargs.update({name: getattr(self, name) for name in ("min_p", "typical_p") if getattr(self, name)})
        processors = self.processors()
        if processors:
            kwargs["logits_processor"] = processors
        return kwargs
