"""Bad requests are refused at the client, before enqueue, with the field and the problem."""

import pytest

from pipeq_client.errors import PayloadTooLargeError, RequestValidationError
from pipeq_client.payload import build_payload
from pipeq_client.settings import ClientSettings
from pipeq_client.types import (
    AudioClassificationRequest,
    FeatureExtractionRequest,
    ImageClassificationRequest,
    ImageToTextRequest,
    ObjectDetectionRequest,
    SummarizationRequest,
    TextClassificationRequest,
    TextGenerationRequest,
    TextToSpeechRequest,
    TranslationRequest,
    ZeroShotClassificationRequest,
)

pytestmark = pytest.mark.unit

PNG = b"\x89PNG\r\n\x1a\n"

CASES = [
    ("empty text", lambda: TextClassificationRequest.build("", None, {}), "inputs", "must not be empty"),
    ("blank text", lambda: SummarizationRequest.build("   ", None, {}), "inputs", "only whitespace"),
    (
        "missing candidate_labels",
        lambda: TextClassificationRequest.build("hi", None, {"candidate_labels": ["a"]}),
        "parameters.candidate_labels",
        "unknown field",
    ),
    (
        "zero-shot without labels",
        lambda: ZeroShotClassificationRequest.build("hi", None, {"candidate_labels": []}),
        "parameters.candidate_labels",
        "at least 1 item",
    ),
    (
        "template without {}",
        lambda: ZeroShotClassificationRequest.build(
            "hi", None, {"candidate_labels": ["a"], "hypothesis_template": "no slot"}
        ),
        "parameters.hypothesis_template",
        "must contain exactly one {} placeholder",
    ),
    (
        "unknown parameter",
        lambda: TextGenerationRequest.build("hi", None, {"tempreature": 1}),
        "parameters.tempreature",
        "unknown field",
    ),
    ("top_p out of range", lambda: TextGenerationRequest.build("hi", None, {"top_p": 1.5}), "parameters.top_p", "1.5"),
    ("top_p zero", lambda: TextGenerationRequest.build("hi", None, {"top_p": 0}), "parameters.top_p", "greater than 0"),
    (
        "negative top_k",
        lambda: ImageClassificationRequest.build(PNG, None, {"top_k": 0}),
        "parameters.top_k",
        "greater than or equal to 1",
    ),
    (
        "threshold > 1",
        lambda: ObjectDetectionRequest.build(PNG, None, {"threshold": 2}),
        "parameters.threshold",
        "less than or equal to 1",
    ),
    ("empty image", lambda: ImageToTextRequest.build(b"", None, {}), "inputs", "must not be empty"),
    (
        "bad pooling",
        lambda: FeatureExtractionRequest.build("hi", None, {"pooling": "max"}),
        "parameters.pooling",
        "'none', 'mean' or 'cls'",
    ),
    ("empty text list", lambda: FeatureExtractionRequest.build([], None, {}), "inputs", "at least 1 item"),
    (
        "blank text in list",
        lambda: FeatureExtractionRequest.build(["ok", " "], None, {}),
        "inputs.1",
        "must not be empty",
    ),
    (
        "odd PCM length",
        lambda: AudioClassificationRequest.build({"data": b"abc", "sampling_rate": 16000}, None, {}),
        "inputs",
        "multiple of 4",
    ),
    (
        "min > max tokens",
        lambda: TranslationRequest.build("hi", None, {"min_new_tokens": 5, "max_new_tokens": 2}),
        "parameters",
        "min_new_tokens (5) must be <= max_new_tokens (2)",
    ),
    (
        "greedy with n > 1",
        lambda: TextGenerationRequest.build("hi", None, {"temperature": 0, "num_return_sequences": 2}),
        "parameters",
        "num_return_sequences must be 1",
    ),
    (
        "5 stop strings",
        lambda: TextGenerationRequest.build("hi", None, {"stop": list("abcde")}),
        "parameters.stop",
        "at most 4",
    ),
    (
        "empty stop string",
        lambda: TextGenerationRequest.build("hi", None, {"stop": [""]}),
        "parameters.stop.0",
        "at least 1",
    ),
    ("empty model name", lambda: TextToSpeechRequest.build("hi", "", {}), "model", "at least 1"),
]


@pytest.mark.parametrize(("case", "call", "field", "fragment"), CASES, ids=[case[0] for case in CASES])
def test_invalid_request_names_field_and_problem(case: str, call, field: str, fragment: str) -> None:
    with pytest.raises(RequestValidationError) as caught:
        call()
    assert caught.value.field == field
    assert field in str(caught.value)
    assert fragment in str(caught.value)


def test_valid_request_round_trips_through_json() -> None:
    request = TextGenerationRequest.build("hi", None, {"temperature": 0.5, "top_k": 3, "stop": ["\n"]})
    wire = request.model_dump(mode="json", exclude_none=True)
    assert TextGenerationRequest.model_validate(wire) == request


def test_large_input_goes_by_claim_check_and_small_inline() -> None:
    settings = ClientSettings(inline_limit_bytes=10, max_payload_bytes=100)
    small = build_payload(ImageClassificationRequest.build(b"x" * 10), settings)
    assert small.uploads == {} and small.body["inputs"] == {"data": "eHh4eHh4eHh4eA=="}
    large = build_payload(ImageClassificationRequest.build(b"x" * 11), settings)
    ((key, data),) = large.uploads.items()
    assert data == b"x" * 11 and large.body["inputs"] == {"ref": key} and key.startswith("pipeq:blob:")


def test_oversized_input_is_refused_before_enqueue() -> None:
    settings = ClientSettings(max_payload_bytes=100)
    with pytest.raises(PayloadTooLargeError) as caught:
        build_payload(ImageClassificationRequest.build(b"x" * 101), settings)
    assert caught.value.field == "inputs"
