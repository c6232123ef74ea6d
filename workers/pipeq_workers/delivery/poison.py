"""Checks a raw message before Celery sees it, and refuses what a pipeq worker cannot run.

Celery trusts its broker: a body that is JSON but not ``[args, kwargs, embed]`` kills the
worker ("Unrecoverable error"), and wrong argument shapes, unknown task names, undecodable
bodies or other content types are dropped before any task code runs, so the caller waits
out its timeout. pipeq never trusts the wire: every message on its queues is checked here,
and a refused one is answered on its job's stream (when it names a job), parked in the
dead-letter list with the reason, acknowledged, and logged once -- all bounded in size.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from pipeq_client.protocol import (
    DEAD_LETTER_KEY,
    TASK_QUEUES,
    ErrorCode,
    EventType,
    Queue,
    celery_task_name,
    events_key,
)
from pipeq_workers.runtime.job_events import STREAM_MAXLEN

__all__ = ["PIPEQ_TASK_NAMES", "Inspection", "bounded", "inspect_message", "record_refusal"]

log = logging.getLogger(__name__)

PIPEQ_TASK_NAMES = frozenset(celery_task_name(task) for task in TASK_QUEUES)
PIPEQ_QUEUES = frozenset(queue.value for queue in Queue)
# The dead-letter list keeps the newest records only: a flood of junk must not fill Redis.
DEAD_LETTER_MAX = 10_000
# Echoed values (job ids, task names, excerpts) are cut: never megabytes into logs or events.
ECHO_LIMIT = 200
_JOB_ID_LIMIT = 256
_WORKFLOW_KEYS = ("callbacks", "errbacks", "chain", "chord")


def bounded(value: object, limit: int = ECHO_LIMIT) -> str:
    """``repr``-safe text of at most ``limit`` characters, saying how much was cut."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


@dataclass(frozen=True)
class Inspection:
    """A checked message: ``envelope`` when it may be delivered, else ``reason`` (and the job's
    id, ``field`` and task when the message names them)."""

    envelope: dict[str, Any] | None
    reason: str | None = None
    field: str | None = None
    job_id: str | None = None
    task: str | None = None


class _RefusedError(Exception):
    def __init__(self, reason: str, field: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


def inspect_message(raw: bytes, queue: str) -> Inspection:
    """The envelope if this is a well-formed Celery (protocol 2) message for a pipeq task
    with exactly one positional argument; otherwise why not. Queues that are not pipeq's
    (remote-control replies to Flower or ``celery inspect``) only need a readable envelope."""
    if queue not in PIPEQ_QUEUES:
        return _inspect_envelope(raw)
    try:
        envelope = json.loads(raw)
    except (ValueError, RecursionError) as error:
        return Inspection(None, f"the message is not valid JSON: {bounded(str(error))}", "message")
    if not isinstance(envelope, dict):
        return Inspection(None, f"the message is JSON {type(envelope).__name__}, not an object", "message")
    headers = envelope.get("headers")
    job_id, task = _job_id(headers), _task(headers)
    try:
        _check_envelope(envelope, headers)
        _check_body(envelope)
    except _RefusedError as refused:
        return Inspection(None, refused.reason, refused.field, job_id, task)
    return Inspection(envelope, job_id=job_id, task=task)


def _inspect_envelope(raw: bytes) -> Inspection:
    try:
        envelope = json.loads(raw)
    except (ValueError, RecursionError) as error:
        return Inspection(None, f"the message is not valid JSON: {bounded(str(error))}", "message")
    properties = envelope.get("properties") if isinstance(envelope, dict) else None
    if not isinstance(properties, dict) or not isinstance(properties.get("delivery_tag"), str):
        return Inspection(None, "the message has no properties.delivery_tag", "properties")
    return Inspection(envelope)


def _job_id(headers: Any) -> str | None:
    value = headers.get("id") if isinstance(headers, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= _JOB_ID_LIMIT else None


def _task(headers: Any) -> str | None:
    value = headers.get("task") if isinstance(headers, dict) else None
    return value if isinstance(value, str) else None


def _check_envelope(envelope: dict[str, Any], headers: Any) -> None:
    if not isinstance(headers, dict):
        raise _RefusedError("the message has no headers object (Celery task protocol 2)", "headers")
    properties = envelope.get("properties")
    if not isinstance(properties, dict) or not isinstance(properties.get("delivery_tag"), str):
        raise _RefusedError("the message has no properties.delivery_tag", "properties")
    if not isinstance(properties.get("delivery_info", {}), dict):
        raise _RefusedError("properties.delivery_info must be an object", "properties.delivery_info")
    content_type = envelope.get("content-type")
    if content_type != "application/json":
        raise _RefusedError(f"content type {bounded(content_type)} refused: pipeq accepts JSON only", "content-type")
    if envelope.get("content-encoding", "utf-8") != "utf-8":
        raise _RefusedError(f"content encoding {bounded(envelope.get('content-encoding'))} refused", "content-encoding")
    if _job_id(headers) is None:
        raise _RefusedError(f"headers.id must be a job id of 1..{_JOB_ID_LIMIT} characters", "headers.id")
    task = headers.get("task")
    if task not in PIPEQ_TASK_NAMES:
        raise _RefusedError(f"unknown task {bounded(task)}; pipeq workers run only pipeq.<task> names", "headers.task")
    _check_headers(headers)


def _check_headers(headers: dict[str, Any]) -> None:
    """The header fields Celery parses while building its request: a wrong type there would
    raise inside Celery instead of reaching pipeq."""
    for name in ("eta", "expires"):
        value = headers.get(name)
        if value is not None and not _is_iso_datetime(value):
            reason = f"headers.{name} must be an ISO 8601 time or null, got {bounded(value)}"
            raise _RefusedError(reason, f"headers.{name}")
    retries = headers.get("retries", 0)
    if isinstance(retries, bool) or not isinstance(retries, int):
        raise _RefusedError(f"headers.retries must be an integer, got {bounded(retries)}", "headers.retries")
    limits = headers.get("timelimit")
    if limits is not None and not _is_time_limit(limits):
        reason = f"headers.timelimit must be [soft, hard] seconds, got {bounded(limits)}"
        raise _RefusedError(reason, "headers.timelimit")


def _is_iso_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_time_limit(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(item is None or (isinstance(item, int | float) and not isinstance(item, bool)) for item in value)
    )


def _check_body(envelope: dict[str, Any]) -> None:
    body = _decoded_body(envelope)
    if not isinstance(body, list) or len(body) != 3:
        raise _RefusedError(f"the body must be [args, kwargs, embed], got JSON {_shape(body)}", "body")
    args, kwargs, embed = body
    if not isinstance(args, list) or len(args) != 1:
        count = len(args) if isinstance(args, list) else _shape(args)
        raise _RefusedError(f"a pipeq task takes exactly one argument (the request), got {count}", "args")
    if kwargs not in ({}, None):
        names = sorted(kwargs) if isinstance(kwargs, dict) else _shape(kwargs)
        raise _RefusedError(f"a pipeq task takes no keyword arguments, got {bounded(names)}", "kwargs")
    if embed is not None and not isinstance(embed, dict):
        raise _RefusedError(f"the body's embed must be an object, got JSON {_shape(embed)}", "embed")
    if isinstance(embed, dict) and any(embed.get(key) for key in _WORKFLOW_KEYS):
        raise _RefusedError("pipeq tasks take no callbacks, errbacks, chains or chords", "embed")


def _decoded_body(envelope: dict[str, Any]) -> Any:
    body = envelope.get("body")
    properties = envelope["properties"]
    if not isinstance(body, str):
        raise _RefusedError("the body must be a string", "body")
    try:
        if properties.get("body_encoding") == "base64":
            return json.loads(base64.b64decode(body, validate=True))
        if properties.get("body_encoding") in (None, "utf-8"):
            return json.loads(body)
    except (binascii.Error, ValueError, RecursionError) as error:
        raise _RefusedError(f"the body is not valid JSON: {bounded(str(error))}", "body") from None
    raise _RefusedError(f"body encoding {bounded(properties.get('body_encoding'))} refused", "properties.body_encoding")


def _shape(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def record_refusal(
    pipe: redis.client.Pipeline, inspection: Inspection, queue: str, raw: bytes, result_ttl_s: int
) -> None:
    """Queues (on ``pipe``) the dead-letter record and, when the message names a job, its
    ``error`` event; logs the refusal once, bounded."""
    reason = inspection.reason or "refused"
    record = {
        "job_id": inspection.job_id,
        "task": bounded(inspection.task) if inspection.task is not None else None,
        "queue": queue,
        "reason": reason,
        "field": inspection.field,
        "size": len(raw),
        "excerpt": bounded(raw[:ECHO_LIMIT].decode("utf-8", "replace")),
        "refused_at": time.time(),
    }
    pipe.lpush(DEAD_LETTER_KEY, json.dumps(record))
    pipe.ltrim(DEAD_LETTER_KEY, 0, DEAD_LETTER_MAX - 1)
    if inspection.job_id is not None:
        error = {"code": ErrorCode.INVALID_REQUEST.value, "message": reason, "field": inspection.field}
        key = events_key(inspection.job_id)
        fields = {"type": EventType.ERROR.value, "data": json.dumps(error, separators=(",", ":"))}
        pipe.xadd(key, fields, maxlen=STREAM_MAXLEN, approximate=True)  # type: ignore[arg-type]
        pipe.expire(key, result_ttl_s)
    log.warning(
        "refused a message on queue %s (job %s, %d bytes): %s; parked in %s",
        queue,
        inspection.job_id,
        len(raw),
        reason,
        DEAD_LETTER_KEY,
    )
