"""Celery task messages and task-sent events, written by the client itself (I/O-free).

The client used Celery's producer, which costs a thread hop under asyncio and two round
trips per submit (``LPUSH``, then ``PUBLISH`` of the task-sent event). The bytes are simple
and fixed by Celery's task protocol 2 and kombu's Redis transport, so pipeq writes them
directly and both clients send them in one pipeline with any claim-check uploads. The
worker's poison gate (``pipeq_workers.delivery.poison``) checks exactly this shape, and
Flower lists the task from the event as it would from Celery's.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

from pipeq_client.protocol import Queue, Task, celery_task_name

__all__ = ["ORIGIN", "event_channel", "task_message", "task_sent_event"]

ORIGIN = f"pipeq-client{os.getpid()}@{socket.gethostname()}"
# Flower shows args as a string; a payload of megabytes is cut (Celery truncates its repr too).
ARGS_REPR_LIMIT = 1024
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def args_repr(body: dict[str, Any]) -> str:
    text = repr([body])
    return text if len(text) <= ARGS_REPR_LIMIT else f"{text[:ARGS_REPR_LIMIT]}..."


def task_message(task: Task, job_id: str, body: dict[str, Any], queue: Queue, argsrepr: str) -> bytes:
    """The message Celery's producer would ``LPUSH`` onto the queue's list."""
    headers: dict[str, Any] = {
        "lang": "py",
        "task": celery_task_name(task),
        "id": job_id,
        "shadow": None,
        "eta": None,
        "expires": None,
        "group": None,
        "group_index": None,
        "retries": 0,
        "timelimit": [None, None],
        "root_id": job_id,
        "parent_id": None,
        "argsrepr": argsrepr,
        "kwargsrepr": "{}",
        "origin": ORIGIN,
        "ignore_result": None,
        "replaced_task_nesting": 0,
        "stamped_headers": None,
        "stamps": {},
    }
    properties = {
        "correlation_id": job_id,
        "delivery_mode": 2,
        "delivery_info": {"exchange": "", "routing_key": queue.value},
        "priority": 0,
        "body_encoding": "base64",
        "delivery_tag": str(uuid.uuid4()),
    }
    return _json(
        {
            "body": _b64(_json([[body], {}, _EMBED])),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": headers,
            "properties": properties,
        }
    )


def event_channel(redis_url: str) -> str:
    """kombu's pub/sub channel for task-sent events: its fanout prefix names the database."""
    path = urlsplit(redis_url).path.strip("/")
    database = int(path) if path.isdigit() else 0
    return f"/{database}.celeryev/task.sent"


def task_sent_event(task: Task, job_id: str, queue: Queue, argsrepr: str, clock: int) -> bytes:
    """The event Celery's producer publishes (``task_send_sent_event``): Flower lists the task."""
    event = {
        "hostname": ORIGIN,
        "utcoffset": 0.0,
        "pid": os.getpid(),
        "clock": clock,
        "uuid": job_id,
        "root_id": job_id,
        "parent_id": None,
        "name": celery_task_name(task),
        "args": argsrepr,
        "kwargs": "{}",
        "retries": 0,
        "eta": None,
        "expires": None,
        "queue": queue.value,
        "exchange": "",
        "routing_key": queue.value,
        "timestamp": time.time(),
        "type": "task-sent",
    }
    properties = {
        "delivery_mode": 1,
        "delivery_info": {"exchange": "celeryev", "routing_key": "task.sent"},
        "priority": 0,
        "body_encoding": "base64",
        "delivery_tag": str(uuid.uuid4()),
    }
    return _json(
        {
            "body": _b64(_json(event)),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": {"hostname": ORIGIN},
            "properties": properties,
        }
    )
