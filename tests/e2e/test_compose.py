"""docker-compose.yml is accepted by `docker-compose config` and has the services it promises."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if os.environ.get("CI"):
        pytest.fail("docker-compose is not installed: .ci/run installs it (Debian package docker-compose)")
    pytest.skip("docker-compose not installed (Debian package docker-compose)")


def test_compose_file_validates_and_defines_redis_and_one_worker_per_modality() -> None:
    out = subprocess.run([*compose_command(), "config"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    services = subprocess.run(
        [*compose_command(), "config", "--services"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert set(services) >= {"redis", "worker-text", "worker-vision", "worker-audio"}
    assert "appendonly" in out.stdout and "noeviction" in out.stdout
