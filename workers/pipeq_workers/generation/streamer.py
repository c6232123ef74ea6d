"""Publishes each generated token as a ``token`` event while ``generate()`` runs.

Each step decodes only the newest ids (a window of a token or two), not the whole sequence.
Text is released with the hold-back rule: nothing that could be the start of a stop
string (or half a UTF-8 character) reaches a reader before it is decided, and nothing past
a stop string ever does, nor any token of a row after it ended (rows of one batch end at
different steps; generate() goes on padding them). ``flush`` releases the rest once the final
text is known, so the concatenated deltas always equal the final text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from transformers.generation.streamers import BaseStreamer

from pipeq_workers.generation.logits import RawLogitsRecorder
from pipeq_workers.generation.stops import REPLACEMENT, find_stop, held_back

__all__ = ["TokenEventStreamer"]

# One step's events, (row, event) each: published together, one Redis round trip per step
# whatever the batch size (the runner routes each row to its request's stream).
StepPublish = Callable[[list[tuple[int, dict[str, Any]]]], None]
Kept = Callable[[int], int | None]  # row -> tokens it keeps once it has ended, else None


@dataclass
class _Row:
    ids: list[int] = field(default_factory=list)
    emitted: str = ""
    finished: bool = False
    # Incremental decoding: ``text`` is the text of ids[:read]; each step decodes only the
    # window from ``window`` on (a token or two), not the whole sequence again.
    text: str = ""
    window: int = 0
    read: int = 0


class TokenEventStreamer(BaseStreamer):
    """One instance per generate() call; a row is one sequence of one request. Per row:
    ``stops[row]`` its stop strings, ``recorders[row]`` where its logprobs come from (None:
    it asked for none), ``kept(row)`` where it ended."""

    def __init__(
        self,
        publish: StepPublish,
        decode: Callable[[list[int]], str],
        stops: list[list[str]],
        eos_ids: set[int],
        special_ids: set[int],
        recorders: list[RawLogitsRecorder | None],
        kept: Kept,
    ) -> None:
        self.publish = publish
        self.decode = decode
        self.stops = stops
        self.eos_ids = eos_ids
        self.special_ids = special_ids
        self.recorders = recorders
        self.kept = kept
        self.rows: list[_Row] = []
        self._prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:
            # generate() first hands over the prompt (or the decoder start): not generated text.
            self._prompt_seen = True
            return
        tokens = value.reshape(-1).tolist()
        while len(self.rows) < len(tokens):
            self.rows.append(_Row())
        step: list[tuple[int, dict[str, Any]]] = []
        for index, token_id in enumerate(tokens):
            row = self.rows[index]
            kept = self.kept(index)
            if not row.finished and (kept is None or len(row.ids) < kept):
                step.append((index, self._token(index, int(token_id))))
        if step:
            self.publish(step)

    def _token(self, index: int, token_id: int) -> dict[str, Any]:
        row = self.rows[index]
        row.ids.append(token_id)
        # position: the token's place in its sequence (0 = the first generated token).
        event: dict[str, Any] = {"id": token_id, "position": len(row.ids) - 1, "special": token_id in self.special_ids}
        recorder = self.recorders[index]
        if recorder is not None:
            event["logprob"] = recorder.logprob(len(row.ids) - 1, index, token_id)
        if token_id in self.eos_ids:
            row.finished = True
            event["text"] = ""
        else:
            event["text"] = self._release(row, self.stops[index])
        return event

    def _decoded(self, row: _Row) -> str:
        """The row's text so far. The window's text is decoded with and without the new ids,
        and the difference is what they add: both start at the same token, so a tokenizer that
        writes a token differently at the start of a text (a leading space, a ``##`` join)
        does so in both. Ids that end in half a character wait for the rest."""
        before = self.decode(row.ids[row.window : row.read])
        after = self.decode(row.ids[row.window :])
        if len(after) > len(before) and not after.endswith(REPLACEMENT):
            row.text += after[len(before) :]
            row.window, row.read = row.read, len(row.ids)
        return row.text

    def _release(self, row: _Row, stops: list[str]) -> str:
        text = self._decoded(row)
        stop_at = find_stop(text, stops)
        if stop_at is not None:
            row.finished = True
            releasable = text[:stop_at]
        else:
            releasable = text[: len(text) - held_back(text, stops)]
        if not releasable.startswith(row.emitted):
            return ""  # the tokenizer re-segmented earlier text; the final flush settles it
        delta = releasable[len(row.emitted) :]
        row.emitted = releasable
        return delta

    def end(self) -> None:
        """Called by generate(); the runner calls ``flush`` once final texts are known."""

    def flush(self, final_texts: dict[int, str]) -> None:
        """The rest of each given row's final text (row -> text), past what was streamed."""
        step: list[tuple[int, dict[str, Any]]] = []
        for index, text in final_texts.items():
            emitted = self.rows[index].emitted if index < len(self.rows) else ""
            if text.startswith(emitted) and len(text) > len(emitted):
                step.append((index, {"id": None, "text": text[len(emitted) :], "special": False}))
        if step:
            self.publish(step)
