"""The README's client examples run as written against the tiny models: its Python blocks, the
``client.<task>(...)`` calls in its text, and its ``pipeq submit`` commands."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from pipeq_client import Client
from pipeq_workers.tooling.samples import sample_png, sample_wav
from pipeq_workers.tooling.stack import LocalStack

pytestmark = pytest.mark.integration

README = (Path(__file__).parents[2] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
# Blocks for pipeq's own client (the gateway's OpenAI / huggingface_hub examples are the gateway's tests').
CLIENT_BLOCKS = [block for block in BLOCKS if "openai" not in block and "huggingface_hub" not in block]
CLIENT_CALLS = sorted(set(re.findall(r"`(client\.\w+\([^`]*\))`", README)))
SUBMITS = sorted(
    set(re.findall(r"^(pipeq submit [^\n]*?)\s*$", README, re.M) + re.findall(r"`(pipeq submit [^`]+)`", README))
)
LONG_TEXT = "pipeq serves Hugging Face pipelines from a Redis-backed Celery queue. " * 60


def run_block(code: str, stack: LocalStack) -> str:
    """``code`` exactly as written, in a fresh interpreter (its own imports, its own names);
    only PIPEQ_REDIS_URL (the examples' ``Client()``) names the test stack."""
    env = {**os.environ, "PIPEQ_REDIS_URL": str(stack.redis_url)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_readme_has_client_examples() -> None:
    assert len(CLIENT_BLOCKS) >= 2 and len(CLIENT_CALLS) >= 3 and len(SUBMITS) >= 4


@pytest.mark.parametrize("code", CLIENT_BLOCKS, ids=[f"block{index}" for index in range(len(CLIENT_BLOCKS))])
def test_python_blocks_run(stack: LocalStack, code: str) -> None:
    printed = run_block(code, stack)
    assert printed.strip(), "the example prints its results"
    assert "invalid" not in printed and "too_long" not in printed and "worker_error" not in printed, printed


@pytest.mark.parametrize("call", CLIENT_CALLS)
def test_client_calls_in_the_text_run(stack: LocalStack, call: str) -> None:
    with Client(str(stack.redis_url)) as client:
        names = {"client": client, "png_bytes": sample_png(), "wav_bytes": sample_wav(1.0), "png": sample_png()}
        assert eval(call, names) is not None  # the README's own examples


@pytest.mark.parametrize("command", SUBMITS)
def test_submit_commands_run(stack: LocalStack, command: str, tmp_path: Path) -> None:
    (tmp_path / "cat.png").write_bytes(sample_png())
    argv = [sys.executable, "-m", "pipeq_workers.cli", *shlex.split(command)[1:]]
    env = {**os.environ, "PIPEQ_REDIS_URL": str(stack.redis_url)}
    out = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
