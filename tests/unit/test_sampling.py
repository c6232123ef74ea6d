"""Penalty arithmetic checked on small logits tensors against the formulas."""

from types import SimpleNamespace

import pytest
import torch

from pipeq_client.errors import UnsupportedParameterError
from pipeq_client.types import GenerationParameters
from pipeq_workers.generation.plan import SamplingPlan
from pipeq_workers.generation.sampling import LogitBiasProcessor, PresenceFrequencyPenaltyProcessor

pytestmark = pytest.mark.unit


def fake_model(vocab_size: int = 10, do_sample: bool = False) -> SimpleNamespace:
    text_config = SimpleNamespace(vocab_size=vocab_size)
    return SimpleNamespace(
        generation_config=SimpleNamespace(do_sample=do_sample),
        config=SimpleNamespace(get_text_config=lambda: text_config),
    )


def kwargs_of(vocab_size: int = 10, **parameters: object) -> dict[str, object]:
    return SamplingPlan.build(GenerationParameters(**parameters), fake_model(vocab_size)).generate_kwargs()


def test_presence_and_frequency_count_generated_tokens_only() -> None:
    processor = PresenceFrequencyPenaltyProcessor(presence=0.5, frequency=0.25)
    scores = torch.zeros(1, 5)
    processor(torch.tensor([[1, 1]]), scores)  # first call: the prompt, never penalised
    out = processor(torch.tensor([[1, 1, 2, 2, 3]]), scores)
    # token 1 only in the prompt: 0; token 2 twice: 2*0.25 + 0.5; token 3 once: 0.25 + 0.5
    assert out.tolist() == [[0.0, 0.0, -1.0, -0.75, 0.0]]


def test_logit_bias_adds_and_the_plan_checks_the_vocabulary() -> None:
    out = LogitBiasProcessor({0: 100.0, 3: -2.0})(torch.tensor([[0]]), torch.ones(1, 4))
    assert out.tolist() == [[101.0, 1.0, 1.0, -1.0]]
    with pytest.raises(UnsupportedParameterError, match="vocabulary size 4"):
        SamplingPlan.build(GenerationParameters(logit_bias={4: 1.0}), fake_model(vocab_size=4))


def test_sampling_is_always_explicit_so_transformers_top_k_50_never_applies() -> None:
    assert kwargs_of(temperature=0.7) == {
        "num_return_sequences": 1, "do_sample": True, "temperature": 0.7, "top_k": 0, "top_p": 1.0,
    }  # fmt: skip
    assert kwargs_of(temperature=0) == {"num_return_sequences": 1, "do_sample": False}
    assert kwargs_of() == {"num_return_sequences": 1, "do_sample": False}


def test_custom_processors_run_in_the_reference_order() -> None:
    """logit_bias -> repetition -> presence/frequency; the model's own repetition penalty is off."""
    kwargs = kwargs_of(vocab_size=4, logit_bias={1: 2.0}, repetition_penalty=2.0, presence_penalty=1.0)
    assert kwargs["repetition_penalty"] == 1.0
    processors = kwargs["logits_processor"]
    assert [type(p).__name__ for p in processors] == [  # type: ignore[attr-defined]
        "LogitBiasProcessor",
        "RepetitionPenaltyLogitsProcessor",
        "PresenceFrequencyPenaltyProcessor",
    ]
    prompt = torch.tensor([[1]])
    scores = torch.tensor([[0.0, -1.0, 0.5, 0.0]])
    processors(prompt, scores.clone())  # type: ignore[operator]  # first call fixes the prompt length
    out = processors(torch.tensor([[1, 2]]), scores.clone())  # type: ignore[operator]
    # token 1: (-1 + 2) / 2 = 0.5 (bias first, then CTRL rule on a positive logit), not yet generated
    # token 2: 0.5 / 2 (repetition) - 1 (presence: generated once) = -0.75
    assert out.tolist() == [[0.0, 0.5, -0.75, 0.0]]
