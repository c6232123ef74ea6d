"""The README's main job: `pipeq demo` runs all 13 tasks through a private Redis and real workers."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.e2e


def test_demo_runs_all_13_tasks_through_the_queue() -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("PIPEQ_REDIS_URL", "PIPEQ_MODELS_CONFIG")}
    out = subprocess.run(
        [sys.executable, "-m", "pipeq_workers.cli", "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=500,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "13/13 tasks succeeded through the queue" in out.stdout
    assert "gateway: http://127.0.0.1:" in out.stdout and "(playground)" in out.stdout
    assert "gateway: POST /v1/chat/completions ->" in out.stdout, "the demo's gateway answered a chat completion"
    rows = [line for line in out.stdout.splitlines() if line.split(" ", 1)[0] in {
        "text-generation", "text-classification", "summarization", "translation", "zero-shot-classification",
        "feature-extraction", "image-to-text", "image-classification", "object-detection", "image-text-to-text",
        "automatic-speech-recognition", "audio-classification", "text-to-speech",
    }]  # fmt: skip
    assert len(rows) == 13 and all(" yes " in row for row in rows)
