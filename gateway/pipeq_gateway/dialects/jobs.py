"""pipeq's own job routes: the wire format as it is (``{task, inputs, parameters, model}``, binary
inputs as base64), a status document, and each stream event as one SSE event."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from pipeq_client.events import JobEvent
from pipeq_client.protocol import EventType, Task
from pipeq_client.status import JobStatus
from pipeq_client.types import REQUEST_TYPES, TaskRequest
from pipeq_gateway.sse import sse

__all__ = ["JobSubmission", "event_sse", "job_document", "submitted"]


class JobSubmission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: Task
    inputs: Any
    parameters: dict[str, Any] = {}
    model: str | None = None

    def request(self) -> TaskRequest[Any]:
        return REQUEST_TYPES[self.task].build(self.inputs, self.model, self.parameters)


def _links(job_id: str) -> dict[str, str]:
    return {"url": f"/v1/jobs/{job_id}", "events_url": f"/v1/jobs/{job_id}/events"}


def submitted(job_id: str, task: Task) -> dict[str, Any]:
    return {"id": job_id, "task": task.value, "status": "queued", **_links(job_id)}


def job_document(status: JobStatus, task: Task | None, result: Any) -> dict[str, Any]:
    """``{id, task, status, model?, result?, error?}``; ``result`` once done (partial if cancelled)."""
    document: dict[str, Any] = {"id": status.id, "task": task.value if task else None, "status": status.state.value}
    event = status.last_event
    if event is not None and "model" in event.data:
        document["model"] = event.data["model"]
    if result is not None:
        document["result"] = result
    if status.error is not None:
        document["error"] = status.error
    return {**document, **_links(status.id)}


def event_sse(event: JobEvent, data: dict[str, Any] | None = None) -> bytes:
    """``id: <stream id>`` (resume with Last-Event-ID), ``event: <type>``, ``data: <event data>``."""
    return sse(data if data is not None else event.data, event=event.type.value, event_id=event.id)


def is_done(event: JobEvent) -> bool:
    return event.type is EventType.DONE
