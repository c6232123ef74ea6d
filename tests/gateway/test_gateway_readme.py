"""The README's gateway examples (curl, the openai SDK, InferenceClient) run as written against a
real gateway: the same code blocks, with the demo's address replaced by the test gateway's."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[2] / "README.md"
DEMO_URL = "http://127.0.0.1:8000"


def gateway_examples() -> list[tuple[str, str]]:
    """``(language, code)`` of every block in the gateway section that talks to the demo address."""
    text = README.read_text(encoding="utf-8")
    section = text.split("## HTTP gateway", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(bash|python)\n(.*?)```", section, flags=re.DOTALL)
    return [(language, code) for language, code in blocks if DEMO_URL in code]


def run(language: str, code: str, gateway: str) -> str:
    command = ["bash", "-euo", "pipefail", "-c"] if language == "bash" else [sys.executable, "-c"]
    out = subprocess.run(
        [*command, code.replace(DEMO_URL, gateway)], capture_output=True, text=True, timeout=300, check=False
    )
    report = f"{language} example failed:\n{code}\n--- stdout\n{out.stdout}\n--- stderr\n{out.stderr}"
    assert out.returncode == 0, report
    return out.stdout


def test_the_readme_has_curl_openai_and_inference_client_examples() -> None:
    examples = gateway_examples()
    assert [language for language, _ in examples] == ["bash", "python", "python"]
    assert "from openai import OpenAI" in examples[1][1] and "InferenceClient" in examples[2][1]


def test_curl_examples_run_as_written(gateway: str) -> None:
    ((_, code),) = [example for example in gateway_examples() if example[0] == "bash"]
    output = run("bash", code, gateway)
    assert '[[{"label":' in output, "the classification"
    assert "data: [DONE]" in output, "the streamed chat completion"
    assert "event: started" in output and "event: done" in output, "the job's events"
    assert '"status":"done"' in output, "the job's status"


def test_openai_example_runs_as_written(gateway: str) -> None:
    ((_, code),) = [example for example in gateway_examples() if "from openai" in example[1]]
    output = run("python", code, gateway)
    assert "CompletionUsage(" in output and "tiny/feature-extraction" in output


def test_inference_client_example_runs_as_written(gateway: str) -> None:
    ((_, code),) = [example for example in gateway_examples() if "InferenceClient" in example[1]]
    output = run("python", code, gateway)
    assert "TextClassificationOutputElement(" in output and "TextGenerationOutput(" in output
