"""In-worker micro-batching: task threads hand model calls to one batcher thread.

Under Celery's threads pool (concurrency = max batch size), each task thread validates and
decodes its own request, then calls :meth:`MicroBatcher.call` and waits. The batcher
thread -- the only one that touches the models -- collects compatible calls (same key:
same pipeline, same options) up to the key's batch size, runs them as one model call, and
answers each caller with its own result or its own exception. Each Celery message is still
acknowledged by its own task after its own result is stored: at-least-once delivery holds.

A lone request does not wait: the batcher waits for more (at most ``max_wait_ms``) only
while other task threads are on their way to it.

Deadlines: a caller may give up at its deadline (``call(..., deadline=)`` raises
TimeoutError and its job is answered). A call still queued is withdrawn and never runs; a
call already running cannot be stopped mid-way -- a torch forward pass is not
interruptible -- but :meth:`MicroBatcher.abandoned` tells a model hook, at the next forward
call (each generation step, each audio chunk, each pipeline batch), that every caller of
the running batch has given up, so the hook can end it there.
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

__all__ = ["BatchFn", "DeadlinePassedError", "MicroBatcher"]

log = logging.getLogger(__name__)

BatchFn = Callable[[list[Any]], list[Any]]


class DeadlinePassedError(TimeoutError):
    """The caller's deadline passed before its model call finished (or started)."""


@dataclass(eq=False)  # identity: items may be arrays, whose == is not a bool
class _Call:
    key: Hashable
    run: BatchFn
    item: Any
    limit: int
    deadline: float | None = None
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
        self._running: list[_Call] = []  # the batch on the model thread now
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

    def call(self, key: Hashable, run: BatchFn, item: Any, limit: int, deadline: float | None = None) -> Any:
        """Runs ``item`` in a batch of calls with the same ``key`` (at most ``limit`` items) and
        returns its own result, or raises its own exception; TimeoutError at ``deadline``
        (time.monotonic), when the call is withdrawn if it has not started."""
        pending = _Call(key, run, item, max(1, limit), deadline)
        with self._cond:
            self._pending.append(pending)
            self._cond.notify_all()
        self._arrived()
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return pending.future.result(timeout)
        except TimeoutError:
            if pending.future.done():
                raise  # the work itself raised a TimeoutError (or DeadlinePassedError): its own answer
            self._withdraw(pending)
            raise DeadlinePassedError("the caller's deadline passed before its model call finished") from None

    def _withdraw(self, pending: _Call) -> None:
        with self._cond:
            for index, candidate in enumerate(self._pending):
                if candidate is pending:
                    del self._pending[index]
                    return

    def abandoned(self) -> bool:
        """On the model thread: every caller of the running batch is past its deadline."""
        now = time.monotonic()
        running = self._running
        return bool(running) and all(call.deadline is not None and now >= call.deadline for call in running)

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

    @staticmethod
    def _live(batch: list[_Call]) -> list[_Call]:
        """The calls whose callers still wait: work nobody waits for is not started."""
        now = time.monotonic()
        live = []
        for call in batch:
            if call.deadline is not None and now >= call.deadline:
                call.future.set_exception(
                    DeadlinePassedError("the caller's deadline passed before its model call started")
                )
            else:
                live.append(call)
        return live

    def _run(self, batch: list[_Call]) -> None:
        batch = self._live(batch)
        if not batch:
            return
        if self.on_batch is not None:
            self.on_batch(batch[0].key, len(batch))
        self._running = batch
        try:
            results = batch[0].run([call.item for call in batch])
        except Exception as error:
            if len(batch) == 1:
                batch[0].future.set_exception(error)
                return
            # One bad input must not fail its batch-mates: each runs alone, with its own answer.
            log.warning("batch of %d failed (%s); running its items one by one", len(batch), error)
            for call in self._live(batch):
                self._run_one(call)
            return
        finally:
            self._running = []
        for call, result in zip(batch, results, strict=True):
            call.future.set_result(result)

    def _run_one(self, call: _Call) -> None:
        self._running = [call]
        try:
            call.future.set_result(call.run([call.item])[0])
        except Exception as error:
            call.future.set_exception(error)
