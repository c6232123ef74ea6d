"""Stop strings and the streaming hold-back rule (pure logic, no model)."""

import pytest
import torch

from pipeq_workers.generation.stops import find_stop, held_back
from pipeq_workers.generation.streamer import TokenEventStreamer

pytestmark = pytest.mark.unit


def test_find_stop_returns_the_earliest_match() -> None:
    assert find_stop("abc END xyz STOP", ["STOP", "END"]) == 4
    assert find_stop("nothing here", ["STOP"]) is None


@pytest.mark.parametrize(
    ("text", "hold"),
    [("hello wor", 0), ("hello S", 1), ("hello ST", 2), ("hello STO", 3), ("hello \ufffd", 1), ("a\n", 1)],
)
def test_held_back_is_the_longest_suffix_that_may_start_a_stop(text: str, hold: int) -> None:
    assert held_back(text, ["STOP", "\n\n"]) == hold


def stream(pieces: list[str], stops: list[str]) -> tuple[list[str], TokenEventStreamer]:
    """Feeds one token per piece; the fake vocabulary maps token i to pieces[i]."""
    events: list[dict] = []
    streamer = TokenEventStreamer(
        lambda step: events.extend(event for _row, event in step),
        lambda ids: "".join(pieces[i] for i in ids),
        [stops],
        eos_ids=set(),
        special_ids=set(),
        recorders=[None],
        kept=lambda _row: None,  # no row has ended by another rule
    )
    streamer.put(torch.tensor([[99]]))  # the prompt
    for index in range(len(pieces)):
        streamer.put(torch.tensor([index]))
    return [event["text"] for event in events], streamer


def test_text_that_may_become_a_stop_is_held_until_decided() -> None:
    deltas, _ = stream(["Hel", "lo S", "T", "rong", " S", "TO", "P after"], ["STOP"])
    assert deltas == ["Hel", "lo ", "", "STrong", " ", "", ""]
    assert "".join(deltas) == "Hello STrong "


def test_flush_releases_held_text_when_generation_ends_without_a_stop() -> None:
    deltas, streamer = stream(["one ", "ST"], ["STOP"])
    events: list[dict] = []
    streamer.publish = lambda step: events.extend(event for _row, event in step)
    streamer.flush({0: "one ST"})
    assert "".join(deltas) + events[0]["text"] == "one ST" and events[0]["id"] is None
