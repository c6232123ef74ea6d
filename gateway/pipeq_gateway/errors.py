"""Errors as HTTP answers: one status table keyed by pipeq error code, and one JSON body per dialect.

    code                              status
    invalid_request                   400 (422 on the Hugging Face / TGI routes, as TGI answers)
    unsupported_parameter             422
    invalid_input                     422
    payload_too_large, input_too_long 413
    model_not_allowed, not_found      404
    unauthorized                      401
    cancelled                         409
    overloaded (queue over its limit) 429, with Retry-After
    broker_unavailable, no_worker     503
    job_timeout, time_limit           504
    dead_letter, blob_missing, worker_error   500

Every body carries the pipeq ``code`` and the offending ``field``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import redis.exceptions
from kombu.exceptions import OperationalError

from pipeq_client.errors import PipeqError

__all__ = ["Dialect", "ErrorInfo", "GatewayError", "describe", "dialect_of", "error_body"]

Dialect = Literal["openai", "hf"]

# Keyed by the code's string value: codes the client adds later fall back to 500, and the
# gateway's own codes (unauthorized, overloaded, not_found) sit beside the wire codes.
_STATUS: dict[str, int] = {
    "invalid_request": 400,
    "unsupported_parameter": 422,
    "invalid_input": 422,
    "payload_too_large": 413,
    "input_too_long": 413,
    "model_not_allowed": 404,
    "not_found": 404,
    "unauthorized": 401,
    "cancelled": 409,
    "overloaded": 429,
    "broker_unavailable": 503,
    "no_worker": 503,
    "job_timeout": 504,
    "time_limit": 504,
}

_OPENAI_TYPES = {
    401: "authentication_error",
    404: "not_found_error",
    409: "conflict_error",
    429: "rate_limit_error",
    503: "service_unavailable",
    504: "timeout_error",
}
_HF_TYPES = {401: "authentication", 404: "not_found", 429: "overloaded", 503: "overloaded", 504: "timeout"}


class GatewayError(Exception):
    """A failure decided by the gateway itself (routing, auth, limits, overload)."""

    def __init__(
        self, status: int, code: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


@dataclasses.dataclass(frozen=True)
class ErrorInfo:
    status: int
    code: str
    message: str
    field: str | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


def describe(error: BaseException) -> ErrorInfo:
    """Status, code, message and field of any error a route can meet."""
    if isinstance(error, GatewayError):
        return ErrorInfo(error.status, error.code, error.message, error.field, error.headers)
    if isinstance(error, PipeqError):
        code = str(error.code)
        return ErrorInfo(_STATUS.get(code, 500), code, error.message, error.field)
    if isinstance(error, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError | OperationalError):
        return ErrorInfo(503, "broker_unavailable", f"the queue is unreachable: {error}")
    return ErrorInfo(500, "worker_error", f"{type(error).__name__}: {error}")


def dialect_of(path: str) -> Dialect:
    """OpenAI-style bodies under /v1 (jobs included); Hugging Face / TGI style elsewhere."""
    return "openai" if path.startswith("/v1/") else "hf"


def status_in(dialect: Dialect, info: ErrorInfo) -> int:
    # TGI and the HF Inference API answer validation errors with 422.
    return 422 if dialect == "hf" and info.status == 400 else info.status


def error_body(dialect: Dialect, info: ErrorInfo) -> dict[str, Any]:
    status = status_in(dialect, info)
    if dialect == "openai":
        kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        return {
            "error": {
                "message": info.message,
                "type": kind,
                "param": info.field,
                "code": info.code,
                "field": info.field,
            }
        }
    kind = _HF_TYPES.get(status, "generation" if status >= 500 else "validation")
    return {"error": info.message, "error_type": kind, "code": info.code, "field": info.field}
