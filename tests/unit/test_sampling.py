"""Penalty arithmetic checked on small logits tensors against the formulas."""

import pytest
import torch

from pipeq_client.errors import UnsupportedParameterError
from pipeq_client.types import GenerationParameters
from pipeq_workers.sampling import LogitBiasProcessor, PresenceFrequencyPenaltyProcessor, generate_kwargs

pytestmark = pytest.mark.unit


def test_presence_and_frequency_count_generated_tokens_only() -> None:
    processor = PresenceFrequencyPenaltyProcessor(presence=0.5, frequency=0.25)
    scores = torch.zeros(1, 5)
    processor(torch.tensor([[1, 1]]), scores)  # first call: the prompt, never penalised
    out = processor(torch.tensor([[1, 1, 2, 2, 3]]), scores)
    # token 1 only in the prompt: 0; token 2 twice: 2*0.25 + 0.5; token 3 once: 0.25 + 0.5
    assert out.tolist() == [[0.0, 0.0, -1.0, -0.75, 0.0]]


def test_logit_bias_adds_and_checks_vocabulary() -> None:
    out = LogitBiasProcessor({0: 100.0, 3: -2.0}, vocab_size=4)(torch.tensor([[0]]), torch.ones(1, 4))
    assert out.tolist() == [[101.0, 1.0, 1.0, -1.0]]
    with pytest.raises(UnsupportedParameterError):
        LogitBiasProcessor({4: 1.0}, vocab_size=4)


def test_sampling_is_always_explicit_so_transformers_top_k_50_never_applies() -> None:
    kwargs = generate_kwargs(GenerationParameters(temperature=0.7), vocab_size=10)
    assert kwargs == {"do_sample": True, "temperature": 0.7, "top_k": 0, "top_p": 1.0}
    assert generate_kwargs(GenerationParameters(temperature=0), vocab_size=10) == {"do_sample": False}
    assert generate_kwargs(GenerationParameters(), vocab_size=10) == {}


def test_custom_processors_run_in_the_reference_order() -> None:
    """logit_bias -> repetition -> presence/frequency; the model's own repetition penalty is off."""
    params = GenerationParameters(logit_bias={1: 2.0}, repetition_penalty=2.0, presence_penalty=1.0)
    kwargs = generate_kwargs(params, vocab_size=4)
    assert kwargs["repetition_penalty"] == 1.0
    processors = kwargs["logits_processor"]
    assert [type(p).__name__ for p in processors] == [
        "LogitBiasProcessor",
        "RepetitionPenaltyLogitsProcessor",
        "PresenceFrequencyPenaltyProcessor",
    ]
    prompt = torch.tensor([[1]])
    scores = torch.tensor([[0.0, -1.0, 0.5, 0.0]])
    processors(prompt, scores.clone())  # first call fixes the prompt length
    out = processors(torch.tensor([[1, 2]]), scores.clone())
    # token 1: (-1 + 2) / 2 = 0.5 (bias first, then CTRL rule on a positive logit), not yet generated
    # token 2: 0.5 / 2 (repetition) - 1 (presence: generated once) = -0.75
    assert out.tolist() == [[0.0, 0.5, -0.75, 0.0]]
