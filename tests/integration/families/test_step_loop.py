"""The continuous-batching step loop on each decoder-only family's tiny build, in-process:
requests that join a running batch between steps get exactly what generate() gives each of
them alone (greedy and seeded tokens, logprobs to 4 places, n sequences, stop strings), for
rotary (Llama, Qwen2) and absolute (GPT-2) positions alike. Through the queue the same is
checked in test_mixed_batching.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from pipeq_client.protocol import Task
from pipeq_client.types import GenerationParameters
from pipeq_workers.generation.continuous import StepLoop, decodes_in_steps
from pipeq_workers.generation.plan import SamplingPlan
from pipeq_workers.generation.runner import GenerationControl, GenerationJob, Prompt, run_generation_batch
from pipeq_workers.runtime.batching import Call
from tests.integration.families.support import family_model
from tests.integration.test_batching import rounded

pytestmark = pytest.mark.integration

PROMPTS = ["hello", "the quick brown fox jumps over the lazy dog", "a queue", "no", "I love it", "one two three"]
SETTINGS: list[dict[str, Any]] = [
    {"temperature": 0, "max_new_tokens": 9, "logprobs": True, "top_logprobs": 2},
    {"temperature": 0.9, "seed": 7, "top_k": 20, "max_new_tokens": 14},
    {"temperature": 1.2, "seed": 3, "top_p": 0.9, "repetition_penalty": 1.4, "max_new_tokens": 5},
    {"temperature": 0, "presence_penalty": 1.0, "min_new_tokens": 4, "max_new_tokens": 12},
    {"temperature": 0.8, "seed": 11, "num_return_sequences": 2, "max_new_tokens": 7, "logprobs": True},
    {"temperature": 1.0, "seed": 5, "frequency_penalty": 0.5, "max_new_tokens": 16},
]


def prompt_of(tokenizer: Any, text: str) -> Callable[[], Prompt]:
    encoded = tokenizer(text, return_tensors="pt")
    inputs = {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}
    return lambda: Prompt(dict(inputs), int(encoded["input_ids"].shape[1]))


def alone(model: Any, tokenizer: Any, text: str, plan: SamplingPlan) -> Any:
    job = GenerationJob(prompt_of(tokenizer, text)(), GenerationControl(), plan)
    with torch.inference_mode():
        sequences = run_generation_batch(model, tokenizer, [job])[0]
    return rounded([sequence.model_dump(mode="json") for sequence in sequences])


@pytest.mark.parametrize("family", ["llama", "gpt2", "qwen2"])
def test_requests_joining_between_steps_get_what_they_get_alone(families_config: Path, family: str) -> None:
    _, directory = family_model(families_config, Task.TEXT_GENERATION, family)
    model = AutoModelForCausalLM.from_pretrained(directory).eval()
    tokenizer = AutoTokenizer.from_pretrained(directory)
    assert decodes_in_steps(model)
    plans = [SamplingPlan.build(GenerationParameters(**settings), model) for settings in SETTINGS]
    calls = [
        Call(family, lambda items: [], (prompt_of(tokenizer, text), GenerationControl(), plan), 8)
        for text, plan in zip(PROMPTS, plans, strict=True)
    ]
    steps = 0
    later = calls[2:]  # two start; the others join at steps 3 and 6, while those still run

    def join(room: int) -> list[Call]:
        nonlocal steps
        steps += 1
        if steps in (3, 6):
            taken = later[:2] if steps == 3 else later[2:]
            assert not all(call.future.done() for call in calls[:2]), "joined a running batch"
            return taken
        return []

    StepLoop(model, tokenizer, None)(calls[:2], join)
    for call, text, plan in zip(calls, PROMPTS, plans, strict=True):
        got = rounded([sequence.model_dump(mode="json") for sequence in call.future.result(timeout=0)])
        assert got == alone(model, tokenizer, text, plan), (family, text)
