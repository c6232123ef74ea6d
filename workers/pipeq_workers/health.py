"""Worker health: a heartbeat thread writes a JSON file, and an optional tiny HTTP server
answers the probes and serves the metrics. Not ``celery inspect ping``: a solo worker busy
in a task cannot answer it, and it is slow.

    /startupz  200 once the models are loaded
    /readyz    200 while models are loaded and Redis answers
    /livez     200 while the heartbeat is fresh
    /metrics   Prometheus text format
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import redis
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from pipeq_workers.metrics import WorkerMetrics

__all__ = ["HealthMonitor", "HealthState", "read_health"]


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


def read_health(path: Path) -> HealthState:
    """The last heartbeat written to ``path`` (OSError / ValueError if missing or corrupt)."""
    return HealthState(**json.loads(path.read_text(encoding="utf-8")))


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
    ) -> None:
        self.client = client
        self.metrics = metrics
        self.state = HealthState(queues=queues)
        self.interval_s = interval_s
        self.health_file = health_file
        self.port = port
        self._stop = threading.Event()
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
            # Write then rename: a probe never reads a half-written file.
            partial = self.health_file.with_suffix(".tmp")
            partial.write_text(json.dumps(asdict(self.state)), encoding="utf-8")
            partial.replace(self.health_file)

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
