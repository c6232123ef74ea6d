"""Builds tiny random-weight models for all 13 tasks, offline, in seconds.

Their outputs are gibberish: they prove the plumbing, the parameter handling and the
output shapes, and they load through the ordinary ``from_pretrained`` path.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["BUILD_VERSION", "DEFAULT_FAMILIES", "TinyFamily", "build_tiny_models"]

# Bump when a builder changes, so cached builds are rebuilt.
BUILD_VERSION = 3

# The family each task's default tiny model stands for (the models config records it).
DEFAULT_FAMILIES: dict[str, str] = {
    "text-generation": "llama",
    "text-classification": "bert",
    "summarization": "bart",
    "translation": "marian",
    "zero-shot-classification": "bert",
    "feature-extraction": "bert",
    "image-to-text": "vit-gpt2",
    "image-classification": "vit",
    "object-detection": "yolos",
    "image-text-to-text": "llava",
    "automatic-speech-recognition": "wav2vec2-ctc",
    "audio-classification": "wav2vec2",
    "text-to-speech": "vits",
}


@dataclass(frozen=True)
class TinyFamily:
    """One extra tiny build (``pipeq models tiny --all``): a model family verified on a task.

    It is written to ``<task>-<family>/`` and allowed as ``tiny/<task>-<family>``."""

    task: str
    family: str
    build: Callable[[Path], None]

    @property
    def directory(self) -> str:
        return f"{self.task}-{self.family}"


def _builders() -> dict[str, Callable[[Path], None]]:
    from pipeq_workers.tooling.tiny import audio, text, vision

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


def _families() -> list[TinyFamily]:
    """Every extra family, one table per modality (each builder module registers its own)."""
    from pipeq_workers.tooling.tiny import audio_families, text_families, vision_families

    return [*text_families.FAMILIES, *vision_families.FAMILIES, *audio_families.FAMILIES]


def build_tiny_models(directory: Path, seed: int = 0, all_families: bool = False) -> Path:
    """Builds one tiny model per task under ``directory`` and writes ``models.json`` pointing at
    them; with ``all_families``, every verified family of every task too.

    Returns the path of the models config. A build of the same set at this version is reused.
    """
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()

    directory = directory.resolve()
    config_path = directory / "models.json"
    marker = directory / ".build-version"
    version = f"{BUILD_VERSION}+all" if all_families else str(BUILD_VERSION)
    if config_path.exists() and marker.exists() and marker.read_text() == version:
        return config_path
    directory.mkdir(parents=True, exist_ok=True)
    tasks: dict[str, dict[str, Any]] = {}
    for task, build in _builders().items():
        _build_one(build, directory / task, seed)
        tasks[task] = {"default": f"tiny/{task}", "models": {f"tiny/{task}": task}, "families": {}}
        tasks[task]["families"][DEFAULT_FAMILIES[task]] = f"tiny/{task}"
    for family in _families() if all_families else []:
        _build_one(family.build, directory / family.directory, seed)
        tasks[family.task]["models"][f"tiny/{family.directory}"] = family.directory
        tasks[family.task]["families"][family.family] = f"tiny/{family.directory}"
    config_path.write_text(json.dumps({"tasks": tasks}, indent=2), encoding="utf-8")
    marker.write_text(version)
    return config_path


def _build_one(build: Callable[[Path], None], out: Path, seed: int) -> None:
    from pipeq_workers.tooling.tiny.text import reseed

    started = time.perf_counter()
    # Seeded per model: each build is the same whatever else is built before it.
    reseed(seed)
    build(out)
    print(f"built tiny/{out.name} in {time.perf_counter() - started:.2f}s", flush=True)
