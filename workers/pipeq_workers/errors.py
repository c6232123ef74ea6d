"""Worker-side errors. Errors a request can cause are the client's typed errors
(``pipeq_client.errors``), so they cross the wire by code; these are the worker's own.

    WorkerConfigError       a bad models config or setting: the worker refuses to start
    ModelProcessLostError   the model process ended while it held a job: the job is requeued
"""

from __future__ import annotations

__all__ = ["ModelProcessLostError", "WorkerConfigError"]


class WorkerConfigError(Exception):
    """The worker's configuration is invalid (models config, device, dtype)."""


class ModelProcessLostError(Exception):
    """The model process ended while it held the job (not the request's fault: requeued)."""
