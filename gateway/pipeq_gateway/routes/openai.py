"""OpenAI-compatible endpoints: chat completions, completions, embeddings, audio, models."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from pipeq_client import AsyncJob
from pipeq_client.errors import RequestValidationError
from pipeq_client.events import DoneEvent
from pipeq_client.protocol import Task
from pipeq_client.types import TaskRequest
from pipeq_client.validation import validate_request
from pipeq_gateway.dialects.openai_audio import (
    SpeechRequest,
    TranscriptionForm,
    speech_audio,
    speech_request,
    transcription,
    transcription_request,
)
from pipeq_gateway.dialects.openai_chat import ChatCompletionRequest, ChatStream, chat_completion, chat_request
from pipeq_gateway.dialects.openai_completions import (
    CompletionRequest,
    CompletionStream,
    completion,
    completion_request,
    prompt_text,
)
from pipeq_gateway.dialects.openai_embeddings import EmbeddingRequest, embedding_request, embeddings
from pipeq_gateway.errors import describe, error_body
from pipeq_gateway.routes.common import (
    JOB_HEADER,
    Answer,
    deltas,
    gateway_of,
    json_answer,
    read_model,
    stream_answer,
)
from pipeq_gateway.service import Gateway
from pipeq_gateway.sse import sse

__all__ = [
    "chat_completions",
    "chat_completions_for_model",
    "completions",
    "create_embeddings",
    "list_models",
    "speech",
    "transcriptions",
]

ChunkSource = ChatStream | CompletionStream


def _model_name(gateway: Gateway, asked: str | None, request: TaskRequest[Any]) -> str:
    task = type(request).task
    return asked or gateway.catalog.default_of(task) or task.value


async def _chunks(
    job: AsyncJob[Any], source: ChunkSource, usage: bool, timeout: float, first: list[Any]
) -> AsyncIterator[bytes]:
    """SSE chunks: ``first``, one per text delta, the closing ones, ``[DONE]``; an error ends it."""
    for chunk in first:
        yield sse(chunk)
    try:
        async for item in deltas(job, timeout):
            if isinstance(item, DoneEvent):
                for chunk in source.closing(item.result, usage):
                    yield sse(chunk)
            else:
                yield sse(source.token(*item))
    except Exception as error:  # the stream has started: the error travels as an event
        yield sse(error_body("openai", describe(error)))
        return
    yield sse("[DONE]")


async def chat_completions(request: Request) -> Answer:
    return await _chat(request, await read_model(request, ChatCompletionRequest))


async def chat_completions_for_model(request: Request) -> Answer:
    """``InferenceClient(base_url=".../models/<model>").chat_completion()`` posts here: the path
    names the model (the body then says "dummy")."""
    body = await read_model(request, ChatCompletionRequest)
    return await _chat(request, body.model_copy(update={"model": request.path_params["model"]}))


async def _chat(request: Request, body: ChatCompletionRequest) -> Answer:
    gateway = gateway_of(request)
    pipeq_request = chat_request(body, gateway.catalog)
    model, created = _model_name(gateway, body.model, pipeq_request), int(time.time())
    if body.stream:
        job = await gateway.submit(pipeq_request)
        source = ChatStream(job.id, model, created, body.n or 1)
        chunks = _chunks(job, source, body.include_usage, gateway.timeout(request), [source.opening()])
        return stream_answer(gateway, job, chunks)
    job, result = await gateway.run(pipeq_request, request)
    return json_answer(chat_completion(job.id, model, created, result), job.id)


async def completions(request: Request) -> Answer:
    gateway = gateway_of(request)
    body = await read_model(request, CompletionRequest)
    pipeq_request = completion_request(body, gateway.catalog)
    model, created = _model_name(gateway, body.model, pipeq_request), int(time.time())
    if body.stream:
        job = await gateway.submit(pipeq_request)
        source = CompletionStream(job.id, model, created)
        # With echo, the prompt goes first, so the deltas add up to the returned text.
        echoed = [source.prompt_chunk(prompt_text(body), body.n or 1)] if body.echo else []
        return stream_answer(gateway, job, _chunks(job, source, body.include_usage, gateway.timeout(request), echoed))
    job, result = await gateway.run(pipeq_request, request)
    return json_answer(completion(job.id, model, created, result), job.id)


async def create_embeddings(request: Request) -> Answer:
    gateway = gateway_of(request)
    body = await read_model(request, EmbeddingRequest)
    pipeq_request = embedding_request(body, gateway.catalog)
    job, result = await gateway.run(pipeq_request, request)
    return json_answer(
        embeddings(_model_name(gateway, body.model, pipeq_request), result, body.encoding_format), job.id
    )


async def _transcription_form(request: Request) -> tuple[TranscriptionForm, bytes]:
    async with request.form() as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise RequestValidationError("file: required (multipart upload of the audio)", field="file")
        fields: dict[str, Any] = {key: value for key, value in form.items() if isinstance(value, str)}
        granularities = form.getlist("timestamp_granularities[]") or form.getlist("timestamp_granularities")
        fields["timestamp_granularities"] = [value for value in granularities if isinstance(value, str)]
        return validate_request(TranscriptionForm, fields), await upload.read()


async def transcriptions(request: Request) -> Answer:
    gateway = gateway_of(request)
    form, audio = await _transcription_form(request)
    job, result = await gateway.run(transcription_request(form, audio, gateway.catalog), request)
    answer = transcription(form, result)
    if isinstance(answer, str):
        return PlainTextResponse(answer, headers={JOB_HEADER: job.id})
    return json_answer(answer, job.id)


async def speech(request: Request) -> Answer:
    gateway = gateway_of(request)
    body = await read_model(request, SpeechRequest)
    job, result = await gateway.run(speech_request(body, gateway.catalog), request)
    audio, media_type = speech_audio(result.audio.data or b"", body.response_format)
    return Response(audio, media_type=media_type, headers={JOB_HEADER: job.id})


async def list_models(request: Request) -> Answer:
    """Every allowed model of every task (``task`` and ``default`` are pipeq's additions)."""
    catalog = gateway_of(request).catalog
    # Without a models config, each task's name stands for its default model.
    listed = [(entry.name, entry.task, entry.default) for entry in catalog.entries] or [
        (task.value, task, True) for task in Task
    ]
    data = [
        {"id": name, "object": "model", "created": 0, "owned_by": "pipeq", "task": task.value, "default": default}
        for name, task, default in listed
    ]
    return json_answer({"object": "list", "data": data})
