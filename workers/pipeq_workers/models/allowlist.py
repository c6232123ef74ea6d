"""The model registry (allow-list): which models each task may load, and which is the default.

Config file (JSON)::

    {"tasks": {"text-classification": {
        "default": "tiny/text-classification",
        "models": {"tiny/text-classification": "text-classification"},
        "families": {"bert": "tiny/text-classification"}}}}

``models`` maps the name a request may give to a source: a directory (relative paths are
resolved against the config file) or a Hub model id. A request naming any other model is
refused with ModelNotAllowedError. ``families`` (optional) records which model family each
allowed model stands for (``pipeq models tiny --all`` lists every family verified per task).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pipeq_client.errors import ModelNotAllowedError
from pipeq_client.protocol import Task
from pipeq_workers.errors import WorkerConfigError

__all__ = ["HUB_DEFAULTS", "HUB_DEFAULT_FAMILIES", "ModelAllowList", "TaskModels"]

# The usual Hub model per task, used when no models config is given (needs Hub access).
HUB_DEFAULTS: dict[Task, str] = {
    Task.TEXT_GENERATION: "HuggingFaceTB/SmolLM2-135M-Instruct",
    Task.TEXT_CLASSIFICATION: "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
    Task.SUMMARIZATION: "sshleifer/distilbart-cnn-12-6",
    Task.TRANSLATION: "Helsinki-NLP/opus-mt-en-de",
    Task.ZERO_SHOT_CLASSIFICATION: "facebook/bart-large-mnli",
    Task.FEATURE_EXTRACTION: "sentence-transformers/all-MiniLM-L6-v2",
    Task.IMAGE_TO_TEXT: "nlpconnect/vit-gpt2-image-captioning",
    Task.IMAGE_CLASSIFICATION: "google/vit-base-patch16-224",
    Task.OBJECT_DETECTION: "hustvl/yolos-tiny",
    Task.IMAGE_TEXT_TO_TEXT: "HuggingFaceTB/SmolVLM-256M-Instruct",
    Task.AUTOMATIC_SPEECH_RECOGNITION: "facebook/wav2vec2-base-960h",
    Task.AUDIO_CLASSIFICATION: "superb/wav2vec2-base-superb-ks",
    Task.TEXT_TO_SPEECH: "facebook/mms-tts-eng",
}
# The family of each default: every one is among the families verified for its task
# (tests/integration/families check that against `pipeq models tiny --all`).
HUB_DEFAULT_FAMILIES: dict[Task, str] = {
    Task.TEXT_GENERATION: "llama",
    Task.TEXT_CLASSIFICATION: "distilbert",
    Task.SUMMARIZATION: "bart",
    Task.TRANSLATION: "marian",
    Task.ZERO_SHOT_CLASSIFICATION: "bart",
    Task.FEATURE_EXTRACTION: "sentence-transformers",
    Task.IMAGE_TO_TEXT: "vit-gpt2",
    Task.IMAGE_CLASSIFICATION: "vit",
    Task.OBJECT_DETECTION: "yolos",
    Task.IMAGE_TEXT_TO_TEXT: "idefics3",
    Task.AUTOMATIC_SPEECH_RECOGNITION: "wav2vec2-ctc",
    Task.AUDIO_CLASSIFICATION: "wav2vec2",
    Task.TEXT_TO_SPEECH: "vits",
}


@dataclass(frozen=True)
class TaskModels:
    """The allowed models of one task: name -> source, the default name, and family -> name."""

    default: str
    sources: dict[str, str]
    families: dict[str, str] = field(default_factory=dict)

    def source(self, name: str | None) -> tuple[str, str]:
        """``(name, source)`` of the requested model, or of the default one."""
        chosen = name or self.default
        if chosen not in self.sources:
            allowed = ", ".join(sorted(self.sources))
            raise ModelNotAllowedError(f"model {chosen!r} is not allowed; allowed: {allowed}", field="model")
        return chosen, self.sources[chosen]


class ModelAllowList:
    """Task -> allowed models. Built from a config file or the Hub defaults."""

    def __init__(self, tasks: dict[Task, TaskModels]) -> None:
        self.tasks = tasks

    @classmethod
    def hub_defaults(cls) -> ModelAllowList:
        return cls(
            {
                task: TaskModels(model_id, {model_id: model_id}, {HUB_DEFAULT_FAMILIES[task]: model_id})
                for task, model_id in HUB_DEFAULTS.items()
            }
        )

    @classmethod
    def from_file(cls, path: Path) -> ModelAllowList:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            entries = raw["tasks"].items()
        except (OSError, ValueError, KeyError, AttributeError) as error:
            raise WorkerConfigError(f"models config {path}: {error}") from error
        tasks = {}
        for task_name, entry in entries:
            tasks[cls._task(path, task_name)] = cls._task_models(path, task_name, entry)
        return cls(tasks)

    @staticmethod
    def _task(path: Path, name: str) -> Task:
        try:
            return Task(name)
        except ValueError:
            raise WorkerConfigError(f"models config {path}: unknown task {name!r}") from None

    @staticmethod
    def _task_models(path: Path, task_name: str, entry: dict[str, object]) -> TaskModels:
        models = entry.get("models")
        default = entry.get("default")
        if not isinstance(models, dict) or not models or default not in models:
            raise WorkerConfigError(f"models config {path}: {task_name} needs 'models' and a 'default' among them")
        sources = {str(name): _resolve_source(path.parent, str(source)) for name, source in models.items()}
        families = entry.get("families", {})
        if not isinstance(families, dict) or not set(families.values()) <= set(sources):
            raise WorkerConfigError(f"models config {path}: {task_name} 'families' must name models among 'models'")
        return TaskModels(str(default), sources, {str(family): str(name) for family, name in families.items()})

    def for_task(self, task: Task) -> TaskModels:
        try:
            return self.tasks[task]
        except KeyError:
            raise ModelNotAllowedError(f"no model is configured for {task.value}", field="model") from None


def _resolve_source(base: Path, source: str) -> str:
    """A relative directory next to the config becomes absolute; anything else is a Hub id."""
    candidate = base / source
    return str(candidate.resolve()) if candidate.is_dir() else source
