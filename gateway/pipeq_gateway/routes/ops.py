"""Operations: probes, Prometheus metrics, and the playground page."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from pipeq_gateway.routes.common import Answer, gateway_of

__all__ = ["STATIC", "healthz", "livez", "metrics", "playground"]

STATIC = Path(__file__).resolve().parents[1] / "static"


async def livez(request: Request) -> Answer:
    """The process answers (liveness: a Redis outage must not restart every replica)."""
    return JSONResponse({"status": "ok"})


async def healthz(request: Request) -> Answer:
    """Ready: the process answers and Redis does."""
    try:
        await gateway_of(request).client.redis.ping()
    except Exception as error:  # any failure to reach Redis means not ready
        return JSONResponse({"status": "unavailable", "redis": str(error)}, 503)
    return JSONResponse({"status": "ok", "redis": "ok"})


async def metrics(request: Request) -> Answer:
    registry = gateway_of(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


async def playground(request: Request) -> Answer:
    return FileResponse(STATIC / "index.html", media_type="text/html")
