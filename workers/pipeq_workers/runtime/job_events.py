"""Publishes a job's events to its Redis Stream (``XADD MAXLEN ~``, with a TTL)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import redis

from pipeq_client.protocol import EventType, events_key

__all__ = ["EventPublisher", "TokenWriter", "cancelled", "publish_tokens", "redis_token_writer"]

STREAM_MAXLEN = 10_000


# Writes one generation step's token events, (stream key, event data) each. In a model process
# they travel to the worker process, which writes them (model_process.py): Redis I/O costs
# the model's GIL nothing there.
TokenWriter = Callable[[list[tuple[str, dict[str, Any]]]], None]


# The stream's TTL is set by ``started`` and again by ``done``; XADD keeps it. A token event
# renews it only every this many positions (and at the final flush, which has none), so a
# generation longer than the TTL cannot leave a stream without one.
RENEW_TTL_EVERY = 256


def _fields(event_type: EventType, data: dict[str, Any]) -> dict[str, str]:
    return {"type": event_type.value, "data": json.dumps(data, separators=(",", ":"))}


def redis_token_writer(client: redis.Redis, ttl_s: int) -> TokenWriter:
    """Writes a step's token events in one pipeline: a round trip per step, not per token."""

    def write(tokens: list[tuple[str, dict[str, Any]]]) -> None:
        renew: set[str] = set()
        with client.pipeline(transaction=False) as pipe:
            for key, data in tokens:
                pipe.xadd(key, _fields(EventType.TOKEN, data), maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
                if int(data.get("position") or 0) % RENEW_TTL_EVERY == 0:
                    renew.add(key)
            for key in renew:
                pipe.expire(key, ttl_s)
            pipe.execute()

    return write


class EventPublisher:
    """One job's event stream. Readers use XREAD from 0-0 or their last id, so none is missed.
    Token events go through ``tokens`` (see :func:`publish_tokens`)."""

    def __init__(self, client: redis.Redis, job_id: str, ttl_s: int, tokens: TokenWriter | None = None) -> None:
        self.client = client
        self.key = events_key(job_id)
        self.ttl_s = ttl_s
        self.tokens = tokens or redis_token_writer(client, ttl_s)

    def publish(self, event_type: EventType, data: dict[str, Any]) -> str:
        with self.client.pipeline(transaction=False) as pipe:
            self.add(pipe, event_type, data)
            entry_id = pipe.execute()[0]
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    def add(self, pipe: redis.client.Pipeline, event_type: EventType, data: dict[str, Any]) -> None:
        """Queues the event (XADD, then EXPIRE) on ``pipe``, for a caller that writes more with it."""
        pipe.xadd(self.key, _fields(event_type, data), maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
        pipe.expire(self.key, self.ttl_s)


def publish_tokens(batch: list[tuple[EventPublisher, dict[str, Any]]]) -> None:
    """One generation step's token events, of every row of every request in the batch, written
    together by the streams' token writer (one per process)."""
    if batch:
        batch[0][0].tokens([(stream.key, data) for stream, data in batch])


def cancelled(client: redis.Redis, keys: list[str]) -> list[bool]:
    """Which of the jobs' cancel keys exist, in one round trip."""
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.exists(key)
        return [bool(found) for found in pipe.execute()]
