import pytest

from pipeq_client.errors import ModelNotAllowedError, RequestValidationError, WorkerError, error_from_wire
from pipeq_client.protocol import TASK_QUEUES, Queue, Task, celery_task_name, events_key, result_backend_url
from pipeq_client.types import REQUEST_TYPES

pytestmark = pytest.mark.unit


def test_every_task_has_a_queue_a_request_type_and_an_explicit_name() -> None:
    assert set(TASK_QUEUES) == set(Task) == set(REQUEST_TYPES)
    assert len(Task) == 13
    assert celery_task_name(Task.TEXT_GENERATION) == "pipeq.text-generation"
    assert TASK_QUEUES[Task.TEXT_TO_SPEECH] is Queue.AUDIO


def test_result_backend_is_the_next_database() -> None:
    assert result_backend_url("redis://:pw@h:6379/0") == "redis://:pw@h:6379/1"
    assert result_backend_url("rediss://h:6380") == "rediss://h:6380/1"
    assert result_backend_url("redis://h/4") == "redis://h/5"


def test_errors_cross_the_wire_as_codes() -> None:
    error = ModelNotAllowedError("no", field="model")
    rebuilt = error_from_wire(error.to_wire())
    assert type(rebuilt) is ModelNotAllowedError and rebuilt.field == "model" and str(rebuilt) == "no"
    assert isinstance(error_from_wire({"code": "invalid_request", "message": "x"}), RequestValidationError)
    assert type(error_from_wire({"code": "something-new", "message": "x"})) is WorkerError
    assert events_key("abc") == "pipeq:job:abc:events"
