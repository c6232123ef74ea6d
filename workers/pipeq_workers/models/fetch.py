"""``pipeq models fetch``: a production host downloads its models once, then workers start offline.

Each model is one ``huggingface_hub.snapshot_download`` into a Hub cache (by default
``DIRECTORY/hub``); the models config written next to it names each snapshot directory,
whose name is the commit it was resolved to, so workers load exactly that revision with
``HF_HUB_OFFLINE=1``. With ``HF_HUB_OFFLINE=1`` the fetch itself only resolves what the
cache already holds (``refs/<branch>`` or a commit's snapshot): a cache prepared elsewhere
and copied in works the same way.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeq_client.protocol import Task
from pipeq_workers.errors import WorkerConfigError
from pipeq_workers.models.allowlist import HUB_DEFAULT_FAMILIES, HUB_DEFAULTS

__all__ = ["HubModel", "default_hub_models", "fetch_models"]

# Weights for other frameworks and runtimes: workers load PyTorch (safetensors or .bin) only.
IGNORE_PATTERNS = [
    "*.h5",
    "*.msgpack",
    "*.ot",
    "*.onnx",
    "*.tflite",
    "*.mlmodel",
    "onnx/*",
    "openvino/*",
    "coreml/*",
    "tf_model*",
    "flax_model*",
]


@dataclass(frozen=True)
class HubModel:
    """One model to fetch for one task: ``TASK=ORG/NAME[@REVISION]`` on the command line."""

    task: Task
    repo_id: str
    revision: str = "main"

    @classmethod
    def parse(cls, text: str) -> HubModel:
        task_name, sep, reference = text.partition("=")
        repo_id, _, revision = reference.partition("@")
        if not sep or "/" not in repo_id:
            raise WorkerConfigError(f"{text!r}: expected TASK=ORG/NAME[@REVISION]")
        try:
            task = Task(task_name)
        except ValueError:
            raise WorkerConfigError(f"{text!r}: unknown task {task_name!r}") from None
        return cls(task, repo_id, revision or "main")


def default_hub_models() -> list[HubModel]:
    """The Hub default of every task (models.py HUB_DEFAULTS)."""
    return [HubModel(task, repo_id) for task, repo_id in HUB_DEFAULTS.items()]


def _snapshot(model: HubModel, cache_dir: Path) -> Path:
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        folder = snapshot_download(
            model.repo_id, revision=model.revision, cache_dir=cache_dir, ignore_patterns=IGNORE_PATTERNS
        )
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as error:
        raise WorkerConfigError(f"{model.repo_id}@{model.revision}: {error}") from error
    return Path(folder)


def _source(snapshot: Path, directory: Path) -> str:
    """Relative to the config when inside its directory (the pair can move together)."""
    snapshot, directory = snapshot.absolute(), directory.absolute()
    return os.path.relpath(snapshot, directory) if snapshot.is_relative_to(directory) else str(snapshot)


def fetch_models(directory: Path, models: list[HubModel], cache_dir: Path | None = None) -> Path:
    """Downloads ``models`` and writes ``DIRECTORY/models.json``; returns its path.

    The first model given for a task is its default. A Hub default is recorded under its
    family (models.py HUB_DEFAULT_FAMILIES)."""
    directory.mkdir(parents=True, exist_ok=True)
    cache = cache_dir or directory / "hub"
    tasks: dict[str, dict[str, Any]] = {}
    for model in models:
        snapshot = _snapshot(model, cache)
        entry = tasks.setdefault(model.task.value, {"default": model.repo_id, "models": {}, "families": {}})
        entry["models"][model.repo_id] = _source(snapshot, directory)
        if HUB_DEFAULTS.get(model.task) == model.repo_id:
            entry["families"][HUB_DEFAULT_FAMILIES[model.task]] = model.repo_id
        print(f"{model.task.value}: {model.repo_id} @ {snapshot.name}", flush=True)
    config_path = directory / "models.json"
    config_path.write_text(json.dumps({"tasks": tasks}, indent=2), encoding="utf-8")
    return config_path
