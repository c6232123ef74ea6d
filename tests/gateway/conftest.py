"""A real gateway (uvicorn in a subprocess, on a free loopback port) over the session's real
Redis and workers, with the tiny models' config; and the helpers its tests share."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from pipeq_gateway.process import GatewayProcess
from pipeq_workers.tooling.stack import LocalStack

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def gateway_env(redis_url: str, models_config: Path, **settings: str) -> dict[str, str]:
    return {"PIPEQ_REDIS_URL": redis_url, "PIPEQ_MODELS_CONFIG": str(models_config), **settings}


@pytest.fixture(scope="session")
def gateway(stack: LocalStack, models_config: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The open gateway (loopback, no keys) over the shared stack: its base URL."""
    log = tmp_path_factory.mktemp("gateway") / "gateway.log"
    with GatewayProcess(gateway_env(str(stack.redis_url), models_config), log=log) as process:
        yield process.url


@pytest.fixture
def http(gateway: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=gateway, timeout=120) as connected:
        yield connected


def eos_token_id(models_config: Path) -> int:
    entry = json.loads(models_config.read_text())["tasks"]["text-generation"]
    source = models_config.parent / entry["models"][entry["default"]]
    return int(json.loads((source / "config.json").read_text())["eos_token_id"])


def long_generation(models_config: Path) -> dict[str, Any]:
    """Parameters of a generation that runs 200 steps (EOS masked): long enough to act on mid-way."""
    return {"max_new_tokens": 200, "temperature": 0, "logit_bias": {str(eos_token_id(models_config)): -100.0}}


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 60.0) -> None:
    """Polls ``check`` until true: tests wait for states, never for a fixed time."""
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@dataclass
class SSEvent:
    data: str
    event: str | None = None
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


def sse_events(lines: Iterator[str]) -> Iterator[SSEvent]:
    """Server-sent events from a response's lines (the format's own rules, no library)."""
    fields: dict[str, str] = {}
    for line in lines:
        if not line:
            if "data" in fields:
                yield SSEvent(fields["data"], fields.get("event"), fields.get("id"))
            fields = {}
        elif not line.startswith(":"):
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
