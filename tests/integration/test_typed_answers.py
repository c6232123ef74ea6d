"""Every input the schema (or the README) allows gets a typed answer at a bounded cost.

One table of cases (long text, image placeholders, seeds, greedy n > 1, degenerate numbers,
templates, options the model cannot honour, odd audio, unspeakable text, odd and huge
images, odd claim checks), each run twice: as a raw message straight to the worker (a buggy
or hostile producer) and through the client. A case ends in a result or in a typed error
naming the field and the limit -- never ``worker_error`` -- and the worker answers the next
valid request of its queue. Time-bounded cases assert the typed error, not a wall time.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import redis
from PIL import Image

from pipeq_client import Client
from pipeq_client.errors import (
    InputTooLongError,
    InvalidInputError,
    PayloadTooLargeError,
    PipeqError,
    RequestValidationError,
    TimeLimitError,
    UnsupportedParameterError,
    WorkerError,
)
from pipeq_client.protocol import TASK_QUEUES, Queue, Task, blob_key
from pipeq_client.types import REQUEST_TYPES, TextGenerationResult
from pipeq_client.validation import validate_request
from pipeq_workers.tooling.samples import sample_png, sample_wav
from pipeq_workers.tooling.stack import LocalStack
from tests.integration.test_bad_inputs import b64, send_raw
from tests.request_strategies import wav_claiming_rate

pytestmark = pytest.mark.integration

LONG_TEXT = "the quick brown fox jumps over the lazy dog. " * 300  # thousands of tokens; the models take 128-256
LIST_BLOB = blob_key("typed-answers-a-list")


@cache
def big_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (6000, 6000)).save(buffer, format="PNG")  # 36 Mpx in ~35 KB
    return buffer.getvalue()


def image_bytes(image_format: str, size: tuple[int, int] = (16, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size).save(buffer, format=image_format)
    return buffer.getvalue()


def wav(samples: int, rate: int = 16_000) -> bytes:
    return wav_claiming_rate(rate, samples)


@dataclass(frozen=True)
class Refused:
    """The typed error a case must end in: its class, field and a fragment of its message."""

    error: type[PipeqError]
    field: str | None
    fragment: str


@dataclass(frozen=True)
class Answered:
    """A case that must work: the result passes ``check``."""

    check: Callable[[Any], bool]


def _image_text(text: str, images: int = 1) -> dict[str, Any]:
    return {"images": [{"data": b64(sample_png())}] * images, "text": text}


def _seeded(result: TextGenerationResult) -> bool:
    return result.details.seed is not None and bool(result.sequences) and len(result.sequences or []) == 2


CASES: list[tuple[str, Task, dict[str, Any], Refused | Answered]] = [
    # -- long inputs: truncated to the model's real limit when asked, else refused naming it
    ("README summarization, long text", Task.SUMMARIZATION, {"inputs": LONG_TEXT},
     Refused(InputTooLongError, "inputs", "over the limit of 128 tokens")),
    ("summarization, long text, truncation", Task.SUMMARIZATION,
     {"inputs": LONG_TEXT, "parameters": {"truncation": True, "max_new_tokens": 8}},
     Answered(lambda result: result.details.prompt_tokens == 128)),
    ("translation, long text", Task.TRANSLATION, {"inputs": LONG_TEXT},
     Refused(InputTooLongError, "inputs", "truncation: true cuts it there")),
    ("translation, long text, truncation", Task.TRANSLATION,
     {"inputs": LONG_TEXT, "parameters": {"truncation": True, "max_new_tokens": 8}},
     Answered(lambda result: result.details.prompt_tokens == 128)),
    ("text-classification, 100k characters", Task.TEXT_CLASSIFICATION, {"inputs": ("word " * 20_000)[:100_000]},
     Refused(InputTooLongError, "inputs", "of 128 tokens")),
    ("feature-extraction, truncate false", Task.FEATURE_EXTRACTION,
     {"inputs": ["short", LONG_TEXT], "parameters": {"truncate": False}},
     Refused(InputTooLongError, "inputs.1", "truncate: true cuts it there")),
    ("feature-extraction, truncate true", Task.FEATURE_EXTRACTION,
     {"inputs": LONG_TEXT, "parameters": {"pooling": "none"}}, Answered(lambda result: len(result.root[0]) == 128)),
    ("zero-shot, long text", Task.ZERO_SHOT_CLASSIFICATION,
     {"inputs": LONG_TEXT, "parameters": {"candidate_labels": ["a", "b"]}},
     Answered(lambda result: len(result.root) == 2)),
    ("zero-shot, hypothesis over the limit", Task.ZERO_SHOT_CLASSIFICATION,
     {"inputs": "hi", "parameters": {"candidate_labels": ["a"], "hypothesis_template": "w " * 200 + "{}"}},
     Refused(InputTooLongError, "parameters.hypothesis_template", "shares the model's 128 tokens")),
    ("text-generation, long prompt", Task.TEXT_GENERATION, {"inputs": LONG_TEXT},
     Refused(InputTooLongError, "inputs", "of 256 tokens")),
    ("text-generation, max_new_tokens past the positions", Task.TEXT_GENERATION,
     {"inputs": "hi", "parameters": {"max_new_tokens": 8000}},
     Refused(InputTooLongError, "parameters.max_new_tokens", "new tokens fit")),
    ("summarization, max_new_tokens past the decoder", Task.SUMMARIZATION,
     {"inputs": "hi", "parameters": {"max_new_tokens": 4000}},
     Refused(InputTooLongError, "parameters.max_new_tokens", "limit of 128 positions")),
    ("image-to-text, long prompt", Task.IMAGE_TO_TEXT,
     {"inputs": {"data": b64(sample_png())}, "parameters": {"prompt": "a " * 400}},
     Refused(InputTooLongError, "parameters.prompt", "of 64 tokens")),
    # -- image-text-to-text placeholders
    ("image-text-to-text, no placeholder", Task.IMAGE_TEXT_TO_TEXT, {"inputs": _image_text("describe")},
     Answered(lambda result: result.details.generated_tokens > 0)),
    ("image-text-to-text, two images no placeholder", Task.IMAGE_TEXT_TO_TEXT, {"inputs": _image_text("describe", 2)},
     Answered(lambda result: result.details.generated_tokens > 0)),
    ("image-text-to-text, placeholder mismatch", Task.IMAGE_TEXT_TO_TEXT, {"inputs": _image_text("<image><image> hi")},
     Refused(RequestValidationError, "inputs.text", "2 <image> placeholders for 1 image")),
    ("image-text-to-text, placeholder typed into a message", Task.IMAGE_TEXT_TO_TEXT,
     {"inputs": [{"role": "user", "content": [{"type": "text", "text": "<image>"}]}]},
     Refused(RequestValidationError, "inputs.0.content.0.text", "images go in image parts")),
    ("image-text-to-text, long text", Task.IMAGE_TEXT_TO_TEXT, {"inputs": _image_text(LONG_TEXT)},
     Refused(InputTooLongError, "inputs", "of 256 tokens")),
    # -- seeds and sampling
    ("seed above 2**32", Task.TEXT_GENERATION,
     {"inputs": "hi", "parameters": {"seed": 2**62 + 5, "temperature": 0.9, "max_new_tokens": 4}},
     Answered(lambda result: result.details.seed == 2**62 + 5)),
    ("tts seed above 2**32", Task.TEXT_TO_SPEECH, {"inputs": "hello", "parameters": {"seed": 2**63 - 1}},
     Answered(lambda result: result.sampling_rate > 0)),
    ("seed out of range", Task.TEXT_GENERATION, {"inputs": "hi", "parameters": {"seed": 2**63}},
     Refused(RequestValidationError, "parameters.seed", "less than or equal to 9223372036854775807")),
    ("sampled without a seed reports one", Task.TEXT_GENERATION,
     {"inputs": "hi", "parameters": {"temperature": 0.9, "max_new_tokens": 4}},
     Answered(lambda result: result.details.seed is not None)),
    ("n > 1, model's default greedy: samples", Task.TEXT_GENERATION,
     {"inputs": "hi", "parameters": {"num_return_sequences": 2, "max_new_tokens": 4}}, Answered(_seeded)),
    ("n > 1 with do_sample false", Task.SUMMARIZATION,
     {"inputs": "hi", "parameters": {"num_return_sequences": 2, "do_sample": False}},
     Refused(RequestValidationError, "parameters", "num_return_sequences must be 1 when do_sample is false")),
    # -- degenerate numbers
    ("temperature 5e-324", Task.TEXT_GENERATION, {"inputs": "hi", "parameters": {"temperature": 5e-324}},
     Refused(RequestValidationError, "parameters.temperature", "at least 0.01")),
    ("logit_bias NaN", Task.TEXT_GENERATION, {"inputs": "hi", "parameters": {"logit_bias": {"5": math.nan}}},
     Refused(RequestValidationError, "parameters.logit_bias.5", "finite number")),
    ("max_new_tokens true", Task.IMAGE_TO_TEXT,
     {"inputs": {"data": b64(sample_png())}, "parameters": {"max_new_tokens": True}},
     Refused(RequestValidationError, "parameters.max_new_tokens", "not a boolean")),
    ("threshold true", Task.OBJECT_DETECTION,
     {"inputs": {"data": b64(sample_png())}, "parameters": {"threshold": True}},
     Refused(RequestValidationError, "parameters.threshold", "not a boolean")),
    # -- zero-shot templates
    ("template {} and {}", Task.ZERO_SHOT_CLASSIFICATION,
     {"inputs": "hi", "parameters": {"candidate_labels": ["a"], "hypothesis_template": "{} and {}"}},
     Refused(RequestValidationError, "parameters.hypothesis_template", "exactly one {}")),
    ("template {} {foo}", Task.ZERO_SHOT_CLASSIFICATION,
     {"inputs": "hi", "parameters": {"candidate_labels": ["a"], "hypothesis_template": "{} {foo}"}},
     Refused(RequestValidationError, "parameters.hypothesis_template", "exactly one {}")),
    ("template {} {", Task.ZERO_SHOT_CLASSIFICATION,
     {"inputs": "hi", "parameters": {"candidate_labels": ["a"], "hypothesis_template": "{} {"}},
     Refused(RequestValidationError, "parameters.hypothesis_template", "exactly one {}")),
    # -- options the model cannot honour
    ("CTC return_timestamps true", Task.AUTOMATIC_SPEECH_RECOGNITION,
     {"inputs": {"data": b64(sample_wav(0.5))}, "parameters": {"return_timestamps": True}},
     Refused(UnsupportedParameterError, "parameters.return_timestamps", "'automatic-speech-recognition'")),
    ("fixed-pair src_lang", Task.TRANSLATION, {"inputs": "hi", "parameters": {"src_lang": "fr", "tgt_lang": "de"}},
     Refused(UnsupportedParameterError, "parameters.src_lang", "'translation'")),
    # -- audio
    ("audio of 1 sample", Task.AUTOMATIC_SPEECH_RECOGNITION, {"inputs": {"data": b64(wav(1))}},
     Refused(InvalidInputError, "inputs", "shorter than the model's shortest input")),
    ("audio of 10 samples", Task.AUDIO_CLASSIFICATION, {"inputs": {"data": b64(wav(10))}},
     Refused(InvalidInputError, "inputs", "shorter than the model's shortest input")),
    ("raw PCM of 4 samples", Task.AUDIO_CLASSIFICATION,
     {"inputs": {"data": b64(np.zeros(4, dtype="<f4").tobytes()), "sampling_rate": 16_000}},
     Refused(InvalidInputError, "inputs", "shorter than the model's shortest input")),
    ("chunk_length_s 0.001", Task.AUTOMATIC_SPEECH_RECOGNITION,
     {"inputs": {"data": b64(sample_wav(1.0))}, "parameters": {"chunk_length_s": 0.001}},
     Refused(UnsupportedParameterError, "parameters.chunk_length_s", "use chunk_length_s >=")),
    ("260-byte WAV at 1 Hz", Task.AUTOMATIC_SPEECH_RECOGNITION, {"inputs": {"data": b64(wav(110, rate=1))}},
     Refused(InvalidInputError, "inputs", "sampling rate 1 Hz is outside 1000..384000 Hz")),
    ("599 samples at 1 Hz", Task.AUTOMATIC_SPEECH_RECOGNITION, {"inputs": {"data": b64(wav(599, rate=1))}},
     Refused(InvalidInputError, "inputs", "sampling rate 1 Hz")),
    # -- text to speech
    *[(f"tts {text!r}", Task.TEXT_TO_SPEECH, {"inputs": text},
       Refused(InvalidInputError, "inputs", "nothing to speak")) for text in ("😀", "中文", "!!!", "\x00")],
    ("tts 100k characters", Task.TEXT_TO_SPEECH, {"inputs": ("hello " * 20_000)[:100_000]},
     Refused(InputTooLongError, "inputs", "over the limit of 2048 tokens")),
    # -- images
    ("TIFF", Task.IMAGE_CLASSIFICATION, {"inputs": {"data": b64(image_bytes("TIFF"))}},
     Refused(InvalidInputError, "inputs", "accepted format")),
    ("EPS", Task.OBJECT_DETECTION, {"inputs": {"data": b64(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 9 9\n")}},
     Refused(InvalidInputError, "inputs", "accepted format")),
    ("JPEG header, garbage", Task.IMAGE_CLASSIFICATION, {"inputs": {"data": b64(b"\xff\xd8\xff garbage")}},
     Refused(InvalidInputError, "inputs", "not a decodable image")),
    ("8 x 6000x6000 PNG", Task.IMAGE_TEXT_TO_TEXT,
     {"inputs": {"images": [{"data": b64(big_png())}] * 8, "text": "hi"}},
     Refused(PayloadTooLargeError, "inputs.images.1", "pixels per request")),
    # -- claim checks
    ("claim check holding a list", Task.IMAGE_CLASSIFICATION, {"inputs": {"ref": LIST_BLOB}},
     Refused(InvalidInputError, "inputs", "does not hold bytes")),
    ("5 MB claim check", Task.IMAGE_CLASSIFICATION, {"inputs": {"ref": blob_key("x" * 5_000_000)}},
     Refused(RequestValidationError, "inputs.ref", "at most 200 characters")),
]  # fmt: skip

FOLLOW_UP = {
    Queue.TEXT: lambda client: client.text_classification("still serving").root,
    Queue.VISION: lambda client: client.image_classification(sample_png()).root,
    Queue.AUDIO: lambda client: client.audio_classification(sample_wav(0.5)).root,
}
OBJECT_REPR = re.compile(r"object at 0x[0-9a-f]+")


@pytest.fixture(scope="module", autouse=True)
def list_under_a_blob_key(stack: LocalStack) -> Iterator[None]:
    connection = redis.Redis.from_url(str(stack.redis_url))
    connection.delete(LIST_BLOB)
    connection.rpush(LIST_BLOB, "not", "bytes")
    yield
    connection.delete(LIST_BLOB)


def check_answer(outcome: Any, expected: Refused | Answered) -> None:
    if isinstance(expected, Answered):
        assert not isinstance(outcome, BaseException), f"expected a result, got {outcome!r}"
        assert expected.check(outcome), outcome
        return
    assert isinstance(outcome, PipeqError), f"expected {expected.error.__name__}, got {outcome!r}"
    assert not isinstance(outcome, WorkerError), outcome
    assert type(outcome) is expected.error, repr(outcome)
    assert outcome.field == expected.field, repr(outcome)
    assert expected.fragment in str(outcome), str(outcome)
    assert len(str(outcome)) < 1000 and not OBJECT_REPR.search(str(outcome)), "bounded, no object reprs"


def outcome_of(run: Callable[[], Any]) -> Any:
    try:
        return run()
    except PipeqError as error:
        return error


@pytest.mark.parametrize(("case", "task", "payload", "expected"), CASES, ids=[case[0] for case in CASES])
def test_raw_message_at_the_worker(
    client: Client, case: str, task: Task, payload: dict[str, Any], expected: Refused | Answered
) -> None:
    job = client.job(send_raw(client, task, payload), REQUEST_TYPES[task])
    check_answer(outcome_of(lambda: job.result(timeout=120)), expected)
    assert FOLLOW_UP[TASK_QUEUES[task]](client), "the worker serves the next request"


@pytest.mark.parametrize(("case", "task", "payload", "expected"), CASES, ids=[case[0] for case in CASES])
def test_through_the_client(
    client: Client, case: str, task: Task, payload: dict[str, Any], expected: Refused | Answered
) -> None:
    """Schema-level problems are refused before anything is enqueued; the rest by the worker."""
    check_answer(outcome_of(lambda: client.run(validate_request(REQUEST_TYPES[task], payload), timeout=120)), expected)
    assert FOLLOW_UP[TASK_QUEUES[task]](client), "the worker serves the next request"


def test_a_drawn_seed_reproduces_the_sampled_result(client: Client) -> None:
    first = client.text_generation("hello", temperature=1.0, max_new_tokens=8)
    assert first.details.seed is not None
    again = client.text_generation("hello", temperature=1.0, max_new_tokens=8, seed=first.details.seed)
    assert again.generated_text == first.generated_text and again.details.seed == first.details.seed


def test_image_text_to_text_without_placeholder_from_the_client(client: Client) -> None:
    result = client.image_text_to_text(sample_png(), "describe")
    assert result.details.generated_tokens > 0


def test_cli_submits_image_text_to_text_with_text(stack: LocalStack, tmp_path: Path) -> None:
    (tmp_path / "cat.png").write_bytes(sample_png())
    command = [sys.executable, "-m", "pipeq_workers.cli", "submit", "image-text-to-text", "@cat.png"]
    command += ["--text", "describe the picture", "--param", "max_new_tokens=4"]
    env = {**os.environ, "PIPEQ_REDIS_URL": str(stack.redis_url)}
    out = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(out.stdout)["details"]["generated_tokens"] == 4


def test_cli_asks_for_text_with_image_text_to_text(stack: LocalStack, tmp_path: Path) -> None:
    (tmp_path / "cat.png").write_bytes(sample_png())
    command = [sys.executable, "-m", "pipeq_workers.cli", "submit", "image-text-to-text", "@cat.png"]
    env = {**os.environ, "PIPEQ_REDIS_URL": str(stack.redis_url)}
    out = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2 and "--text" in out.stderr


# ---- the time limit: a separate audio worker whose ASR limit is 1 ms -------------------


@pytest.fixture(scope="module", params=[{}, {"PIPEQ_MAX_BATCH_SIZE": "4"}], ids=["in-process", "model-process"])
def limited_audio(models_config: Path, request: pytest.FixtureRequest) -> Iterator[LocalStack]:
    """Its own Redis: no other worker takes these jobs. Batching, the models run in a model
    process, which enforces the limit there."""
    limits = {"PIPEQ_TASK_SECONDS": json.dumps({"automatic-speech-recognition": 0.001}), **request.param}
    with LocalStack(models_config=models_config, queues=(Queue.AUDIO,), extra_env=limits) as stack:
        yield stack


@pytest.mark.parametrize("parameters", [{}, {"chunk_length_s": 1.0}], ids=["one forward", "chunked"])
def test_time_limit_ends_any_handler_with_a_typed_error(limited_audio: LocalStack, parameters: dict[str, Any]) -> None:
    """60 s of audio cannot be recognised in 1 ms: the job is answered ``time_limit`` (whether the
    limit passed while decoding, while queued for the model, or while the model ran), and the
    worker answers the next request (audio-classification has the default limit)."""
    with Client(str(limited_audio.redis_url)) as client:
        with pytest.raises(TimeLimitError) as caught:
            client.automatic_speech_recognition(sample_wav(60.0), **parameters)
        assert caught.value.code.value == "time_limit" and "time limit of 0.001 s" in str(caught.value)
        assert client.audio_classification(sample_wav(0.5)).root
