"""The Celery settings every app on the broker shares, and the client's producer app.

The client only sends by task name; it never imports worker code.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from pipeq_client.settings import ClientSettings

__all__ = ["make_producer", "shared_celery_config"]


def shared_celery_config(settings: ClientSettings) -> dict[str, Any]:
    """Settings that producers and workers must agree on: JSON only, one visibility timeout."""
    transport = {"visibility_timeout": settings.visibility_timeout_s}
    return {
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        # The shortest visibility timeout of any app on the broker wins: set it everywhere.
        "broker_transport_options": transport,
        "result_backend_transport_options": transport,
        "task_send_sent_event": True,
        "broker_connection_retry_on_startup": True,
    }


def make_producer(settings: ClientSettings) -> Celery:
    app = Celery("pipeq-client", broker=settings.redis_url, set_as_current=False)
    app.conf.update(shared_celery_config(settings))
    return app
