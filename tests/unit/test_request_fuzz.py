"""Request validation under fuzzing: any payload gives a valid request or a bounded
RequestValidationError naming a field, never another exception; every number of every
request type refuses booleans and non-finite values; degenerate values are refused with the
field and the allowed range."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from pipeq_client.errors import (
    InputTooLongError,
    JobTimeoutError,
    PayloadTooLargeError,
    RequestValidationError,
    TimeLimitError,
    error_from_wire,
)
from pipeq_client.protocol import ErrorCode, Task
from pipeq_client.types import REQUEST_TYPES
from pipeq_client.validation import validate_request
from pipeq_workers.runtime.messages import clean_message
from tests.request_strategies import payloads_for, strategy_for

pytestmark = pytest.mark.unit

FUZZ = settings(
    max_examples=40, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
MAX_MESSAGE = 2000  # 10 problems of bounded field and value each

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def outcome(task: Task, payload: Any) -> RequestValidationError | None:
    try:
        validate_request(REQUEST_TYPES[task], payload)
    except RequestValidationError as error:
        assert error.field, "the error names a field"
        assert len(str(error)) <= MAX_MESSAGE, "the message is bounded"
        return error
    return None


@pytest.mark.parametrize("task", list(Task), ids=lambda task: task.value)
def test_any_json_gives_a_request_or_a_typed_bounded_error(task: Task) -> None:
    @FUZZ
    @given(JSON | st.fixed_dictionaries({"inputs": JSON, "parameters": JSON}))
    def check(payload: Any) -> None:
        outcome(task, payload)

    check()


@pytest.mark.parametrize("task", list(Task), ids=lambda task: task.value)
def test_near_valid_requests_give_a_request_or_a_typed_bounded_error(task: Task) -> None:
    @FUZZ
    @given(payloads_for(task))
    def check(payload: dict[str, Any]) -> None:
        outcome(task, payload)

    check()


def _numeric_fields(model: type[BaseModel], prefix: str = "") -> list[tuple[str, type[BaseModel]]]:
    """(dotted path, owning model) of every int/float field, nested parameter models included."""
    found = []
    for name, info in model.model_fields.items():
        text = repr(info.annotation)
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
            found += _numeric_fields(info.annotation, f"{prefix}{name}.")
        elif "int" in text or "float" in text:
            found.append((f"{prefix}{name}", model))
    return found


NUMBER_FIELDS = sorted(
    {
        (task, path)
        for task, request_type in REQUEST_TYPES.items()
        for path, _ in _numeric_fields(request_type.model_fields["parameters"].annotation, "parameters.")
    }
)


def _valid_payload(task: Task) -> dict[str, Any]:
    inputs: Any = "hello"
    if task in (Task.IMAGE_TO_TEXT, Task.IMAGE_CLASSIFICATION, Task.OBJECT_DETECTION):
        inputs = {"data": b"\x89PNG"}
    elif task in (Task.AUTOMATIC_SPEECH_RECOGNITION, Task.AUDIO_CLASSIFICATION):
        inputs = {"data": b"RIFF"}
    elif task is Task.IMAGE_TEXT_TO_TEXT:
        inputs = {"images": [{"data": b"\x89PNG"}], "text": "hi"}
    parameters = {"candidate_labels": ["a"]} if task is Task.ZERO_SHOT_CLASSIFICATION else {}
    return {"inputs": inputs, "parameters": parameters}


def test_every_request_type_has_numbers_to_check() -> None:
    assert len(NUMBER_FIELDS) > 20 and (Task.TEXT_GENERATION, "parameters.max_new_tokens") in NUMBER_FIELDS


@pytest.mark.parametrize(("task", "path"), NUMBER_FIELDS, ids=[f"{t.value}:{p}" for t, p in NUMBER_FIELDS])
@pytest.mark.parametrize("value", [True, False, math.nan, math.inf, -math.inf], ids=repr)
def test_numbers_refuse_booleans_and_non_finite_values(task: Task, path: str, value: Any) -> None:
    payload = _valid_payload(task)
    assert outcome(task, payload) is None, "the base payload is valid"
    name = path.rsplit(".", 1)[-1]
    if name == "logit_bias":
        payload["parameters"][name] = {"5": value}
    else:
        payload["parameters"][name] = value
    error = outcome(task, payload)
    assert error is not None, f"{path}={value!r} must be refused"
    assert error.field is not None and error.field.startswith(path)


DEGENERATE = [
    (Task.TEXT_GENERATION, {"temperature": 5e-324}, "parameters.temperature", "at least 0.01"),
    (Task.SUMMARIZATION, {"repetition_penalty": 1e-300}, "parameters.repetition_penalty", "0.01"),
    (Task.TEXT_GENERATION, {"logit_bias": {"3": math.nan}}, "parameters.logit_bias.3", "finite"),
    (Task.TEXT_GENERATION, {"max_new_tokens": True}, "parameters.max_new_tokens", "not a boolean"),
    (Task.TEXT_TO_SPEECH, {"seed": 2**63}, "parameters.seed", "less than or equal to 9223372036854775807"),
    (Task.TRANSLATION, {"do_sample": False, "num_return_sequences": 2}, "parameters", "do_sample is false"),
    (Task.IMAGE_TO_TEXT, {"temperature": 0, "num_return_sequences": 3}, "parameters", "temperature is 0"),
]


@pytest.mark.parametrize(("task", "parameters", "field", "fragment"), DEGENERATE, ids=[str(c[1]) for c in DEGENERATE])
def test_degenerate_numbers_are_refused_with_the_field_and_range(
    task: Task, parameters: dict[str, Any], field: str, fragment: str
) -> None:
    payload = _valid_payload(task)
    payload["parameters"].update(parameters)
    error = outcome(task, payload)
    assert error is not None and error.field == field and fragment in str(error)


@pytest.mark.parametrize("template", ["{} and {}", "{} {foo}", "{} {", "{0}", "{!r}", "no slot", "}{}"])
def test_hypothesis_template_needs_exactly_one_placeholder(template: str) -> None:
    payload = {"inputs": "hi", "parameters": {"candidate_labels": ["a"], "hypothesis_template": template}}
    error = outcome(Task.ZERO_SHOT_CLASSIFICATION, payload)
    assert error is not None and error.field == "parameters.hypothesis_template" and "exactly one {}" in str(error)


@pytest.mark.parametrize("template", ["{}", "This example is {}.", "{{braces}} and {}"])
def test_hypothesis_templates_with_one_placeholder_pass(template: str) -> None:
    payload = {"inputs": "hi", "parameters": {"candidate_labels": ["a"], "hypothesis_template": template}}
    assert outcome(Task.ZERO_SHOT_CLASSIFICATION, payload) is None


def test_huge_values_and_keys_are_never_echoed_whole() -> None:
    ref = "pipeq:blob:" + "x" * 5_000_000
    error = outcome(Task.IMAGE_CLASSIFICATION, {"inputs": {"ref": ref}})
    assert error is not None and error.field == "inputs.ref" and len(str(error)) < 300
    many = {"inputs": "hi", "parameters": {f"unknown_{index}": 1 for index in range(1000)} | {"k" * 100_000: 1}}
    error = outcome(Task.TEXT_CLASSIFICATION, many)
    assert error is not None and "more problems" in str(error) and len(str(error)) < MAX_MESSAGE


def test_new_error_codes_cross_the_wire() -> None:
    assert JobTimeoutError("late").code is ErrorCode.JOB_TIMEOUT
    for error in (InputTooLongError("long", field="inputs"), TimeLimitError("slow"), JobTimeoutError("late")):
        rebuilt = error_from_wire(error.to_wire())
        assert type(rebuilt) is type(error) and rebuilt.field == error.field
    assert issubclass(InputTooLongError, PayloadTooLargeError), "an input over a size limit, like a payload"


def test_worker_messages_drop_object_reprs_and_are_bounded() -> None:
    text = clean_message("cannot identify image file <_io.BytesIO object at 0x7f3a2c1b9e50>")
    assert "0x" not in text and text.endswith("the input")
    assert len(clean_message("x" * 10_000)) == 1000


@FUZZ
@given(st.data())
def test_parameter_strategies_cover_every_field(data: st.DataObject) -> None:
    """The generic strategy builder knows every annotation the request types use."""
    for request_type in REQUEST_TYPES.values():
        for info in request_type.model_fields["parameters"].annotation.model_fields.values():
            data.draw(strategy_for(info.annotation, list(info.metadata)))
