"""A Celery task strategy that refuses, never crashes on, a message Celery cannot read.

``poison.py`` checks every message before delivery; this is the net under it: if Celery's
own request building still raises for a pipeq task, the message is refused like any other
poison (answered, dead-lettered, acknowledged) instead of ending the worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from celery.worker.strategy import default

from pipeq_workers.delivery.poison import Inspection, bounded

__all__ = ["guarded"]

log = logging.getLogger(__name__)


def guarded(task: Any, app: Any, consumer: Any, **options: Any) -> Callable[..., Any]:
    """Celery's default strategy for ``task``, wrapped (``Task.Strategy`` points here)."""
    handle = default(task, app, consumer, **options)

    def handle_guarded(message: Any, body: Any, ack: Any, reject: Any, callbacks: Any, **kwargs: Any) -> Any:
        try:
            return handle(message, body, ack, reject, callbacks, **kwargs)
        except Exception as error:
            _refuse(message, f"Celery could not read the message: {type(error).__name__}: {bounded(str(error))}")
            return None

    return handle_guarded


def _refuse(message: Any, reason: str) -> None:
    headers = message.headers if isinstance(message.headers, dict) else {}
    job_id, task = headers.get("id"), headers.get("task")
    inspection = Inspection(None, reason, "message", job_id if isinstance(job_id, str) else None, str(task))
    queue = str((message.delivery_info or {}).get("routing_key", ""))
    refuse = getattr(message.channel, "refuse_delivered", None)
    if refuse is None:  # not pipeq's transport: at least never crash, never requeue forever
        log.warning("refused message of job %s: %s", inspection.job_id, reason)
        message.reject(requeue=False)
        return
    refuse(message.delivery_tag, inspection, queue)
