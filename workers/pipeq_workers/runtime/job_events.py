"""Publishes a job's events to its Redis Stream (``XADD MAXLEN ~``, with a TTL)."""

from __future__ import annotations

import json
from typing import Any

import redis

from pipeq_client.protocol import EventType, events_key

__all__ = ["EventPublisher", "publish_tokens"]

STREAM_MAXLEN = 10_000


class EventPublisher:
    """One job's event stream. Readers use XREAD from 0-0 or their last id, so none is missed."""

    def __init__(self, client: redis.Redis, job_id: str, ttl_s: int) -> None:
        self.client = client
        self.key = events_key(job_id)
        self.ttl_s = ttl_s

    def publish(self, event_type: EventType, data: dict[str, Any]) -> str:
        fields = {"type": event_type.value, "data": json.dumps(data, separators=(",", ":"))}
        with self.client.pipeline(transaction=False) as pipe:
            pipe.xadd(self.key, fields, maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
            pipe.expire(self.key, self.ttl_s)
            entry_id = pipe.execute()[0]
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def publish_tokens(batch: list[tuple[EventPublisher, dict[str, Any]]]) -> None:
    """One generation step's token events, of every row of every request in the batch, in one
    pipeline: a round trip per step, not per token (the streams already have their TTL from
    ``started``; it is renewed once per stream)."""
    if not batch:
        return
    with batch[0][0].client.pipeline(transaction=False) as pipe:
        for stream, data in batch:
            fields = {"type": EventType.TOKEN.value, "data": json.dumps(data, separators=(",", ":"))}
            pipe.xadd(stream.key, fields, maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
        for stream in {stream.key: stream for stream, _ in batch}.values():
            pipe.expire(stream.key, stream.ttl_s)
        pipe.execute()
