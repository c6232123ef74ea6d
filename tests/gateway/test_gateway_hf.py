"""The real `huggingface_hub.InferenceClient(base_url=...)` against a real gateway, Redis, workers
and tiny models: every task it has a method for (image-text-to-text through chat_completion,
its only way there). Each answer is checked against the same request through the Python client."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import pytest
from huggingface_hub import InferenceClient

from pipeq_client import Client
from pipeq_client.types import ImageTextToTextRequest
from pipeq_workers.tooling.samples import sample_png, sample_wav
from tests.gateway.conftest import sse_events

pytestmark = pytest.mark.integration

TEXT = "the quick brown fox jumps over the lazy dog"
PNG = sample_png()
WAV = sample_wav(1.0)


def hf(gateway: str, task: str) -> InferenceClient:
    """One client per model route: ``base_url`` = the model's HF task route on the gateway."""
    return InferenceClient(base_url=f"{gateway}/models/tiny/{task}", timeout=120)


def labels(items: list) -> list[tuple[str, float]]:
    return [(item.label, pytest.approx(item.score, rel=1e-5)) for item in items]


def test_text_classification(gateway: str, client: Client) -> None:
    answer = hf(gateway, "text-classification").text_classification("I love it", top_k=2)
    assert labels(answer) == labels(client.text_classification("I love it", top_k=2).root)


def test_zero_shot_classification(gateway: str, client: Client) -> None:
    candidates = ["animals", "cars", "food"]
    answer = hf(gateway, "zero-shot-classification").zero_shot_classification(
        TEXT, candidate_labels=candidates, multi_label=True
    )
    expected = client.zero_shot_classification(TEXT, candidates, multi_label=True)
    assert labels(answer) == labels(expected.root)


def test_feature_extraction(gateway: str, client: Client) -> None:
    answer = hf(gateway, "feature-extraction").feature_extraction(TEXT, normalize=True)
    expected = client.feature_extraction(TEXT, normalize=True)
    assert answer.dtype == np.float32 and np.allclose(answer, np.asarray(expected.root), atol=1e-6)


def test_summarization_and_translation(gateway: str, client: Client) -> None:
    summary = hf(gateway, "summarization").summarization(TEXT, generate_parameters={"max_new_tokens": 8})
    assert summary.summary_text == client.summarization(TEXT, max_new_tokens=8).summary_text
    translated = hf(gateway, "translation").translation(TEXT, generate_parameters={"max_new_tokens": 8})
    assert translated.translation_text == client.translation(TEXT, max_new_tokens=8).translation_text


def test_text_generation_tgi_with_details_and_stream(gateway: str, client: Client) -> None:
    generator = hf(gateway, "text-generation")
    answer = generator.text_generation("hello world", max_new_tokens=10, details=True, top_n_tokens=2, seed=1)
    expected = client.text_generation("hello world", max_new_tokens=10, logprobs=True, top_logprobs=2, seed=1)
    assert answer.generated_text == expected.generated_text
    assert answer.details.finish_reason == expected.details.finish_reason
    assert answer.details.generated_tokens == expected.details.generated_tokens
    assert [token.id for token in answer.details.tokens] == [token.id for token in expected.details.tokens]
    assert all(len(step) == 2 for step in answer.details.top_tokens)
    streamed = list(generator.text_generation("hello world", max_new_tokens=10, stream=True, details=True, seed=1))
    assert "".join(event.token.text for event in streamed) == expected.generated_text
    assert streamed[-1].generated_text == expected.generated_text and streamed[-1].details.generated_tokens == 10
    # TGI style at the root too: base_url = the gateway itself.
    root = InferenceClient(base_url=gateway, timeout=120)
    assert root.text_generation("hello world", max_new_tokens=10, seed=1) == expected.generated_text
    info = InferenceClient(base_url=gateway, provider="hf-inference").get_endpoint_info()  # needs the provider named
    assert info["model_id"] == "tiny/text-generation"


def test_image_tasks(gateway: str, client: Client) -> None:
    classes = hf(gateway, "image-classification").image_classification(PNG, top_k=2)
    assert labels(classes) == labels(client.image_classification(PNG, top_k=2).root)
    boxes = hf(gateway, "object-detection").object_detection(PNG, threshold=0.0)
    expected = client.object_detection(PNG, threshold=0.0).root
    assert [(box.label, box.box.xmin, box.box.ymax) for box in boxes] == [
        (item.label, item.box.xmin, item.box.ymax) for item in expected
    ]
    caption = hf(gateway, "image-to-text").image_to_text(PNG)
    assert caption.generated_text == client.image_to_text(PNG).generated_text


def test_image_text_to_text_through_chat_completion(gateway: str, client: Client) -> None:
    url = "data:image/png;base64," + base64.b64encode(PNG).decode()
    content = [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "describe"}]
    answer = InferenceClient(base_url=gateway, timeout=120).chat_completion(
        [{"role": "user", "content": content}], model="tiny/image-text-to-text", max_tokens=6, temperature=0
    )
    parts = [{"type": "image", "image": PNG}, {"type": "text", "text": "describe"}]
    request = ImageTextToTextRequest.build(
        [{"role": "user", "content": parts}], parameters={"max_new_tokens": 6, "temperature": 0}
    )
    assert answer.choices[0].message.content == client.run(request, timeout=120).generated_text


def test_audio_tasks(gateway: str, client: Client) -> None:
    text = hf(gateway, "automatic-speech-recognition").automatic_speech_recognition(WAV)
    assert text.text == client.automatic_speech_recognition(WAV).text
    classes = hf(gateway, "audio-classification").audio_classification(WAV, top_k=2)
    assert labels(classes) == labels(client.audio_classification(WAV, top_k=2).root)
    speech = hf(gateway, "text-to-speech").text_to_speech("hello world", extra_body={"seed": 0})
    assert speech == client.text_to_speech("hello world", seed=0).audio.data


def test_validation_errors_are_422_with_the_field(gateway: str) -> None:
    from huggingface_hub.errors import HfHubHTTPError

    with pytest.raises(HfHubHTTPError) as refused:
        hf(gateway, "text-classification").text_classification("x", top_k=0)
    assert refused.value.response.status_code == 422
    body = refused.value.response.json()
    assert body["error_type"] == "validation" and body["field"] == "parameters.top_k"


def test_tgi_generate_routes_directly(http: httpx.Client, client: Client) -> None:
    expected = client.text_generation("hello world", max_new_tokens=6, temperature=0, logprobs=True)
    body = {"inputs": "hello world", "parameters": {"max_new_tokens": 6, "temperature": 0, "details": True}}
    answer = http.post("/generate", json=body).json()
    assert answer["generated_text"] == expected.generated_text
    assert [token["id"] for token in answer["details"]["tokens"]] == [token.id for token in expected.details.tokens]
    with http.stream("POST", "/generate_stream", json=body) as response:
        events = [event.json() for event in sse_events(response.iter_lines())]
    assert [event["index"] for event in events] == list(range(len(events)))
    assert "".join(event["token"]["text"] for event in events) == expected.generated_text
    assert events[-1]["generated_text"] == expected.generated_text and events[-1]["details"]["generated_tokens"] == 6
    assert http.get("/info").json()["model_pipeline_tag"] == "text-generation"
    refused = http.post("/generate", json={"inputs": "x", "parameters": {"grammar": {"type": "json"}}})
    assert refused.status_code == 422 and refused.json()["field"] == "parameters.grammar"


def test_hf_routes_take_raw_bytes_or_json(http: httpx.Client, client: Client) -> None:
    boxes = http.post("/models/tiny/object-detection", content=PNG, headers={"Content-Type": "image/png"})
    expected = client.object_detection(PNG).model_dump(mode="json")
    assert boxes.json() == expected
    inputs = {"images": [{"data": base64.b64encode(PNG).decode()}], "text": "<image> describe"}
    answer = http.post(
        "/models/tiny/image-text-to-text",
        json={"inputs": inputs, "parameters": {"max_new_tokens": 6, "temperature": 0}},
    )
    request = ImageTextToTextRequest.build(
        {"images": [PNG], "text": "<image> describe"}, parameters={"max_new_tokens": 6, "temperature": 0}
    )
    assert answer.json() == [{"generated_text": client.run(request, timeout=120).generated_text}]
    pipeline = http.post("/models/text-classification/pipeline/text-classification", json={"inputs": "I love it"})
    assert pipeline.json() == [client.text_classification("I love it").model_dump(mode="json")], (
        "a task name = its default"
    )
