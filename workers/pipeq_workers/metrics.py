"""Prometheus metrics of a worker, per task and model (prometheus-client)."""

from __future__ import annotations

from collections.abc import Iterator

import redis
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from pipeq_client.protocol import Queue

__all__ = ["WorkerMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class _QueueDepth(Collector):
    """Queue lengths read from Redis at scrape time (LLEN on Celery's list per queue)."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("pipeq_queue_depth", "Messages waiting in each queue.", labels=["queue"])
        try:
            for queue in Queue:
                family.add_metric([queue.value], float(self.client.llen(queue.value)))
        except redis.RedisError:
            return  # Redis down: no sample rather than a failing scrape
        yield family


class WorkerMetrics:
    """All metrics of one worker process, in their own registry."""

    def __init__(self, client: redis.Redis) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("pipeq_requests", "Requests handled.", ["task", "model"], registry=self.registry)
        self.failures = Counter(
            "pipeq_failures",
            "Requests that ended in an error, by error code.",
            ["task", "code"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "pipeq_request_seconds",
            "Time from start of handling to result.",
            ["task", "model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "pipeq_batch_size", "Requests per model call.", ["task"], buckets=_BATCH_BUCKETS, registry=self.registry
        )
        self.models_loaded = Gauge("pipeq_models_loaded", "1 once warm-up finished.", registry=self.registry)
        self.registry.register(_QueueDepth(client))
