"""What the endpoints share: the gateway object, JSON bodies validated with field names, job-id
headers, and the typed stream of text deltas that every streaming dialect renders."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pipeq_client import AsyncJob
from pipeq_client.errors import JobTimeoutError, RequestValidationError
from pipeq_client.events import DoneEvent, ResetEvent, TokenEvent
from pipeq_client.validation import validate_request
from pipeq_gateway.replay import Replay
from pipeq_gateway.service import Gateway
from pipeq_gateway.sse import EventStreamResponse

__all__ = ["JOB_HEADER", "Answer", "deltas", "gateway_of", "json_answer", "read_json", "read_model", "stream_answer"]

ModelT = TypeVar("ModelT", bound=BaseModel)
JOB_HEADER = "X-Pipeq-Job-Id"

Delta = tuple[TokenEvent, str] | DoneEvent[Any]
# What an endpoint returns: a plain response or a stream (both ASGI callables).
Answer = Response | EventStreamResponse


def gateway_of(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.gateway
    return gateway


async def read_json(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw)
    except ValueError:
        raise RequestValidationError("body: not valid JSON", field="body") from None


async def read_model(request: Request, model: type[ModelT]) -> ModelT:
    """The JSON body as ``model``; RequestValidationError names the first bad field."""
    validated: ModelT = validate_request(model, await read_json(request))
    return validated


def json_answer(data: Any, job_id: str | None = None, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status, headers={JOB_HEADER: job_id} if job_id else None)


def stream_answer(gateway: Gateway, job: AsyncJob[Any], chunks: AsyncIterator[bytes]) -> EventStreamResponse:
    """An SSE response that cancels ``job`` when the client leaves before the end."""
    return EventStreamResponse(chunks, lambda: gateway.cancel_on_disconnect(job), headers={JOB_HEADER: job.id})


async def deltas(job: AsyncJob[Any], timeout: float) -> AsyncIterator[Delta]:
    """``(token event, new text)`` for each non-empty delta, then the DoneEvent; errors raise.

    A redelivered job's regenerated text is held back until it passes what was sent (Replay);
    on the deadline the job is cancelled (nobody waits for it any more)."""
    replay = Replay()
    try:
        async for event in job.stream(timeout=timeout):
            if isinstance(event, ResetEvent):
                replay.reset()
            elif isinstance(event, TokenEvent):
                text = replay.delta(event.sequence, event.text)
                if text or event.logprob is not None:
                    yield event, text
            elif isinstance(event, DoneEvent):
                yield event
    except JobTimeoutError:
        await job.cancel()
        raise
