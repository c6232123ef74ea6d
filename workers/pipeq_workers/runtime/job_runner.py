"""Runs a job's model work where the models live: validate, load, handle; the answer is JSON.

The :class:`Executor` (execution.py) owns delivery: job state, attempts, the ``done`` and
``error`` events, metrics. What it hands over is the job's task, id and payload; what comes
back is the result's JSON and the model's name, or a typed error. The same runner serves in
the worker process (``InProcessRunner``) and in a model process of its own
(``model_process.py``), so the two modes cannot drift apart.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import redis
import torch

from pipeq_client.protocol import EventType, Task
from pipeq_client.validation import validate_request
from pipeq_workers.handlers.registry import spec_for
from pipeq_workers.inputs.model_limits import bind_token_limit
from pipeq_workers.models.allowlist import ModelAllowList
from pipeq_workers.models.cache import LoadedPipeline, PipelineCache
from pipeq_workers.models.loading import resolve_device, resolve_dtype
from pipeq_workers.runtime.batching import MicroBatcher
from pipeq_workers.runtime.context import JobContext
from pipeq_workers.runtime.interrupts import stop_abandoned_work
from pipeq_workers.runtime.job_events import EventPublisher, TokenWriter, redis_token_writer
from pipeq_workers.settings import WorkerSettings

__all__ = ["InProcessRunner", "JobRunner", "Ran", "build_runner"]


@dataclass(frozen=True)
class Ran:
    """A job's answer: the result's JSON and the registry name of the model that made it."""

    result: Any
    model_name: str


class JobRunner(Protocol):
    """Where the Executor sends a job's model work."""

    def coming(self) -> AbstractContextManager[None]:
        """Held from delivery until the job's model call: the batcher waits for jobs on their way."""
        ...

    def run(self, task: Task, job_id: str, payload: Any) -> Ran:
        """The job's answer, or raises its typed error (PipeqError)."""
        ...

    def warm_up(self, tasks: list[Task]) -> None: ...


class InProcessRunner:
    """Runs handlers in this process, on the batcher's model thread."""

    def __init__(
        self,
        settings: WorkerSettings,
        pipelines: PipelineCache,
        client: redis.Redis,
        batcher: MicroBatcher,
        tokens: TokenWriter | None = None,
    ) -> None:
        self.settings = settings
        self.pipelines = pipelines
        self.redis = client
        self.batcher = batcher
        self.tokens = tokens or redis_token_writer(client, settings.result_ttl_s)
        self._prepared: set[int] = set()
        self._prepare_lock = threading.Lock()

    def coming(self) -> AbstractContextManager[None]:
        return self.batcher.incoming()

    def warm_up(self, tasks: list[Task]) -> None:
        self.pipelines.warm_up(tasks)

    def run(self, task: Task, job_id: str, payload: Any) -> Ran:
        spec = spec_for(task)
        request = validate_request(spec.request_type, payload)  # never trust the wire
        loaded = self.pipelines.get(task, request.model)
        self._prepare(loaded)
        events = EventPublisher(self.redis, job_id, self.settings.result_ttl_s, self.tokens)
        # The time limit counts from here: loading a model on first use is not the job's time.
        context = JobContext(job_id, task, self.settings, self.redis, events, self.batcher)
        # Job.status() reads "running" from this event; typed streams skip it.
        events.publish(EventType.STARTED, {"task": task.value, "model": loaded.model_name})
        result = spec.handler(loaded.pipe, request, context)
        return Ran(result.model_dump(mode="json", exclude_none=True), loaded.model_name)

    def _prepare(self, loaded: LoadedPipeline) -> None:
        """Once per pipeline: its tokenizer learns the model's real token limit (truncation cuts
        there), and its model stops work nobody waits for any more (interrupts.py)."""
        with self._prepare_lock:
            if id(loaded.pipe) in self._prepared:
                return
            bind_token_limit(loaded.pipe)
            stop_abandoned_work(loaded.pipe.model, self.batcher.abandoned)
            self._prepared.add(id(loaded.pipe))


def build_runner(
    settings: WorkerSettings, client: redis.Redis, on_batch: Any, tokens: TokenWriter | None = None
) -> InProcessRunner:
    """The runner of one process: its models, its batcher (the model thread)."""
    if settings.torch_threads is not None:
        torch.set_num_threads(settings.torch_threads)
    registry = (
        ModelAllowList.from_file(settings.models_config) if settings.models_config else ModelAllowList.hub_defaults()
    )
    device = resolve_device(settings.device)
    pipelines = PipelineCache(registry, device, resolve_dtype(settings.dtype, device))
    return InProcessRunner(settings, pipelines, client, MicroBatcher(settings.max_wait_ms, on_batch), tokens)
