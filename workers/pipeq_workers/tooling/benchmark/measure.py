"""Measurement loops. Each returns the :class:`Work` it did; a :class:`Probe` window around it
adds wall time and CPU. Direct loops run in the bench process; pipeq loops are closed-loop
clients (threads), each sending its next request when the previous answer arrives."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import torch
from transformers import Pipeline
from transformers.generation.streamers import BaseStreamer

from pipeq_client import Client
from pipeq_client.events import TokenEvent
from pipeq_client.types import TaskRequest
from pipeq_workers.tooling.benchmark.window import Work
from pipeq_workers.tooling.benchmark.workloads import NEW_TOKENS, produced

__all__ = [
    "RequestMaker",
    "direct_batches",
    "direct_calls",
    "direct_stream",
    "pipeq_calls",
    "pipeq_load",
    "pipeq_stream",
    "spread_over",
]

# Builds one request when its client is about to send it (building is client work).
RequestMaker = Callable[[], TaskRequest[Any]]


def direct_batches(call: Callable[[list[str]], None], inputs: list[str], batch_size: int, units: float) -> Work:
    """``call`` on consecutive slices of ``batch_size`` inputs."""
    for start in range(0, len(inputs), batch_size):
        call(inputs[start : start + batch_size])
    return Work(len(inputs), len(inputs) * units)


def direct_calls(calls: list[Callable[[], float]]) -> Work:
    """Each call in turn, timed; a call returns the units it produced."""
    latencies, units = [], 0.0
    for call in calls:
        started = time.perf_counter()
        units += call()
        latencies.append((time.perf_counter() - started) * 1e3)
    return Work(len(calls), units, {"latency_ms": latencies})


def pipeq_calls(client: Client, makers: Sequence[RequestMaker], units: float) -> Work:
    """One request after another from the calling thread, each timed."""
    latencies, made = [], 0.0
    for make in makers:
        request = make()
        started = time.perf_counter()
        result = client.run(request, timeout=600)
        latencies.append((time.perf_counter() - started) * 1e3)
        made += produced(result, units)
    return Work(len(makers), made, {"latency_ms": latencies})


def spread_over(makers: list[RequestMaker], clients: int) -> list[list[RequestMaker]]:
    """``makers`` dealt into ``clients`` equal runs (a remainder is dropped)."""
    per_client = len(makers) // clients
    return [makers[index * per_client : (index + 1) * per_client] for index in range(clients)]


def pipeq_load(client: Client, schedule: Sequence[Sequence[RequestMaker]], units: float) -> Work:
    """One thread per entry of ``schedule``: each sends its requests one after another."""
    latencies: list[float] = []
    made: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def one_client(makers: Sequence[RequestMaker]) -> None:
        try:
            for make in makers:
                request = make()
                started = time.perf_counter()
                result = client.run(request, timeout=600)
                with lock:
                    latencies.append((time.perf_counter() - started) * 1e3)
                    made.append(produced(result, units))
        except BaseException as error:  # surfaced after join: a failed request must fail the bench
            errors.append(error)

    threads = [threading.Thread(target=one_client, args=(makers,)) for makers in schedule]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return Work(len(latencies), sum(made), {"latency_ms": latencies})


class _Clock(BaseStreamer):
    """Timestamps of each generated token (the first put is the prompt)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.prompt_seen = False

    def put(self, value: Any) -> None:
        if self.prompt_seen:
            self.times.append(time.perf_counter())
        self.prompt_seen = True

    def end(self) -> None:
        return None


def direct_stream(pipe: Pipeline, prompts: list[str]) -> Work:
    """In-process generate() with a streamer: time to first token and gaps between tokens, ms."""
    first, gaps = [], []
    for text in prompts:
        clock = _Clock()
        started = time.perf_counter()
        with torch.inference_mode():
            pipe(text, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False, streamer=clock)
        first.append((clock.times[0] - started) * 1e3)
        gaps += [(b - a) * 1e3 for a, b in itertools.pairwise(clock.times)]
    return Work(len(prompts), len(prompts) * NEW_TOKENS, {"ttft_ms": first, "gap_ms": gaps})


def pipeq_stream(client: Client, request: Callable[[str], TaskRequest[Any]], prompts: list[str]) -> Work:
    """Streams one request at a time. ``gap_ms``: between tokens as the client receives them;
    ``worker_gap_ms``: as the worker published them; ``lag_ms``: published -> received."""
    first, gaps, worker_gaps, lags = [], [], [], []
    tokens = 0
    for text in prompts:
        started = time.perf_counter()
        received = [
            (time.perf_counter(), time.time(), event.published_at or 0.0)
            for event in client.submit(request(text)).stream(timeout=600)
            if isinstance(event, TokenEvent) and event.token_id is not None
        ]
        tokens += len(received)
        first.append((received[0][0] - started) * 1e3)
        gaps += [(b[0] - a[0]) * 1e3 for a, b in itertools.pairwise(received)]
        worker_gaps += [(b[2] - a[2]) * 1e3 for a, b in itertools.pairwise(received)]
        lags += [(wall - published) * 1e3 for _, wall, published in received]
    series = {"ttft_ms": first, "gap_ms": gaps, "worker_gap_ms": worker_gaps, "lag_ms": lags}
    return Work(len(prompts), tokens, series)
