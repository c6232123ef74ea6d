"""Every table that lists tasks lists all of them, and the generated client methods are current.

A 14th task (see docs/adding-a-task.md) fails here until each table has its row.
"""

from __future__ import annotations

import inspect

import pytest

from pipeq_client import AsyncClient, Client
from pipeq_client._codegen import generate, target_path
from pipeq_client.protocol import TASK_QUEUES, Task
from pipeq_client.specs import TASK_SPECS
from pipeq_client.types import REQUEST_TYPES

pytestmark = pytest.mark.unit

ALL = set(Task)


def test_client_tables_cover_every_task() -> None:
    assert set(TASK_QUEUES) == ALL
    assert set(REQUEST_TYPES) == ALL
    assert set(TASK_SPECS) == ALL
    for task, request_type in REQUEST_TYPES.items():
        assert request_type.task is task, f"{request_type.__name__} names its own task"


def test_worker_tables_cover_every_task() -> None:
    from pipeq_workers.handlers.registry import HANDLERS
    from pipeq_workers.models.allowlist import HUB_DEFAULT_FAMILIES, HUB_DEFAULTS
    from pipeq_workers.tooling.samples import sample_requests
    from pipeq_workers.tooling.tiny import DEFAULT_FAMILIES, _builders

    assert set(HANDLERS) == ALL
    assert set(HUB_DEFAULTS) == ALL
    assert {Task(task) for task in HUB_DEFAULT_FAMILIES} == ALL
    assert {Task(task) for task in DEFAULT_FAMILIES} == ALL
    assert {Task(task) for task in _builders()} == ALL
    assert {type(request).task for request in sample_requests()} == ALL


@pytest.mark.parametrize("client_type", [Client, AsyncClient])
def test_both_clients_have_one_typed_method_per_task(client_type: type) -> None:
    for spec in TASK_SPECS.values():
        method = getattr(client_type, spec.method_name)
        assert inspect.iscoroutinefunction(method) == (client_type is AsyncClient)
        parameters = spec.request_type.model_fields["parameters"].annotation.model_fields  # type: ignore[union-attr]
        signature = inspect.signature(method).parameters
        assert set(parameters) <= set(signature), f"{spec.method_name} takes every parameter as a keyword"


def test_generated_client_methods_are_current() -> None:
    assert target_path().read_text(encoding="utf-8") == generate(), (
        "client/pipeq_client/_methods.py is stale: run `python -m pipeq_client._codegen`"
    )
