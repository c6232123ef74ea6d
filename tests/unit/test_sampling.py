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


def test_parameters_not_served_yet_are_refused_not_ignored() -> None:
    with pytest.raises(UnsupportedParameterError) as caught:
        generate_kwargs(GenerationParameters(stop=["x"]), vocab_size=10)
    assert caught.value.field == "parameters.stop"
