"""Seeing a worker: heartbeat and probes, Prometheus metrics, Flower."""
