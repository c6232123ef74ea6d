"""Loads each (task, model) once per worker process and keeps it."""

from __future__ import annotations

import logging
import threading
import time

import torch
from transformers import Pipeline

from pipeq_client.protocol import Task
from pipeq_workers.models.allowlist import ModelAllowList
from pipeq_workers.models.loading import build_pipeline

__all__ = ["LoadedPipeline", "PipelineCache"]

log = logging.getLogger(__name__)


class LoadedPipeline:
    """A pipeline with the registry name of its model (results and logs report it)."""

    def __init__(self, model_name: str, pipe: Pipeline) -> None:
        self.model_name = model_name
        self.pipe = pipe


class PipelineCache:
    """Models are loaded at warm-up (defaults) or on first use (other allowed models), once."""

    def __init__(self, registry: ModelAllowList, device: str, dtype: torch.dtype) -> None:
        self.registry = registry
        self.device = device
        self.dtype = dtype
        self._loaded: dict[tuple[Task, str], LoadedPipeline] = {}
        self._lock = threading.Lock()

    def get(self, task: Task, model: str | None) -> LoadedPipeline:
        """The pipeline for the requested (or default) model; ModelNotAllowedError if not allowed."""
        name, source = self.registry.for_task(task).source(model)
        key = (task, name)
        with self._lock:
            if key not in self._loaded:
                started = time.perf_counter()
                self._loaded[key] = LoadedPipeline(name, build_pipeline(task, source, self.device, self.dtype))
                log.info("loaded %s model %s in %.2fs", task.value, name, time.perf_counter() - started)
            return self._loaded[key]

    def warm_up(self, tasks: list[Task]) -> None:
        """Loads the default model of each task, so the first request does not pay for it."""
        for task in tasks:
            if task in self.registry.tasks:
                self.get(task, None)
