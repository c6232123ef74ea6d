"""The gateway's pure parts, without Redis or workers: dialect translations, model routing,
restart replay, error mapping, job status from events, settings, and the import boundary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import redis.exceptions

from pipeq_client.errors import (
    BrokerUnavailableError,
    JobTimeoutError,
    NoWorkerError,
    PipeqError,
    RequestValidationError,
    WorkerError,
)
from pipeq_client.protocol import Task
from pipeq_client.status import JobState, job_status
from pipeq_gateway.catalog import ModelCatalog, ModelEntry
from pipeq_gateway.dialects.openai_chat import ChatCompletionRequest, chat_request
from pipeq_gateway.dialects.tgi import GenerateRequest, generate_request
from pipeq_gateway.errors import GatewayError, describe, error_body, status_in
from pipeq_gateway.replay import Replay
from pipeq_gateway.service import task_of
from pipeq_gateway.settings import GatewaySettings
from pipeq_gateway.sse import sse

pytestmark = pytest.mark.unit

CATALOG = ModelCatalog(
    [
        ModelEntry("llm", Task.TEXT_GENERATION, True),
        ModelEntry("vlm", Task.IMAGE_TEXT_TO_TEXT, True),
        ModelEntry("sst2", Task.TEXT_CLASSIFICATION, True),
    ]
)


def test_replay_never_repeats_text_across_a_restart() -> None:
    replay = Replay()
    assert [replay.delta(0, piece) for piece in ("Hel", "lo")] == ["Hel", "lo"]
    replay.reset()
    assert [replay.delta(0, piece) for piece in ("He", "ll", "o w", "orld")] == ["", "", " w", "orld"]
    replay.reset()
    with pytest.raises(WorkerError, match="different text"):
        replay.delta(0, "Bye")


def test_catalog_routes_names_to_tasks() -> None:
    assert CATALOG.resolve(None, (Task.TEXT_GENERATION,)) == (Task.TEXT_GENERATION, None)
    assert CATALOG.resolve("text-classification", tuple(Task)) == (Task.TEXT_CLASSIFICATION, None)
    assert CATALOG.resolve("vlm", (Task.TEXT_GENERATION, Task.IMAGE_TEXT_TO_TEXT)) == (Task.IMAGE_TEXT_TO_TEXT, "vlm")
    with pytest.raises(GatewayError) as wrong_route:
        CATALOG.resolve("sst2", (Task.TEXT_GENERATION,))
    assert wrong_route.value.status == 400 and "serves text-classification" in wrong_route.value.message
    with pytest.raises(GatewayError) as unknown:
        CATALOG.resolve("gpt-4o", (Task.TEXT_GENERATION,))
    assert unknown.value.status == 404 and "llm" in unknown.value.message
    assert ModelCatalog([]).resolve("anything", (Task.TEXT_GENERATION,)) == (Task.TEXT_GENERATION, "anything")


def test_catalog_reads_the_models_config(tmp_path: Path) -> None:
    config = tmp_path / "models.json"
    config.write_text(json.dumps({"tasks": {"translation": {"default": "b", "models": {"a": "x", "b": "y"}}}}))
    catalog = ModelCatalog.from_file(config)
    assert [(e.name, e.task, e.default) for e in catalog.entries] == [
        ("a", Task.TRANSLATION, False),
        ("b", Task.TRANSLATION, True),
    ]
    assert catalog.default_of(Task.TRANSLATION) == "b"


def chat(**fields: object) -> ChatCompletionRequest:
    return ChatCompletionRequest.model_validate({"messages": [{"role": "user", "content": "hi"}], **fields})


def test_chat_translation_maps_openai_fields_and_names_them_in_errors() -> None:
    request = chat(model="llm", max_tokens=5, stop="\n", n=2, temperature=0.5, logit_bias={"7": 3}, logprobs=True)
    parameters = request_parameters(chat_request(request, CATALOG))
    assert (
        parameters["max_new_tokens"] == 5 and parameters["stop"] == ["\n"] and parameters["num_return_sequences"] == 2
    )
    assert parameters["logit_bias"] == {7: 3.0} and parameters["logprobs"] is True
    developer = chat_request(
        ChatCompletionRequest.model_validate({"messages": [{"role": "developer", "content": "be brief"}]}), CATALOG
    )
    assert developer.inputs[0].role == "system"
    with pytest.raises(RequestValidationError) as error:
        chat_request(chat(max_tokens=0), CATALOG)
    assert error.value.field == "max_tokens" and error.value.message.startswith("max_tokens:")


def request_parameters(request: object) -> dict:
    return request.parameters.model_dump(exclude_defaults=True)  # type: ignore[attr-defined]


def test_chat_images_pick_image_text_to_text_and_only_data_urls() -> None:
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    request = ChatCompletionRequest.model_validate({"messages": [{"role": "user", "content": [image]}]})
    assert type(chat_request(request, CATALOG)).task is Task.IMAGE_TEXT_TO_TEXT
    remote = {"type": "image_url", "image_url": {"url": "http://169.254.169.254/latest"}}
    with pytest.raises(RequestValidationError, match="never fetched") as refused:
        chat_request(
            ChatCompletionRequest.model_validate({"messages": [{"role": "user", "content": [remote]}]}), CATALOG
        )
    assert refused.value.field == "messages.0.content.0.image_url.url"
    with pytest.raises(RequestValidationError, match="image-text-to-text"):
        chat_request(
            ChatCompletionRequest.model_validate({"model": "llm", "messages": [{"role": "user", "content": [image]}]}),
            CATALOG,
        )


def test_tgi_parameters_turn_details_into_logprobs_and_refuse_tgi_only_features() -> None:
    request, details = generate_request(
        GenerateRequest(inputs="x", parameters={"details": True, "top_n_tokens": 3}), None
    )
    assert details and request.parameters.logprobs and request.parameters.top_logprobs == 3
    with pytest.raises(PipeqError, match="best_of") as refused:
        generate_request(GenerateRequest(inputs="x", parameters={"best_of": 2}), None)
    assert refused.value.field == "parameters.best_of"


def test_errors_map_to_statuses_per_dialect() -> None:
    invalid = describe(RequestValidationError("parameters.top_k: bad", field="parameters.top_k"))
    assert (invalid.status, status_in("hf", invalid)) == (400, 422)
    assert error_body("openai", invalid)["error"]["param"] == "parameters.top_k"
    hf = error_body("hf", invalid)
    assert hf == {
        "error": "parameters.top_k: bad",
        "error_type": "validation",
        "code": "invalid_request",
        "field": hf["field"],
    }
    assert describe(JobTimeoutError("slow")).status == 504
    assert describe(redis.exceptions.ConnectionError("down")).status == 503
    assert describe(BrokerUnavailableError("down")).status == describe(NoWorkerError("none")).status == 503

    class LaterError(PipeqError):
        code = "some_future_code"  # type: ignore[assignment]  # a code the client may add later

    assert describe(LaterError("new")).status == 500


def test_status_comes_from_the_last_event_and_the_cancel_key() -> None:
    def reply(kind: str, data: dict) -> list:
        return [(b"1-0", {b"type": kind.encode(), b"data": json.dumps(data).encode()})]

    assert job_status("j", [], 0).state is JobState.QUEUED
    assert job_status("j", [], 1).state is JobState.CANCELLED
    assert job_status("j", reply("started", {}), 0).state is JobState.RUNNING
    assert job_status("j", reply("token", {"text": "a"}), 1).state is JobState.CANCELLED
    done = {"result": {"generated_text": "a", "details": {"finish_reason": "length", "generated_tokens": 1}}}
    assert job_status("j", reply("done", done), 0).state is JobState.DONE
    done["result"]["details"]["finish_reason"] = "cancelled"
    assert job_status("j", reply("done", done), 1).state is JobState.CANCELLED
    failed = job_status("j", reply("error", {"code": "model_not_allowed", "message": "no"}), 0)
    assert failed.state is JobState.FAILED and failed.error == {"code": "model_not_allowed", "message": "no"}
    assert job_status("j", reply("error", {"code": "cancelled", "message": "x"}), 1).state is JobState.CANCELLED


def test_settings_keys_and_auth_posture(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("# team keys\nk2\n\n k3 \n")
    settings = GatewaySettings(api_keys="k1, ,k1", api_keys_file=keys, host="0.0.0.0")
    assert settings.keys() == {"k1", "k2", "k3"}
    settings.check_auth_posture()
    with pytest.raises(ValueError, match="no API keys"):
        GatewaySettings(host="0.0.0.0").check_auth_posture()
    GatewaySettings(host="127.0.0.1").check_auth_posture()
    GatewaySettings(host="0.0.0.0", no_auth=True).check_auth_posture()


def test_sse_encoding_and_job_ids() -> None:
    assert sse({"a": 1}, event="token", event_id="5-0") == b'id: 5-0\nevent: token\ndata: {"a":1}\n\n'
    assert sse("[DONE]") == b"data: [DONE]\n\n"
    assert task_of("text-generation.0f3a") is Task.TEXT_GENERATION
    assert task_of("3f2a-uuid-from-the-python-client") is None and task_of("nope.x") is None


def test_the_client_stays_light_and_the_gateway_loads_no_torch() -> None:
    heavy = "('torch', 'transformers', 'starlette', 'uvicorn', 'fastapi')"
    probe = "import sys, {0}; print(sorted(m for m in " + heavy + " if m in sys.modules))"
    client = subprocess.run(
        [sys.executable, "-c", probe.format("pipeq_client")], capture_output=True, text=True, check=True
    )
    assert client.stdout.strip() == "[]"
    gateway = subprocess.run(
        [sys.executable, "-c", probe.format("pipeq_gateway")], capture_output=True, text=True, check=True
    )
    assert gateway.stdout.strip() == "['starlette']"
