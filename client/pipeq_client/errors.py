"""The one exception tree of pipeq_client.

    PipeqError
    ├── RequestValidationError   (ValueError) invalid request, at the client or the worker
    │   └── UnsupportedParameterError        valid, but not available with this model/worker
    ├── InvalidInputError         (ValueError) undecodable image/audio, wrong format
    ├── PayloadTooLargeError      (ValueError) input over the size limit
    │   └── InputTooLongError                    text over the model's token limit (names limit and length)
    ├── BlobMissingError                       a claim-checked payload expired or vanished
    ├── BrokerUnavailableError    (ConnectionError) Redis cannot be reached (submit, result, stream)
    ├── ModelNotAllowedError                   the model is not in the worker's registry
    ├── NoWorkerError                          no live worker consumes the queue (require_worker)
    ├── JobTimeoutError           (TimeoutError) no result within the client's timeout
    ├── JobCancelledError                      the job was cancelled
    ├── TimeLimitError                         the job ran past the worker's time limit for its task
    ├── DeadLetterError                        redelivered too often; parked in the dead-letter list
    └── WorkerError                            anything else that failed in the worker

Errors cross the wire as ``{code, message, field}``, never as pickled exceptions;
:func:`error_from_wire` maps a code back to its class.
"""

from __future__ import annotations

from typing import Any

from pipeq_client.protocol import ErrorCode

__all__ = [
    "BlobMissingError",
    "BrokerUnavailableError",
    "DeadLetterError",
    "InputTooLongError",
    "InvalidInputError",
    "JobCancelledError",
    "JobTimeoutError",
    "ModelNotAllowedError",
    "NoWorkerError",
    "PayloadTooLargeError",
    "PipeqError",
    "RequestValidationError",
    "TimeLimitError",
    "UnsupportedParameterError",
    "WorkerError",
    "error_from_wire",
]


class PipeqError(Exception):
    """Base of every pipeq error. ``code`` is the wire code; ``field`` the offending field, if any."""

    code: ErrorCode = ErrorCode.WORKER_ERROR

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_wire(self) -> dict[str, Any]:
        """The JSON form carried by ``error`` events."""
        return {"code": self.code.value, "message": self.message, "field": self.field}


class RequestValidationError(PipeqError, ValueError):
    """The request is invalid; ``field`` names the first offending field."""

    code = ErrorCode.INVALID_REQUEST


class UnsupportedParameterError(RequestValidationError):
    """A valid parameter that this model or worker cannot honour."""

    code = ErrorCode.UNSUPPORTED_PARAMETER


class InvalidInputError(PipeqError, ValueError):
    """The input could not be decoded (corrupt image, not audio, wrong format)."""

    code = ErrorCode.INVALID_INPUT


class PayloadTooLargeError(PipeqError, ValueError):
    """The input is larger than the configured limit."""

    code = ErrorCode.PAYLOAD_TOO_LARGE


class InputTooLongError(PayloadTooLargeError):
    """The text is longer than the model takes (its token positions); the message names both."""

    code = ErrorCode.INPUT_TOO_LONG


class BlobMissingError(PipeqError):
    """A claim-checked payload expired before the worker read it."""

    code = ErrorCode.BLOB_MISSING


class BrokerUnavailableError(PipeqError, ConnectionError):
    """Redis (the broker and the event streams) could not be reached in time."""

    code = ErrorCode.BROKER_UNAVAILABLE


class ModelNotAllowedError(PipeqError):
    """The request names a model outside the worker's model registry."""

    code = ErrorCode.MODEL_NOT_ALLOWED


class NoWorkerError(PipeqError):
    """No live worker consumes the request's queue (checked only with ``require_worker``)."""

    code = ErrorCode.NO_WORKER


class JobTimeoutError(PipeqError, TimeoutError):
    """No result arrived within the client's timeout (the job may still run)."""

    code = ErrorCode.JOB_TIMEOUT


class JobCancelledError(PipeqError):
    """The job was cancelled."""

    code = ErrorCode.CANCELLED


class TimeLimitError(PipeqError):
    """The worker gave up on the job at its task's time limit (``PIPEQ_MAX_TASK_SECONDS``)."""

    code = ErrorCode.TIME_LIMIT


class DeadLetterError(PipeqError):
    """The job was delivered too many times and was parked in the dead-letter list."""

    code = ErrorCode.DEAD_LETTER


class WorkerError(PipeqError):
    """An unexpected failure inside the worker."""

    code = ErrorCode.WORKER_ERROR


_BY_CODE: dict[ErrorCode, type[PipeqError]] = {
    ErrorCode.INVALID_REQUEST: RequestValidationError,
    ErrorCode.UNSUPPORTED_PARAMETER: UnsupportedParameterError,
    ErrorCode.INVALID_INPUT: InvalidInputError,
    ErrorCode.PAYLOAD_TOO_LARGE: PayloadTooLargeError,
    ErrorCode.INPUT_TOO_LONG: InputTooLongError,
    ErrorCode.BLOB_MISSING: BlobMissingError,
    ErrorCode.BROKER_UNAVAILABLE: BrokerUnavailableError,
    ErrorCode.MODEL_NOT_ALLOWED: ModelNotAllowedError,
    ErrorCode.NO_WORKER: NoWorkerError,
    ErrorCode.CANCELLED: JobCancelledError,
    ErrorCode.TIME_LIMIT: TimeLimitError,
    ErrorCode.JOB_TIMEOUT: JobTimeoutError,
    ErrorCode.DEAD_LETTER: DeadLetterError,
    ErrorCode.WORKER_ERROR: WorkerError,
}


def error_from_wire(payload: dict[str, Any]) -> PipeqError:
    """Rebuilds the typed error from an ``error`` event; unknown codes become WorkerError."""
    try:
        cls = _BY_CODE[ErrorCode(str(payload.get("code")))]
    except ValueError:
        cls = WorkerError
    return cls(str(payload.get("message", "")), field=payload.get("field"))
