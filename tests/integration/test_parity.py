"""For every task: the result through the queue equals the in-process pipeline's result on the
same model and inputs, and is an instance of the task's typed result model."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile
import transformers

from pipeq_client import Client
from pipeq_client.protocol import Task
from pipeq_client.types import (
    AudioClassificationResult,
    AutomaticSpeechRecognitionResult,
    FeatureExtractionResult,
    ImageClassificationResult,
    ImageTextToTextResult,
    ImageToTextResult,
    ObjectDetectionResult,
    SummarizationResult,
    TextClassificationResult,
    TextGenerationResult,
    TextToSpeechResult,
    TranslationResult,
    ZeroShotClassificationResult,
)
from pipeq_workers.tooling.samples import sample_png, sample_wav
from tests.integration.reference import audio, image, reference_pipeline

pytestmark = pytest.mark.integration

TEXT = "the quick brown fox jumps over the lazy dog"
PNG = sample_png()
WAV = sample_wav(2.0, rate=22_050)


def labels(items: list[dict]) -> list[tuple[str, float]]:
    return [(item["label"], pytest.approx(item["score"], rel=1e-4, abs=1e-6)) for item in items]


def test_text_generation(client: Client, models_config: Path) -> None:
    result = client.text_generation("hello world", max_new_tokens=10, temperature=0)
    expected = reference_pipeline(models_config, Task.TEXT_GENERATION)(
        "hello world", max_new_tokens=10, do_sample=False, return_full_text=False
    )
    assert isinstance(result, TextGenerationResult)
    assert result.generated_text == expected[0]["generated_text"] and result.sequences is None


def test_text_generation_seeded_sampling_with_n(client: Client, models_config: Path) -> None:
    result = client.text_generation("hello", max_new_tokens=8, temperature=0.9, seed=7, num_return_sequences=2)
    pipe = reference_pipeline(models_config, Task.TEXT_GENERATION)
    transformers.set_seed(7)
    expected = pipe(
        "hello", max_new_tokens=8, do_sample=True, temperature=0.9, top_k=0, top_p=1.0,
        num_return_sequences=2, return_full_text=False,
    )  # fmt: skip
    assert [sequence.text for sequence in result.sequences or []] == [item["generated_text"] for item in expected]
    assert result.generated_text == expected[0]["generated_text"]


def test_text_classification(client: Client, models_config: Path) -> None:
    result = client.text_classification("I love this movie", top_k=2)
    expected = reference_pipeline(models_config, Task.TEXT_CLASSIFICATION)("I love this movie", top_k=2)
    assert isinstance(result, TextClassificationResult)
    assert [(item.label, item.score) for item in result.root] == labels(expected)


def test_summarization(client: Client, models_config: Path) -> None:
    result = client.summarization(TEXT, max_new_tokens=10)
    expected = reference_pipeline(models_config, Task.SUMMARIZATION)(TEXT, max_new_tokens=10)
    assert isinstance(result, SummarizationResult)
    assert result.summary_text == expected[0]["summary_text"] != ""


def test_translation(client: Client, models_config: Path) -> None:
    result = client.translation("hello world, how are you", max_new_tokens=10)
    expected = reference_pipeline(models_config, Task.TRANSLATION)("hello world, how are you", max_new_tokens=10)
    assert isinstance(result, TranslationResult)
    assert result.translation_text == expected[0]["translation_text"] != ""


def test_zero_shot_classification(client: Client, models_config: Path) -> None:
    candidates = ["animals", "cars", "food"]
    result = client.zero_shot_classification(TEXT, candidates, multi_label=True)
    expected = reference_pipeline(models_config, Task.ZERO_SHOT_CLASSIFICATION)(
        TEXT, candidate_labels=candidates, multi_label=True
    )
    assert isinstance(result, ZeroShotClassificationResult)
    pairs = [
        {"label": label, "score": score} for label, score in zip(expected["labels"], expected["scores"], strict=True)
    ]
    assert [(item.label, item.score) for item in result.root] == labels(pairs)


@pytest.mark.parametrize("pooling", ["none", "mean", "cls"])
def test_feature_extraction(client: Client, models_config: Path, pooling: str) -> None:
    texts = [TEXT, "hello world"]
    result = client.feature_extraction(texts, pooling=pooling, normalize=pooling == "mean")
    assert isinstance(result, FeatureExtractionResult)
    outputs = reference_pipeline(models_config, Task.FEATURE_EXTRACTION)(texts)
    for got, output in zip(result.root, outputs, strict=True):
        hidden = np.asarray(output[0])
        want = {"none": hidden, "mean": hidden.mean(axis=0), "cls": hidden[0]}[pooling]
        if pooling == "mean":
            want = want / np.linalg.norm(want)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-5)


def test_image_to_text(client: Client, models_config: Path) -> None:
    result = client.image_to_text(PNG, max_new_tokens=8, prompt="a photo of")
    expected = reference_pipeline(models_config, Task.IMAGE_TO_TEXT)(image(PNG), max_new_tokens=8, prompt="a photo of")
    assert isinstance(result, ImageToTextResult)
    assert result.generated_text == expected[0]["generated_text"]
    assert result.generated_text.startswith("a photo of")


def test_image_classification(client: Client, models_config: Path) -> None:
    result = client.image_classification(PNG, top_k=3)
    expected = reference_pipeline(models_config, Task.IMAGE_CLASSIFICATION)(image(PNG), top_k=3)
    assert isinstance(result, ImageClassificationResult)
    assert [(item.label, item.score) for item in result.root] == labels(expected)


def test_object_detection(client: Client, models_config: Path) -> None:
    result = client.object_detection(PNG, threshold=0.0)
    expected = reference_pipeline(models_config, Task.OBJECT_DETECTION)(image(PNG), threshold=0.0)
    assert isinstance(result, ObjectDetectionResult)
    assert len(result.root) == len(expected) > 0
    for got, want in zip(result.root, expected, strict=True):
        assert (got.label, got.score) == (want["label"], pytest.approx(want["score"], rel=1e-4))
        assert got.box.model_dump() == want["box"]


def test_image_text_to_text(client: Client, models_config: Path) -> None:
    result = client.image_text_to_text([PNG], "<image> describe", max_new_tokens=8)
    expected = reference_pipeline(models_config, Task.IMAGE_TEXT_TO_TEXT)(
        images=[image(PNG)], text="<image> describe", max_new_tokens=8, return_full_text=False
    )
    assert isinstance(result, ImageTextToTextResult)
    assert result.generated_text == expected[0]["generated_text"]


def test_automatic_speech_recognition(client: Client, models_config: Path) -> None:
    result = client.automatic_speech_recognition(WAV, return_timestamps="char")
    expected = reference_pipeline(models_config, Task.AUTOMATIC_SPEECH_RECOGNITION)(
        audio(WAV), return_timestamps="char"
    )
    assert isinstance(result, AutomaticSpeechRecognitionResult)
    assert result.text == expected["text"] != ""
    assert [(c.text, tuple(c.timestamp)) for c in result.chunks or []] == [
        (c["text"], pytest.approx(tuple(c["timestamp"]))) for c in expected["chunks"]
    ]


def test_automatic_speech_recognition_raw_pcm(client: Client, models_config: Path) -> None:
    samples = audio(WAV)["raw"]
    result = client.automatic_speech_recognition(samples.astype("<f4").tobytes(), sampling_rate=16_000)
    expected = reference_pipeline(models_config, Task.AUTOMATIC_SPEECH_RECOGNITION)(audio(WAV))
    assert result.text == expected["text"]


def test_audio_classification(client: Client, models_config: Path) -> None:
    result = client.audio_classification(WAV, top_k=3)
    expected = reference_pipeline(models_config, Task.AUDIO_CLASSIFICATION)(audio(WAV), top_k=3)
    assert isinstance(result, AudioClassificationResult)
    assert [(item.label, item.score) for item in result.root] == labels(expected)


def test_text_to_speech(client: Client, models_config: Path) -> None:
    result = client.text_to_speech("hello world", seed=3)
    pipe = reference_pipeline(models_config, Task.TEXT_TO_SPEECH)  # loading consumes random numbers
    transformers.set_seed(3)
    expected = pipe("hello world")
    assert isinstance(result, TextToSpeechResult)
    samples, rate = soundfile.read(io.BytesIO(result.audio.data or b""), dtype="float32")
    want = np.asarray(expected["audio"]).reshape(-1)
    assert rate == expected["sampling_rate"] and samples.shape == want.shape
    # WAV carries 16-bit PCM: equal up to one quantisation step.
    np.testing.assert_allclose(samples, np.clip(want, -1, 1), atol=2 / 32768)
