"""The worker process's side of the model process: a :class:`JobRunner` over a pipe.

Why a process: a batched worker's Celery threads (consuming, acks, task events, job state)
and its model thread shared one GIL, and the model ran 1.2-1.4x slower for it (issue 11's
micro test; ``bench/`` has the side-by-side figures). In its own process the model runs as
it does in-process, and the worker process's Python runs beside it on another core.

If the model process dies (out of memory, a crash in native code), the jobs it held are
requeued (``ModelProcessLostError`` -> Celery ``Reject(requeue=True)``; their attempts still
count, so a request that kills the model every time is dead-lettered), and the next job
starts a new one.
"""

from __future__ import annotations

import itertools
import json
import logging
import multiprocessing
import threading
from concurrent.futures import Future
from contextlib import AbstractContextManager, nullcontext
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

import redis

from pipeq_client.errors import TimeLimitError, error_from_wire
from pipeq_client.protocol import Task
from pipeq_workers.errors import ModelProcessLostError, WorkerConfigError
from pipeq_workers.monitoring.metrics import WorkerMetrics
from pipeq_workers.runtime.job_events import redis_token_writer
from pipeq_workers.runtime.job_runner import Ran
from pipeq_workers.runtime.model_server import serve
from pipeq_workers.settings import WorkerSettings

__all__ = ["ModelProcess"]

log = logging.getLogger(__name__)

# How long past a job's time limit the worker process waits for the model process's answer
# (which normally comes at the limit: the model process enforces it) before answering itself.
_ANSWER_GRACE_S = 30.0


class ModelProcess:
    """Sends jobs to the model process and waits for their answers; thread-safe."""

    def __init__(self, settings: WorkerSettings, metrics: WorkerMetrics, client: redis.Redis) -> None:
        self.settings = settings
        self.metrics = metrics
        self._write_tokens = redis_token_writer(client, settings.result_ttl_s)
        self._tasks: list[Task] = []
        self._ids = itertools.count()
        self._pending: dict[int, Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()  # the process, the pipe and the pending calls
        self._send_lock = threading.Lock()
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None

    def coming(self) -> AbstractContextManager[None]:
        # The model process's batcher counts a job as on its way from when it receives it.
        return nullcontext()

    def warm_up(self, tasks: list[Task]) -> None:
        """Starts the model process and waits until it has loaded the tasks' default models."""
        self._tasks = tasks
        with self._lock:
            self._start()

    def run(self, task: Task, job_id: str, payload: Any) -> Ran:
        answer = self._call({"task": task.value, "job_id": job_id, "payload": payload}, self._wait_s(task))
        if "result" in answer:
            return Ran(answer["result"], answer["model"])
        if "redis" in answer:
            # The same as Redis lost in-process: requeued (celery_tasks.py).
            raise redis.ConnectionError(answer["redis"])
        raise error_from_wire(answer["error"])

    def close(self) -> None:
        with self._lock:
            conn, process = self._conn, self._process
            self._conn = self._process = None
        if conn is not None:
            # Closing our end is not enough while the reader thread is blocked reading it (the
            # socket lives until that read returns): the model process is told to stop.
            try:
                with self._send_lock:
                    conn.send_bytes(b'{"stop":true}')
            except OSError:
                pass  # it is gone already
        if process is not None:
            process.join(10)
            if process.is_alive():
                process.kill()

    def _wait_s(self, task: Task) -> float:
        return self.settings.task_seconds.get(task.value, self.settings.max_task_seconds) + _ANSWER_GRACE_S

    def _call(self, message: dict[str, Any], wait_s: float) -> dict[str, Any]:
        future: Future[dict[str, Any]] = Future()
        with self._lock:
            if self._conn is None:
                self._start()  # the first job after the model process died starts a new one
            call_id = next(self._ids)
            self._pending[call_id] = future
            conn = self._conn
        assert conn is not None
        data = json.dumps({"call": call_id, **message}, separators=(",", ":")).encode()
        try:
            with self._send_lock:
                conn.send_bytes(data)
        except OSError as error:
            self._forget(call_id)
            raise ModelProcessLostError(f"the model process is gone: {error}") from error
        self.metrics.model_process_jobs.inc()
        try:
            return future.result(wait_s)
        except TimeoutError:
            raise TimeLimitError(f"{message['task']}: the model process did not answer within {wait_s:g} s") from None
        finally:
            self.metrics.model_process_jobs.dec()
            self._forget(call_id)

    def _forget(self, call_id: int) -> None:
        with self._lock:
            self._pending.pop(call_id, None)

    def _start(self) -> None:
        """Spawns the model process and waits for its first word (caller holds ``_lock``)."""
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        level = logging.getLevelName(logging.getLogger().getEffectiveLevel())
        arguments = (child, self.settings.model_dump_json(), [task.value for task in self._tasks], level)
        process = context.Process(target=serve, args=arguments, name="pipeq-model", daemon=True)
        process.start()
        child.close()  # only the model process holds its end: its exit ends our reads
        first = self._first_word(parent, process)
        if "failed" in first:
            process.join(10)
            raise WorkerConfigError(first["failed"])
        self._conn, self._process = parent, process
        threading.Thread(target=self._read, args=(parent, process), name="pipeq-model-reader", daemon=True).start()
        log.info("model process %d ready", process.pid)

    @staticmethod
    def _first_word(conn: Connection, process: BaseProcess) -> dict[str, Any]:
        try:
            return json.loads(conn.recv_bytes())  # type: ignore[no-any-return]
        except (EOFError, OSError):
            process.join(10)
            raise WorkerConfigError(f"the model process exited while loading (exit code {process.exitcode})") from None

    def _read(self, conn: Connection, process: BaseProcess) -> None:
        while True:
            try:
                message = json.loads(conn.recv_bytes())
            except (EOFError, OSError):
                break
            if "tokens" in message:
                self._tokens(message["tokens"])
                continue
            if "batch" in message:
                task, size = message["batch"]
                self.metrics.batch_size.labels(task).observe(size)
                continue
            with self._lock:
                future = self._pending.get(message["answer"])
            if future is not None and not future.done():
                future.set_result(message)
        self._lost(conn, process)

    def _tokens(self, tokens: list[tuple[str, dict[str, Any]]]) -> None:
        try:
            self._write_tokens(tokens)
        except redis.RedisError as error:
            # The job's own answer meets the outage too, and is requeued: nothing is lost.
            log.warning("could not write %d token events (%s)", len(tokens), error)

    def _lost(self, conn: Connection, process: BaseProcess) -> None:
        with self._lock:
            if self._conn is conn:
                self._conn = self._process = None
            pending = list(self._pending.values())
        process.join(1)
        if pending:
            log.error("the model process %s ended (exit code %s) holding %d jobs: they are requeued",
                      process.pid, process.exitcode, len(pending))  # fmt: skip
        lost = ModelProcessLostError(f"the model process ended (exit code {process.exitcode})")
        for future in pending:
            if not future.done():
                future.set_exception(lost)
