"""Model names and their tasks, read from the workers' models config (the allow-list itself is
enforced by the workers). Routes that serve several tasks pick one by the model's name.

A task name given as the model (``"text-classification"``) means: that task's default model.
Without a models config the catalog is empty and names pass through to the workers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pipeq_client.protocol import Task
from pipeq_gateway.errors import GatewayError

__all__ = ["ModelCatalog", "ModelEntry"]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    task: Task
    default: bool


class ModelCatalog:
    """``(name, task)`` pairs of every allowed model, in the config's order."""

    def __init__(self, entries: list[ModelEntry]) -> None:
        self.entries = entries

    @classmethod
    def from_file(cls, path: Path | None) -> ModelCatalog:
        if path is None:
            return cls([])
        tasks = json.loads(path.read_text(encoding="utf-8"))["tasks"]
        return cls(
            [
                ModelEntry(str(name), Task(task), name == entry.get("default"))
                for task, entry in tasks.items()
                for name in entry["models"]
            ]
        )

    def tasks_of(self, name: str) -> list[Task]:
        return [entry.task for entry in self.entries if entry.name == name]

    def default_of(self, task: Task) -> str | None:
        return next((entry.name for entry in self.entries if entry.task is task and entry.default), None)

    def resolve(self, name: str | None, tasks: tuple[Task, ...]) -> tuple[Task, str | None]:
        """``(task, model to request)`` for ``name`` on a route serving ``tasks`` (preferred first)."""
        if not name:
            return tasks[0], None
        if name in {task.value for task in tasks}:
            return Task(name), None
        known = self.tasks_of(name)
        served = [task for task in tasks if task in known]
        if served:
            return served[0], name
        if known:
            listed = ", ".join(task.value for task in known)
            raise GatewayError(400, "invalid_request", f"model {name!r} serves {listed}, not this route", "model")
        if self.entries:
            allowed = ", ".join(sorted({entry.name for entry in self.entries if entry.task in tasks}))
            raise GatewayError(404, "model_not_allowed", f"model {name!r} is not allowed; allowed: {allowed}", "model")
        return tasks[0], name  # no models config: the worker's allow-list decides
