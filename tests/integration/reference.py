"""In-process reference: the same pipelines, called directly (no queue), for parity checks.

The 10 tasks transformers still has are built with ``transformers.pipeline`` itself; the
3 it removed with pipeq's Pipeline classes, instantiated directly.
"""

from __future__ import annotations

import io
import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import transformers
from PIL import Image
from transformers import AutoImageProcessor, AutoModelForSeq2SeqLM, AutoTokenizer, VisionEncoderDecoderModel

from pipeq_client.protocol import Task
from pipeq_workers.pipelines.image_to_text import ImageToTextPipeline
from pipeq_workers.pipelines.seq2seq import SummarizationPipeline, TranslationPipeline


def model_dir(models_config: Path, task: Task) -> str:
    config = json.loads(models_config.read_text())["tasks"][task.value]
    return str(models_config.parent / config["models"][config["default"]])


@cache
def reference_pipeline(models_config: Path, task: Task) -> transformers.Pipeline:
    source = model_dir(models_config, task)
    if task in (Task.SUMMARIZATION, Task.TRANSLATION):
        cls = SummarizationPipeline if task is Task.SUMMARIZATION else TranslationPipeline
        return cls(model=AutoModelForSeq2SeqLM.from_pretrained(source), tokenizer=AutoTokenizer.from_pretrained(source))
    if task is Task.IMAGE_TO_TEXT:
        return ImageToTextPipeline(
            model=VisionEncoderDecoderModel.from_pretrained(source),
            tokenizer=AutoTokenizer.from_pretrained(source),
            image_processor=AutoImageProcessor.from_pretrained(source),
        )
    return transformers.pipeline(task.value, model=source)


def image(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data)).convert("RGB")


def audio(data: bytes) -> dict[str, Any]:
    samples, rate = soundfile.read(io.BytesIO(data), dtype="float32")
    import soxr

    return {"raw": soxr.resample(samples, rate, 16_000).astype(np.float32), "sampling_rate": 16_000}
