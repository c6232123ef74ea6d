"""Job events as read from the job's Redis Stream, and turning the last one into a result."""

from __future__ import annotations

import json
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from pipeq_client.errors import WorkerError, error_from_wire
from pipeq_client.protocol import EventType

__all__ = [
    "DoneEvent",
    "JobEvent",
    "ResetEvent",
    "StreamEvent",
    "TokenEvent",
    "decode_event",
    "decode_reply",
    "result_from_event",
    "stream_event",
]

ResultT = TypeVar("ResultT", bound=BaseModel)


class JobEvent(BaseModel):
    """One event of a job: ``id`` is the stream entry id (resume reading after it)."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: EventType
    data: dict[str, Any]

    @property
    def final(self) -> bool:
        return self.type in (EventType.DONE, EventType.ERROR)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def decode_event(entry_id: bytes | str, fields: dict[Any, Any]) -> JobEvent:
    decoded = {_text(key): _text(value) for key, value in fields.items()}
    try:
        return JobEvent(id=_text(entry_id), type=EventType(decoded["type"]), data=json.loads(decoded["data"]))
    except (KeyError, ValueError) as error:
        raise WorkerError(f"malformed event {_text(entry_id)} on the job stream: {error}") from None


def decode_reply(reply: Any) -> list[JobEvent]:
    """The events of an ``XREAD`` reply on one job stream (redis-py's reply is loosely typed)."""
    return [decode_event(entry_id, fields) for _stream, entries in reply or [] for entry_id, fields in entries]


def result_from_event(event: JobEvent, result_type: type[ResultT]) -> ResultT:
    """The typed result of a ``done`` event; raises the typed error of an ``error`` event."""
    if event.type is EventType.ERROR:
        raise error_from_wire(event.data)
    if event.type is not EventType.DONE:
        raise WorkerError(f"expected a final event, got {event.type.value}")
    return result_type.model_validate(event.data["result"])


class TokenEvent(BaseModel):
    """Newly released text of one generated sequence.

    Text that could still become a stop string is held back, so ``text`` may be empty for a
    token and carry several tokens' text later. The last token event of a sequence may be a
    *flush* (``token_id`` and ``position`` None): the held-back text, released once the
    sequence ended without reaching a stop string. Concatenating ``text`` gives the result's text.
    """

    model_config = ConfigDict(frozen=True)

    event_id: str = Field(description="Stream entry id: resume with stream(after=event_id).")
    sequence: int = Field(description="Which returned sequence (0..num_return_sequences-1).")
    position: int | None = Field(description="The token's position in its sequence (0 = first generated); None: flush.")
    token_id: int | None = Field(description="The generated token; None for the final flush.")
    text: str
    logprob: float | None = None
    special: bool = False
    published_at: float | None = Field(None, description="Worker wall-clock time of publishing (Unix s).")


class ResetEvent(BaseModel):
    """The job was redelivered and restarts: drop what was received so far."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    attempt: int


class DoneEvent(BaseModel, Generic[ResultT]):
    """The last event: the typed result."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    result: ResultT


StreamEvent = TokenEvent | ResetEvent | DoneEvent[Any]


def stream_event(event: JobEvent, result_type: type[ResultT]) -> StreamEvent | None:
    """The typed form of an event (None for event types a stream does not surface);
    an ``error`` event raises its typed error."""
    if event.type is EventType.TOKEN:
        data = event.data
        return TokenEvent(
            event_id=event.id,
            sequence=int(data.get("sequence", 0)),
            position=data.get("position"),
            token_id=data.get("id"),
            text=str(data.get("text", "")),
            logprob=data.get("logprob"),
            special=bool(data.get("special", False)),
            published_at=data.get("ts"),
        )
    if event.type is EventType.RESET:
        return ResetEvent(event_id=event.id, attempt=int(event.data.get("attempt", 0)))
    if event.final:
        return DoneEvent[Any](event_id=event.id, result=result_from_event(event, result_type))
    return None
