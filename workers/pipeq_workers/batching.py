"""In-worker micro-batching: task threads hand model calls to one batcher thread.

Under Celery's threads pool (concurrency = max batch size), each task thread validates and
decodes its own request, then calls :meth:`MicroBatcher.call` and waits. The batcher
thread -- the only one that touches the models -- collects compatible calls (same key:
same pipeline, same options) up to the key's batch size, runs them as one model call, and
answers each caller with its own result or its own exception. Each Celery message is still
acknowledged by its own task after its own result is stored: at-least-once delivery holds.

A lone request does not wait: the batcher waits for more (at most ``max_wait_ms``) only
while other task threads are on their way to it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["BatchFn", "MicroBatcher"]

log = logging.getLogger(__name__)

BatchFn = Callable[[list[Any]], list[Any]]


@dataclass
class _Call:
    key: Hashable
    run: BatchFn
    item: Any
    limit: int
    future: Future[Any] = field(default_factory=Future)


class MicroBatcher:
    """One model thread for the process; ``call`` is safe from any thread."""

    def __init__(self, max_wait_ms: float, on_batch: Callable[[Hashable, int], None] | None = None) -> None:
        self.max_wait_s = max_wait_ms / 1000
        self.on_batch = on_batch
        self._pending: deque[_Call] = deque()
        self._incoming = 0
        self._arrival = threading.local()
        self._cond = threading.Condition()
        threading.Thread(target=self._loop, name="pipeq-batcher", daemon=True).start()

    @contextmanager
    def incoming(self) -> Iterator[None]:
        """Marks this task thread as on its way to the batcher, until it calls in or gives up."""
        with self._cond:
            self._incoming += 1
        self._arrival.pending = True
        try:
            yield
        finally:
            self._arrived()

    def _arrived(self) -> None:
        if getattr(self._arrival, "pending", False):
            self._arrival.pending = False
            with self._cond:
                self._incoming -= 1
                self._cond.notify_all()

    def call(self, key: Hashable, run: BatchFn, item: Any, limit: int) -> Any:
        """Runs ``item`` in a batch of calls with the same ``key`` (at most ``limit`` items) and
        returns its own result, or raises its own exception."""
        pending = _Call(key, run, item, max(1, limit))
        with self._cond:
            self._pending.append(pending)
            self._cond.notify_all()
        self._arrived()
        return pending.future.result()

    def _loop(self) -> None:
        while True:
            batch = self._collect()
            try:
                self._run(batch)
            except Exception as error:
                log.exception("batcher failed")
                for call in batch:
                    if not call.future.done():
                        call.future.set_exception(error)

    def _collect(self) -> list[_Call]:
        with self._cond:
            while not self._pending:
                self._cond.wait()
            first = self._pending.popleft()
            batch = [first]
            deadline = time.monotonic() + self.max_wait_s
            while len(batch) < first.limit:
                if self._take_compatible(first.key, batch):
                    continue
                remaining = deadline - time.monotonic()
                if self._incoming == 0 or remaining <= 0:
                    break
                self._cond.wait(remaining)
            return batch

    def _take_compatible(self, key: Hashable, batch: list[_Call]) -> bool:
        for index, candidate in enumerate(self._pending):
            if candidate.key == key:
                del self._pending[index]
                batch.append(candidate)
                return True
        return False

    def _run(self, batch: list[_Call]) -> None:
        if self.on_batch is not None:
            self.on_batch(batch[0].key, len(batch))
        try:
            results = batch[0].run([call.item for call in batch])
        except Exception as error:
            if len(batch) == 1:
                batch[0].future.set_exception(error)
                return
            # One bad input must not fail its batch-mates: each runs alone, with its own answer.
            log.warning("batch of %d failed (%s); running its items one by one", len(batch), error)
            for call in batch:
                self._run_one(call)
            return
        for call, result in zip(batch, results, strict=True):
            call.future.set_result(result)

    @staticmethod
    def _run_one(call: _Call) -> None:
        try:
            call.future.set_result(call.run([call.item])[0])
        except Exception as error:
            call.future.set_exception(error)
