"""Typed requests and results for the 13 tasks: ``<Task>Request / <Task>Parameters / <Task>Result``."""

from __future__ import annotations

from pipeq_client.protocol import Task
from pipeq_client.types.audio_classification import (
    AudioClassificationParameters,
    AudioClassificationRequest,
    AudioClassificationResult,
)
from pipeq_client.types.automatic_speech_recognition import (
    AutomaticSpeechRecognitionChunk,
    AutomaticSpeechRecognitionParameters,
    AutomaticSpeechRecognitionRequest,
    AutomaticSpeechRecognitionResult,
)
from pipeq_client.types.chat import ChatMessage, ImageChatMessage, ImagePart, TextPart
from pipeq_client.types.common import AudioInput, Blob, ClassificationItem, TaskRequest
from pipeq_client.types.feature_extraction import (
    FeatureExtractionParameters,
    FeatureExtractionRequest,
    FeatureExtractionResult,
)
from pipeq_client.types.generation import (
    FinishReason,
    GeneratedSequence,
    GeneratedToken,
    GenerationDetails,
    GenerationParameters,
)
from pipeq_client.types.image_classification import (
    ImageClassificationParameters,
    ImageClassificationRequest,
    ImageClassificationResult,
)
from pipeq_client.types.image_text_to_text import (
    ImageTextInput,
    ImageTextToTextParameters,
    ImageTextToTextRequest,
    ImageTextToTextResult,
)
from pipeq_client.types.image_to_text import ImageToTextParameters, ImageToTextRequest, ImageToTextResult
from pipeq_client.types.object_detection import (
    BoundingBox,
    DetectedObject,
    ObjectDetectionParameters,
    ObjectDetectionRequest,
    ObjectDetectionResult,
)
from pipeq_client.types.summarization import SummarizationParameters, SummarizationRequest, SummarizationResult
from pipeq_client.types.text_classification import (
    TextClassificationParameters,
    TextClassificationRequest,
    TextClassificationResult,
)
from pipeq_client.types.text_generation import TextGenerationParameters, TextGenerationRequest, TextGenerationResult
from pipeq_client.types.text_to_speech import TextToSpeechParameters, TextToSpeechRequest, TextToSpeechResult
from pipeq_client.types.translation import TranslationParameters, TranslationRequest, TranslationResult
from pipeq_client.types.zero_shot_classification import (
    ZeroShotClassificationParameters,
    ZeroShotClassificationRequest,
    ZeroShotClassificationResult,
)

# The one table of request types, by task: client and workers both look requests up here.
REQUEST_TYPES: dict[Task, type[TaskRequest]] = {  # type: ignore[type-arg]
    request.task: request
    for request in (
        TextGenerationRequest,
        TextClassificationRequest,
        SummarizationRequest,
        TranslationRequest,
        ZeroShotClassificationRequest,
        FeatureExtractionRequest,
        ImageToTextRequest,
        ImageClassificationRequest,
        ObjectDetectionRequest,
        ImageTextToTextRequest,
        AutomaticSpeechRecognitionRequest,
        AudioClassificationRequest,
        TextToSpeechRequest,
    )
}

__all__ = [
    "REQUEST_TYPES",
    "AudioClassificationParameters",
    "AudioClassificationRequest",
    "AudioClassificationResult",
    "AudioInput",
    "AutomaticSpeechRecognitionChunk",
    "AutomaticSpeechRecognitionParameters",
    "AutomaticSpeechRecognitionRequest",
    "AutomaticSpeechRecognitionResult",
    "Blob",
    "BoundingBox",
    "ChatMessage",
    "ClassificationItem",
    "DetectedObject",
    "FeatureExtractionParameters",
    "FeatureExtractionRequest",
    "FeatureExtractionResult",
    "FinishReason",
    "GeneratedSequence",
    "GeneratedToken",
    "GenerationDetails",
    "GenerationParameters",
    "ImageClassificationParameters",
    "ImageClassificationRequest",
    "ImageClassificationResult",
    "ImageChatMessage",
    "ImagePart",
    "ImageTextInput",
    "ImageTextToTextParameters",
    "ImageTextToTextRequest",
    "ImageTextToTextResult",
    "ImageToTextParameters",
    "ImageToTextRequest",
    "ImageToTextResult",
    "ObjectDetectionParameters",
    "ObjectDetectionRequest",
    "ObjectDetectionResult",
    "SummarizationParameters",
    "SummarizationRequest",
    "SummarizationResult",
    "TaskRequest",
    "TextPart",
    "TextClassificationParameters",
    "TextClassificationRequest",
    "TextClassificationResult",
    "TextGenerationParameters",
    "TextGenerationRequest",
    "TextGenerationResult",
    "TextToSpeechParameters",
    "TextToSpeechRequest",
    "TextToSpeechResult",
    "TranslationParameters",
    "TranslationRequest",
    "TranslationResult",
    "ZeroShotClassificationParameters",
    "ZeroShotClassificationRequest",
    "ZeroShotClassificationResult",
]
