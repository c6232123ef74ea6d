"""The per-process worker runtime: settings, model registry, pipeline cache, executor."""

from __future__ import annotations

import logging

import redis
import torch

from pipeq_client.protocol import Queue
from pipeq_workers.handlers.registry import tasks_of
from pipeq_workers.models.allowlist import ModelAllowList
from pipeq_workers.models.cache import PipelineCache
from pipeq_workers.models.loading import resolve_device, resolve_dtype
from pipeq_workers.monitoring.metrics import WorkerMetrics
from pipeq_workers.runtime.batching import MicroBatcher
from pipeq_workers.runtime.execution import Executor
from pipeq_workers.settings import WorkerSettings

__all__ = ["WorkerRuntime"]

log = logging.getLogger(__name__)


class WorkerRuntime:
    """Built lazily in the process that runs tasks (never before a fork, never at import)."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        # Creating a client does not connect: safe before a fork (redis-py reconnects per pid).
        self.redis = redis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5)
        self.metrics = WorkerMetrics(self.redis)
        self._executor: Executor | None = None

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = self._build()
        return self._executor

    def _build(self) -> Executor:
        settings = self.settings
        if settings.torch_threads is not None:
            torch.set_num_threads(settings.torch_threads)
        registry = (
            ModelAllowList.from_file(settings.models_config)
            if settings.models_config
            else ModelAllowList.hub_defaults()
        )
        device = resolve_device(settings.device)
        pipelines = PipelineCache(registry, device, resolve_dtype(settings.dtype, device))
        return Executor(settings, pipelines, self.redis, self.metrics, self._batcher())

    def _batcher(self) -> MicroBatcher:
        """The model thread: batches of up to each task's batch size (1: no batching, solo pool).
        Without batching it still runs the model, so the task thread can give up on a job at its
        time limit (a typed time_limit answer) while the model finishes or is stopped."""
        histogram = self.metrics.batch_size
        # Batch keys start with the task's name (see JobContext.model_call).
        return MicroBatcher(self.settings.max_wait_ms, lambda key, size: histogram.labels(key[0]).observe(size))  # type: ignore[index]

    def warm_up(self, queues: list[Queue]) -> None:
        """Loads the default models of the queues' tasks before the worker consumes anything."""
        tasks = tasks_of(queues)
        self.executor.pipelines.warm_up(tasks)
        log.info("warm: %s", ", ".join(task.value for task in tasks))
