"""Request builders behind the clients' per-task methods (one per task, HF InferenceClient style).

Each returns a validated request or raises RequestValidationError naming the field, so
nothing invalid is ever enqueued.
"""

from __future__ import annotations

from typing import Any

from pipeq_client.types import (
    AudioClassificationRequest,
    AutomaticSpeechRecognitionRequest,
    FeatureExtractionRequest,
    ImageClassificationRequest,
    ImageTextToTextRequest,
    ImageToTextRequest,
    ObjectDetectionRequest,
    SummarizationRequest,
    TextClassificationRequest,
    TextGenerationRequest,
    TextToSpeechRequest,
    TranslationRequest,
    ZeroShotClassificationRequest,
)

__all__ = [
    "audio_classification",
    "automatic_speech_recognition",
    "feature_extraction",
    "image_classification",
    "image_text_to_text",
    "image_to_text",
    "object_detection",
    "summarization",
    "text_classification",
    "text_generation",
    "text_to_speech",
    "translation",
    "zero_shot_classification",
]

Params = dict[str, Any]


def _audio(audio: bytes, sampling_rate: int | None) -> dict[str, Any]:
    return {"data": audio} if sampling_rate is None else {"data": audio, "sampling_rate": sampling_rate}


def text_generation(prompt: str, model: str | None, params: Params) -> TextGenerationRequest:
    return TextGenerationRequest.build(prompt, model, params)


def text_classification(text: str, model: str | None, params: Params) -> TextClassificationRequest:
    return TextClassificationRequest.build(text, model, params)


def summarization(text: str, model: str | None, params: Params) -> SummarizationRequest:
    return SummarizationRequest.build(text, model, params)


def translation(text: str, model: str | None, params: Params) -> TranslationRequest:
    return TranslationRequest.build(text, model, params)


def zero_shot_classification(
    text: str, candidate_labels: list[str], model: str | None, params: Params
) -> ZeroShotClassificationRequest:
    return ZeroShotClassificationRequest.build(text, model, {"candidate_labels": candidate_labels, **params})


def feature_extraction(text: str | list[str], model: str | None, params: Params) -> FeatureExtractionRequest:
    return FeatureExtractionRequest.build(text, model, params)


def image_to_text(image: bytes, model: str | None, params: Params) -> ImageToTextRequest:
    return ImageToTextRequest.build(image, model, params)


def image_classification(image: bytes, model: str | None, params: Params) -> ImageClassificationRequest:
    return ImageClassificationRequest.build(image, model, params)


def object_detection(image: bytes, model: str | None, params: Params) -> ObjectDetectionRequest:
    return ObjectDetectionRequest.build(image, model, params)


def image_text_to_text(
    images: bytes | list[bytes], text: str, model: str | None, params: Params
) -> ImageTextToTextRequest:
    listed = [images] if isinstance(images, bytes) else images
    return ImageTextToTextRequest.build({"images": listed, "text": text}, model, params)


def automatic_speech_recognition(
    audio: bytes, sampling_rate: int | None, model: str | None, params: Params
) -> AutomaticSpeechRecognitionRequest:
    return AutomaticSpeechRecognitionRequest.build(_audio(audio, sampling_rate), model, params)


def audio_classification(
    audio: bytes, sampling_rate: int | None, model: str | None, params: Params
) -> AudioClassificationRequest:
    return AudioClassificationRequest.build(_audio(audio, sampling_rate), model, params)


def text_to_speech(text: str, model: str | None, params: Params) -> TextToSpeechRequest:
    return TextToSpeechRequest.build(text, model, params)
