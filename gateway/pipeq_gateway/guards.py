"""What runs before any route: API keys and the request size limit (pure ASGI, no body copies)."""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeq_gateway.errors import ErrorInfo, GatewayError, dialect_of, error_body, status_in

__all__ = ["AuthMiddleware", "BodyLimitMiddleware", "error_response"]

# Probes, metrics and the playground's static page need no key (the page asks for one).
OPEN_PATHS = frozenset({"/", "/healthz", "/livez", "/health", "/metrics", "/favicon.ico"})
OPEN_PREFIXES = ("/static/",)


def error_response(path: str, info: ErrorInfo) -> JSONResponse:
    dialect = dialect_of(path)
    return JSONResponse(error_body(dialect, info), status_in(dialect, info), headers=info.headers)


def _bearer(headers: Headers) -> str | None:
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


class AuthMiddleware:
    """``Authorization: Bearer <key>`` on every route but the open ones, when keys are configured."""

    def __init__(self, app: ASGIApp, keys: frozenset[str]) -> None:
        self.app = app
        self.keys = [key.encode() for key in keys]

    def _allowed(self, scope: Scope) -> bool:
        path = scope["path"]
        if scope["method"] == "OPTIONS" or path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return True
        token = _bearer(Headers(scope=scope))
        # Compare against every key in constant time: no early exit that leaks which matched.
        return token is not None and sum(hmac.compare_digest(token.encode(), key) for key in self.keys) > 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.keys or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        info = ErrorInfo(401, "unauthorized", "missing or unknown API key (Authorization: Bearer <key>)")
        response = error_response(scope["path"], info)
        response.headers["WWW-Authenticate"] = "Bearer"
        await response(scope, receive, send)


class BodyLimitMiddleware:
    """413 for bodies over the limit: at once by Content-Length, else while the body streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self, size: int) -> GatewayError:
        message = f"request body of {size}+ bytes is over the limit of {self.max_bytes} bytes"
        return GatewayError(413, "payload_too_large", message)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            error = self._too_large(int(declared))
            info = ErrorInfo(error.status, error.code, error.message)
            await error_response(scope["path"], info)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise self._too_large(received)
            return message

        await self.app(scope, counting_receive, send)
