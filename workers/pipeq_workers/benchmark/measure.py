"""Measurement loops: the direct pipeline, pipeq under N closed-loop clients, streaming."""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from typing import Any

import torch
from transformers import Pipeline
from transformers.generation.streamers import BaseStreamer

from pipeq_client import Client
from pipeq_client.events import TokenEvent
from pipeq_workers.benchmark.workloads import NEW_TOKENS, Workload, texts

__all__ = [
    "Load",
    "StreamTimes",
    "direct_latencies",
    "direct_stream",
    "direct_throughput",
    "pipeq_load",
    "pipeq_stream",
]


@dataclass(frozen=True)
class Load:
    """One closed-loop run: throughput in units/s and every request's latency in ms."""

    throughput: float
    latencies_ms: list[float]


def direct_throughput(workload: Workload, pipe: Pipeline, count: int, batch_size: int) -> float:
    inputs = texts(count)
    started = time.perf_counter()
    for start in range(0, count, batch_size):
        workload.direct(pipe, inputs[start : start + batch_size], batch_size)
    return count * workload.units / (time.perf_counter() - started)


def direct_latencies(workload: Workload, pipe: Pipeline, count: int) -> list[float]:
    latencies = []
    for text in texts(count):
        started = time.perf_counter()
        workload.direct(pipe, [text], 1)
        latencies.append((time.perf_counter() - started) * 1e3)
    return latencies


def pipeq_load(workload: Workload, client: Client, clients: int, per_client: int) -> Load:
    """``clients`` threads, each sending ``per_client`` requests one after another."""
    inputs = texts(clients * per_client)
    latencies: list[float] = []
    lock = threading.Lock()

    def one_client(offset: int) -> None:
        for index in range(per_client):
            request = workload.request(inputs[offset * per_client + index])
            started = time.perf_counter()
            client.run(request, timeout=600)
            with lock:
                latencies.append((time.perf_counter() - started) * 1e3)

    threads = [threading.Thread(target=one_client, args=(offset,)) for offset in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return Load(len(inputs) * workload.units / elapsed, latencies)


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


def direct_stream(pipe: Pipeline, count: int) -> tuple[list[float], list[float]]:
    """(time to first token ms, gaps between tokens ms) of in-process generate() with a streamer."""
    first, gaps = [], []
    for text in texts(count):
        clock = _Clock()
        started = time.perf_counter()
        with torch.inference_mode():
            pipe(text, max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, do_sample=False, streamer=clock)
        first.append((clock.times[0] - started) * 1e3)
        gaps += [(b - a) * 1e3 for a, b in zip(clock.times, clock.times[1:], strict=False)]
    return first, gaps


@dataclass(frozen=True)
class StreamTimes:
    """Time to first token, gaps between tokens as the worker produced them, and each token's
    delivery lag (published by the worker -> received by the client), all in ms."""

    first_ms: list[float]
    gaps_ms: list[float]
    lag_ms: list[float]


def pipeq_stream(workload: Workload, client: Client, count: int) -> StreamTimes:
    first, gaps, lags = [], [], []
    for text in texts(count):
        started = time.perf_counter()
        job = client.submit(workload.request(text))
        received = []
        for event in job.stream(timeout=600):
            if isinstance(event, TokenEvent) and event.token_id is not None:
                received.append((time.perf_counter(), time.time(), event.published_at or 0.0))
        first.append((received[0][0] - started) * 1e3)
        produced = [published for _, _, published in received]
        gaps += [(b - a) * 1e3 for a, b in itertools.pairwise(produced)]
        lags += [(wall - published) * 1e3 for _, wall, published in received]
    return StreamTimes(first, gaps, lags)
