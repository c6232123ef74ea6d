"""The playground page in headless Chromium, against the real gateway and workers: a
classification renders as bars, a streamed generation shows its tokens as they arrive and
ends with the same text as the Python client's; the screenshot is kept in test-artifacts/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeq_client import Client
from pipeq_workers.tooling.samples import sample_png
from tests.gateway.cdp import Browser
from tests.gateway.conftest import ARTIFACTS

pytestmark = pytest.mark.integration

PROMPT = "Once upon a time"


def set_field(selector: str, value: str | bool) -> str:
    """JavaScript that sets a form field as a user would, firing its change event."""
    prop = "checked" if isinstance(value, bool) else "value"
    return (
        f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.{prop} = {json.dumps(value)};"
        " e.dispatchEvent(new Event('change', {bubbles: true})); })();"
    )


def run_and_wait(page: Browser) -> None:
    page.evaluate("document.querySelector('#run').click()")
    page.wait_for("['done', 'failed', 'cancelled'].includes(document.querySelector('#state').dataset.state)", "the job")
    assert page.evaluate("document.querySelector('#state').dataset.state") == "done", page.evaluate(
        "document.querySelector('#state').textContent"
    )


def test_playground_classifies_and_streams_a_generation(gateway: str, client: Client, tmp_path: Path) -> None:
    with Browser(tmp_path / "chromium-profile") as page:
        page.navigate(f"{gateway}/")
        page.wait_for("document.body.dataset.ready === 'true'", "the models list")
        assert page.evaluate("document.querySelector('#model').value") == "tiny/text-classification"

        page.evaluate(set_field("#task", "text-classification") + set_field("#text", "I love this movie"))
        run_and_wait(page)
        bars = "[...document.querySelectorAll('#result .bar')]"
        shown = page.evaluate(f"{bars}.map(bar => [bar.children[0].textContent, bar.children[2].textContent])")
        expected = client.text_classification("I love this movie", top_k=5).root
        assert shown == [[item.label, f"{item.score:.3f}"] for item in expected]

        page.evaluate(
            set_field("#task", "text-generation") + set_field("#text", PROMPT) + set_field("#max_new_tokens", "24")
            + set_field("#temperature", "0") + set_field("#streaming", True)
        )  # fmt: skip
        run_and_wait(page)
        streamed = page.evaluate("document.querySelector('#stream').textContent")
        token_events = int(page.evaluate("document.querySelector('#stream').dataset.tokens"))
        final = json.loads(page.evaluate("document.querySelector('#raw').textContent"))["generated_text"]
        expected_text = client.text_generation(
            PROMPT, max_new_tokens=24, temperature=0, top_p=1, top_k=0
        ).generated_text
        assert streamed == final == expected_text, "the streamed tokens add up to the result"
        assert token_events > 1, "the text arrived token by token"
        assert "finish_reason: length, 24 tokens" in page.evaluate(
            "document.querySelector('#result .meta').textContent"
        )

        ARTIFACTS.mkdir(exist_ok=True)
        target = ARTIFACTS / "gateway-playground.png"
        page.screenshot(target)
    assert target.stat().st_size > 10_000


def test_playground_draws_boxes_and_plays_speech(gateway: str, client: Client, tmp_path: Path) -> None:
    image = tmp_path / "picture.png"
    image.write_bytes(sample_png(320, 240))
    with Browser(tmp_path / "chromium-profile") as page:
        page.navigate(f"{gateway}/")
        page.wait_for("document.body.dataset.ready === 'true'", "the models list")
        page.evaluate(set_field("#task", "object-detection"))
        page.set_files("#file", image)
        page.wait_for("document.querySelector('#file-preview img') !== null", "the dropped image's preview")
        run_and_wait(page)
        expected = client.object_detection(image.read_bytes(), threshold=0.0).root
        assert page.evaluate("document.querySelector('#result .meta').textContent") == f"{len(expected)} boxes"
        page.wait_for("document.querySelector('#result canvas').width === 320", "the image drawn with its boxes")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(ARTIFACTS / "gateway-playground-detection.png")

        page.evaluate(set_field("#task", "text-to-speech") + set_field("#text", "hello world"))
        run_and_wait(page)
        source = page.evaluate("document.querySelector('#result audio').src")
        assert source.startswith("data:audio/wav;base64,UklGR"), "a playable WAV (RIFF header)"
        page.wait_for("document.querySelector('#result audio').readyState >= 1", "the browser to read the audio")
        assert page.evaluate("document.querySelector('#result audio').duration") > 0
