"""Starts a Celery worker: builds the app from settings, loads models, then consumes."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from celery.signals import worker_process_init, worker_ready

from pipeq_client.protocol import Queue
from pipeq_workers.errors import WorkerConfigError
from pipeq_workers.monitoring.health import HealthMonitor, default_health_dir, heartbeat_file
from pipeq_workers.runtime.app import create_app
from pipeq_workers.settings import WorkerSettings

__all__ = ["run_worker"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WorkerOptions:
    """How the Celery worker runs."""

    queues: list[Queue]
    pool: str
    concurrency: int
    loglevel: str
    ready_file: Path | None

    @classmethod
    def decide(
        cls,
        queues: list[Queue],
        settings: WorkerSettings,
        pool: str | None,
        concurrency: int | None,
        loglevel: str,
        ready_file: Path | None,
    ) -> WorkerOptions:
        """Batching needs one task thread per batch slot: the threads pool, sized to the batch."""
        largest = settings.largest_batch()
        chosen_pool = pool or ("threads" if largest > 1 else "solo")
        return cls(queues, chosen_pool, concurrency or largest, loglevel, ready_file)


def _heartbeat(settings: WorkerSettings, queues: list[Queue]) -> tuple[Path, bool]:
    """The heartbeat file, and whether it is this worker's own (removed again on a clean exit)."""
    if settings.health_file is not None:
        return settings.health_file, False
    directory = settings.health_dir or default_health_dir()
    return heartbeat_file(directory, [queue.value for queue in queues], os.getpid()), True


def _warm_up(runtime: Any, queues: list[Queue]) -> None:
    """Loads the models; a model that cannot load is one line, not a traceback (DEBUG has it)."""
    try:
        runtime.warm_up(queues)
    except (WorkerConfigError, OSError) as error:
        log.debug("model loading failed", exc_info=True)
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        names = ", ".join(queue.value for queue in queues)
        raise WorkerConfigError(f"the {names} worker cannot load its models: {reason}") from error


def run_worker(settings: WorkerSettings, options: WorkerOptions) -> None:
    queues = options.queues
    app = create_app(settings)
    runtime = app.pipeq_runtime
    runtime.pool = options.pool  # decides where the models run (WorkerSettings.uses_model_process)
    health_file, own_file = _heartbeat(settings, queues)
    monitor = HealthMonitor(
        runtime.redis,
        runtime.metrics,
        [queue.value for queue in queues],
        settings.heartbeat_interval_s,
        health_file,
        settings.health_port,
        remove_on_stop=own_file,
    )
    monitor.start()  # before warm-up: a startup probe sees "alive, models loading"
    try:
        _serve(app, runtime, monitor, options)
    finally:
        runtime.close()
        monitor.stop()


def _serve(app: Any, runtime: Any, monitor: HealthMonitor, options: WorkerOptions) -> None:
    queues, pool, concurrency = options.queues, options.pool, options.concurrency
    loglevel, ready_file = options.loglevel, options.ready_file
    if pool == "prefork":
        # Never load (or touch CUDA) before the fork: each child loads its own models.
        worker_process_init.connect(lambda **_: runtime.warm_up(queues), weak=False)
    else:
        _warm_up(runtime, queues)
        monitor.mark_models_loaded()

    def announce_ready(**_: Any) -> None:
        if pool == "prefork":
            monitor.mark_models_loaded()  # children have forked and load on start
        if ready_file is not None:
            ready_file.write_text(str(os.getpid()))

    worker_ready.connect(announce_ready, weak=False)
    name = "-".join(queue.value for queue in queues)
    app.worker_main(
        [
            "worker",
            "--queues", ",".join(queue.value for queue in queues),
            "--pool", pool,
            "--concurrency", str(concurrency),
            "--hostname", f"{name}-{os.getpid()}@%h",
            "--loglevel", loglevel,
            "--task-events",
            "--without-mingle",
            "--without-gossip",
        ]
    )  # fmt: skip
