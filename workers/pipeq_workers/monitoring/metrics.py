"""Prometheus metrics of a worker, per task and model (prometheus-client)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import redis
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from pipeq_client.protocol import CONSUMERS_KEY, Queue, inflight_key, lease_key

__all__ = ["WorkerMetrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class _QueueDepth(Collector):
    """Read from Redis at scrape time: messages waiting (LLEN of each queue's list, what KEDA and
    Flower read too), messages in flight (the in-flight lists of the registered consumers) and
    live consumers (those whose lease exists), per queue."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            waiting, in_flight, consumers = self._read()
        except (redis.RedisError, ValueError):
            return  # Redis down: no sample rather than a failing scrape
        families = (
            ("pipeq_queue_depth", "Messages waiting in each queue.", waiting),
            ("pipeq_in_flight", "Messages taken by a worker and not yet acknowledged.", in_flight),
            ("pipeq_live_consumers", "Workers holding a lease on each queue.", consumers),
        )
        for name, help_text, values in families:
            family = GaugeMetricFamily(name, help_text, labels=["queue"])
            for queue in Queue:
                family.add_metric([queue.value], float(values.get(queue.value, 0)))
            yield family

    def _read(self) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
        records = {_text(key): json.loads(value) for key, value in self.client.hgetall(CONSUMERS_KEY).items()}
        with self.client.pipeline(transaction=False) as pipe:
            for queue in Queue:
                pipe.llen(queue.value)
            for consumer_id, record in records.items():
                pipe.exists(lease_key(consumer_id))
                for queue in record.get("queues", []):
                    pipe.llen(inflight_key(consumer_id, queue))
            replies = iter(pipe.execute())
        waiting = {queue.value: int(next(replies)) for queue in Queue}
        in_flight: dict[str, int] = {}
        consumers: dict[str, int] = {}
        for record in records.values():
            alive = bool(next(replies))
            for queue in record.get("queues", []):
                in_flight[queue] = in_flight.get(queue, 0) + int(next(replies))
                consumers[queue] = consumers.get(queue, 0) + int(alive)
        return waiting, in_flight, consumers


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
        self.model_process_jobs = Gauge(
            "pipeq_model_process_jobs", "Jobs sent to the model process, not yet answered.", registry=self.registry
        )
        self.registry.register(_QueueDepth(client))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
