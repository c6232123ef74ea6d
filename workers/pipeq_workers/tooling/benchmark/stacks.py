"""The servers of one bench run, all up for the whole run so direct and pipeq can alternate:
an unbatched and a batched pipeq stack (each its own Redis and text worker) and a bare Redis
with no worker, for the submit rate. Each variant gets a :class:`Probe` that knows whose CPU
is whose."""

from __future__ import annotations

import os
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import redis

from pipeq_client import Client
from pipeq_client.protocol import Queue
from pipeq_workers.tooling.benchmark.cpu import ProcessGroup
from pipeq_workers.tooling.benchmark.window import Probe
from pipeq_workers.tooling.embedded import EmbeddedRedis
from pipeq_workers.tooling.stack import LocalStack

__all__ = ["IN_PROCESS", "MODES", "Server", "Stacks"]

# Worker settings per mode; everything else (batch wait, transport) is the code's default.
MODES: dict[str, dict[str, str]] = {
    "unbatched": {"PIPEQ_MAX_BATCH_SIZE": "1"},
    "batched": {"PIPEQ_MAX_BATCH_SIZE": "32"},
}
# The batched worker with its models in the worker process (no model process), measured
# beside the batched one on the encoder workloads: the figure behind PIPEQ_MODEL_PROCESS=auto.
IN_PROCESS = "in-process"
_ALL_MODES = {**MODES, IN_PROCESS: {"PIPEQ_MAX_BATCH_SIZE": "32", "PIPEQ_MODEL_PROCESS": "off"}}


@dataclass(frozen=True)
class Server:
    """One running Redis (and the worker on it, if any), with a client and its processes."""

    url: str
    redis: redis.Redis
    redis_process: ProcessGroup
    worker: ProcessGroup | None
    client: Client

    def pids(self) -> list[int]:
        groups = [self.redis_process, *([self.worker] if self.worker else [])]
        return [root.pid for group in groups for root in group.roots]


def _server(url: str, worker_pid: int | None, resources: ExitStack) -> Server:
    connection = resources.enter_context(redis.Redis.from_url(url))
    redis_pid = int(connection.info("server")["process_id"])
    worker = ProcessGroup([worker_pid]) if worker_pid is not None else None
    client = resources.enter_context(Client(url))
    return Server(url, connection, ProcessGroup([redis_pid]), worker, client)


class Stacks:
    """``with Stacks(...) as stacks: stacks.probe("batched")`` -- all servers stop on exit."""

    def __init__(
        self,
        models_config: Path,
        threads: int,
        modes: tuple[str, ...],
        *,
        bare: bool,
        commandstats: bool,
        in_process: bool = False,
    ) -> None:
        self.models_config = models_config
        self.threads = threads
        self.modes = modes
        self.bare = bare  # a Redis with no worker, for the submit rate
        self.commandstats = commandstats
        self.in_process = in_process  # also start the IN_PROCESS comparison stack
        self.servers: dict[str, Server] = {}
        self._resources = ExitStack()
        self._me = ProcessGroup([os.getpid()], tree=False)

    def worker_env(self, mode: str) -> dict[str, str]:
        return {**_ALL_MODES[mode], "PIPEQ_TORCH_THREADS": str(self.threads)}

    def _start_mode(self, mode: str) -> None:
        server = self._resources.enter_context(EmbeddedRedis())
        stack = LocalStack(server.url, self.models_config, queues=(Queue.TEXT,), extra_env=self.worker_env(mode))
        self._resources.enter_context(stack)
        self.servers[mode] = _server(server.url, stack.workers[Queue.TEXT].pid, self._resources)

    def __enter__(self) -> Self:
        with ExitStack() as starting:
            starting.push(self._resources)  # a failed start stops what did start
            for mode in (*self.modes, *([IN_PROCESS] if self.in_process else [])):
                self._start_mode(mode)
            if self.bare:
                bare = self._resources.enter_context(EmbeddedRedis())
                self.servers["bare"] = _server(bare.url, None, self._resources)
            starting.pop_all()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._resources.close()

    def _background(self, busy: str | None) -> ProcessGroup:
        pids = [pid for name, server in self.servers.items() if name != busy for pid in server.pids()]
        return ProcessGroup(pids)

    def direct_probe(self) -> Probe:
        """The bench process runs the model itself; every server sits idle."""
        return Probe({"server": self._me, "background": self._background(None)})

    def probe(self, name: str) -> Probe:
        """Server ``name`` under load from the bench process; the others idle."""
        server = self.servers[name]
        roles = {"client": self._me, "redis": server.redis_process, "background": self._background(name)}
        if server.worker is not None:
            roles["server"] = server.worker
        return Probe(roles, server.redis if self.commandstats else None)
