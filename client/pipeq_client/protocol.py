"""The wire contract: every name that crosses the wire between client and workers.

Task names, queue names, Redis key builders, stream event types and error codes are
defined here and nowhere else. Workers import this module; the client sends by name and
never imports worker code.
"""

from __future__ import annotations

from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "CONSUMERS_KEY",
    "DEAD_LETTER_KEY",
    "ErrorCode",
    "EventType",
    "KEY_PREFIX",
    "Queue",
    "TASK_QUEUES",
    "Task",
    "attempts_key",
    "blob_key",
    "cancel_key",
    "celery_task_name",
    "events_key",
    "inflight_key",
    "lease_key",
    "result_backend_url",
]

KEY_PREFIX = "pipeq"
DEAD_LETTER_KEY = f"{KEY_PREFIX}:dead-letter"
# Reliable delivery: every consuming worker registers here (consumer id -> JSON record) and
# holds a lease; its in-flight messages sit in lists that outlive it (see inflight_key).
CONSUMERS_KEY = f"{KEY_PREFIX}:consumers"


class Queue(StrEnum):
    """One queue per modality; one worker kind consumes each."""

    TEXT = "text"
    VISION = "vision"
    AUDIO = "audio"


class Task(StrEnum):
    """The 13 Hugging Face tasks pipeq serves, by their Hub names."""

    TEXT_GENERATION = "text-generation"
    TEXT_CLASSIFICATION = "text-classification"
    SUMMARIZATION = "summarization"
    TRANSLATION = "translation"
    ZERO_SHOT_CLASSIFICATION = "zero-shot-classification"
    FEATURE_EXTRACTION = "feature-extraction"
    IMAGE_TO_TEXT = "image-to-text"
    IMAGE_CLASSIFICATION = "image-classification"
    OBJECT_DETECTION = "object-detection"
    IMAGE_TEXT_TO_TEXT = "image-text-to-text"
    AUTOMATIC_SPEECH_RECOGNITION = "automatic-speech-recognition"
    AUDIO_CLASSIFICATION = "audio-classification"
    TEXT_TO_SPEECH = "text-to-speech"


TASK_QUEUES: dict[Task, Queue] = {
    Task.TEXT_GENERATION: Queue.TEXT,
    Task.TEXT_CLASSIFICATION: Queue.TEXT,
    Task.SUMMARIZATION: Queue.TEXT,
    Task.TRANSLATION: Queue.TEXT,
    Task.ZERO_SHOT_CLASSIFICATION: Queue.TEXT,
    Task.FEATURE_EXTRACTION: Queue.TEXT,
    Task.IMAGE_TO_TEXT: Queue.VISION,
    Task.IMAGE_CLASSIFICATION: Queue.VISION,
    Task.OBJECT_DETECTION: Queue.VISION,
    Task.IMAGE_TEXT_TO_TEXT: Queue.VISION,
    Task.AUTOMATIC_SPEECH_RECOGNITION: Queue.AUDIO,
    Task.AUDIO_CLASSIFICATION: Queue.AUDIO,
    Task.TEXT_TO_SPEECH: Queue.AUDIO,
}


class EventType(StrEnum):
    """Types of the events on a job's Redis Stream."""

    # Published right before the handler runs (again on each redelivery): Job.status() reads
    # "running" from it. Readers of the typed stream skip it.
    STARTED = "started"
    TOKEN = "token"
    RESET = "reset"
    DONE = "done"
    ERROR = "error"


class ErrorCode(StrEnum):
    """Error codes carried by ``error`` events; the client maps each to a typed exception."""

    INVALID_REQUEST = "invalid_request"
    INVALID_INPUT = "invalid_input"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    INPUT_TOO_LONG = "input_too_long"
    BLOB_MISSING = "blob_missing"
    BROKER_UNAVAILABLE = "broker_unavailable"
    MODEL_NOT_ALLOWED = "model_not_allowed"
    NO_WORKER = "no_worker"
    UNSUPPORTED_PARAMETER = "unsupported_parameter"
    DEAD_LETTER = "dead_letter"
    CANCELLED = "cancelled"
    TIME_LIMIT = "time_limit"
    JOB_TIMEOUT = "job_timeout"
    WORKER_ERROR = "worker_error"


def celery_task_name(task: Task) -> str:
    """Explicit Celery task name, never derived from a module path."""
    return f"{KEY_PREFIX}.{task.value}"


def events_key(job_id: str) -> str:
    """The job's Redis Stream: started/token/reset/done/error events."""
    return f"{KEY_PREFIX}:job:{job_id}:events"


def attempts_key(job_id: str) -> str:
    """Counts deliveries of a job, to dead-letter a poison message."""
    return f"{KEY_PREFIX}:job:{job_id}:attempts"


def cancel_key(job_id: str) -> str:
    """Set by Job.cancel(); workers check it before starting and between generation steps."""
    return f"{KEY_PREFIX}:job:{job_id}:cancel"


def blob_key(blob_id: str) -> str:
    """A claim-checked binary payload (large image/audio input or TTS output)."""
    return f"{KEY_PREFIX}:blob:{blob_id}"


def lease_key(consumer_id: str) -> str:
    """A consumer's lease: exists (with a TTL) while the consumer is alive and renews it."""
    return f"{KEY_PREFIX}:lease:{consumer_id}"


def inflight_key(consumer_id: str, source: str) -> str:
    """The consumer's in-flight list for messages taken from the list ``source`` (atomically,
    with BLMOVE/LMOVE): a message is always in its queue or in exactly one such list."""
    return f"{KEY_PREFIX}:inflight:{consumer_id}:{source}"


def result_backend_url(broker_url: str) -> str:
    """Celery's result backend lives in the database after the broker's (kept apart from queues)."""
    parts = urlsplit(broker_url)
    path = parts.path.strip("/")
    database = int(path) if path.isdigit() else 0
    return urlunsplit(parts._replace(path=f"/{database + 1}"))
