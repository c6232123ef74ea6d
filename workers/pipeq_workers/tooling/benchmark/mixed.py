"""Generation with mixed settings: every client its own temperature, top_p and length (16-64
new tokens), half of them seeded; against identical settings and against no batching.

Every client generates the same token budget: a client with 16-token requests sends four
times as many as one with 64. With a fixed number of requests per client, the longest
client would run alone at the end and cap any server's mixed/identical ratio (16..64 tokens
average 40, the longest takes 64 steps: 0.63 at best on a GPU). Lengths are exact
(min = max new tokens), so the random models' early end-of-sequence cannot shorten one side.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from transformers import Pipeline

from pipeq_client.types import TextGenerationRequest
from pipeq_workers.tooling.benchmark.workloads import left_padded, texts

__all__ = [
    "IDENTICAL",
    "Runs",
    "arrival_order",
    "client_settings",
    "direct_identical",
    "direct_one",
    "lengths",
    "makers",
    "schedule",
]

LENGTHS = (16, 24, 32, 48, 64)
IDENTICAL: dict[str, Any] = {"temperature": 1.0, "top_p": 0.9, "max_new_tokens": 32, "min_new_tokens": 32}


def lengths(budget: int) -> list[int]:
    """The request lengths that divide a client's token budget (64: 16, 32, 64; 192: all five)."""
    fitting = [length for length in LENGTHS if budget % length == 0]
    if not fitting or budget % IDENTICAL["max_new_tokens"]:
        raise ValueError(f"token budget {budget} must be a multiple of 32 and of some of {LENGTHS}")
    return fitting


def mixed_parameters(index: int, clients: int, length: int) -> dict[str, Any]:
    """Client ``index`` of ``clients``: its own sampling settings, seeded when ``index`` is even."""
    share = index / max(1, clients - 1)
    # A stride coprime to the client count scatters top_p so it does not follow temperature.
    spread = (index * 7) % clients / max(1, clients - 1)
    parameters: dict[str, Any] = {
        "temperature": round(0.6 + 0.8 * share, 3),
        "top_p": round(0.8 + 0.2 * spread, 3),
        "max_new_tokens": length,
        "min_new_tokens": length,
    }
    if index % 2 == 0:
        parameters["seed"] = 1000 + index
    return parameters


def client_settings(index: int, clients: int, budget: int, mixed: bool) -> list[dict[str, Any]]:
    """The parameters of each request client ``index`` sends, ``budget`` tokens in all."""
    if not mixed:
        return [IDENTICAL] * (budget // IDENTICAL["max_new_tokens"])
    fitting = lengths(budget)
    length = fitting[index % len(fitting)]
    return [mixed_parameters(index, clients, length)] * (budget // length)


# Per client: the (prompt, parameters) of each request it sends, in order.
Runs = list[list[tuple[str, dict[str, Any]]]]


def schedule(clients: int, budget: int, *, is_mixed: bool) -> Runs:
    """Every client's requests, ``budget`` tokens each; every request its own prompt."""
    prompts = iter(texts(clients * budget // lengths(budget)[0]))
    per_client = [client_settings(index, clients, budget, is_mixed) for index in range(clients)]
    return [[(next(prompts), settings) for settings in runs] for runs in per_client]


def arrival_order(runs: Runs) -> list[tuple[str, dict[str, Any]]]:
    """The requests in the order a server sees them when every client sends at once."""
    longest = max(len(requests) for requests in runs)
    return [requests[turn] for turn in range(longest) for requests in runs if turn < len(requests)]


def _maker(text: str, parameters: dict[str, Any]) -> Callable[[], TextGenerationRequest]:
    return lambda: TextGenerationRequest.build(text, parameters=parameters)


def makers(runs: Runs) -> list[list[Callable[[], TextGenerationRequest]]]:
    """Request builders per client, called in the client thread: validation is client work."""
    return [[_maker(text, settings) for text, settings in requests] for requests in runs]


def _sample(pipe: Pipeline, inputs: list[str], batch_size: int, settings: dict[str, Any]) -> None:
    left_padded(pipe)
    sampling = {name: value for name, value in settings.items() if name != "seed"}
    with torch.inference_mode():
        pipe(inputs, batch_size=batch_size, do_sample=True, return_full_text=False, **sampling)


def direct_identical(pipe: Pipeline, inputs: list[str], batch_size: int) -> None:
    """The in-process pipeline with one set of sampling settings for every row."""
    _sample(pipe, inputs, batch_size, IDENTICAL)


def direct_one(pipe: Pipeline, text: str, settings: dict[str, Any]) -> float:
    """One in-process call with one client's settings; returns the tokens it generated."""
    if "seed" in settings:
        torch.manual_seed(settings["seed"])
    _sample(pipe, [text], 1, settings)
    return float(settings["max_new_tokens"])
