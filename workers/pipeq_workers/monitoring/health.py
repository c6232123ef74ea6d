"""Worker health: a heartbeat thread writes a JSON file, and an optional tiny HTTP server
answers the probes and serves the metrics. Not ``celery inspect ping``: a solo worker busy
in a task cannot answer it, and it is slow.

    /startupz  200 once the models are loaded
    /readyz    200 while models are loaded and Redis answers
    /livez     200 while the heartbeat is fresh
    /metrics   Prometheus text format

Without ``PIPEQ_HEALTH_FILE`` each worker writes ``<queues>-<pid>.json`` in a heartbeat
directory (``PIPEQ_HEALTH_DIR``, default ``$XDG_RUNTIME_DIR/pipeq`` or ``<tmp>/pipeq-<uid>``)
and removes it on a clean exit, so ``pipeq health`` finds every worker of the host there.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pipeq_workers.monitoring.metrics import WorkerMetrics

__all__ = [
    "HealthMonitor",
    "HealthState",
    "Heartbeats",
    "default_health_dir",
    "heartbeat_file",
    "probe_passes",
    "process_exited",
    "read_health",
    "scan_heartbeats",
]


@dataclass
class HealthState:
    """What the heartbeat file holds."""

    queues: list[str]
    pid: int = field(default_factory=os.getpid)
    hostname: str = field(default_factory=socket.gethostname)
    started_at: float = field(default_factory=time.time)
    models_loaded: bool = False
    redis_ok: bool = False
    redis_error: str | None = None
    last_heartbeat: float = 0.0

    def live(self, max_age_s: float) -> bool:
        return time.time() - self.last_heartbeat <= max_age_s

    def ready(self, max_age_s: float) -> bool:
        return self.live(max_age_s) and self.models_loaded and self.redis_ok


def probe_passes(state: HealthState, probe: str, max_age_s: float) -> bool:
    """``live`` / ``ready`` / ``startup`` as the HTTP probes answer them."""
    checks: dict[str, Callable[[float], bool]] = {
        "live": state.live,
        "ready": state.ready,
        "startup": lambda _: state.models_loaded,
    }
    return checks[probe](max_age_s)


def read_health(path: Path) -> HealthState:
    """The last heartbeat written to ``path`` (OSError / ValueError if missing or corrupt)."""
    return HealthState(**json.loads(path.read_text(encoding="utf-8")))


def default_health_dir() -> Path:
    """Per user, on this host: a runtime dir is private and cleared at logout or reboot."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    return Path(runtime) / "pipeq" if runtime else Path(tempfile.gettempdir()) / f"pipeq-{os.getuid()}"


def heartbeat_file(directory: Path, queues: list[str], pid: int) -> Path:
    """One file per worker, named like its Celery node (``<queues>-<pid>``)."""
    return directory / f"{'-'.join(queues)}-{pid}.json"


def process_exited(state: HealthState) -> bool:
    """True when the heartbeat's worker ran on this host and its process is gone (a stale file)."""
    if state.hostname != socket.gethostname():
        return False  # another host's process cannot be looked up: its heartbeat age decides
    try:
        os.kill(state.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, owned by another user
    return False


@dataclass
class Heartbeats:
    """What a heartbeat directory holds: live workers' states, and files nobody will update."""

    workers: dict[Path, HealthState] = field(default_factory=dict)
    exited: list[Path] = field(default_factory=list)
    unreadable: dict[Path, str] = field(default_factory=dict)


def scan_heartbeats(directory: Path) -> Heartbeats:
    """Every ``*.json`` heartbeat in ``directory``; files of exited processes are removed (and listed)."""
    found = Heartbeats()
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            state = read_health(path)
        except FileNotFoundError:
            continue  # its worker exited cleanly between the listing and the read
        except (OSError, ValueError, TypeError) as error:
            found.unreadable[path] = str(error)
            continue
        if process_exited(state):
            path.unlink(missing_ok=True)  # a killed worker never removes its own file
            found.exited.append(path)
        else:
            found.workers[path] = state
    return found


class HealthMonitor:
    """Beats every ``interval_s``: pings Redis, records the state, writes the file."""

    def __init__(
        self,
        client: redis.Redis,
        metrics: WorkerMetrics,
        queues: list[str],
        interval_s: float,
        health_file: Path | None,
        port: int | None,
        remove_on_stop: bool = False,
    ) -> None:
        self.client = client
        self.metrics = metrics
        self.state = HealthState(queues=queues)
        self.interval_s = interval_s
        self.health_file = health_file
        self.port = port
        self.remove_on_stop = remove_on_stop
        self._stop = threading.Event()
        self._writing = threading.Lock()  # stop() must not remove the file under a beat that rewrites it
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        self.beat()
        threading.Thread(target=self._run, name="pipeq-heartbeat", daemon=True).start()
        if self.port is not None:
            self._server = ThreadingHTTPServer(("0.0.0.0", self.port), _handler(self))
            self.port = self._server.server_address[1]
            threading.Thread(target=self._server.serve_forever, name="pipeq-health-http", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
        if self.remove_on_stop and self.health_file is not None:
            with self._writing:
                self.health_file.unlink(missing_ok=True)  # a clean exit leaves no stale heartbeat behind

    def mark_models_loaded(self) -> None:
        self.state.models_loaded = True
        self.metrics.models_loaded.set(1)
        self.beat()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.beat()

    def beat(self) -> None:
        try:
            self.client.ping()
            self.state.redis_ok, self.state.redis_error = True, None
        except redis.RedisError as error:
            self.state.redis_ok, self.state.redis_error = False, str(error)
        self.state.last_heartbeat = time.time()
        if self.health_file is not None:
            with self._writing:
                if not self._stop.is_set():
                    self._write(self.health_file)

    def _write(self, path: Path) -> None:
        # Write then rename: a probe never reads a half-written file.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(asdict(self.state)), encoding="utf-8")
        partial.replace(path)

    @property
    def max_age_s(self) -> float:
        return 3 * self.interval_s


def _handler(monitor: HealthMonitor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            checks = {
                "/livez": lambda: monitor.state.live(monitor.max_age_s),
                "/readyz": lambda: monitor.state.ready(monitor.max_age_s),
                "/startupz": lambda: monitor.state.models_loaded,
            }
            if self.path == "/metrics":
                self._reply(200, generate_latest(monitor.metrics.registry), CONTENT_TYPE_LATEST)
            elif self.path in checks:
                healthy = checks[self.path]()
                self._reply(200 if healthy else 503, json.dumps(asdict(monitor.state)).encode(), "application/json")
            else:
                self._reply(404, b"not found", "text/plain")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler
