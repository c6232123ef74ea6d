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

from pipeq_workers.runtime.batching import Call, DeadlinePassedError, MicroBatcher

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


def test_a_call_expected_before_its_thread_starts_is_waited_for(pool: ThreadPoolExecutor) -> None:
    """The model process's reader counts each call it receives before a handler takes it."""
    recorder = Recorder()
    batcher = MicroBatcher(max_wait_ms=600_000)
    batcher.expect(1)  # received, no thread carries it yet
    first = pool.submit(batcher.call, "a", recorder.run("a"), 1, 8)
    wait_for(lambda: pending(batcher) == 0, "the batcher took the first call and waits for the expected one")

    def carried() -> Any:
        with batcher.incoming(counted=True):
            return batcher.call("a", recorder.run("a"), 2, 8)

    late = pool.submit(carried)
    assert (first.result(WAIT_S), late.result(WAIT_S)) == ("a:1", "a:2")
    assert recorder.batches == [("a", [1, 2])]
    assert batcher.call("a", recorder.run("a"), 3, 8, deadline=time.monotonic() + WAIT_S) == "a:3"
    assert recorder.sizes("a") == [2, 1], "counted once: a lone call after it does not wait"


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


class Steps:
    """A joinable batch fn in steps, taking joiners at every step. An int item is answered at
    that step, "hold" once ``release`` is set; "bad" makes the batch raise at step 2."""

    def __init__(self) -> None:
        self.joined: list[list[Any]] = []
        self.steps = 0
        self.release = threading.Event()

    def __call__(self, calls: list[Call], join: Callable[[int], list[Call]]) -> None:
        running, step = list(calls), 0
        self.joined.append([call.item for call in calls])
        while running:
            step += 1
            self.steps += 1
            for call in [call for call in running if self._ends(call.item, step)]:
                call.answer(f"done:{call.item}")
                running.remove(call)
            if step >= 2 and any(call.item == "bad" for call in running):
                raise ValueError("bad item in a joinable batch")
            new = join(8 - len(running))
            if new:
                self.joined.append([call.item for call in new])
            running += new
            time.sleep(0.001)  # a decoding step's worth of time

    def _ends(self, item: Any, step: int) -> bool:
        return self.release.is_set() if item == "hold" else isinstance(item, int) and item <= step


def plain(items: list[Any]) -> list[Any]:
    """What each call runs alone."""
    if "bad" in items:
        raise ValueError("bad alone")
    return [f"alone:{item}" for item in items]


def test_calls_join_a_running_joinable_batch_and_leave_it_when_done(pool: ThreadPoolExecutor) -> None:
    batcher = MicroBatcher(max_wait_ms=0)
    steps = Steps()
    first = pool.submit(batcher.call, "a", plain, "hold", 8, None, steps)
    wait_for(lambda: steps.steps > 0, "the joinable batch running")
    short = pool.submit(batcher.call, "a", plain, 3, 8, None, steps)
    assert short.result(WAIT_S) == "done:3", "joined the running batch and answered on its own"
    assert not first.done(), "while the first one still runs"
    steps.release.set()
    assert first.result(WAIT_S) == "done:hold"
    assert steps.joined == [["hold"], [3]]


def test_a_joinable_batch_does_not_let_joiners_overtake_another_key(pool: ThreadPoolExecutor) -> None:
    batcher = MicroBatcher(max_wait_ms=0)
    steps = Steps()
    recorder = Recorder()
    first = pool.submit(batcher.call, "a", plain, "hold", 8, None, steps)
    wait_for(lambda: steps.steps > 0, "the joinable batch running")
    other = Call("b", recorder.run("b"), "x", 8)
    joiner = Call("a", plain, 2, 8, None, steps)
    with batcher._cond:  # queued at once: another key first, then a would-be joiner
        batcher._pending.extend([other, joiner])
    seen = steps.steps
    wait_for(lambda: steps.steps > seen + 2, "the running batch took steps with both queued")
    assert pending(batcher) == 2, "nothing joined past the other key's call"
    steps.release.set()
    assert first.result(WAIT_S) == "done:hold"
    assert other.future.result(WAIT_S) == "b:x"
    assert joiner.future.result(WAIT_S) == "done:2"
    assert steps.joined == [["hold"], [2]], "the joiner ran in a batch of its own, after the other key"


def test_a_failing_joinable_batch_runs_each_unanswered_call_alone(pool: ThreadPoolExecutor) -> None:
    batcher = MicroBatcher(max_wait_ms=0)
    steps = Steps()
    gate, held = hold(batcher, pool)
    calls = [pool.submit(batcher.call, "a", plain, item, 8, None, steps) for item in (1, "bad", 5)]
    wait_for(lambda: pending(batcher) == 3, "every call queued")
    gate.opened.set()
    assert held.result(WAIT_S) == "g"
    assert calls[0].result(WAIT_S) == "done:1", "answered in the batch, before it failed"
    with pytest.raises(ValueError, match="bad alone"):
        calls[1].result(WAIT_S)
    assert calls[2].result(WAIT_S) == "alone:5"
    assert steps.joined == [[1, "bad", 5]]
