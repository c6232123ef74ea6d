"""Flower, started against the configured Redis with pipeq's Celery app (task and sent events
come from the workers; Flower only listens)."""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.request

__all__ = ["flower_argv", "flower_command", "wait_http"]


def flower_argv(port: int, address: str, basic_auth: str | None) -> list[str]:
    """Arguments of Celery's ``flower`` command."""
    argv = ["flower", f"--port={port}", f"--address={address}"]
    if basic_auth:
        argv.append(f"--basic-auth={basic_auth}")
    return argv


def flower_command(port: int, address: str = "127.0.0.1", basic_auth: str | None = None) -> list[str]:
    """``pipeq flower`` as a subprocess command (the demo and the tests run it so)."""
    command = [sys.executable, "-m", "pipeq_workers.cli", "flower", "--port", str(port), "--address", address]
    return [*command, "--basic-auth", basic_auth] if basic_auth else [*command, "--no-auth"]


def wait_http(url: str, timeout_s: float = 60.0) -> None:
    """Waits until ``url`` answers at all (any HTTP status, 401 included)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout_s:g}s")
