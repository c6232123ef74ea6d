"""``create_app(settings) -> Starlette``: the routes, the middleware, error answers, and the
``AsyncClient`` opened in the app's own event loop (lifespan)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import redis.exceptions
from kombu.exceptions import OperationalError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from pipeq_client import AsyncClient, ClientSettings
from pipeq_client.errors import PipeqError
from pipeq_gateway.catalog import ModelCatalog
from pipeq_gateway.errors import ErrorInfo, GatewayError, describe
from pipeq_gateway.guards import AuthMiddleware, BodyLimitMiddleware, error_response
from pipeq_gateway.metrics import GatewayMetrics, MetricsMiddleware
from pipeq_gateway.routes import hf, jobs, openai, ops
from pipeq_gateway.routes.common import JOB_HEADER
from pipeq_gateway.service import ClientGoneError, Gateway
from pipeq_gateway.settings import GatewaySettings

__all__ = ["create_app"]

# nginx's code for "client closed request": nobody reads it, the logs and metrics do.
CLIENT_CLOSED = 499


def routes() -> list[BaseRoute]:
    return [
        # OpenAI
        Route("/v1/chat/completions", openai.chat_completions, methods=["POST"]),
        Route("/v1/completions", openai.completions, methods=["POST"]),
        Route("/v1/embeddings", openai.create_embeddings, methods=["POST"]),
        Route("/v1/audio/transcriptions", openai.transcriptions, methods=["POST"]),
        Route("/v1/audio/speech", openai.speech, methods=["POST"]),
        Route("/v1/models", openai.list_models, methods=["GET"]),
        # Jobs
        Route("/v1/jobs", jobs.submit_job, methods=["POST"]),
        Route("/v1/jobs/{job_id}", jobs.get_job, methods=["GET"]),
        Route("/v1/jobs/{job_id}", jobs.cancel_job, methods=["DELETE"]),
        Route("/v1/jobs/{job_id}/events", jobs.job_events, methods=["GET"]),
        # TGI
        Route("/generate", hf.generate, methods=["POST"]),
        Route("/generate_stream", hf.generate_stream, methods=["POST"]),
        Route("/info", hf.info, methods=["GET"]),
        Route("/health", hf.health, methods=["GET"]),
        # HF Inference task routes; InferenceClient(base_url=/models/<m>) also asks for these
        Route("/models/{model:path}/v1/chat/completions", openai.chat_completions_for_model, methods=["POST"]),
        Route("/models/{model:path}/pipeline/{task}", hf.hf_task, methods=["POST"]),
        Route("/models/{model:path}/info", hf.info, methods=["GET"]),
        Route("/models/{model:path}/health", hf.health, methods=["GET"]),
        Route("/models/{model:path}", hf.hf_task, methods=["POST"]),
        # Operations and the playground
        Route("/healthz", ops.healthz, methods=["GET"]),
        Route("/livez", ops.livez, methods=["GET"]),
        Route("/metrics", ops.metrics, methods=["GET"]),
        Route("/", ops.playground, methods=["GET"]),
        Route("/", hf.tgi_root, methods=["POST"]),
        Mount("/static", StaticFiles(directory=ops.STATIC), name="static"),
    ]


async def _error(request: Request, error: Exception) -> Response:
    response = error_response(request.url.path, describe(error))
    job_id = getattr(error, "job_id", None)
    if job_id:
        response.headers[JOB_HEADER] = job_id
    return response


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    code = "not_found" if error.status_code == 404 else "invalid_request"
    return error_response(
        request.url.path, ErrorInfo(error.status_code, code, str(error.detail), headers=dict(error.headers or {}))
    )


async def _client_gone(request: Request, error: Exception) -> Response:
    return Response(status_code=CLIENT_CLOSED)


def _middleware(settings: GatewaySettings, metrics: GatewayMetrics) -> list[Middleware]:
    # Outermost first: metrics see every answer; CORS headers go on refusals too.
    stack = [Middleware(MetricsMiddleware, metrics=metrics)]
    if settings.cors_origins:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["*"],
                allow_headers=["*"],
                expose_headers=["X-Pipeq-Job-Id", "Retry-After"],
            )
        )
    stack.append(Middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes))
    stack.append(Middleware(AuthMiddleware, keys=settings.keys()))
    return stack


def create_app(settings: GatewaySettings | None = None, client_settings: ClientSettings | None = None) -> Starlette:
    """The gateway app. The client settings (Redis URL, limits) default to ``PIPEQ_*``."""
    settings = settings or GatewaySettings()
    metrics = GatewayMetrics()
    catalog = ModelCatalog.from_file(settings.models_config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        client = AsyncClient(settings=client_settings or ClientSettings())
        app.state.gateway = Gateway(settings, client, catalog, metrics)
        try:
            yield
        finally:
            await client.close()

    handlers: dict[Any, Any] = {
        HTTPException: _http_error,
        ClientGoneError: _client_gone,
        **dict.fromkeys((GatewayError, PipeqError, redis.exceptions.RedisError, OperationalError, Exception), _error),
    }
    return Starlette(
        routes=routes(), middleware=_middleware(settings, metrics), exception_handlers=handlers, lifespan=lifespan
    )
