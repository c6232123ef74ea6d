"""What a task handler may use besides its pipeline: blob access, limits, the model thread."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis
import transformers

from pipeq_client.errors import BlobMissingError, PayloadTooLargeError
from pipeq_client.protocol import EventType, Task, blob_key, cancel_key
from pipeq_client.types import Blob
from pipeq_workers.batching import BatchFn, MicroBatcher
from pipeq_workers.generation.runner import GenerationControl
from pipeq_workers.settings import WorkerSettings
from pipeq_workers.streaming import EventPublisher

__all__ = ["JobContext"]

T = TypeVar("T")


@dataclass
class JobContext:
    """Per-job helpers handed to handlers."""

    job_id: str
    task: Task
    settings: WorkerSettings
    redis: redis.Redis
    events: EventPublisher
    batcher: MicroBatcher | None = None
    started_at: float = field(default_factory=time.monotonic)

    def is_cancelled(self) -> bool:
        return bool(self.redis.exists(cancel_key(self.job_id)))

    def publish_token(self, data: dict[str, Any]) -> None:
        self.events.publish(EventType.TOKEN, data)

    def generation_control(self) -> GenerationControl:
        """Streams tokens to the job's events and stops when the job is cancelled."""
        deadline = self.started_at + self.settings.max_task_seconds
        return GenerationControl(publish=self.publish_token, is_cancelled=self.is_cancelled, deadline=deadline)

    def batch_limit(self) -> int:
        return self.settings.batch_sizes.get(self.task.value, self.settings.max_batch_size)

    def model_call(self, key: Hashable, run: BatchFn, item: Any) -> Any:
        """``run([item])[0]``, batched with same-key calls of other jobs when batching is on.
        Runs on the model thread: the only one that touches models and tokenizers."""
        if self.batcher is None:
            return run([item])[0]
        return self.batcher.call((self.task.value, key), run, item, self.batch_limit())

    def exclusive(self, work: Callable[[], T], seed: int | None = None) -> T:
        """``work()`` alone on the model thread (never batched), seeded there if asked:
        a seed set on another thread would race with other jobs' sampling."""

        def run(_: list[Any]) -> list[T]:
            if seed is not None:
                transformers.set_seed(seed)
            return [work()]

        if self.batcher is None:
            return run([None])[0]
        return self.batcher.call((self.task.value, "exclusive", uuid.uuid4().hex), run, None, 1)  # type: ignore[no-any-return]

    def blob_bytes(self, blob: Blob, field: str) -> bytes:
        """The bytes of an input, fetched from its claim check if it has one; size-checked."""
        data = blob.data if blob.ref is None else self._fetch(blob.ref, field)
        if data is None:
            raise BlobMissingError(f"{field}: no data", field=field)
        if len(data) > self.settings.max_payload_bytes:
            raise PayloadTooLargeError(
                f"{field}: {len(data)} bytes is over the limit of {self.settings.max_payload_bytes} bytes",
                field=field,
            )
        return data

    def _fetch(self, ref: str, field: str) -> bytes:
        # Only pipeq's own blob keys: a crafted ref must not read arbitrary Redis keys.
        if not ref.startswith(blob_key("")):
            raise BlobMissingError(f"{field}: {ref!r} is not a pipeq claim check", field=field)
        data = self.redis.get(ref)
        if data is None:
            raise BlobMissingError(f"{field}: claim check {ref} expired or never existed", field=field)
        return bytes(data)  # type: ignore[arg-type]

    def output_blob(self, data: bytes) -> Blob:
        """An output inline if small, else claim-checked under a key with the result TTL."""
        if len(data) <= self.settings.inline_limit_bytes:
            return Blob(data=data)
        key = blob_key(uuid.uuid4().hex)
        self.redis.set(key, data, ex=self.settings.result_ttl_s)
        return Blob(ref=key)
