"""``create_app(settings)``: every Celery setting of the workers, in one place.

Reasons are in the project's Celery operations notes: at-least-once delivery (pipeq's
transport with leases, acks_late, prefetch 1, requeue on lost worker), JSON
only, events on for Flower, results in their own Redis database with a short expiry.
"""

from __future__ import annotations

from celery import Celery
from kombu import Queue as KombuQueue

from pipeq_client.broker import shared_celery_config
from pipeq_client.protocol import Queue, result_backend_url
from pipeq_workers.runtime.celery_tasks import register_tasks
from pipeq_workers.runtime.worker_runtime import WorkerRuntime
from pipeq_workers.settings import WorkerSettings

__all__ = ["RELIABLE_TRANSPORT", "create_app"]

RELIABLE_TRANSPORT = "pipeq_workers.delivery.transport:Transport"


def create_app(settings: WorkerSettings) -> Celery:
    app = Celery(
        "pipeq", broker=settings.redis_url, backend=result_backend_url(settings.redis_url), set_as_current=False
    )
    app.conf.update(shared_celery_config(settings))
    transport_options = {
        **app.conf.broker_transport_options,
        "lease_ttl": settings.lease_ttl_s,
        "lease_interval": settings.lease_renew_s,
        "result_ttl": settings.result_ttl_s,
        "fetch_wait": settings.fetch_wait_s,
    }
    app.conf.update(
        # Reliable fetch, leases and the poison gate (pipeq_workers.delivery); producers and
        # Flower keep kombu's Redis transport: the queue lists are the same.
        broker_transport=RELIABLE_TRANSPORT,
        broker_transport_options=transport_options,
        task_queues=[KombuQueue(queue.value, routing_key=queue.value) for queue in Queue],
        task_default_queue=Queue.TEXT.value,
        # At-least-once: ack after the answer is stored; a dead worker's task is redelivered.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        broker_connection_max_retries=None,
        # Flower lives on events: task-sent (client), received/started/succeeded/failed (worker).
        worker_send_task_events=True,
        # pipeq's results travel on each job's event stream: storing them again in Celery's
        # backend cost a write (and STARTED another) per request. The backend stays configured
        # (its own database, short expiry) for anything else on this app that wants results.
        task_ignore_result=True,
        task_track_started=False,
        result_expires=settings.result_ttl_s,
        result_backend_always_retry=True,
        worker_hijack_root_logger=False,
    )
    app.pipeq_runtime = WorkerRuntime(settings)
    register_tasks(app, app.pipeq_runtime)
    return app
