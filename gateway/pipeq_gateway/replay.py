"""Text deltas that never repeat, across a job's restarts.

An HTTP stream cannot take back text it sent. When a job is redelivered (a ``reset`` event)
it generates again from the start; the regenerated text is held back until it passes what
was already sent, and only the new part goes out. Greedy and seeded generations regenerate
the same text; if the new text differs, the stream cannot go on and says so.
"""

from __future__ import annotations

from collections import defaultdict

from pipeq_client.errors import WorkerError

__all__ = ["Replay"]


class Replay:
    """Per sequence index: what the client has, and, after a reset, what was regenerated."""

    def __init__(self) -> None:
        self.sent: defaultdict[int, str] = defaultdict(str)
        self.again: defaultdict[int, str] | None = None

    def reset(self) -> None:
        self.again = defaultdict(str)

    def delta(self, index: int, text: str) -> str:
        """The part of ``text`` the client has not seen ("" while a restart catches up)."""
        if self.again is None:
            self.sent[index] += text
            return text
        self.again[index] += text
        regenerated, sent = self.again[index], self.sent[index]
        if not (sent.startswith(regenerated) or regenerated.startswith(sent)):
            raise WorkerError("the job was redelivered and generated different text; the stream cannot go on")
        if len(regenerated) <= len(sent):
            return ""
        self.sent[index] = regenerated
        return regenerated[len(sent) :]
