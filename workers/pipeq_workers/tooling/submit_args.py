"""``pipeq submit``'s arguments: task names and ``--param key=value`` read against the request
models, with a suggestion for a near miss, comma lists for list fields, and INPUTS from a file.
"""

from __future__ import annotations

import difflib
import json
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import click
from pydantic import BaseModel

from pipeq_client.protocol import Task
from pipeq_client.types import REQUEST_TYPES, GenerationParameters

__all__ = ["STREAMING_TASKS", "TaskName", "did_you_mean", "parameters_of", "parse_params", "read_inputs"]


def parameters_of(task: Task) -> type[BaseModel]:
    """The task's Parameters model (the type of its request's ``parameters`` field)."""
    annotation = REQUEST_TYPES[task].model_fields["parameters"].annotation
    assert isinstance(annotation, type) and issubclass(annotation, BaseModel)
    return annotation


# Tasks whose workers publish token events (speech recognition takes generation parameters for
# Whisper but answers with the whole transcript).
STREAMING_TASKS = frozenset(
    task
    for task in Task
    if issubclass(parameters_of(task), GenerationParameters) and task is not Task.AUTOMATIC_SPEECH_RECOGNITION
)


def did_you_mean(name: str, known: list[str]) -> str:
    """`` (did you mean 'top_k'?)`` for a near miss, else nothing."""
    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class TaskName(click.ParamType):  # type: ignore[type-arg]  # generic only in type stubs
    """A task by its Hub name; a near miss gets a suggestion instead of the whole list first."""

    name = "task"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Task:
        if isinstance(value, Task):
            return value
        try:
            return Task(value)
        except ValueError:
            tasks = [task.value for task in Task]
            self.fail(f"unknown task {value!r}{did_you_mean(value, tasks)}; tasks: {', '.join(tasks)}", param, ctx)

    def shell_complete(
        self, ctx: click.Context, param: click.Parameter, incomplete: str
    ) -> list[click.shell_completion.CompletionItem]:
        return [click.shell_completion.CompletionItem(t.value) for t in Task if t.value.startswith(incomplete)]


def _is_list(annotation: Any) -> bool:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return any(_is_list(arg) for arg in get_args(annotation))
    return origin is list


def _value(raw: str, is_list: bool) -> Any:
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw  # a plain word: `top_k=2` is JSON, `src_lang=en` is not
    if is_list and isinstance(value, str):
        # `candidate_labels=a,b` as the shell user means it; a JSON list still works for labels with commas.
        return [item.strip() for item in value.split(",")]
    return value


def parse_params(task: Task, items: tuple[str, ...]) -> dict[str, Any]:
    """``key=value`` pairs read against the task's Parameters fields; a UsageError names the bad one."""
    fields = parameters_of(task).model_fields
    params: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r}: expected key=value", param_hint="--param")
        if name not in fields:
            known = sorted(fields)
            hint = did_you_mean(name, known)
            raise click.BadParameter(
                f"{task.value} has no parameter {name!r}{hint}; its parameters: {', '.join(known)}",
                param_hint="--param",
            )
        params[name] = _value(raw, _is_list(fields[name].annotation))
    return params


def _read_file(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        reason = error.strerror or str(error)
        raise click.ClickException(f"cannot read @{path}: {reason} (text that starts with @: write @@)") from None


def read_inputs(task: Task, inputs: str, text: str | None) -> Any:
    """INPUTS as the request wants it: text, ``@PATH`` bytes (``@@`` for a literal ``@``)."""
    if inputs.startswith("@@"):
        raw: Any = inputs[1:]
    elif inputs.startswith("@"):
        raw = _read_file(inputs[1:])
    else:
        raw = inputs
    if task in (Task.AUTOMATIC_SPEECH_RECOGNITION, Task.AUDIO_CLASSIFICATION):
        raw = {"data": raw}
    if task is Task.IMAGE_TEXT_TO_TEXT:
        if text is None:
            raise click.UsageError("image-text-to-text takes the image as INPUTS (@PATH) and the prompt as --text")
        return {"images": [raw], "text": text}
    if text is not None:
        raise click.UsageError("--text is for image-text-to-text only")
    return raw
