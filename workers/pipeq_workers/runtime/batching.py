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
from functools import partial
from typing import Any

__all__ = ["BatchFn", "Call", "DeadlinePassedError", "JoinableFn", "MicroBatcher"]

log = logging.getLogger(__name__)

BatchFn = Callable[[list[Any]], list[Any]]
# A batch that later calls may join while it runs (continuous batching). It gets its first
# calls and ``join(room)``, which takes up to ``room`` same-key calls from the head of the
# queue; it answers each call itself (Call.answer / Call.fail) as soon as that one is done.
JoinableFn = Callable[[list["Call"], Callable[[int], list["Call"]]], None]


class DeadlinePassedError(TimeoutError):
    """The caller's deadline passed before its model call finished (or started)."""


@dataclass(eq=False)  # identity: items may be arrays, whose == is not a bool
class Call:
    key: Hashable
    run: BatchFn
    item: Any
    limit: int
    deadline: float | None = None
    joinable: JoinableFn | None = None  # how a batch that starts with this call runs, if joinable
    future: Future[Any] = field(default_factory=Future)

    def answer(self, result: Any) -> None:
        if not self.future.done():
            self.future.set_result(result)

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)


class MicroBatcher:
    """One model thread for the process; ``call`` is safe from any thread."""

    def __init__(self, max_wait_ms: float, on_batch: Callable[[Hashable, int], None] | None = None) -> None:
        self.max_wait_s = max_wait_ms / 1000
        self.on_batch = on_batch
        self._pending: deque[Call] = deque()
        self._incoming = 0
        self._arrival = threading.local()
        self._cond = threading.Condition()
        self._running: list[Call] = []  # the batch on the model thread now
        threading.Thread(target=self._loop, name="pipeq-batcher", daemon=True).start()

    def expect(self, count: int) -> None:
        """Counts ``count`` calls as on their way before a thread carries each one in
        (``incoming(counted=True)``): the model process's reader counts what it received."""
        with self._cond:
            self._incoming += count

    @contextmanager
    def incoming(self, counted: bool = False) -> Iterator[None]:
        """Marks this task thread as on its way to the batcher, until it calls in or gives up;
        ``counted``: :meth:`expect` counted it already."""
        if not counted:
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

    def call(
        self,
        key: Hashable,
        run: BatchFn,
        item: Any,
        limit: int,
        deadline: float | None = None,
        joinable: JoinableFn | None = None,
    ) -> Any:
        """Runs ``item`` in a batch of calls with the same ``key`` (at most ``limit`` items) and
        returns its own result, or raises its own exception; TimeoutError at ``deadline``
        (time.monotonic), when the call is withdrawn if it has not started. With ``joinable``
        the batch runs that way, and same-key calls join it while it runs (``run`` is still
        what the call runs alone, should the joinable batch fail as a whole)."""
        pending = Call(key, run, item, max(1, limit), deadline, joinable)
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

    def _withdraw(self, pending: Call) -> None:
        with self._cond:
            for index, candidate in enumerate(self._pending):
                if candidate is pending:
                    del self._pending[index]
                    return

    def abandoned(self) -> bool:
        """On the model thread: every caller of the running batch is past its deadline."""
        now = time.monotonic()
        running = [call for call in self._running if not call.future.done()]
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

    def _collect(self) -> list[Call]:
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

    def _take_compatible(self, key: Hashable, batch: list[Call]) -> bool:
        for index, candidate in enumerate(self._pending):
            if candidate.key == key:
                del self._pending[index]
                batch.append(candidate)
                return True
        return False

    @staticmethod
    def _live(batch: list[Call]) -> list[Call]:
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

    def _run(self, batch: list[Call]) -> None:
        batch = self._live(batch)
        if not batch:
            return
        if self.on_batch is not None:
            self.on_batch(batch[0].key, len(batch))
        if batch[0].joinable is not None:
            self._run_joinable(batch[0].joinable, batch)
            return
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

    def _run_joinable(self, joinable: JoinableFn, batch: list[Call]) -> None:
        self._running = members = list(batch)  # joiners are added to it (_join)
        try:
            joinable(batch, partial(self._join, batch[0].key))
        except Exception as error:
            if len(members) == 1:
                batch[0].fail(error)
                return
            # As for a plain batch: one bad input must not fail the others; each runs alone.
            left = self._live([call for call in members if not call.future.done()])
            log.warning("joinable batch failed (%s); running its %d unanswered calls one by one", error, len(left))
            for call in left:
                self._run_one(call)
        finally:
            self._running = []
        for call in members:  # never expected: a joinable batch answers every call it took
            call.fail(RuntimeError("the batch ended without answering this call"))

    def _join(self, key: Hashable, room: int) -> list[Call]:
        """Up to ``room`` calls with ``key`` from the head of the queue: a call of another key
        queued before them is not overtaken, so a stream of joiners cannot starve it."""
        with self._cond:
            joined: list[Call] = []
            while self._pending and len(joined) < room and self._pending[0].key == key:
                joined.append(self._pending.popleft())
        joined = self._live(joined)
        if joined:
            if self.on_batch is not None:
                self.on_batch(key, len(joined))
            self._running.extend(joined)
        return joined

    def _run_one(self, call: Call) -> None:
        self._running = [call]
        try:
            call.future.set_result(call.run([call.item])[0])
        except Exception as error:
            call.future.set_exception(error)
