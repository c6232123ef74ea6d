"""Server-sent events: encoding, and a response that notices the client leaving.

The response pumps chunks while it listens for ``http.disconnect``; when the client leaves
before the last chunk, it stops the pump and awaits ``on_disconnect`` (which cancels the
job), shielded, so the cancel is sent even though the request is over.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
from starlette.types import Receive, Scope, Send

__all__ = ["EventStreamResponse", "sse"]

SSE_HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache"),
    # Proxies (nginx) must not buffer a stream.
    (b"x-accel-buffering", b"no"),
]


def sse(data: Any, *, event: str | None = None, event_id: str | None = None) -> bytes:
    """One event; ``data`` is JSON-encoded unless it is already a string (``[DONE]``)."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    head = (f"id: {event_id}\n" if event_id else "") + (f"event: {event}\n" if event else "")
    return f"{head}data: {text}\n\n".encode()


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class EventStreamResponse:
    """An ASGI response streaming ``chunks``; ``on_disconnect`` runs if the client leaves early."""

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        on_disconnect: Callable[[], Awaitable[None]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.chunks = chunks
        self.on_disconnect = on_disconnect
        self.headers = SSE_HEADERS + [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        self.completed = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.headers})
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._watch, receive, group.cancel_scope)
                await self._pump(send)
                group.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await self._finish()

    async def _watch(self, receive: Receive, scope: anyio.CancelScope) -> None:
        await _until_disconnect(receive)
        scope.cancel()

    async def _pump(self, send: Send) -> None:
        try:
            async for chunk in self.chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            return  # the connection is gone (uvicorn raises on send): a disconnect
        self.completed = True

    async def _finish(self) -> None:
        aclose = getattr(self.chunks, "aclose", None)
        if aclose is not None:
            await aclose()
        if not self.completed and self.on_disconnect is not None:
            await self.on_disconnect()
