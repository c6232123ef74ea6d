"""The first-hour fixes that need no Redis: submit's argument reading, printable output,
readable result reprs, heartbeat discovery, and the quiet filters."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

import click
import pytest

from pipeq_client.protocol import EventType, Task
from pipeq_client.types import (
    ObjectDetectionResult,
    TextClassificationResult,
    TextGenerationResult,
    TextToSpeechResult,
)
from pipeq_workers.monitoring.health import HealthState, default_health_dir, heartbeat_file, scan_heartbeats
from pipeq_workers.runtime.quiet import OneLineFilter, quiet_libraries
from pipeq_workers.tooling.display import escape_unprintable
from pipeq_workers.tooling.submit_args import STREAMING_TASKS, TaskName, parse_params, read_inputs

pytestmark = pytest.mark.unit


def test_comma_lists_fill_list_fields_only() -> None:
    params = parse_params(Task.ZERO_SHOT_CLASSIFICATION, ("candidate_labels=sports, politics", "multi_label=true"))
    assert params == {"candidate_labels": ["sports", "politics"], "multi_label": True}
    assert parse_params(Task.ZERO_SHOT_CLASSIFICATION, ('candidate_labels=["a,b"]',)) == {"candidate_labels": ["a,b"]}
    assert parse_params(Task.TEXT_GENERATION, ("stop=END,STOP", "max_new_tokens=4")) == {
        "stop": ["END", "STOP"],
        "max_new_tokens": 4,
    }
    assert parse_params(Task.TRANSLATION, ("src_lang=en",)) == {"src_lang": "en"}, "a plain word stays a string"


def test_parameter_and_task_typos_get_a_suggestion() -> None:
    with pytest.raises(click.BadParameter, match=r"no parameter 'topk' \(did you mean 'top_k'\?\)"):
        parse_params(Task.TEXT_CLASSIFICATION, ("topk=2",))
    with pytest.raises(click.BadParameter, match="expected key=value"):
        parse_params(Task.TEXT_CLASSIFICATION, ("top_k",))
    with pytest.raises(click.BadParameter, match=r"did you mean 'summarization'\?"):
        TaskName().convert("sumarization", None, None)
    assert TaskName().convert("translation", None, None) is Task.TRANSLATION


def test_inputs_from_files_and_literal_at_signs(tmp_path: Path) -> None:
    image = tmp_path / "cat.png"
    image.write_bytes(b"\x89PNG")
    assert read_inputs(Task.IMAGE_CLASSIFICATION, f"@{image}", None) == b"\x89PNG"
    assert read_inputs(Task.TEXT_CLASSIFICATION, "@@handle says hi", None) == "@handle says hi"
    with pytest.raises(click.ClickException, match=r"cannot read @nope\.png: No such file or directory"):
        read_inputs(Task.IMAGE_CLASSIFICATION, "@nope.png", None)


def test_only_token_generating_tasks_stream() -> None:
    assert Task.TEXT_GENERATION in STREAMING_TASKS and Task.IMAGE_TEXT_TO_TEXT in STREAMING_TASKS
    assert Task.TEXT_CLASSIFICATION not in STREAMING_TASKS
    assert Task.AUTOMATIC_SPEECH_RECOGNITION not in STREAMING_TASKS


def test_control_characters_are_escaped_and_json_stays_json() -> None:
    text = "ok\x1b[2J\x07 é\u0085\n"
    assert escape_unprintable(text) == "ok\\u001b[2J\\u0007 é\\u0085\n"
    assert json.loads(escape_unprintable(json.dumps({"t": text + "\U000e0001"}, ensure_ascii=False))) == {
        "t": text + "\U000e0001"
    }


def test_printed_results_are_readable() -> None:
    labels = TextClassificationResult.model_validate([{"label": "POSITIVE", "score": 0.9}])
    assert str(labels) == "[ClassificationItem(label='POSITIVE', score=0.9)]"
    assert repr(labels) == "TextClassificationResult([ClassificationItem(label='POSITIVE', score=0.9)])"
    boxes = ObjectDetectionResult.model_validate(
        [{"label": "cat", "score": 0.5, "box": {"xmin": 1, "ymin": 2, "xmax": 3, "ymax": 4}}]
    )
    assert "root=" not in str(boxes) and "DetectedObject(label='cat'" in str(boxes)
    speech = TextToSpeechResult.model_validate({"audio": {"data": b"RIFF" * 1000}, "sampling_rate": 16000})
    assert repr(speech) == "TextToSpeechResult(audio=Blob(data=<4000 bytes>), sampling_rate=16000)"
    text = TextGenerationResult.model_validate(
        {"generated_text": "hi", "details": {"finish_reason": "length", "generated_tokens": 1}}
    )
    assert repr(text) == (
        "TextGenerationResult(generated_text='hi', details=GenerationDetails(finish_reason='length', "
        "generated_tokens=1))"
    )


def test_progress_is_not_an_event_type() -> None:
    assert "progress" not in {event.value for event in EventType}


def test_default_heartbeat_directory_follows_the_runtime_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert default_health_dir() == tmp_path / "pipeq"
    assert heartbeat_file(tmp_path, ["text"], 42) == tmp_path / "text-42.json"
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    assert default_health_dir().name == f"pipeq-{os.getuid()}"


def test_scan_keeps_live_workers_and_removes_files_of_exited_ones(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    live, gone = HealthState(queues=["text"]), HealthState(queues=["audio"], pid=child.pid)
    for state in (live, gone):
        heartbeat_file(tmp_path, state.queues, state.pid).write_text(json.dumps(asdict(state)))
    (tmp_path / "broken.json").write_text("{")
    found = scan_heartbeats(tmp_path)
    assert list(found.workers.values()) == [live]
    assert found.exited == [heartbeat_file(tmp_path, ["audio"], child.pid)] and not found.exited[0].exists()
    assert list(found.unreadable) == [tmp_path / "broken.json"]
    assert scan_heartbeats(tmp_path / "absent").workers == {}


def test_quiet_drops_only_the_known_noise() -> None:
    quiet_libraries()
    logger = logging.getLogger("transformers.utils.import_utils")
    fallback = "`ViTImageProcessor` requires torchvision (not installed); falling back to `ViTImageProcessorPil` ..."
    assert not logger.filter(logger.makeRecord(logger.name, logging.WARNING, __file__, 1, fallback, None, None))
    assert logger.filter(logger.makeRecord(logger.name, logging.WARNING, __file__, 1, "something else", None, None))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quiet_libraries()  # inside the block: catch_warnings restores the filters on exit
        warnings.warn("Recommended: pip install sacremoses.", UserWarning, stacklevel=1)
        warnings.warn("another warning", UserWarning, stacklevel=1)
    assert [str(warning.message) for warning in caught] == ["another warning"]


def test_multi_line_log_messages_become_one_line() -> None:
    record = logging.LogRecord(
        "celery", logging.ERROR, __file__, 1, "Cannot connect to %s.\nTrying again\n", ("x",), None
    )
    assert OneLineFilter().filter(record)
    assert record.getMessage() == "Cannot connect to x. Trying again"
