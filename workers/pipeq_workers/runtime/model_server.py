"""The model process: loads the models and runs jobs' model work, answering over a pipe.

Started by ``model_process.py`` (spawned, never forked: CUDA and torch's threads do not
survive a fork). Its only Python threads are the model thread (the batcher), the handler
threads of the jobs it holds and one reader; Celery, acks, task events and the job-state
round trips stay in the worker process, whose Python no longer shares a GIL with the model.

Messages are JSON, one per ``send_bytes``: ``{"call": id, "task", "job_id", "payload"}`` in;
``{"answer": id, "result", "model"}``, ``{"answer": id, "error": {code, message, field}}``,
``{"answer": id, "redis": message}`` (Redis lost: the job is requeued), ``{"tokens": [[stream
key, event], ...]}`` (one generation step's token events: the worker process writes them,
before the job's answer, which comes after them on the same pipe), ``{"batch": [task,
size]}`` (metrics), and once ``{"ready": true}`` or ``{"failed": message}`` out;
``{"stop": true}`` in ends it.

The process lives exactly as long as its pipe: it ignores SIGINT and SIGTERM (the worker
process drains its jobs first) and exits when the worker process says stop, or dies.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import signal
import threading
from collections.abc import Hashable
from multiprocessing.connection import Connection
from typing import Any

import redis

from pipeq_client.errors import PipeqError
from pipeq_client.protocol import Task
from pipeq_workers.runtime.job_runner import build_runner
from pipeq_workers.runtime.messages import cleaned, unexpected
from pipeq_workers.settings import WorkerSettings

__all__ = ["serve"]

log = logging.getLogger(__name__)


class _Server:
    def __init__(self, conn: Connection, settings: WorkerSettings) -> None:
        self.conn = conn
        self._send_lock = threading.Lock()
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=10, socket_connect_timeout=5)
        self.runner = build_runner(settings, client, self._on_batch, self._forward_tokens)
        # One handler thread per batch slot, fed by a C-level queue (ThreadPoolExecutor.submit
        # showed up in the profile; the model's GIL is what this process exists to protect).
        self.calls: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        for index in range(settings.largest_batch()):
            threading.Thread(target=self._handle, name=f"pipeq-job-{index}", daemon=True).start()

    def send(self, message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":")).encode()
        with self._send_lock:
            self.conn.send_bytes(data)

    def _forward_tokens(self, tokens: list[tuple[str, dict[str, Any]]]) -> None:
        # Sent before the job's answer on the same pipe, so written before its "done" event.
        self.send({"tokens": tokens})

    def _on_batch(self, key: Hashable, size: int) -> None:
        self.send({"batch": [key[0], size]})  # type: ignore[index]  # batch keys start with the task

    def warm_up(self, tasks: list[Task]) -> bool:
        try:
            self.runner.warm_up(tasks)
        except Exception as error:  # the worker process turns it into its one-line start-up error
            log.debug("model loading failed", exc_info=True)
            self.send({"failed": str(error).splitlines()[0] if str(error) else type(error).__name__})
            return False
        self.send({"ready": True})
        return True

    def loop(self) -> None:
        while True:
            try:
                received = self._receive()
            except (EOFError, OSError):
                return  # the worker process died
            calls = [message for message in received if not message.get("stop")]
            # Every call already here counts as on its way before any handler takes one: a
            # batch the batcher starts waits for its batch-mates still in the handlers.
            self.runner.batcher.expect(len(calls))
            for call in calls:
                self.calls.put(call)
            if len(calls) < len(received):
                return  # the worker process is shutting down

    def _receive(self) -> list[dict[str, Any]]:
        """The next message and every other one already in the pipe."""
        received = [json.loads(self.conn.recv_bytes())]
        while self.conn.poll(0):
            received.append(json.loads(self.conn.recv_bytes()))
        return received

    def _handle(self) -> None:
        while True:
            self._answer(self.calls.get())

    def _answer(self, call: dict[str, Any]) -> None:
        answer_id = call["call"]
        try:
            with self.runner.batcher.incoming(counted=True):
                ran = self.runner.run(Task(call["task"]), call["job_id"], call["payload"])
            self.send({"answer": answer_id, "result": ran.result, "model": ran.model_name})
        except PipeqError as error:
            self.send({"answer": answer_id, "error": cleaned(error).to_wire()})
        except (redis.ConnectionError, redis.TimeoutError) as error:
            self.send({"answer": answer_id, "redis": str(error)})
        except Exception as error:
            # Any failure must reach the caller, typed; the model process goes on.
            self.send({"answer": answer_id, "error": unexpected(error, call["job_id"], call["task"]).to_wire()})


def serve(conn: Connection, settings_json: str, task_names: list[str], log_level: str) -> None:
    """The model process's entry point (multiprocessing target)."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s [model]: %(message)s")
    from pipeq_workers.runtime.quiet import quiet_libraries

    quiet_libraries()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    server = _Server(conn, WorkerSettings.model_validate_json(settings_json))
    if server.warm_up([Task(name) for name in task_names]):
        server.loop()
    # Handler threads may still run a forward pass nobody will read: leave now.
    os._exit(0)
