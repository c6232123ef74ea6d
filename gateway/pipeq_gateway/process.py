"""A gateway in a subprocess, for the demo, the tests and the benchmark: started on a loopback
port, ready once ``/livez`` answers, stopped on exit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Self

__all__ = ["GatewayProcess", "free_port", "port_is_free"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


class GatewayProcess:
    """``with GatewayProcess(env) as gateway: gateway.url`` -- ``env`` carries PIPEQ_* settings."""

    def __init__(
        self,
        env: dict[str, str] | None = None,
        port: int | None = None,
        args: tuple[str, ...] = (),
        log: Path | None = None,
        ready_timeout_s: float = 60.0,
    ) -> None:
        self.env = {**os.environ, **(env or {})}
        self.port = port or free_port()
        self.args = args
        self.log_path = log
        self.ready_timeout_s = ready_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        command = [sys.executable, "-m", "pipeq_gateway", "--host", "127.0.0.1", "--port", str(self.port), *self.args]
        self._log = self.log_path.open("ab") if self.log_path else None
        output = self._log or subprocess.DEVNULL
        self.process = subprocess.Popen(command, env=self.env, stdout=output, stderr=subprocess.STDOUT)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited at start ({self.process.returncode}):\n{self.log_tail()}")
            try:
                urllib.request.urlopen(f"{self.url}/livez", timeout=2).close()
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise TimeoutError(f"the gateway did not answer within {self.ready_timeout_s:g}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()
