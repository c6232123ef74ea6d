"""The real `openai` SDK against a real gateway, Redis, workers and tiny models. Each answer is
checked against the same request sent through the Python client."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import openai
import pytest

from pipeq_client import Client
from pipeq_client.types import ImageTextToTextRequest, TextGenerationRequest
from pipeq_workers.tooling.samples import sample_png, sample_wav

pytestmark = pytest.mark.integration

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Tell me about queues."}]
GENERATOR = "tiny/text-generation"
FINISH = {"length": "length", "eos_token": "stop", "stop_sequence": "stop"}


@pytest.fixture
def oai(gateway: str) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{gateway}/v1", api_key="not-needed-on-loopback", max_retries=0, timeout=120) as sdk:
        yield sdk


def chat_through_client(client: Client, messages: list, **parameters: object) -> object:
    return client.run(TextGenerationRequest.build(messages, GENERATOR, parameters), timeout=120)


def test_chat_completion_equals_the_python_client(oai: openai.OpenAI, client: Client) -> None:
    answer = oai.chat.completions.create(
        model=GENERATOR, messages=CHAT, max_tokens=12, temperature=0, logprobs=True, top_logprobs=2
    )
    expected = chat_through_client(client, CHAT, max_new_tokens=12, temperature=0, logprobs=True, top_logprobs=2)
    (choice,) = answer.choices
    assert answer.object == "chat.completion" and answer.model == GENERATOR
    assert choice.message.role == "assistant" and choice.message.content == expected.generated_text
    assert choice.finish_reason == FINISH[expected.details.finish_reason]
    assert answer.usage.completion_tokens == expected.details.generated_tokens
    assert answer.usage.prompt_tokens == expected.details.prompt_tokens > 0
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    assert [token.logprob for token in choice.logprobs.content] == pytest.approx(
        [token.logprob for token in expected.details.tokens]
    )
    assert all(len(token.top_logprobs) == 2 for token in choice.logprobs.content)


def test_chat_sampling_settings_reach_the_worker(oai: openai.OpenAI, client: Client) -> None:
    settings = {"temperature": 0.9, "top_p": 0.95, "seed": 7, "presence_penalty": 0.5, "frequency_penalty": 0.3}
    answer = oai.chat.completions.create(
        model=GENERATOR, messages=CHAT, n=2, max_completion_tokens=10, logit_bias={"5": 2.0}, stop=["zz"], **settings
    )
    expected = chat_through_client(
        client, CHAT, num_return_sequences=2, max_new_tokens=10, logit_bias={5: 2.0}, stop=["zz"], **settings
    )
    assert [choice.message.content for choice in answer.choices] == [seq.text for seq in expected.sequences]
    assert [choice.index for choice in answer.choices] == [0, 1]
    assert answer.usage.completion_tokens == sum(seq.details.generated_tokens for seq in expected.sequences)


def test_chat_stream_concatenates_to_the_final_text(oai: openai.OpenAI, client: Client) -> None:
    request = {"model": GENERATOR, "messages": CHAT, "max_tokens": 16, "temperature": 0}
    chunks = list(oai.chat.completions.create(**request, stream=True, stream_options={"include_usage": True}))
    final = oai.chat.completions.create(**request)
    streamed = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    assert streamed == final.choices[0].message.content
    assert streamed == chat_through_client(client, CHAT, max_new_tokens=16, temperature=0).generated_text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({chunk.id for chunk in chunks}) == 1 and chunks[0].object == "chat.completion.chunk"
    reasons = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    assert reasons == [final.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == final.usage.completion_tokens


def test_chat_with_an_image_runs_image_text_to_text(oai: openai.OpenAI, client: Client) -> None:
    png = sample_png()
    url = "data:image/png;base64," + base64.b64encode(png).decode()
    content = [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "What is this?"}]
    answer = oai.chat.completions.create(
        model="tiny/image-text-to-text", messages=[{"role": "user", "content": content}], max_tokens=8, temperature=0
    )
    parts = [{"type": "image", "image": png}, {"type": "text", "text": "What is this?"}]
    request = ImageTextToTextRequest.build(
        [{"role": "user", "content": parts}], "tiny/image-text-to-text", {"max_new_tokens": 8, "temperature": 0}
    )
    expected = client.run(request, timeout=120)
    assert answer.choices[0].message.content == expected.generated_text
    assert answer.usage.prompt_tokens == expected.details.prompt_tokens


def test_completions_with_echo_and_logprobs(oai: openai.OpenAI, client: Client) -> None:
    answer = oai.completions.create(
        model=GENERATOR, prompt="hello world", max_tokens=8, temperature=0, echo=True, logprobs=1
    )
    expected = client.text_generation(
        "hello world",
        model=GENERATOR,
        max_new_tokens=8,
        temperature=0,
        return_full_text=True,
        logprobs=True,
        top_logprobs=1,
    )
    (choice,) = answer.choices
    assert choice.text == expected.generated_text and choice.text.startswith("hello world")
    assert choice.logprobs.token_logprobs == pytest.approx([token.logprob for token in expected.details.tokens])
    streamed = oai.completions.create(
        model=GENERATOR, prompt="hello world", max_tokens=8, temperature=0, echo=True, stream=True
    )
    assert "".join(chunk.choices[0].text for chunk in streamed if chunk.choices) == expected.generated_text


def test_embeddings_are_pooled_and_normalised_feature_extraction(oai: openai.OpenAI, client: Client) -> None:
    texts = ["the quick brown fox", "hello world"]
    answer = oai.embeddings.create(model="tiny/feature-extraction", input=texts)
    expected = client.feature_extraction(texts, model="tiny/feature-extraction", pooling="mean", normalize=True)
    assert [item.index for item in answer.data] == [0, 1]
    assert np.allclose([item.embedding for item in answer.data], expected.root, atol=1e-6)
    packed = oai.embeddings.create(model="tiny/feature-extraction", input=texts[0], encoding_format="base64")
    vector = np.frombuffer(base64.b64decode(packed.data[0].embedding), dtype="<f4")
    assert np.allclose(vector, expected.root[0], atol=1e-6)


def test_transcription_is_speech_recognition(oai: openai.OpenAI, client: Client) -> None:
    wav = sample_wav(2.0)
    model = "tiny/automatic-speech-recognition"
    answer = oai.audio.transcriptions.create(model=model, file=("tone.wav", wav, "audio/wav"))
    assert answer.text == client.automatic_speech_recognition(wav, model=model).text
    words = oai.audio.transcriptions.create(
        model=model,
        file=("tone.wav", wav, "audio/wav"),
        response_format="verbose_json",
        timestamp_granularities=["word"],
    )
    chunks = client.automatic_speech_recognition(wav, model=model, return_timestamps="word").chunks or []
    assert words.text == answer.text and [word.word for word in words.words] == [chunk.text for chunk in chunks]


def test_speech_is_text_to_speech_wav(oai: openai.OpenAI, client: Client) -> None:
    audio = oai.audio.speech.create(
        model="tiny/text-to-speech", voice="alloy", input="hello world", response_format="wav", extra_body={"seed": 0}
    )
    expected = client.text_to_speech("hello world", model="tiny/text-to-speech", seed=0)
    assert audio.content == expected.audio.data and audio.content[:4] == b"RIFF"


def test_models_list_every_allowed_model_with_its_task(oai: openai.OpenAI, models_config: Path) -> None:
    listed = {(model.id, model.model_extra["task"]) for model in oai.models.list()}
    tasks = json.loads(models_config.read_text())["tasks"]
    assert listed == {(name, task) for task, entry in tasks.items() for name in entry["models"]}


def test_errors_name_the_field_with_the_pipeq_code(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as bad:
        oai.chat.completions.create(model=GENERATOR, messages=CHAT, temperature=5)
    assert bad.value.body["param"] == "temperature" and bad.value.body["code"] == "invalid_request"
    with pytest.raises(openai.BadRequestError) as renamed:
        oai.chat.completions.create(model=GENERATOR, messages=CHAT, max_tokens=0)
    assert renamed.value.body["param"] == "max_tokens", "pipeq's max_new_tokens is reported as max_tokens"
    with pytest.raises(openai.NotFoundError) as unknown:
        oai.chat.completions.create(model="gpt-4o", messages=CHAT)
    assert unknown.value.body["code"] == "model_not_allowed" and "tiny/text-generation" in unknown.value.body["message"]
    with pytest.raises(openai.UnprocessableEntityError) as unsupported:
        oai.chat.completions.create(
            model=GENERATOR, messages=CHAT, tools=[{"type": "function", "function": {"name": "f"}}]
        )
    assert unsupported.value.body["code"] == "unsupported_parameter"


def test_a_failure_mid_stream_arrives_as_an_error_event(oai: openai.OpenAI) -> None:
    broken = "data:image/png;base64," + base64.b64encode(b"not an image at all").decode()
    content = [{"type": "image_url", "image_url": {"url": broken}}, {"type": "text", "text": "describe"}]
    stream = oai.chat.completions.create(
        model="tiny/image-text-to-text", messages=[{"role": "user", "content": content}], max_tokens=4, stream=True
    )
    with pytest.raises(openai.APIError) as failed:
        list(stream)  # the stream had started (200, first chunk) when the worker refused the image
    assert failed.value.code == "invalid_input"
