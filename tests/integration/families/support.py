"""Helpers of the model-family tests."""

from __future__ import annotations

import json
from pathlib import Path

from pipeq_client.protocol import Task


def family_model(models_config: Path, task: Task, family: str) -> tuple[str, str]:
    """(the name a request gives, the model directory) of ``family``'s tiny build for ``task``."""
    entry = json.loads(models_config.read_text())["tasks"][task.value]
    name = entry["families"][family]
    return name, str(models_config.parent / entry["models"][name])
