"""Jobs over HTTP: submit any task (answered at once), status, events (SSE, resumable with
``Last-Event-ID``), cancel. Watching a job's events never cancels it; only DELETE does."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request

from pipeq_client import AsyncJob
from pipeq_client.errors import RequestValidationError
from pipeq_client.events import JobEvent, result_from_event
from pipeq_client.protocol import EventType
from pipeq_gateway.dialects.jobs import JobSubmission, event_sse, job_document, submitted
from pipeq_gateway.errors import describe
from pipeq_gateway.routes.common import Answer, gateway_of, json_answer, read_model
from pipeq_gateway.service import Gateway, task_of
from pipeq_gateway.sse import EventStreamResponse, sse

__all__ = ["cancel_job", "get_job", "job_events", "submit_job"]

_STREAM_ID = re.compile(r"\d+(-\d+)?")


async def _result_json(gateway: Gateway, job: AsyncJob[Any], event: JobEvent) -> Any:
    """A ``done`` event's result: typed and resolved (claim checks fetched) when the id names its
    task; as published otherwise."""
    if task_of(job.id) is None:
        return event.data.get("result")
    typed = await gateway.client.resolve(result_from_event(event, job.handle.result_type))
    return typed.model_dump(mode="json", exclude_none=True)


async def submit_job(request: Request) -> Answer:
    gateway = gateway_of(request)
    submission = await read_model(request, JobSubmission)
    job = await gateway.submit(submission.request())
    return json_answer(submitted(job.id, submission.task), job.id, status=202)


async def get_job(request: Request) -> Answer:
    gateway = gateway_of(request)
    job = gateway.job(request.path_params["job_id"])
    status = await job.status()
    event = status.last_event
    result = await _result_json(gateway, job, event) if event is not None and event.type is EventType.DONE else None
    return json_answer(job_document(status, task_of(job.id), result), job.id)


async def _events(gateway: Gateway, job: AsyncJob[Any], after: str, timeout: float) -> AsyncIterator[bytes]:
    try:
        async for event in job.events(after=after, timeout=timeout):
            data = None
            if event.type is EventType.DONE:
                data = {**event.data, "result": await _result_json(gateway, job, event)}
            yield event_sse(event, data)
    except Exception as error:  # a timeout ends this watch; the client may resume from its last id
        info = describe(error)
        yield sse({"code": info.code, "message": info.message, "field": info.field}, event="gateway-error")


async def job_events(request: Request) -> Answer:
    gateway = gateway_of(request)
    job = gateway.job(request.path_params["job_id"])
    after = request.headers.get("last-event-id") or request.query_params.get("after") or "0-0"
    if not _STREAM_ID.fullmatch(after):
        raise RequestValidationError(f"Last-Event-ID: not a stream id, got {after!r}", field="Last-Event-ID")
    return EventStreamResponse(_events(gateway, job, after, gateway.timeout(request)))


async def cancel_job(request: Request) -> Answer:
    job = gateway_of(request).job(request.path_params["job_id"])
    await job.cancel()
    status = await job.status()
    return json_answer(job_document(status, task_of(job.id), None), job.id, status=202)
