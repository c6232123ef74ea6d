"""MicroBatcher on its own: task threads calling in, batches formed by key and limit, each
caller answered with its own result or its own exception, and deadlines (withdrawal of a
queued call, abandonment of a running batch). The integration tests prove the same on real
workers; here every state is waited for, never slept into."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from pipeq_workers.runtime.batching import DeadlinePassedError, MicroBatcher

pytestmark = pytest.mark.unit

WAIT_S = 10.0  # an upper bound on any state change; never reached when the batcher works


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.001)


class Recorder:
    """Batch functions that record what each model call got; items named "bad..." make it raise."""

    def __init__(self) -> None:
        self.batches: list[tuple[Hashable, list[Any]]] = []
        self.lock = threading.Lock()

    def run(self, key: Hashable) -> Callable[[list[Any]], list[Any]]:
        def run(items: list[Any]) -> list[Any]:
            with self.lock:
                self.batches.append((key, list(items)))
            if any(str(item).startswith("bad") for item in items):
                raise ValueError(f"bad item among {items}")
            return [f"{key}:{item}" for item in items]

        return run

    def sizes(self, key: Hashable) -> list[int]:
        return [len(items) for batch_key, items in self.batches if batch_key == key]


class Gate:
    """Holds the model thread inside a call until opened, so later calls queue up behind it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def run(self, items: list[Any]) -> list[Any]:
        self.entered.set()
        assert self.opened.wait(WAIT_S)
        return items


@pytest.fixture
def batcher() -> MicroBatcher:
    return MicroBatcher(max_wait_ms=0)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=16) as executor:
        yield executor


def pending(batcher: MicroBatcher) -> int:
    with batcher._cond:
        return len(batcher._pending)


def hold(batcher: MicroBatcher, pool: ThreadPoolExecutor) -> tuple[Gate, Future[Any]]:
    """The model thread busy in a gate call: what is submitted meanwhile waits, queued."""
    gate = Gate()
    held = pool.submit(batcher.call, "gate", gate.run, "g", 1)
    assert gate.entered.wait(WAIT_S)
    return gate, held


def test_calls_queued_together_are_batched_by_key(batcher: MicroBatcher, pool: ThreadPoolExecutor) -> None:
    recorder = Recorder()
    gate, held = hold(batcher, pool)
    items = [("a", 1), ("b", 2), ("a", 3), ("b", 4), ("a", 5)]
    futures = [pool.submit(batcher.call, key, recorder.run(key), item, 8) for key, item in items]
    wait_for(lambda: pending(batcher) == len(items), "every call queued")
    gate.opened.set()
    assert [future.result(WAIT_S) for future in futures] == [f"{key}:{item}" for key, item in items]
    assert held.result(WAIT_S) == "g"
    assert sorted(recorder.batches) == [("a", [1, 3, 5]), ("b", [2, 4])], "one model call per key, in order"


def test_a_batch_holds_at_most_the_limit(batcher: MicroBatcher, pool: ThreadPoolExecutor) -> None:
    recorder = Recorder()
    gate, _ = hold(batcher, pool)
    futures = [pool.submit(batcher.call, "a", recorder.run("a"), item, 2) for item in range(5)]
    wait_for(lambda: pending(batcher) == 5, "every call queued")
    gate.opened.set()
    assert [future.result(WAIT_S) for future in futures] == [f"a:{item}" for item in range(5)]
    assert recorder.sizes("a") == [2, 2, 1]


def test_a_failing_item_gets_its_own_exception_and_its_batch_mates_their_results(
    batcher: MicroBatcher, pool: ThreadPoolExecutor
) -> None:
    recorder = Recorder()
    gate, _ = hold(batcher, pool)
    items = ["x", "bad", "y"]
    futures = [pool.submit(batcher.call, "a", recorder.run("a"), item, 8) for item in items]
    wait_for(lambda: pending(batcher) == 3, "every call queued")
    gate.opened.set()
    with pytest.raises(ValueError, match=r"\['bad'\]"):
        futures[1].result(WAIT_S)
    assert [futures[0].result(WAIT_S), futures[2].result(WAIT_S)] == ["a:x", "a:y"]
    # The batch failed as a whole, then each item ran alone with its own answer.
    assert recorder.batches == [("a", items), ("a", ["x"]), ("a", ["bad"]), ("a", ["y"])]


def test_a_lone_call_does_not_wait_for_batch_mates() -> None:
    recorder = Recorder()
    batcher = MicroBatcher(max_wait_ms=600_000)  # waiting for company would outlast the deadline
    assert batcher.call("a", recorder.run("a"), 1, 8, deadline=time.monotonic() + WAIT_S) == "a:1"
    assert recorder.sizes("a") == [1]


def test_the_batcher_waits_for_a_thread_on_its_way(pool: ThreadPoolExecutor) -> None:
    recorder = Recorder()
    batcher = MicroBatcher(max_wait_ms=600_000)
    on_its_way, may_call = threading.Event(), threading.Event()

    def late_caller() -> Any:
        with batcher.incoming():
            on_its_way.set()
            assert may_call.wait(WAIT_S)
            return batcher.call("a", recorder.run("a"), 2, 8)

    late = pool.submit(late_caller)
    assert on_its_way.wait(WAIT_S)
    first = pool.submit(batcher.call, "a", recorder.run("a"), 1, 8)
    wait_for(lambda: pending(batcher) == 0, "the batcher took the first call and waits for more")
    may_call.set()
    assert (first.result(WAIT_S), late.result(WAIT_S)) == ("a:1", "a:2")
    assert recorder.batches == [("a", [1, 2])]


def test_a_queued_call_past_its_deadline_is_withdrawn_and_never_runs(
    batcher: MicroBatcher, pool: ThreadPoolExecutor
) -> None:
    recorder = Recorder()
    gate, _ = hold(batcher, pool)
    late = pool.submit(batcher.call, "a", recorder.run("a"), "late", 8, time.monotonic() + 0.05)
    with pytest.raises(DeadlinePassedError):
        late.result(WAIT_S)
    assert pending(batcher) == 0, "withdrawn from the queue"
    gate.opened.set()
    assert batcher.call("a", recorder.run("a"), "next", 8) == "a:next"
    assert recorder.batches == [("a", ["next"])], "the withdrawn call never ran"


def test_work_that_raises_timeout_error_itself_is_its_own_answer(batcher: MicroBatcher) -> None:
    def times_out(items: list[Any]) -> list[Any]:
        raise TimeoutError("the model's own timeout")

    with pytest.raises(TimeoutError, match="the model's own timeout") as caught:
        batcher.call("a", times_out, 1, 8, deadline=time.monotonic() + WAIT_S)
    assert not isinstance(caught.value, DeadlinePassedError)


def test_a_running_batch_is_abandoned_once_every_caller_gave_up(
    batcher: MicroBatcher, pool: ThreadPoolExecutor
) -> None:
    abandoned, released = threading.Event(), threading.Event()

    def patient(items: list[Any]) -> list[Any]:
        wait_for(batcher.abandoned, "every caller of the batch past its deadline")
        abandoned.set()
        assert released.wait(WAIT_S)  # a result set now would race the callers' own timeouts
        return items

    deadline = time.monotonic() + 2.0  # the idle model thread starts the calls well before it
    callers = [pool.submit(batcher.call, "a", patient, item, 8, deadline) for item in (1, 2)]
    for caller in callers:
        with pytest.raises(DeadlinePassedError):
            caller.result(WAIT_S)
    assert abandoned.wait(WAIT_S), "the running batch saw that nobody waits for it"
    released.set()
    # A caller without a deadline never abandons its batch.
    assert batcher.call("b", lambda items: [batcher.abandoned() for _ in items], None, 8) is False
