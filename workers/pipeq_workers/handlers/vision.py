"""Handlers of the vision queue."""

from __future__ import annotations

from functools import partial

from PIL import Image
from transformers import Pipeline

from pipeq_client.types import (
    Blob,
    ImageClassificationRequest,
    ImageClassificationResult,
    ImageTextInput,
    ImageTextToTextRequest,
    ImageTextToTextResult,
    ImageToTextRequest,
    ImageToTextResult,
    ObjectDetectionRequest,
    ObjectDetectionResult,
)
from pipeq_workers.context import JobContext
from pipeq_workers.decoding import decode_image
from pipeq_workers.generation.prompts import image_text_prompt, image_to_text_prompt
from pipeq_workers.handlers.common import as_label_list, call_pipeline, generate, set_options

__all__ = ["image_classification", "image_text_to_text", "image_to_text", "object_detection"]


def _image(context: JobContext, blob: Blob, field: str) -> Image.Image:
    return decode_image(context.blob_bytes(blob, field), field, context.settings.max_image_pixels)


def image_to_text(pipe: Pipeline, request: ImageToTextRequest, context: JobContext) -> ImageToTextResult:
    params = request.parameters
    prompt = partial(image_to_text_prompt, pipe, _image(context, request.inputs, "inputs"), params.prompt)
    return ImageToTextResult(**generate(pipe, prompt, params, context, "generated_text"))


def image_classification(
    pipe: Pipeline, request: ImageClassificationRequest, context: JobContext
) -> ImageClassificationResult:
    params = request.parameters
    image = _image(context, request.inputs, "inputs")
    options = set_options(top_k=params.top_k, function_to_apply=params.function_to_apply)
    output = call_pipeline(pipe, context, image, **options)
    return ImageClassificationResult.model_validate(as_label_list(output))


def object_detection(pipe: Pipeline, request: ObjectDetectionRequest, context: JobContext) -> ObjectDetectionResult:
    image = _image(context, request.inputs, "inputs")
    output = call_pipeline(pipe, context, image, threshold=request.parameters.threshold)
    return ObjectDetectionResult.model_validate(output)


def image_text_to_text(pipe: Pipeline, request: ImageTextToTextRequest, context: JobContext) -> ImageTextToTextResult:
    params = request.parameters
    images = [_image(context, blob, field) for field, blob in request.blobs()]
    if isinstance(request.inputs, ImageTextInput):
        prompt = partial(image_text_prompt, pipe, images, request.inputs.text, None)
    else:
        prompt = partial(image_text_prompt, pipe, images, None, request.inputs)
    return ImageTextToTextResult(**generate(pipe, prompt, params, context, "generated_text"))
