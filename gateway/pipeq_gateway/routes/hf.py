"""Hugging Face endpoints: TGI (``/generate``, ``/generate_stream``, ``POST /``, ``/info``) and the
Inference API task routes (``POST /models/{model}``, ``/models/{model}/pipeline/{task}``).

``InferenceClient(base_url="http://gateway/models/<model>")`` posts to the model's route for
every task; ``text_generation`` with ``base_url="http://gateway"`` posts TGI style to ``/``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from pipeq_client import AsyncJob
from pipeq_client.errors import RequestValidationError
from pipeq_client.events import DoneEvent
from pipeq_client.protocol import Task
from pipeq_client.validation import validate_request
from pipeq_gateway.dialects.hf import BINARY_INPUTS, HFBody, hf_answer, hf_request
from pipeq_gateway.dialects.tgi import (
    GenerateRequest,
    generate_request,
    generated,
    stream_final,
    stream_token,
    tgi_info,
)
from pipeq_gateway.errors import GatewayError, describe, error_body
from pipeq_gateway.routes.common import JOB_HEADER, Answer, deltas, gateway_of, json_answer, read_json, stream_answer
from pipeq_gateway.service import Gateway
from pipeq_gateway.sse import sse

__all__ = ["generate", "generate_stream", "health", "hf_task", "info", "tgi_root"]


async def _tgi_chunks(job: AsyncJob[Any], timeout: float) -> AsyncIterator[bytes]:
    """``TextGenerationStreamOutput`` events; ``index`` counts the events, as TGI's does."""
    position = 0
    try:
        async for item in deltas(job, timeout):
            if isinstance(item, DoneEvent):
                yield sse(stream_final(position, item.result))
            else:
                yield sse(stream_token(position, *item))
                position += 1
    except Exception as error:  # the stream has started: the error travels as an event
        yield sse(error_body("hf", describe(error)))


async def _generate(request: Request, body: GenerateRequest, model: str | None, stream: bool) -> Answer:
    gateway = gateway_of(request)
    pipeq_request, details = generate_request(body, model)
    if stream:
        job = await gateway.submit(pipeq_request)
        return stream_answer(gateway, job, _tgi_chunks(job, gateway.timeout(request)))
    job, result = await gateway.run(pipeq_request, request)
    return json_answer(generated(result, details), job.id)


async def _tgi_body(request: Request) -> tuple[GenerateRequest, str | None]:
    body: GenerateRequest = validate_request(GenerateRequest, await read_json(request))
    _, model = gateway_of(request).catalog.resolve(body.model, (Task.TEXT_GENERATION,))
    return body, model


async def generate(request: Request) -> Answer:
    body, model = await _tgi_body(request)
    return await _generate(request, body, model, stream=False)


async def generate_stream(request: Request) -> Answer:
    body, model = await _tgi_body(request)
    return await _generate(request, body, model, stream=True)


async def tgi_root(request: Request) -> Answer:
    """TGI's compatibility route: ``stream`` in the body picks /generate or /generate_stream."""
    body, model = await _tgi_body(request)
    return await _generate(request, body, model, stream=body.stream)


def _task_for(gateway: Gateway, name: str, pipeline: str | None) -> tuple[Task, str | None]:
    if pipeline is not None:
        if pipeline not in Task._value2member_map_:
            raise GatewayError(404, "not_found", f"unknown task {pipeline!r}", "task")
        return gateway.catalog.resolve(name, (Task(pipeline),))
    if len(gateway.catalog.tasks_of(name)) > 1:
        message = f"model {name!r} serves several tasks: post to /models/{name}/pipeline/<task>"
        raise GatewayError(400, "invalid_request", message, "model")
    return gateway.catalog.resolve(name, tuple(Task))


async def _hf_body(request: Request, task: Task) -> HFBody:
    content_type = request.headers.get("content-type", "")
    raw = await request.body()
    if "json" in content_type or (task not in BINARY_INPUTS and raw.lstrip()[:1] in (b"{", b"[", b'"')):
        try:
            return HFBody.from_json(json.loads(raw))
        except ValueError:
            raise RequestValidationError("body: not valid JSON", field="body") from None
    if task in BINARY_INPUTS:
        return HFBody(inputs=raw)
    return HFBody(inputs=raw.decode("utf-8", errors="replace"))


async def hf_task(request: Request) -> Answer:
    gateway = gateway_of(request)
    task, model = _task_for(gateway, request.path_params["model"], request.path_params.get("task"))
    if task is Task.TEXT_GENERATION:
        body: GenerateRequest = validate_request(GenerateRequest, await read_json(request))
        return await _generate(request, body, model, stream=body.stream)
    hf_body = await _hf_body(request, task)
    job, result = await gateway.run(hf_request(task, model, hf_body), request)
    answer, media_type = hf_answer(task, result, request.headers.get("accept", ""))
    if isinstance(answer, bytes):
        return Response(answer, media_type=media_type, headers={JOB_HEADER: job.id})
    return json_answer(answer, job.id)


async def info(request: Request) -> Answer:
    """TGI's /info (``InferenceClient.get_endpoint_info``), for the default or the named model."""
    catalog = gateway_of(request).catalog
    name = request.path_params.get("model")
    if name is None:
        return json_answer(tgi_info(catalog.default_of(Task.TEXT_GENERATION), Task.TEXT_GENERATION))
    tasks = catalog.tasks_of(name)
    return json_answer(tgi_info(name, tasks[0] if tasks else Task.TEXT_GENERATION))


async def health(request: Request) -> Answer:
    """TGI's /health (``InferenceClient.health_check``): the queue answers."""
    await gateway_of(request).client.redis.ping()
    return json_answer({})
