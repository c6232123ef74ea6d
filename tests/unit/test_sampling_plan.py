"""SamplingPlan: each decision made once from the parameters and the model's generation config,
and a batch key that holds every setting requests must agree on (a coverage test over every
GenerationParameters field)."""

from __future__ import annotations

from dataclasses import fields
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from pipeq_client.types import GenerationParameters, ImageToTextParameters, TranslationParameters
from pipeq_workers.generation.plan import PER_ROW_SETTINGS, SamplingMode, SamplingPlan
from pipeq_workers.handlers.common import batch_key

pytestmark = pytest.mark.unit

DRAWN = 4242
PIPE = object()


def fake_model(**generation_config: Any) -> SimpleNamespace:
    text_config = SimpleNamespace(vocab_size=100)
    return SimpleNamespace(
        generation_config=SimpleNamespace(**{"do_sample": False, **generation_config}),
        config=SimpleNamespace(get_text_config=lambda: text_config),
    )


def plan_of(params: GenerationParameters | None = None, **config: Any) -> SamplingPlan:
    return SamplingPlan.build(params or GenerationParameters(), fake_model(**config), draw=lambda: DRAWN)


@pytest.mark.parametrize(
    ("parameters", "config", "mode", "seed"),
    [
        ({}, {}, SamplingMode.GREEDY, None),
        ({"temperature": 0}, {"do_sample": True}, SamplingMode.GREEDY, None),
        ({"do_sample": False}, {"do_sample": True}, SamplingMode.GREEDY, None),
        ({"seed": 5}, {}, SamplingMode.GREEDY, 5),  # greedy: the seed changes nothing, but is reported
        ({}, {"do_sample": True}, SamplingMode.SAMPLED, DRAWN),
        ({"temperature": 0.7}, {}, SamplingMode.SAMPLED, DRAWN),
        ({"num_return_sequences": 2}, {}, SamplingMode.SAMPLED, DRAWN),
        ({"top_p": 0.9}, {}, SamplingMode.SAMPLED, DRAWN),
        ({"temperature": 0.7, "seed": 9}, {}, SamplingMode.SEEDED, 9),
        ({"do_sample": True, "seed": 0}, {}, SamplingMode.SEEDED, 0),
    ],
)
def test_mode_and_seed_are_decided_once(
    parameters: dict[str, Any], config: dict[str, Any], mode: SamplingMode, seed: int | None
) -> None:
    plan = plan_of(GenerationParameters(**parameters), **config)
    assert (plan.mode, plan.seed) == (mode, seed)
    assert plan.samples is (mode is not SamplingMode.GREEDY)


def test_a_sampling_request_gets_its_own_warpers_never_transformers_top_k_50() -> None:
    plan = plan_of(GenerationParameters(temperature=0.7), top_k=50, top_p=0.5)
    assert (plan.temperature, plan.top_k, plan.top_p, plan.min_p, plan.typical_p) == (0.7, 0, 1.0, None, None)
    assert [type(warper).__name__ for warper in plan.warpers()] == ["TemperatureLogitsWarper"]


def test_sampling_left_to_the_model_uses_its_generation_config_and_transformers_defaults() -> None:
    plan = plan_of(do_sample=True, temperature=0.8, top_p=0.95, top_k=None)
    assert (plan.temperature, plan.top_k, plan.top_p, plan.min_p, plan.typical_p) == (0.8, 50, 0.95, None, 1.0)
    assert [type(warper).__name__ for warper in plan.warpers()] == [
        "TemperatureLogitsWarper",
        "TopKLogitsWarper",
        "TopPLogitsWarper",
    ]


def test_greedy_has_no_warpers_and_no_generator() -> None:
    plan = plan_of(GenerationParameters(temperature=0, top_k=5, seed=3))
    assert plan.temperature is plan.top_k is None
    assert len(plan.warpers()) == 0 and plan.generator(torch.device("cpu")) is None


def test_the_generator_is_the_requests_own_seeded_stream() -> None:
    plan = plan_of(GenerationParameters(temperature=1.0, seed=2**62 + 5))
    first = torch.rand(4, generator=plan.generator(torch.device("cpu")))
    again = torch.rand(4, generator=plan.generator(torch.device("cpu")))
    torch.manual_seed(2**62 + 5)
    assert torch.equal(first, again) and torch.equal(first, torch.rand(4)), "the same stream as a global seed"


def test_processors_are_fresh_per_call_in_the_reference_order() -> None:
    plan = plan_of(GenerationParameters(logit_bias={1: 2.0}, repetition_penalty=1.5, frequency_penalty=0.5))
    first, second = plan.processors(), plan.processors()
    assert [type(p).__name__ for p in first] == [
        "LogitBiasProcessor",
        "RepetitionPenaltyLogitsProcessor",
        "PresenceFrequencyPenaltyProcessor",
    ]
    assert all(a is not b for a, b in zip(first, second, strict=True)), "one processor counts from its first call"


# One setting per GenerationParameters field, applied on top of the defaults; where a field
# needs another to be valid, both are given and the base keeps the other one.
CHANGES: dict[str, dict[str, Any]] = {
    "max_new_tokens": {"max_new_tokens": 7},
    "min_new_tokens": {"min_new_tokens": 2},
    "temperature": {"temperature": 0.5},
    "top_p": {"top_p": 0.9},
    "top_k": {"top_k": 5},
    "min_p": {"min_p": 0.1},
    "typical_p": {"typical_p": 0.9},
    "repetition_penalty": {"repetition_penalty": 1.3},
    "presence_penalty": {"presence_penalty": 0.5},
    "frequency_penalty": {"frequency_penalty": 0.5},
    "stop": {"stop": ["\n"]},
    "seed": {"seed": 11},
    "num_return_sequences": {"num_return_sequences": 2},
    "do_sample": {"do_sample": True},
    "logprobs": {"logprobs": True},
    "top_logprobs": {"logprobs": True, "top_logprobs": 3},
    "logit_bias": {"logit_bias": {5: 1.0}},
    "max_time": {"max_time": 3.0},
}


def test_the_coverage_table_names_every_generation_parameter() -> None:
    assert set(CHANGES) == set(GenerationParameters.model_fields), "a new field needs its row here"


def changed_plan_fields(before: SamplingPlan, after: SamplingPlan) -> set[str]:
    return {field.name for field in fields(SamplingPlan) if getattr(before, field.name) != getattr(after, field.name)}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_every_setting_changes_the_plan_and_the_key_unless_applied_per_row(name: str) -> None:
    change = CHANGES[name]
    before = plan_of(GenerationParameters(**{key: value for key, value in change.items() if key != name}))
    after = plan_of(GenerationParameters(**change))
    changed = changed_plan_fields(before, after)
    assert changed, f"{name} reaches the plan"
    same_key = batch_key(PIPE, before.shared_settings()) == batch_key(PIPE, after.shared_settings())
    # Equal keys only when every plan field the setting moved is applied per row by the runner.
    assert same_key == (changed <= PER_ROW_SETTINGS), (name, changed)


@pytest.mark.parametrize(
    ("model", "base", "changed"),
    [
        (TranslationParameters, {}, {"tgt_lang": "fr"}),
        (TranslationParameters, {}, {"clean_up_tokenization_spaces": True}),
        (ImageToTextParameters, {}, {"prompt": "a photo of"}),
    ],
)
def test_a_tasks_own_parameters_are_in_the_key(
    model: type[GenerationParameters], base: dict[str, Any], changed: dict[str, Any]
) -> None:
    """tgt_lang picks the decoder's forced first token, a caption prompt the decoder's input:
    requests must agree on them, and no list of names can forget a new one."""
    keys = {batch_key(PIPE, plan_of(model(**settings)).shared_settings()) for settings in (base, changed)}
    assert len(keys) == 2


def test_equal_settings_share_a_key_and_pipelines_never_do() -> None:
    params = GenerationParameters(temperature=0, max_new_tokens=4, stop=["x"])
    assert batch_key(PIPE, plan_of(params).shared_settings()) == batch_key(PIPE, plan_of(params).shared_settings())
    assert batch_key(PIPE, {}) != batch_key(object(), {})
