"""What a task handler may use besides its pipeline: blob access, limits, the model thread."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis

from pipeq_client.errors import BlobMissingError, InvalidInputError, PayloadTooLargeError, TimeLimitError
from pipeq_client.protocol import Task, blob_key, cancel_key
from pipeq_client.types import Blob
from pipeq_client.validation import shown
from pipeq_workers.generation.runner import GenerationControl
from pipeq_workers.generation.sampling import seed_everything
from pipeq_workers.runtime.batching import BatchFn, DeadlinePassedError, JoinableFn, MicroBatcher
from pipeq_workers.runtime.interrupts import AbandonedWork
from pipeq_workers.runtime.job_events import EventPublisher
from pipeq_workers.settings import WorkerSettings

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

    def generation_control(self) -> GenerationControl:
        """Streams tokens to the job's events and stops when the job is cancelled or at the
        task's time limit (finish_reason ``time_limit``: a result, with what was generated)."""
        return GenerationControl(events=self.events, cancel_key=cancel_key(self.job_id), deadline=self.deadline)

    @property
    def time_limit_s(self) -> float:
        """This task's time limit: PIPEQ_TASK_SECONDS for the task, else PIPEQ_MAX_TASK_SECONDS."""
        return self.settings.task_seconds.get(self.task.value, self.settings.max_task_seconds)

    @property
    def deadline(self) -> float:
        return self.started_at + self.time_limit_s

    def check_time(self) -> None:
        """TimeLimitError once the job is past its task's time limit."""
        if time.monotonic() >= self.deadline:
            raise self._time_limit_error()

    def _time_limit_error(self) -> TimeLimitError:
        return TimeLimitError(
            f"{self.task.value}: the job ran past its time limit of {self.time_limit_s:g} s "
            "(PIPEQ_MAX_TASK_SECONDS, or PIPEQ_TASK_SECONDS for this task); the worker stopped waiting for it"
        )

    def _on_model_thread(
        self, key: Hashable, run: BatchFn, item: Any, limit: int, grace_s: float, joinable: JoinableFn | None = None
    ) -> Any:
        """The batcher's call, given up at the deadline (plus ``grace_s``) with TimeLimitError:
        the job is answered; work already running on the model thread ends at its next
        forward call, or when it returns (a running forward pass cannot be interrupted)."""
        assert self.batcher is not None
        self.check_time()
        try:
            return self.batcher.call((self.task.value, key), run, item, limit, self.deadline + grace_s, joinable)
        except (DeadlinePassedError, AbandonedWork):
            # AbandonedWork: the model thread saw the deadline pass before this thread woke up.
            raise self._time_limit_error() from None

    def batch_limit(self) -> int:
        return self.settings.batch_sizes.get(self.task.value, self.settings.max_batch_size)

    def model_call(
        self, key: Hashable, run: BatchFn, item: Any, grace_s: float = 0.0, joinable: JoinableFn | None = None
    ) -> Any:
        """``run([item])[0]``, batched with same-key calls of other jobs when batching is on.
        Runs on the model thread: the only one that touches models and tokenizers.
        ``grace_s``: how long after the deadline to keep waiting (generation ends itself there).
        ``joinable``: how a batch runs that later calls may join (batching.JoinableFn)."""
        if self.batcher is None:
            self.check_time()
            return run([item])[0]
        return self._on_model_thread(key, run, item, self.batch_limit(), grace_s, joinable)

    def exclusive(self, work: Callable[[], T], seed: int | None = None, grace_s: float = 0.0) -> T:
        """``work()`` alone on the model thread (never batched), seeded there if asked:
        a seed set on another thread would race with other jobs' sampling."""

        def run(_: list[Any]) -> list[T]:
            if seed is not None:
                seed_everything(seed)
            return [work()]

        if self.batcher is None:
            self.check_time()
            return run([None])[0]
        return self._on_model_thread(("exclusive", uuid.uuid4().hex), run, None, 1, grace_s)  # type: ignore[no-any-return]

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
            raise BlobMissingError(f"{field}: {shown(ref)} is not a pipeq claim check", field=field)
        try:
            data = self.redis.get(ref)
        except redis.ResponseError:
            # WRONGTYPE: a list, set or stream under a pipeq:blob: key holds no bytes.
            raise InvalidInputError(f"{field}: claim check {shown(ref)} does not hold bytes", field=field) from None
        if data is None:
            raise BlobMissingError(f"{field}: claim check {shown(ref)} expired or never existed", field=field)
        return bytes(data)  # type: ignore[arg-type]

    def output_blob(self, data: bytes) -> Blob:
        """An output inline if small, else claim-checked under a key with the result TTL."""
        if len(data) <= self.settings.inline_limit_bytes:
            return Blob(data=data)
        key = blob_key(uuid.uuid4().hex)
        self.redis.set(key, data, ex=self.settings.result_ttl_s)
        return Blob(ref=key)
