"""Hypothesis strategies for pipeq requests: parameters derived from the pydantic models
themselves (every field, at and inside its declared bounds), inputs from hand-picked edge
cases per modality (odd text, tiny and odd images, too-short and oddly sampled audio).

A field added to a request type is fuzzed without touching this module.
"""

from __future__ import annotations

import io
import struct
import types
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import numpy as np
import soundfile
from hypothesis import strategies as st
from PIL import Image
from pydantic import BaseModel, StringConstraints
from pydantic.fields import FieldInfo

from pipeq_client.protocol import Task
from pipeq_client.types import REQUEST_TYPES
from pipeq_workers.tooling.samples import sample_png, sample_wav

__all__ = ["AUDIO", "IMAGES", "TEXTS", "parameters_for", "payloads_for"]

_INT_RANGE = (-(2**63), 2**63 - 1)
_FLOAT_RANGE = (-1e9, 1e9)


def _bounds(metadata: list[Any], low: float, high: float) -> tuple[float, float, bool, bool]:
    """(min, max, exclude_min, exclude_max) from annotated_types constraints."""
    exclude_low = exclude_high = False
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            low = item.ge  # type: ignore[assignment]
        elif isinstance(item, annotated_types.Gt):
            low, exclude_low = item.gt, True  # type: ignore[assignment]
        elif isinstance(item, annotated_types.Le):
            high = item.le  # type: ignore[assignment]
        elif isinstance(item, annotated_types.Lt):
            high, exclude_high = item.lt, True  # type: ignore[assignment]
    return low, high, exclude_low, exclude_high


def _lengths(metadata: list[Any], default_max: int) -> tuple[int, int]:
    low, high = 0, default_max
    for item in metadata:
        if isinstance(item, annotated_types.MinLen):
            low = item.min_length
        elif isinstance(item, annotated_types.MaxLen):
            high = min(high, item.max_length)
        elif isinstance(item, StringConstraints):
            low = item.min_length or low
            high = min(high, item.max_length or high)
    return low, max(low, high)


def _integers(metadata: list[Any]) -> st.SearchStrategy[int]:
    low, high, exclude_low, exclude_high = _bounds(metadata, *_INT_RANGE)
    return st.integers(int(low) + exclude_low, int(high) - exclude_high)


def _floats(metadata: list[Any]) -> st.SearchStrategy[float]:
    low, high, exclude_low, exclude_high = _bounds(metadata, *_FLOAT_RANGE)
    return st.floats(low, high, exclude_min=exclude_low, exclude_max=exclude_high, allow_nan=False)


def _strings(metadata: list[Any]) -> st.SearchStrategy[str]:
    low, high = _lengths(metadata, 40)
    return st.text(min_size=max(low, 0), max_size=high)


def _union(args: tuple[Any, ...], metadata: list[Any]) -> st.SearchStrategy[Any]:
    options = [strategy_for(arg, metadata) for arg in args if arg is not type(None)]
    return st.one_of(st.none(), *options) if type(None) in args else st.one_of(*options)


def _container(origin: Any, args: tuple[Any, ...], metadata: list[Any]) -> st.SearchStrategy[Any]:
    low, high = _lengths(metadata, 4)
    if origin is list:
        return st.lists(strategy_for(args[0], []), min_size=low, max_size=high)
    keys = st.integers(0, 1000) if args[0] is int else strategy_for(args[0], [])
    return st.dictionaries(keys, strategy_for(args[1], []), min_size=low, max_size=min(high, 4))


_SCALARS: dict[Any, Any] = {
    bool: lambda _: st.booleans(),
    int: _integers,
    float: _floats,
    str: _strings,
}


def strategy_for(annotation: Any, metadata: list[Any]) -> st.SearchStrategy[Any]:
    """Values of ``annotation`` within the constraints in ``metadata`` (pydantic's field metadata)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return strategy_for(args[0], [*metadata, *args[1:]])
    if origin in (Union, types.UnionType):
        return _union(args, metadata)
    if origin is Literal:
        return st.sampled_from(args)
    if origin in (list, dict):
        return _container(origin, args, metadata)
    if annotation in _SCALARS:
        return _SCALARS[annotation](metadata)  # type: ignore[no-any-return]
    raise NotImplementedError(f"no strategy for {annotation!r}")


def _field(info: FieldInfo) -> st.SearchStrategy[Any]:
    return strategy_for(info.annotation, list(info.metadata))


def parameters_for(model: type[BaseModel], overrides: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict]:
    """Dicts of ``model``'s fields: required ones always, the others sometimes."""
    required, optional = {}, {}
    for name, info in model.model_fields.items():
        strategy = overrides[name] if name in overrides else _field(info)
        (required if info.is_required() else optional)[name] = strategy
    return st.fixed_dictionaries(required, optional=optional)


# ---- inputs ----------------------------------------------------------------------------

ODD_TEXTS = [
    "!!!",
    "\x00",
    "\x00\x00\x00",
    "😀🎉",
    "中文字符测试",
    "a" * 5000,
    "word " * 600,
    "\u200b zero width",
    "<image>",
    "{} {",
    "\ufffd\ufffd",
    "hello world",
]
TEXTS = st.one_of(st.text(min_size=1, max_size=120), st.sampled_from(ODD_TEXTS)).filter(lambda text: text.strip())


def _image(image_format: str, size: tuple[int, int], mode: str = "RGB") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, color=128 if mode in ("L", "P", "I;16", "1") else (10, 200, 30)[: len(mode)]).save(
        buffer, format=image_format
    )
    return buffer.getvalue()


def _wav(samples: int, rate: int = 16_000, channels: int = 1, subtype: str = "PCM_16", fmt: str = "WAV") -> bytes:
    buffer = io.BytesIO()
    data = np.sin(np.arange(samples * channels) / 7.0).reshape(samples, channels).astype(np.float32) * 0.3
    soundfile.write(buffer, data, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def wav_claiming_rate(rate: int, samples: int) -> bytes:
    """A PCM WAV whose header declares ``rate`` Hz (soundfile refuses to write such rates)."""
    data = b"\x00\x01" * samples
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    chunks = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(chunks)) + chunks


IMAGES = st.sampled_from(
    [
        sample_png(),
        _image("PNG", (1, 1)),
        _image("JPEG", (17, 9)),
        _image("GIF", (8, 8), "P"),
        _image("WEBP", (12, 12)),
        _image("PNG", (5, 300), "RGBA"),
        _image("PNG", (16, 16), "I;16"),
        _image("PNG", (16, 16), "1"),
        _image("PNG", (2000, 1500), "L"),
        _image("TIFF", (8, 8)),
        _image("BMP", (8, 8)),
        b"\x89PNG\r\n\x1a\n truncated",
        b"\xff\xd8\xff garbage",
        b"not an image",
    ]
)
AUDIO = st.sampled_from(
    [
        {"data": _wav(1)},
        {"data": _wav(10)},
        {"data": _wav(64)},
        {"data": _wav(400)},
        {"data": sample_wav(0.5)},
        {"data": _wav(8000, rate=8000, channels=2)},
        {"data": _wav(22050, rate=44_100, fmt="FLAC", subtype="PCM_16")},
        {"data": wav_claiming_rate(1, 120)},
        {"data": wav_claiming_rate(999_999, 100)},
        {"data": np.zeros(4, dtype="<f4").tobytes(), "sampling_rate": 16_000},
        {"data": np.full(1600, 0.1, dtype="<f4").tobytes(), "sampling_rate": 1000},
        {"data": b"RIFF not really audio"},
    ]
)
_LABELS = st.lists(st.text(min_size=1, max_size=30).filter(str.strip), min_size=1, max_size=4, unique_by=str.strip)
_TEMPLATES = st.sampled_from(["This example is {}.", "{}", "{{}} {}", "x" * 400 + " {}", "{} " + "long " * 95])
_CHAT = st.lists(
    st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant"]), "content": TEXTS}),
    min_size=1,
    max_size=3,
)
_IMAGE_CHAT = st.lists(
    st.fixed_dictionaries(
        {
            "role": st.just("user"),
            "content": st.lists(
                st.one_of(
                    st.fixed_dictionaries({"type": st.just("text"), "text": TEXTS}),
                    st.fixed_dictionaries({"type": st.just("image"), "image": IMAGES.map(lambda data: {"data": data})}),
                ),
                min_size=1,
                max_size=3,
            ),
        }
    ),
    min_size=1,
    max_size=2,
)


def _inputs(task: Task) -> st.SearchStrategy[Any]:
    blob = IMAGES.map(lambda data: {"data": data})
    return {
        Task.TEXT_GENERATION: st.one_of(TEXTS, _CHAT),
        Task.FEATURE_EXTRACTION: st.one_of(TEXTS, st.lists(TEXTS, min_size=1, max_size=3)),
        Task.IMAGE_TO_TEXT: blob,
        Task.IMAGE_CLASSIFICATION: blob,
        Task.OBJECT_DETECTION: blob,
        Task.IMAGE_TEXT_TO_TEXT: st.one_of(
            st.fixed_dictionaries({"images": st.lists(blob, min_size=1, max_size=3), "text": TEXTS}), _IMAGE_CHAT
        ),
        Task.AUTOMATIC_SPEECH_RECOGNITION: AUDIO,
        Task.AUDIO_CLASSIFICATION: AUDIO,
    }.get(task, TEXTS)


def _parameter_overrides(task: Task) -> dict[str, st.SearchStrategy[Any]]:
    if task is Task.ZERO_SHOT_CLASSIFICATION:
        return {"candidate_labels": _LABELS, "hypothesis_template": _TEMPLATES}
    return {}


def payloads_for(task: Task) -> st.SearchStrategy[dict[str, Any]]:
    """Raw request payloads for ``task`` (not all of them valid: filter with the request type)."""
    request_type = REQUEST_TYPES[task]
    parameters_type = request_type.model_fields["parameters"].annotation
    return st.fixed_dictionaries(
        {
            "inputs": _inputs(task),
            "parameters": parameters_for(parameters_type, _parameter_overrides(task)),
        }
    )
