"""Builds tiny random-weight models for all 13 tasks, offline, in seconds.

Their outputs are gibberish: they prove the plumbing, the parameter handling and the
output shapes, and they load through the ordinary ``from_pretrained`` path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["BUILD_VERSION", "build_tiny_models"]

# Bump when a builder changes, so cached builds are rebuilt.
BUILD_VERSION = 2


def _builders() -> dict[str, Callable[[Path], None]]:
    from pipeq_workers.tiny import audio, text, vision

    return {
        "text-generation": text.text_generation,
        "text-classification": text.text_classification,
        "summarization": text.summarization,
        "translation": text.translation,
        "zero-shot-classification": text.zero_shot_classification,
        "feature-extraction": text.feature_extraction,
        "image-to-text": vision.image_to_text,
        "image-classification": vision.image_classification,
        "object-detection": vision.object_detection,
        "image-text-to-text": vision.image_text_to_text,
        "automatic-speech-recognition": audio.automatic_speech_recognition,
        "audio-classification": audio.audio_classification,
        "text-to-speech": audio.text_to_speech,
    }


def build_tiny_models(directory: Path, seed: int = 0) -> Path:
    """Builds every tiny model under ``directory`` and writes ``models.json`` pointing at them.

    Returns the path of the models config. A build already present at this version is reused.
    """
    from transformers.utils import logging as hf_logging

    from pipeq_workers.tiny.text import reseed

    hf_logging.disable_progress_bar()

    directory = directory.resolve()
    config_path = directory / "models.json"
    marker = directory / ".build-version"
    if config_path.exists() and marker.exists() and marker.read_text() == str(BUILD_VERSION):
        return config_path
    directory.mkdir(parents=True, exist_ok=True)
    tasks: dict[str, dict[str, object]] = {}
    for task, build in _builders().items():
        started = time.perf_counter()
        reseed(seed)
        build(directory / task)
        model_id = f"tiny/{task}"
        tasks[task] = {"default": model_id, "models": {model_id: task}}
        print(f"built {model_id} in {time.perf_counter() - started:.2f}s", flush=True)
    config_path.write_text(json.dumps({"tasks": tasks}, indent=2), encoding="utf-8")
    marker.write_text(str(BUILD_VERSION))
    return config_path
