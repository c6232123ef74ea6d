"""Runs the suite: direct pipeline first (no worker running), then pipeq unbatched (solo
worker) and batched (threads, batch 32), each under 1 and 32 concurrent clients."""

from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import pipeline

from pipeq_client import Client
from pipeq_client.protocol import Queue, Task
from pipeq_workers.benchmark.measure import (
    direct_latencies,
    direct_stream,
    direct_throughput,
    pipeq_load,
    pipeq_stream,
)
from pipeq_workers.benchmark.models import build_bench_models
from pipeq_workers.benchmark.stats import Spread, percentile
from pipeq_workers.benchmark.workloads import Workload, workloads
from pipeq_workers.embedded import EmbeddedRedis
from pipeq_workers.stack import LocalStack

__all__ = ["BenchConfig", "run_bench"]

MODES = {
    "unbatched": {"PIPEQ_MAX_BATCH_SIZE": "1"},
    "batched": {"PIPEQ_MAX_BATCH_SIZE": "32", "PIPEQ_MAX_WAIT_MS": "10"},
}


@dataclass(frozen=True)
class BenchConfig:
    threads: int = 1
    repeats: int = 3
    requests: int = 96  # per measurement (text tasks); generation uses a quarter
    clients: tuple[int, ...] = (1, 32)

    @classmethod
    def quick(cls) -> BenchConfig:
        return cls(repeats=1, requests=32)

    def count(self, workload: Workload) -> int:
        return max(self.clients[-1], self.requests // (4 if workload.task is Task.TEXT_GENERATION else 1))


def _repeat(config: BenchConfig, measure: Any) -> dict[str, Any]:
    return Spread.of([measure() for _ in range(config.repeats)]).as_dict()


def _direct(config: BenchConfig, models: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for workload in workloads():
        pipe = pipeline(workload.task.value, model=str(models.parent / workload.task.value), device="cpu")
        count = config.count(workload)
        workload.direct(pipe, ["warm up"] * 2, 2)
        latencies = direct_latencies(workload, pipe, min(count, 64))
        results[workload.task.value] = {
            "single": _repeat(config, lambda w=workload, p=pipe, n=count: direct_throughput(w, p, n, 1)),
            "batch32": _repeat(config, lambda w=workload, p=pipe, n=count: direct_throughput(w, p, n, 32)),
            "latency_p50_ms": statistics.median(latencies),
        }
        if workload.task is Task.TEXT_GENERATION:
            first, gaps = direct_stream(pipe, 8)
            results["stream"] = {"ttft_p50_ms": statistics.median(first), "token_gap_p50_ms": statistics.median(gaps)}
    return results


def _pipeq(config: BenchConfig, models: Path, mode: str) -> dict[str, Any]:
    env = {**MODES[mode], "PIPEQ_TORCH_THREADS": str(config.threads)}
    results: dict[str, Any] = {}
    with (
        EmbeddedRedis() as server,
        LocalStack(server.url, models, queues=(Queue.TEXT,), extra_env=env) as stack,
        Client(stack.redis_url) as client,
    ):
        for workload in workloads():
            pipeq_load(workload, client, 2, 2)  # warm up
            count = config.count(workload)
            per_clients = {}
            for clients in config.clients:
                loads = [pipeq_load(workload, client, clients, count // clients) for _ in range(config.repeats)]
                latencies = [latency for load in loads for latency in load.latencies_ms]
                per_clients[str(clients)] = {
                    "throughput": Spread.of([load.throughput for load in loads]).as_dict(),
                    "latency_p50_ms": percentile(latencies, 50),
                    "latency_p99_ms": percentile(latencies, 99),
                }
            results[workload.task.value] = per_clients
            if workload.task is Task.TEXT_GENERATION and mode == "unbatched":
                times = pipeq_stream(workload, client, 8)
                results["stream"] = {
                    "ttft_p50_ms": statistics.median(times.first_ms),
                    "token_gap_p50_ms": statistics.median(times.gaps_ms),
                    "delivery_lag_p50_ms": statistics.median(times.lag_ms),
                    "delivery_lag_p99_ms": percentile(times.lag_ms, 99),
                }
    return results


def _meta(config: BenchConfig) -> dict[str, Any]:
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "device": "cpu",
        "torch_threads": config.threads,
        "repeats": config.repeats,
        "clients": list(config.clients),
        "models": "random-weight BERT 4x256 (classifier, encoder) and Llama 4x256, 32 new tokens",
    }


def run_bench(config: BenchConfig, cache: Path) -> dict[str, Any]:
    """All measurements of one run, as JSON-ready data (targets evaluated by the report)."""
    torch.set_num_threads(config.threads)
    models = build_bench_models(cache)
    direct = _direct(config, models)
    pipeq = {mode: _pipeq(config, models, mode) for mode in MODES}
    return {"meta": _meta(config), "direct": direct, "pipeq": pipeq}
