"""``pipeq demo``: one request per task through the queue, printed as a table."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from pipeq_client import Client, Job
from pipeq_client.errors import PipeqError
from pipeq_client.events import DoneEvent, ResetEvent, TokenEvent
from pipeq_client.types import TaskRequest, TextGenerationRequest
from pipeq_workers.tooling.display import escape_unprintable
from pipeq_workers.tooling.samples import sample_requests

__all__ = ["TINY_NOTE", "DemoRow", "format_table", "print_stream", "run_requests", "stream_demo", "summarize"]

TINY_NOTE = (
    "note: the tiny models have random weights, so their outputs are gibberish on purpose:\n"
    "they prove the plumbing (queues, parameters, result shapes), not the quality.\n"
    "Real models: `pipeq models fetch DIR`, then PIPEQ_MODELS_CONFIG=DIR/models.json."
)

_SUMMARY_WIDTH = 60


@dataclass
class DemoRow:
    task: str
    model: str
    latency_ms: float
    ok: bool
    summary: str


def summarize(result: BaseModel) -> str:
    """A one-line, readable digest of any task's result."""
    data: Any = result.model_dump(exclude_none=True)
    if isinstance(data, dict) and "audio" in data:
        return f"{len(data['audio']['data'] or b'')} bytes of WAV at {data['sampling_rate']} Hz"
    if isinstance(data, list) and data and isinstance(data[0], list):
        return f"{len(data)} embeddings of dim {len(data[0])}"
    text = repr(data)
    return text if len(text) <= _SUMMARY_WIDTH else text[: _SUMMARY_WIDTH - 3] + "..."


def _served_by(job: Job[Any]) -> str:
    """The model the worker used, as its ``done`` event reports it."""
    final = [event for event in job.events(timeout=5) if event.final]
    return str(final[-1].data.get("model", "?")) if final else "?"


def _row(job: Job[Any], request: TaskRequest[Any], submitted_at: float, timeout: float) -> DemoRow:
    task = type(request).task.value
    try:
        result = job.result(timeout=timeout)
    except PipeqError as error:
        return DemoRow(task, request.model or "default", (time.perf_counter() - submitted_at) * 1e3, False, str(error))
    latency = (time.perf_counter() - submitted_at) * 1e3
    return DemoRow(task, _served_by(job), latency, True, summarize(result))


def run_requests(client: Client, timeout: float = 120.0) -> list[DemoRow]:
    """Submits every sample request first (the three queues work in parallel), then collects."""
    submitted = []
    for request in sample_requests():
        submitted.append((client.submit(request), request, time.perf_counter()))
    return [_row(job, request, started, timeout) for job, request, started in submitted]


def format_table(rows: list[DemoRow]) -> str:
    header = f"{'task':<30} {'model':<36} {'ok':<4} {'latency':>9}  result"
    lines = [header, "-" * len(header)]
    for row in rows:
        mark = "yes" if row.ok else "NO"
        lines.append(f"{row.task:<30} {row.model:<36} {mark:<4} {row.latency_ms:>7.0f}ms  {row.summary}")
    passed = sum(row.ok for row in rows)
    lines.append("latency: submit to result, with all 13 requests queued at once (3 workers)")
    lines.append(f"{passed}/{len(rows)} tasks succeeded through the queue")
    return "\n".join(lines)


def print_stream(job: Job[Any], timeout: float) -> Any:
    """Prints text deltas as they arrive (control characters escaped); returns the final result."""
    printed = False
    for event in job.stream(timeout=timeout):
        if isinstance(event, TokenEvent) and event.sequence == 0:
            print(escape_unprintable(event.text), end="", flush=True)
            printed = printed or bool(event.text)
        elif isinstance(event, ResetEvent):
            print("\n[job redelivered, restarting]", flush=True)
        elif isinstance(event, DoneEvent):
            if printed:
                print(flush=True)  # end the streamed line; nothing streamed: no blank line
            return event.result
    raise AssertionError("unreachable: a stream ends with DoneEvent or raises")


def stream_demo(client: Client) -> bool:
    """One streamed chat generation: tokens print as the worker produces them."""
    request = TextGenerationRequest.build(
        [{"role": "user", "content": "Tell me about queues."}],
        parameters={"max_new_tokens": 24, "temperature": 0.8, "seed": 1, "stop": ["\n"]},
    )
    print("\nstreaming text-generation (chat, temperature 0.8, seed 1, stop at newline):")
    print("> ", end="")
    try:
        result = print_stream(client.submit(request), timeout=60)
    except PipeqError as error:
        print(f"stream failed: {error}")
        return False
    print(f"finish_reason={result.details.finish_reason}, {result.details.generated_tokens} tokens")
    return True
