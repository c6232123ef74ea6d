"""Stop strings, matched on generated text only (never the prompt), and the hold-back rule:
text that could still become a stop string is not released to a stream until decided."""

from __future__ import annotations

__all__ = ["REPLACEMENT", "find_stop", "held_back"]

REPLACEMENT = "\ufffd"  # a partial UTF-8 character: wait for the rest of its bytes


def find_stop(text: str, stops: list[str]) -> int | None:
    """Index where the earliest stop string starts in ``text``, or None."""
    found = [index for stop in stops if (index := text.find(stop)) != -1]
    return min(found) if found else None


def held_back(text: str, stops: list[str]) -> int:
    """How many trailing characters to hold: the longest suffix that is a proper prefix of a
    stop string, or an incomplete character at the end."""
    hold = 0
    for stop in stops:
        for length in range(min(len(stop) - 1, len(text)), hold, -1):
            if text.endswith(stop[:length]):
                hold = length
                break
    if text.endswith(REPLACEMENT):
        hold = max(hold, len(text) - len(text.rstrip(REPLACEMENT)))
    return hold
