"""Hugging Face Inference task routes: ``{"inputs", "parameters"}`` JSON (or the raw bytes of an
image or audio task) <-> pipeq requests; answers in the shapes the HF Inference API gives and
``huggingface_hub.InferenceClient`` parses.

Where the API differs from the plain task spec, the API wins (that is what clients parse):
text-classification answers one list per input (``[[{label, score}]]``); summarization,
translation, image-to-text and image-text-to-text answer a list of one object;
feature-extraction takes its parameters at the top level; summarization and translation
nest generation settings in ``generate_parameters``; text-to-speech answers the audio bytes.
"""

from __future__ import annotations

import base64
from typing import Any

from pydantic import BaseModel

from pipeq_client.protocol import Task
from pipeq_client.types import REQUEST_TYPES, TaskRequest

__all__ = ["BINARY_INPUTS", "HFBody", "hf_answer", "hf_request"]

# Tasks whose input is an image or audio file: raw bytes in the body, or base64 in JSON.
BINARY_INPUTS = frozenset(
    {
        Task.IMAGE_TO_TEXT,
        Task.IMAGE_CLASSIFICATION,
        Task.OBJECT_DETECTION,
        Task.AUTOMATIC_SPEECH_RECOGNITION,
        Task.AUDIO_CLASSIFICATION,
    }
)
_LISTED = frozenset({Task.SUMMARIZATION, Task.TRANSLATION, Task.IMAGE_TO_TEXT, Task.IMAGE_TEXT_TO_TEXT})
_HF_KEYS = {
    Task.SUMMARIZATION: "summary_text",
    Task.TRANSLATION: "translation_text",
    Task.IMAGE_TO_TEXT: "generated_text",
    Task.IMAGE_TEXT_TO_TEXT: "generated_text",
}


class HFBody(BaseModel):
    """A JSON body: ``inputs``, ``parameters``, and (feature-extraction) top-level parameters."""

    inputs: Any
    parameters: dict[str, Any] = {}
    extra: dict[str, Any] = {}

    @classmethod
    def from_json(cls, payload: Any) -> HFBody:
        if not isinstance(payload, dict) or "inputs" not in payload:
            return cls(inputs=payload)
        rest = {key: value for key, value in payload.items() if key not in ("inputs", "parameters")}
        return cls(inputs=payload["inputs"], parameters=payload.get("parameters") or {}, extra=rest)


def _inputs(task: Task, inputs: Any) -> Any:
    if task in BINARY_INPUTS and isinstance(inputs, str | bytes):
        # The typed models take base64 text in ``data`` (JSON) or bytes.
        return {"data": inputs}
    return inputs


def _parameters(body: HFBody) -> dict[str, Any]:
    # Top-level keys are parameters (feature-extraction sends them so); unknown ones are named by
    # validation. ``options`` is the old Inference API's cache/wait switch: nothing to do here.
    extra = {key: value for key, value in body.extra.items() if key != "options"}
    parameters = {**extra, **body.parameters}
    nested = parameters.pop("generate_parameters", None)
    return {**parameters, **(nested or {})}


def hf_request(task: Task, model: str | None, body: HFBody) -> TaskRequest[Any]:
    return REQUEST_TYPES[task].build(_inputs(task, body.inputs), model, _parameters(body))


def hf_answer(task: Task, result: Any, accept: str) -> tuple[Any, str]:
    """``(JSON-able answer or bytes, media type)``."""
    if task is Task.TEXT_TO_SPEECH:
        if "application/json" in accept and "audio/" not in accept:
            audio = base64.b64encode(result.audio.data or b"").decode("ascii")
            return {"audio": audio, "sampling_rate": result.sampling_rate}, "application/json"
        return result.audio.data or b"", "audio/wav"
    if task in _LISTED:
        key = _HF_KEYS[task]
        return [{key: getattr(result, key)}], "application/json"
    dumped = result.model_dump(mode="json", exclude_none=True)
    if task is Task.TEXT_CLASSIFICATION:
        return [dumped], "application/json"
    return dumped, "application/json"
