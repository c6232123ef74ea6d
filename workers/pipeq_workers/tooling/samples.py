"""Sample inputs and one request per task: what the demo (and the tests) send."""

from __future__ import annotations

import io

import numpy as np
import soundfile
from PIL import Image

from pipeq_client.types import (
    AudioClassificationRequest,
    AutomaticSpeechRecognitionRequest,
    FeatureExtractionRequest,
    ImageClassificationRequest,
    ImageTextToTextRequest,
    ImageToTextRequest,
    ObjectDetectionRequest,
    SummarizationRequest,
    TaskRequest,
    TextClassificationRequest,
    TextGenerationRequest,
    TextToSpeechRequest,
    TranslationRequest,
    ZeroShotClassificationRequest,
)

__all__ = ["sample_png", "sample_requests", "sample_wav"]


def sample_png(width: int = 64, height: int = 48, seed: int = 0) -> bytes:
    pixels = (np.random.default_rng(seed).random((height, width, 3)) * 255).astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def sample_wav(seconds: float = 1.0, rate: int = 16_000, tone_hz: float = 440.0) -> bytes:
    times = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    soundfile.write(buffer, 0.3 * np.sin(2 * np.pi * tone_hz * times), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def sample_requests() -> list[TaskRequest]:  # type: ignore[type-arg]
    """One request per task, in the order of the task table. The ASR clip (8 s at 44.1 kHz,
    ~700 KiB) is above the inline limit, so it travels by claim check."""
    image = sample_png()
    text = "the quick brown fox jumps over the lazy dog"
    return [
        TextGenerationRequest.build("hello world", parameters={"max_new_tokens": 12, "temperature": 0}),
        TextClassificationRequest.build("I love this movie", parameters={"top_k": 2}),
        SummarizationRequest.build(text, parameters={"max_new_tokens": 12}),
        TranslationRequest.build("hello world, how are you", parameters={"max_new_tokens": 12}),
        ZeroShotClassificationRequest.build(text, parameters={"candidate_labels": ["animals", "cars", "food"]}),
        FeatureExtractionRequest.build([text, "hello world"], parameters={"pooling": "mean", "normalize": True}),
        ImageToTextRequest.build(image, parameters={"max_new_tokens": 8}),
        ImageClassificationRequest.build(image, parameters={"top_k": 2}),
        ObjectDetectionRequest.build(image, parameters={"threshold": 0.2}),
        ImageTextToTextRequest.build({"images": [image], "text": "<image> describe"}, parameters={"max_new_tokens": 8}),
        AutomaticSpeechRecognitionRequest.build({"data": sample_wav(8.0, rate=44_100)}),
        AudioClassificationRequest.build({"data": sample_wav(1.0)}, parameters={"top_k": 2}),
        TextToSpeechRequest.build("hello world", parameters={"seed": 0}),
    ]
