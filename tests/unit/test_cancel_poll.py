"""CancelPoll: the cancel keys of every request decoding together, looked at in one round
trip per poll, however many requests ask."""

from __future__ import annotations

import pytest

from pipeq_workers.generation.controls import CancelPoll

pytestmark = pytest.mark.unit


class Lookup:
    """Stands in for the Redis EXISTS pipeline: records each round trip's keys."""

    def __init__(self, existing: set[str]) -> None:
        self.existing = existing
        self.round_trips: list[list[str]] = []

    def __call__(self, client: object, keys: list[str]) -> list[bool]:
        self.round_trips.append(list(keys))
        return [key in self.existing for key in keys]


def test_requests_asking_within_a_poll_share_one_round_trip() -> None:
    lookup = Lookup({"b"})
    poll = CancelPoll(lookup, lambda: ["a", "b", "c"], poll_interval_s=3600)
    assert poll(None, ["a"]) == [False]
    assert poll(None, ["b"]) == [True]
    assert poll(None, ["c"]) == [False]
    assert lookup.round_trips == [["a", "b", "c"]], "one round trip looked at every running request's key"


def test_a_key_not_looked_at_yet_is_looked_at_at_once() -> None:
    lookup = Lookup({"new"})
    running = ["a"]
    poll = CancelPoll(lookup, lambda: running, poll_interval_s=3600)
    assert poll(None, ["a"]) == [False]
    running.append("new")  # a request joined since
    assert poll(None, ["new"]) == [True]
    assert lookup.round_trips == [["a"], ["a", "new"]]


def test_each_poll_interval_looks_again() -> None:
    lookup = Lookup(set())
    poll = CancelPoll(lookup, lambda: ["a"], poll_interval_s=0)
    assert poll(None, ["a"]) == [False]
    lookup.existing.add("a")  # cancelled meanwhile
    assert poll(None, ["a"]) == [True]
    assert len(lookup.round_trips) == 2
