"""Handlers of the vision queue."""

from __future__ import annotations

from functools import partial

from PIL import Image
from transformers import Pipeline

from pipeq_client.protocol import Task
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
from pipeq_workers.generation.prompts import image_text_prompt, image_to_text_prompt
from pipeq_workers.handlers import handles
from pipeq_workers.handlers.common import as_label_list, call_pipeline, generate, set_options
from pipeq_workers.inputs.image_limits import probe_image
from pipeq_workers.inputs.media import PixelBudget, decode_image
from pipeq_workers.runtime.context import JobContext

__all__ = ["image_classification", "image_text_to_text", "image_to_text", "object_detection"]


def _image(context: JobContext, blob: Blob, field: str, budget: PixelBudget | None = None) -> Image.Image:
    """Decoded within ``budget``: the pixels left for this request's images (a fresh one for one image)."""
    budget = budget if budget is not None else PixelBudget(context.settings.max_image_pixels)
    return decode_image(context.blob_bytes(blob, field), field, budget)


@handles(Task.IMAGE_TO_TEXT)
def image_to_text(pipe: Pipeline, request: ImageToTextRequest, context: JobContext) -> ImageToTextResult:
    params = request.parameters
    prompt = partial(image_to_text_prompt, pipe, _image(context, request.inputs, "inputs"), params.prompt)
    return ImageToTextResult(**generate(pipe, prompt, params, context, "generated_text"))


@handles(Task.IMAGE_CLASSIFICATION)
def image_classification(
    pipe: Pipeline, request: ImageClassificationRequest, context: JobContext
) -> ImageClassificationResult:
    params = request.parameters
    image = _image(context, request.inputs, "inputs")
    options = set_options(top_k=params.top_k, function_to_apply=params.function_to_apply)
    output = call_pipeline(pipe, context, image, partial(probe_image, pipe, field="inputs"), **options)
    return ImageClassificationResult.model_validate(as_label_list(output))


@handles(Task.OBJECT_DETECTION)
def object_detection(pipe: Pipeline, request: ObjectDetectionRequest, context: JobContext) -> ObjectDetectionResult:
    image = _image(context, request.inputs, "inputs")
    probe = partial(probe_image, pipe, field="inputs")
    output = call_pipeline(pipe, context, image, probe, threshold=request.parameters.threshold)
    return ObjectDetectionResult.model_validate(output)


@handles(Task.IMAGE_TEXT_TO_TEXT)
def image_text_to_text(pipe: Pipeline, request: ImageTextToTextRequest, context: JobContext) -> ImageTextToTextResult:
    params = request.parameters
    budget = PixelBudget(context.settings.max_image_pixels)  # for all the request's images together
    fields = [field for field, _ in request.blobs()]
    images = [_image(context, blob, field, budget) for field, blob in request.blobs()]
    if isinstance(request.inputs, ImageTextInput):
        prompt = partial(image_text_prompt, pipe, images, request.inputs.text, None, fields)
    else:
        prompt = partial(image_text_prompt, pipe, images, None, request.inputs, fields)
    return ImageTextToTextResult(**generate(pipe, prompt, params, context, "generated_text"))
