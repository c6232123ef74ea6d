"""The per-process worker runtime: settings, the job runner (models here or in a model
process), the executor."""

from __future__ import annotations

import logging

import redis

from pipeq_client.protocol import Queue
from pipeq_workers.handlers.registry import tasks_of
from pipeq_workers.monitoring.metrics import WorkerMetrics
from pipeq_workers.runtime.execution import Executor
from pipeq_workers.runtime.job_runner import JobRunner, build_runner
from pipeq_workers.runtime.model_process import ModelProcess
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
        self.pool = "solo"
        self._executor: Executor | None = None

    @property
    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = Executor(self.settings, self._runner(), self.redis, self.metrics)
        return self._executor

    def _runner(self) -> JobRunner:
        if self.settings.uses_model_process(self.pool):
            return ModelProcess(self.settings, self.metrics, self.redis)
        # The model thread (the batcher) batches up to each task's batch size. Without batching
        # it still runs the model, so the task thread can give up on a job at its time limit
        # (a typed time_limit answer) while the model finishes or is stopped.
        histogram = self.metrics.batch_size
        # Batch keys start with the task's name (see JobContext.model_call).
        return build_runner(self.settings, self.redis, lambda key, size: histogram.labels(key[0]).observe(size))

    def warm_up(self, queues: list[Queue]) -> None:
        """Loads the default models of the queues' tasks before the worker consumes anything."""
        tasks = tasks_of(queues)
        self.executor.runner.warm_up(tasks)
        log.info("warm: %s", ", ".join(task.value for task in tasks))

    def close(self) -> None:
        runner = self._executor.runner if self._executor is not None else None
        if isinstance(runner, ModelProcess):
            runner.close()
