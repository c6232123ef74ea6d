"""A local pipeq stack: Redis (embedded unless a URL is given), tiny models (unless a models
config is given) and one worker subprocess per queue. Used by ``pipeq demo`` and the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from pipeq_client.protocol import Queue
from pipeq_workers.tooling.embedded import EmbeddedRedis
from pipeq_workers.tooling.tiny import build_tiny_models

__all__ = ["LocalStack", "default_tiny_dir"]


def default_tiny_dir() -> Path:
    return Path(os.environ.get("PIPEQ_TINY_DIR", Path.home() / ".cache" / "pipeq" / "tiny-models"))


class LocalStack:
    """``with LocalStack() as stack: Client(stack.redis_url)`` -- everything stops on exit."""

    def __init__(
        self,
        redis_url: str | None = None,
        models_config: Path | None = None,
        queues: tuple[Queue, ...] = tuple(Queue),
        extra_env: dict[str, str] | None = None,
        ready_timeout_s: float = 180.0,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.redis_url = redis_url
        self.models_config = models_config
        self.queues = queues
        self.extra_env = extra_env or {}
        self.ready_timeout_s = ready_timeout_s
        self.progress = progress or (lambda _: None)  # the demo prints each step of a start that takes seconds
        self._redis: EmbeddedRedis | None = None
        self._workdir = tempfile.TemporaryDirectory(prefix="pipeq-stack-")
        self.workers: dict[Queue, subprocess.Popen[bytes]] = {}

    @property
    def workdir(self) -> Path:
        return Path(self._workdir.name)

    def start(self) -> Self:
        if self.redis_url is None:
            self.progress("starting a private redis-server")
            self._redis = EmbeddedRedis().start()
            self.redis_url = self._redis.url
        if self.models_config is None:
            self.progress(f"building tiny models in {default_tiny_dir()} (reused once built)")
            self.models_config = build_tiny_models(default_tiny_dir())
        self.progress(f"starting workers: {', '.join(queue.value for queue in self.queues)} (each loads its models)")
        for queue in self.queues:
            self.start_worker(queue)
        self.wait_ready(self.queues)
        return self

    def worker_env(self) -> dict[str, str]:
        # Heartbeats stay in the stack's own directory unless the caller chose where they go.
        chosen = {"PIPEQ_HEALTH_DIR", "PIPEQ_HEALTH_FILE"} & set(os.environ)
        own_health = {} if chosen else {"PIPEQ_HEALTH_DIR": str(self.workdir / "health")}
        return {
            **os.environ,
            "PIPEQ_REDIS_URL": str(self.redis_url),
            "PIPEQ_MODELS_CONFIG": str(self.models_config),
            **own_health,
            **self.extra_env,
        }

    def start_worker(self, queue: Queue, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Starts (and records) a worker for ``queue``; ``env`` adds variables for this one."""
        ready = self.workdir / f"{queue.value}.ready"
        ready.unlink(missing_ok=True)
        log = (self.workdir / f"{queue.value}.log").open("ab")
        # WARNING: Celery's per-task INFO lines cost the worker CPU; startup and shutdown still print.
        command = [sys.executable, "-m", "pipeq_workers.cli", "worker", "--queue", queue.value]
        command += ["--log-level", "WARNING", "--ready-file", str(ready)]
        worker_env = {**self.worker_env(), **(env or {})}
        process = subprocess.Popen(command, env=worker_env, stdout=log, stderr=subprocess.STDOUT)
        self.workers[queue] = process
        return process

    def wait_ready(self, queues: tuple[Queue, ...]) -> None:
        started = time.monotonic()
        deadline = started + self.ready_timeout_s
        for queue in queues:
            while not (self.workdir / f"{queue.value}.ready").exists():
                if self.workers[queue].poll() is not None:
                    raise RuntimeError(f"{queue.value} worker exited at start:\n{self.log_tail(queue)}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{queue.value} worker not ready:\n{self.log_tail(queue)}")
                time.sleep(0.1)
            self.progress(f"{queue.value} worker ready ({time.monotonic() - started:.0f} s)")

    def log_tail(self, queue: Queue, lines: int = 40) -> str:
        path = self.workdir / f"{queue.value}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop_worker(self, queue: Queue, timeout_s: float = 30.0) -> int:
        """Warm shutdown (SIGTERM): the worker finishes its task, then exits."""
        process = self.workers.pop(queue)
        process.terminate()
        try:
            return process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            return process.wait()

    def stop(self) -> None:
        for queue in list(self.workers):
            self.stop_worker(queue)
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        self._workdir.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
