"""Runs the suite. All servers stay up for the whole run; every repeat of a workload runs each
of its variants (direct and pipeq) back to back, the order rotated by one per repeat, so drift
on a shared machine lands on all of them alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import Pipeline, pipeline

from pipeq_workers.tooling.benchmark.alternate import alternate
from pipeq_workers.tooling.benchmark.environment import describe
from pipeq_workers.tooling.benchmark.models import build_bench_models
from pipeq_workers.tooling.benchmark.names import ENCODER_WORKLOADS, TASK_WORKLOADS, WORKLOADS
from pipeq_workers.tooling.benchmark.plans import Plan, Sizes, build_plan
from pipeq_workers.tooling.benchmark.stacks import MODES, Stacks
from pipeq_workers.tooling.benchmark.summary import summarise
from pipeq_workers.tooling.benchmark.targets import ratios, targets
from pipeq_workers.tooling.benchmark.window import Sample

__all__ = ["BenchConfig", "interleave", "run_bench"]

METHOD = (
    "The servers the chosen workloads need (an unbatched and a batched text worker, each on its own "
    "redis-server; a bare redis-server with no worker for submits) start first and stay up. Each repeat "
    "of a workload runs every variant once, back to back, the starting variant rotated by one per repeat. "
    "Latency figures (single requests, streams) come from turns instead: direct, unbatched and batched "
    "one request each, rotating, so each call is a burst after a wait on either side. "
    "Direct variants run the in-process transformers pipeline in the bench process while the workers sit "
    "idle; the idle servers' CPU in every window is recorded as background_cores. Throughput: median over "
    "repeats (low/high: min/max). Latencies: percentiles over every request of every repeat. pipeq clients "
    "are closed-loop threads of the bench process."
)
CPU_ACCOUNTING = (
    "user+system CPU seconds over each measured window (psutil, /proc), per 1,000 requests: server = the "
    "worker's process tree (direct: the bench process, which runs the model), client = the bench process "
    "sending and waiting, redis = that stack's redis-server. Resolution: one clock tick (10 ms) per window."
)


@dataclass(frozen=True)
class BenchConfig:
    """What ``pipeq bench`` runs: torch threads (direct and workers alike), repeats, workloads."""

    threads: int = 1
    repeats: int = 3
    workloads: tuple[str, ...] = WORKLOADS
    commandstats: bool = True
    sizes: Sizes = field(
        default_factory=lambda: Sizes(requests=512, generations=32, token_budget=64, streams=8, submits=2000)
    )

    @classmethod
    def build(
        cls, *, quick: bool, repeats: int | None, workloads: tuple[str, ...], threads: int, commandstats: bool
    ) -> BenchConfig:
        """``quick``: one repeat and smaller measurements, unless ``repeats`` says otherwise."""
        sizes = Sizes(requests=64, generations=32, token_budget=32, streams=4, submits=300) if quick else cls().sizes
        chosen = repeats if repeats is not None else (1 if quick else cls.repeats)
        return cls(threads, chosen, workloads, commandstats, sizes)


def interleave(plan: Plan, repeats: int) -> dict[str, list[Sample]]:
    """``repeats`` rounds; each round measures every variant once, starting one further along,
    then lets the steppers take their turns."""
    keys = [variant.key for variant in plan.variants] + [stepper.key for stepper in plan.steppers]
    samples: dict[str, list[Sample]] = {key: [] for key in keys}
    for repeat in range(repeats):
        shift = repeat % max(1, len(plan.variants))
        for variant in plan.variants[shift:] + plan.variants[:shift]:
            samples[variant.key].append(variant.measure())
        if plan.steppers:
            for key, sample in alternate(plan.steppers, repeat).items():
                samples[key].append(sample)
    return samples


def _pipelines(models: Path) -> dict[str, Pipeline]:
    # pipeline()'s overloads want each task name as a literal.
    return {task: pipeline(task, model=str(models / task), device="cpu") for task in TASK_WORKLOADS}


def _workload(name: str, config: BenchConfig, pipes: dict[str, Pipeline], stacks: Stacks) -> dict[str, Any]:
    plan = build_plan(name, pipes, stacks, config.sizes)
    plan.warm()
    samples = interleave(plan, config.repeats)
    labels = {variant.key: variant.label for variant in plan.variants}
    labels.update({stepper.key: stepper.label for stepper in plan.steppers})
    variants = {key: {"label": label, **summarise(samples[key])} for key, label in labels.items()}
    results = {"unit": plan.unit, "variants": variants}
    return {**results, "ratios": ratios(results)}


def run_bench(config: BenchConfig, cache: Path) -> dict[str, Any]:
    """All measurements of one run and its targets table, as JSON-ready data."""
    torch.set_num_threads(config.threads)
    models = build_bench_models(cache).parent
    needs_workers = any(name != "submit-rate" for name in config.workloads)
    modes = tuple(MODES) if needs_workers else ()
    bare = "submit-rate" in config.workloads
    environment = describe()
    in_process = any(name in ENCODER_WORKLOADS for name in config.workloads)
    stacks = Stacks(
        models / "models.json",
        config.threads,
        modes,
        bare=bare,
        commandstats=config.commandstats,
        in_process=in_process,
    )
    with stacks:
        pipes = _pipelines(models) if needs_workers else {}
        workloads = {name: _workload(name, config, pipes, stacks) for name in config.workloads}
        worker_env = {mode: stacks.worker_env(mode) for mode in stacks.servers if mode != "bare"}
    meta = _meta(config, {**environment, **describe(end=True)}, worker_env)
    return {"meta": meta, "workloads": workloads, "targets": targets(workloads)}


def _meta(config: BenchConfig, environment: dict[str, Any], worker_env: dict[str, Any]) -> dict[str, Any]:
    return {
        **{key: environment.pop(key) for key in ("date", "torch", "transformers", "python")},
        "environment": environment,
        "device": "cpu",
        "torch_threads": config.threads,
        "repeats": config.repeats,
        "workloads": list(config.workloads),
        "sizes": vars(config.sizes),
        "workers": worker_env,
        "commandstats": config.commandstats,
        "models": "random-weight BERT 4x256 (classifier, encoder) and Llama 4x256",
        "method": METHOD,
        "cpu_accounting": CPU_ACCOUNTING,
    }
