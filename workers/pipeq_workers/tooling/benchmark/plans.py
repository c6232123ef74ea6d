"""What each workload measures: its variants (direct and pipeq, each in a window of its own, back
to back in every repeat), its steppers (direct and pipeq taking turns request by request, for
latency) and a warm-up. Workload names are what ``--workloads`` takes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from transformers import Pipeline

from pipeq_client import Client
from pipeq_client.protocol import Task
from pipeq_client.types import TaskRequest, TextClassificationRequest
from pipeq_workers.tooling.benchmark import mixed
from pipeq_workers.tooling.benchmark.alternate import Stepper
from pipeq_workers.tooling.benchmark.measure import (
    RequestMaker,
    direct_batches,
    direct_calls,
    direct_stream,
    pipeq_calls,
    pipeq_load,
    pipeq_stream,
    spread_over,
)
from pipeq_workers.tooling.benchmark.names import WORKLOADS
from pipeq_workers.tooling.benchmark.stacks import IN_PROCESS, Stacks
from pipeq_workers.tooling.benchmark.submits import async_submits, sync_submits
from pipeq_workers.tooling.benchmark.window import Probe, Sample, Work
from pipeq_workers.tooling.benchmark.workloads import Workload, texts, workloads

__all__ = ["CLIENTS", "Plan", "Sizes", "Variant", "build_plan"]

CLIENTS = 32


@dataclass(frozen=True)
class Sizes:
    """How much work one measurement does."""

    requests: int  # encoder tasks: enough closed-loop rounds that start-up and tail are a small part
    generations: int  # text-generation requests (at least one per client)
    token_budget: int  # generation-mixed: tokens each client generates
    streams: int
    submits: int


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    measure: Callable[[], Sample]


@dataclass(frozen=True)
class Plan:
    """Variants measured in windows of their own (throughput, CPU); steppers take turns request by
    request (latency; see :mod:`pipeq_workers.tooling.benchmark.alternate`)."""

    unit: str
    variants: list[Variant]
    warm: Callable[[], None]
    steppers: list[Stepper] = field(default_factory=list)


def _measured(probe: Probe, loop: Callable[..., Work], *args: Any) -> Callable[[], Sample]:
    """``loop(*args)`` inside a window of ``probe``."""
    return partial(probe.measure, partial(loop, *args))


def _pipeq(stacks: Stacks, mode: str, schedule: Sequence[Sequence[RequestMaker]], units: float) -> Callable[[], Sample]:
    return _measured(stacks.probe(mode), pipeq_load, stacks.servers[mode].client, schedule, units)


def _direct_batch(workload: Workload, pipe: Pipeline, inputs: list[str]) -> None:
    workload.direct(pipe, inputs, CLIENTS)


def _direct_one(workload: Workload, pipe: Pipeline, text: str) -> float:
    workload.direct(pipe, [text], 1)
    return float(workload.units)


def _task_plan(workload: Workload, pipe: Pipeline, stacks: Stacks, sizes: Sizes) -> Plan:
    generation = workload.task is Task.TEXT_GENERATION
    inputs = texts(max(CLIENTS, sizes.generations) if generation else sizes.requests)
    makers: list[RequestMaker] = [partial(workload.request, text) for text in inputs]
    direct = stacks.direct_probe()
    one_by_one = [partial(_direct_one, workload, pipe, text) for text in inputs]
    batch = partial(_direct_batch, workload, pipe)
    variants = [
        Variant("direct-1", "direct, 1/call", _measured(direct, direct_calls, one_by_one)),
        Variant(
            "direct-32", "direct, batch 32", _measured(direct, direct_batches, batch, inputs, CLIENTS, workload.units)
        ),
    ]
    for mode in stacks.modes:
        for clients in (1, CLIENTS):
            label = f"pipeq {mode}, {clients} client{'s' if clients > 1 else ''}"
            measure = _pipeq(stacks, mode, spread_over(makers, clients), workload.units)
            variants.append(Variant(f"{mode}-{clients}", label, measure))
    compared = [IN_PROCESS] if not generation and IN_PROCESS in stacks.servers else []
    for mode in compared:
        label = f"pipeq batched, models in the worker process, {CLIENTS} clients"
        variants.append(
            Variant(f"{mode}-{CLIENTS}", label, _pipeq(stacks, mode, spread_over(makers, CLIENTS), workload.units))
        )

    def warm() -> None:
        workload.direct(pipe, inputs[:2], 2)
        for mode in (*stacks.modes, *compared):
            pipeq_load(stacks.servers[mode].client, spread_over(makers[:4], 2), workload.units)

    # Generation's single-request latency is its time to first token and gaps: the streaming workload.
    turns = [] if generation else _single_requests(stacks, one_by_one, makers, workload.units)
    return Plan(workload.unit, variants, warm, turns)


def _single_requests(
    stacks: Stacks, direct: Sequence[Callable[[], float]], makers: Sequence[RequestMaker], units: float
) -> list[Stepper]:
    """Direct, unbatched and batched taking turns, one request each (single-request latency)."""
    count = len(makers)
    turns = [Stepper("turns-direct", "taking turns: direct, 1/call", partial(_direct_turn, direct), count)]
    for mode in stacks.modes:
        step = partial(_pipeq_turn, stacks.servers[mode].client, makers, units)
        turns.append(Stepper(f"turns-{mode}", f"taking turns: pipeq {mode}, 1 request", step, count))
    return turns


def _direct_turn(calls: Sequence[Callable[[], float]], index: int) -> Work:
    return direct_calls([calls[index]])


def _pipeq_turn(client: Client, makers: Sequence[RequestMaker], units: float, index: int) -> Work:
    return pipeq_calls(client, [makers[index]], units)


def _mixed_plan(pipe: Pipeline, stacks: Stacks, sizes: Sizes) -> Plan:
    mixed_runs = mixed.schedule(CLIENTS, sizes.token_budget, is_mixed=True)
    identical_runs = mixed.schedule(CLIENTS, sizes.token_budget, is_mixed=False)
    identical_inputs = [text for runs in identical_runs for text, _ in runs]
    direct = stacks.direct_probe()
    arrivals = mixed.arrival_order(mixed_runs)
    one_by_one = [partial(mixed.direct_one, pipe, text, settings) for text, settings in arrivals]
    length = float(mixed.IDENTICAL["max_new_tokens"])
    batch = partial(mixed.direct_identical, pipe, batch_size=CLIENTS)
    # Generation results carry the tokens generated (units 0.0: a missing count credits nothing).
    variants = [
        Variant(
            "direct-identical-32",
            "direct, identical settings, batch 32",
            _measured(direct, direct_batches, batch, identical_inputs, CLIENTS, length),
        ),
        Variant("direct-mixed-1", "direct, mixed settings, 1/call", _measured(direct, direct_calls, one_by_one)),
        Variant(
            "identical-batched-32",
            "pipeq batched, identical settings, 32 clients",
            _pipeq(stacks, "batched", mixed.makers(identical_runs), 0.0),
        ),
        Variant(
            "mixed-batched-32",
            "pipeq batched, mixed settings, 32 clients",
            _pipeq(stacks, "batched", mixed.makers(mixed_runs), 0.0),
        ),
        Variant(
            "mixed-unbatched-32",
            "pipeq unbatched, mixed settings, 32 clients",
            _pipeq(stacks, "unbatched", mixed.makers(mixed_runs), 0.0),
        ),
    ]

    def warm() -> None:
        mixed.direct_identical(pipe, identical_inputs[:2], 2)
        for mode in stacks.modes:
            warm_up = [runs[:1] for runs in mixed.makers(mixed_runs)[:4]]
            pipeq_load(stacks.servers[mode].client, warm_up, 0.0)

    return Plan("tokens/s", variants, warm)


def _streaming_plan(workload: Workload, pipe: Pipeline, stacks: Stacks, sizes: Sizes) -> Plan:
    prompts = texts(sizes.streams)
    turns = [
        Stepper("direct", "direct generate(), streamer", partial(_direct_stream_turn, pipe, prompts), len(prompts))
    ]
    for mode in stacks.modes:
        step = partial(_pipeq_stream_turn, stacks.servers[mode].client, workload.request, prompts)
        turns.append(Stepper(mode, f"pipeq {mode}, 1 stream at a time", step, len(prompts)))

    def warm() -> None:
        direct_stream(pipe, prompts[:1])
        for mode in stacks.modes:
            pipeq_stream(stacks.servers[mode].client, workload.request, prompts[:1])

    return Plan("tokens/s", [], warm, turns)


def _direct_stream_turn(pipe: Pipeline, prompts: list[str], index: int) -> Work:
    return direct_stream(pipe, prompts[index : index + 1])


def _pipeq_stream_turn(
    client: Client, request: Callable[[str], TaskRequest[Any]], prompts: list[str], index: int
) -> Work:
    return pipeq_stream(client, request, prompts[index : index + 1])


def _fresh(stacks: Stacks, measure: Callable[[], Sample]) -> Sample:
    """An empty Redis before each window: no worker drains it, so queues would only grow."""
    stacks.servers["bare"].redis.flushdb()
    return measure()


def _submit_plan(stacks: Stacks, sizes: Sizes) -> Plan:
    bare, probe = stacks.servers["bare"], stacks.probe("bare")
    requests = [TextClassificationRequest.build(text) for text in texts(sizes.submits)]
    sync = _measured(probe, sync_submits, bare.client, requests)
    concurrent = partial(async_submits, probe, bare.url, requests)
    variants = [
        Variant("sync", "Client.submit, one thread", partial(_fresh, stacks, sync)),
        Variant("async", "AsyncClient.submit, 64 in flight", partial(_fresh, stacks, concurrent)),
    ]

    def warm() -> None:
        sync_submits(bare.client, requests[:20])

    return Plan("submits/s", variants, warm)


def build_plan(name: str, pipes: dict[str, Pipeline], stacks: Stacks, sizes: Sizes) -> Plan:
    """The plan of workload ``name`` (one of :data:`WORKLOADS`)."""
    by_task = {workload.task.value: workload for workload in workloads()}
    generation = Task.TEXT_GENERATION.value
    if name in by_task:
        return _task_plan(by_task[name], pipes[name], stacks, sizes)
    if name == "generation-mixed":
        return _mixed_plan(pipes[generation], stacks, sizes)
    if name == "streaming":
        return _streaming_plan(by_task[generation], pipes[generation], stacks, sizes)
    if name == "submit-rate":
        return _submit_plan(stacks, sizes)
    raise ValueError(f"unknown workload {name!r}; valid: {', '.join(WORKLOADS)}")
