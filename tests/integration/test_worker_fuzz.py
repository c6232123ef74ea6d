"""Property: every request the schema accepts, for every task, ends in a valid result or in one
of pipeq's typed errors -- never ``worker_error`` -- and the worker answers a valid request
right after it.

Requests come from tests/request_strategies.py: every parameter of the task's request type
at and inside its bounds, inputs from edge cases of each modality. Deterministic
(derandomized), with moderate example counts.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, reject, settings

from pipeq_client import Client
from pipeq_client.errors import JobTimeoutError, PipeqError, RequestValidationError, WorkerError
from pipeq_client.protocol import TASK_QUEUES, Task
from pipeq_client.types import REQUEST_TYPES
from pipeq_client.validation import validate_request
from tests.integration.test_typed_answers import FOLLOW_UP
from tests.request_strategies import payloads_for

pytestmark = pytest.mark.integration

EXAMPLES = 15

FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.parametrize("task", list(Task), ids=lambda task: task.value)
def test_accepted_requests_get_a_result_or_a_typed_error(client: Client, task: Task) -> None:
    request_type = REQUEST_TYPES[task]
    seen: list[str] = []

    @FUZZ
    @given(payloads_for(task))
    def check(payload: dict[str, Any]) -> None:
        try:
            request = validate_request(request_type, payload)
        except RequestValidationError:
            reject()  # the schema refuses it: the client never sends it
        try:
            result = client.run(request, timeout=180)
            assert isinstance(result, request_type.result_type)
            seen.append("result")
        except PipeqError as error:
            assert not isinstance(error, WorkerError | JobTimeoutError), f"{payload!r:.500} -> {error!r}"
            assert error.field is not None or error.code.value == "time_limit", repr(error)
            seen.append(error.code.value)
        assert FOLLOW_UP[TASK_QUEUES[task]](client), "the worker serves the next request"

    check()
    assert seen, "some requests were accepted and sent"
