"""Session fixtures: a real redis-server, tiny models, and real Celery worker processes.

PIPEQ_TEST_REDIS_URL points the suite at an existing Redis; otherwise a private
redis-server is started. Nothing here mocks Redis, Celery or transformers.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from pipeq_client import Client
from pipeq_workers.tooling.embedded import EmbeddedRedis
from pipeq_workers.tooling.stack import LocalStack, default_tiny_dir
from pipeq_workers.tooling.tiny import build_tiny_models


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--chaos", action="store_true", help="run the heavy chaos loops (hundreds of jobs, many SIGKILLs)")


@pytest.fixture(scope="session")
def models_config() -> Path:
    return build_tiny_models(default_tiny_dir())


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    external = os.environ.get("PIPEQ_TEST_REDIS_URL")
    if external:
        yield external
        return
    with EmbeddedRedis() as server:
        yield server.url


@pytest.fixture(scope="session")
def stack(redis_url: str, models_config: Path) -> Iterator[LocalStack]:
    """One worker process per queue, shared by the integration tests."""
    redis.Redis.from_url(redis_url).flushall()
    # Small limits on the workers: oversized inputs are cheap to test, and TTS outputs
    # (a few KB from the tiny model) take the claim-check path.
    limits = {"PIPEQ_MAX_PAYLOAD_BYTES": str(1024 * 1024), "PIPEQ_INLINE_LIMIT_BYTES": "1024"}
    with LocalStack(redis_url=redis_url, models_config=models_config, extra_env=limits) as running:
        yield running


@pytest.fixture
def client(stack: LocalStack) -> Iterator[Client]:
    with Client(stack.redis_url) as connected:
        yield connected
