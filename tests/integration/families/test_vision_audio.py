"""The vision and audio model families people deploy, each through the queue: the result equals
the in-process pipeline's on the same tiny model (``pipeq models tiny --all``), with the options
that family has; an option it lacks is refused as unsupported, naming the model.

Families: Whisper (beside Wav2Vec2-CTC), BLIP (beside ViT-GPT2), DETR (beside YOLOS),
Idefics3/SmolVLM and Qwen2-VL (beside LLaVA), SpeechT5 + HiFi-GAN (beside VITS).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
import torch
import transformers
from transformers import AutoImageProcessor, AutoModelForImageTextToText, AutoTokenizer, SpeechT5HifiGan

from pipeq_client import Client
from pipeq_client.errors import UnsupportedParameterError
from pipeq_client.protocol import Queue, Task
from pipeq_client.types import ImageTextToTextRequest
from pipeq_workers.pipelines.image_to_text import ImageToTextPipeline
from pipeq_workers.pipelines.processors import load_image_only_processor
from pipeq_workers.tooling.embedded import EmbeddedRedis
from pipeq_workers.tooling.samples import sample_png, sample_wav
from pipeq_workers.tooling.stack import LocalStack
from tests.integration.families.support import family_model as family
from tests.integration.reference import audio, image
from tests.integration.test_batching import BATCH_ENV, batch_stats, free_port

pytestmark = pytest.mark.integration

PNG = sample_png()
PNG_SQUARE = sample_png(32, 32, seed=1)
WAV = sample_wav(3.0, rate=22_050)
VERIFIED = {
    Task.AUTOMATIC_SPEECH_RECOGNITION: {"wav2vec2-ctc", "whisper"},
    Task.IMAGE_TO_TEXT: {"vit-gpt2", "blip"},
    Task.OBJECT_DETECTION: {"yolos", "detr"},
    Task.IMAGE_TEXT_TO_TEXT: {"llava", "idefics3", "qwen2-vl"},
    Task.TEXT_TO_SPEECH: {"vits", "speecht5"},
}


@pytest.fixture(scope="module")
def stack(families_config: Path) -> Iterator[tuple[LocalStack, int]]:
    """Vision and audio workers serving every verified family, micro-batching on (requests
    queued together share model calls), on a Redis of their own: the session's workers consume
    the same queues and know only the default models. Also the vision worker's metrics port."""
    with EmbeddedRedis() as server, LocalStack(server.url, families_config, queues=()) as running:
        port = free_port()
        running.start_worker(Queue.VISION, {**BATCH_ENV, "PIPEQ_HEALTH_PORT": str(port)})
        running.start_worker(Queue.AUDIO, BATCH_ENV)
        running.wait_ready((Queue.VISION, Queue.AUDIO))
        yield running, port


@pytest.fixture(scope="module")
def families(stack: tuple[LocalStack, int]) -> Iterator[Client]:
    with Client(stack[0].redis_url) as client:
        yield client


def whisper(models_config: Path) -> tuple[str, transformers.Pipeline]:
    model, source = family(models_config, Task.AUTOMATIC_SPEECH_RECOGNITION, "whisper")
    return model, transformers.pipeline("automatic-speech-recognition", model=source)


def chunks(result: Any) -> list[tuple[str, tuple[float | None, float | None]]]:
    return [(chunk.text, tuple(chunk.timestamp)) for chunk in result.chunks or []]


def expected_chunks(output: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(chunk["text"], pytest.approx(tuple(chunk["timestamp"]))) for chunk in output.get("chunks", [])]


def test_models_config_names_every_verified_family(families_config: Path) -> None:
    tasks = json.loads(families_config.read_text())["tasks"]
    for task, names in VERIFIED.items():
        entry = tasks[task.value]
        assert names <= set(entry["families"]), task
        assert all(model in entry["models"] for model in entry["families"].values())


# automatic-speech-recognition: Whisper


def test_whisper_greedy(families: Client, families_config: Path) -> None:
    model, pipe = whisper(families_config)
    result = families.automatic_speech_recognition(WAV, model=model)
    expected = pipe(audio(WAV))
    assert result.text == expected["text"] != ""
    assert result.chunks is None


def test_whisper_generation_parameters_apply(families: Client, families_config: Path) -> None:
    model, pipe = whisper(families_config)
    result = families.automatic_speech_recognition(WAV, model=model, max_new_tokens=6, temperature=0.9, seed=11)
    transformers.set_seed(11)
    sampling = {"do_sample": True, "temperature": 0.9, "top_k": 0, "top_p": 1.0, "max_new_tokens": 6}
    expected = pipe(audio(WAV), generate_kwargs=sampling)
    assert result.text == expected["text"]
    greedy = pipe(audio(WAV), generate_kwargs={"max_new_tokens": 6})
    assert result.text != greedy["text"]  # sampled, not greedy


def test_whisper_language_and_task(families: Client, families_config: Path) -> None:
    model, pipe = whisper(families_config)
    result = families.automatic_speech_recognition(WAV, model=model, language="french", task="translate")
    expected = pipe(audio(WAV), generate_kwargs={"language": "fr", "task": "translate"})
    assert result.text == expected["text"]
    assert expected["text"] != pipe(audio(WAV))["text"]  # the decoder prompt changed


@pytest.mark.parametrize("timestamps", [True, "word"])
def test_whisper_timestamps(families: Client, families_config: Path, timestamps: bool | str) -> None:
    model, pipe = whisper(families_config)
    result = families.automatic_speech_recognition(WAV, model=model, return_timestamps=timestamps)
    expected = pipe(audio(WAV), return_timestamps=timestamps)
    assert result.text == expected["text"]
    assert chunks(result) == expected_chunks(expected) != []


def test_whisper_audio_longer_than_30_s_is_chunked(families: Client, families_config: Path) -> None:
    model, pipe = whisper(families_config)
    long_wav = sample_wav(65.0, rate=16_000)
    result = families.automatic_speech_recognition(long_wav, model=model, return_timestamps=True)
    expected = pipe(audio(long_wav), chunk_length_s=30, return_timestamps=True)
    assert result.text == expected["text"]
    assert chunks(result) == expected_chunks(expected)
    assert max(end or start or 0 for _, (start, end) in chunks(result)) > 30  # past the first window


@pytest.mark.parametrize(
    ("family_name", "parameters", "field"),
    [
        ("whisper", {"return_timestamps": "char"}, "parameters.return_timestamps"),
        ("whisper", {"language": "klingon"}, "parameters.language"),
        ("whisper", {"stop": ["the"]}, "parameters.stop"),
        ("whisper", {"max_new_tokens": 445}, "parameters.max_new_tokens"),
        ("wav2vec2-ctc", {"language": "fr"}, "parameters.language"),
        ("wav2vec2-ctc", {"task": "translate"}, "parameters.task"),
        ("wav2vec2-ctc", {"temperature": 0.5}, "parameters.temperature"),
        ("wav2vec2-ctc", {"return_timestamps": True}, "parameters.return_timestamps"),
    ],
)
def test_speech_options_a_family_lacks_are_unsupported(
    families: Client, families_config: Path, family_name: str, parameters: dict[str, Any], field: str
) -> None:
    model, source = family(families_config, Task.AUTOMATIC_SPEECH_RECOGNITION, family_name)
    with pytest.raises(UnsupportedParameterError) as raised:
        families.automatic_speech_recognition(WAV, model=model, **parameters)
    assert raised.value.field == field
    assert Path(source).name in raised.value.message  # names the model


# image-to-text: BLIP


@pytest.mark.parametrize("prompt", [None, "a photo of"])
def test_blip_captions(families: Client, families_config: Path, prompt: str | None) -> None:
    model, source = family(families_config, Task.IMAGE_TO_TEXT, "blip")
    pipe = ImageToTextPipeline(
        model=AutoModelForImageTextToText.from_pretrained(source),
        tokenizer=AutoTokenizer.from_pretrained(source),
        image_processor=AutoImageProcessor.from_pretrained(source),
    )
    options = {} if prompt is None else {"prompt": prompt}
    result = families.image_to_text(PNG, model=model, max_new_tokens=8, **options)
    expected = pipe(image(PNG), max_new_tokens=8, **options)
    assert result.generated_text == expected[0]["generated_text"] != ""
    assert result.generated_text.startswith(prompt or "")
    assert result.details.generated_tokens <= 8


# object-detection: DETR


def test_detr_detects(families: Client, families_config: Path) -> None:
    model, source = family(families_config, Task.OBJECT_DETECTION, "detr")
    result = families.object_detection(PNG, model=model, threshold=0.0)
    expected = transformers.pipeline("object-detection", model=source)(image(PNG), threshold=0.0)
    assert len(result.root) == len(expected) > 0
    for got, want in zip(result.root, expected, strict=True):
        assert (got.label, got.score) == (want["label"], pytest.approx(want["score"], rel=1e-4))
        assert got.box.model_dump() == want["box"]
    assert len({tuple(item.box.model_dump().values()) for item in result.root}) > 1  # queries differ


# image-text-to-text: Idefics3 (SmolVLM) and Qwen2-VL


def vlm(models_config: Path, name: str) -> tuple[str, transformers.Pipeline]:
    model, source = family(models_config, Task.IMAGE_TEXT_TO_TEXT, name)
    processor = load_image_only_processor(source)  # Qwen2-VL without torchvision
    return model, transformers.pipeline("image-text-to-text", model=source, processor=processor)


PLACEHOLDERS = {"idefics3": "<image>", "qwen2-vl": "<|vision_start|><|image_pad|><|vision_end|>"}


@pytest.mark.parametrize("name", ["idefics3", "qwen2-vl"])
def test_vlm_plain_prompt(families: Client, families_config: Path, name: str) -> None:
    model, pipe = vlm(families_config, name)
    text = f"{PLACEHOLDERS[name]} describe"
    result = families.image_text_to_text([PNG], text, model=model, max_new_tokens=8)
    expected = pipe(images=[image(PNG)], text=text, max_new_tokens=8, return_full_text=False)
    assert result.generated_text == expected[0]["generated_text"] != ""


@pytest.mark.parametrize("name", ["idefics3", "qwen2-vl"])
def test_vlm_chat_with_several_images(families: Client, families_config: Path, name: str) -> None:
    """The chat template puts one placeholder per image part; the processor expands each into
    the image's tokens (Idefics3: tiles + global view; Qwen2-VL: one per merged patch group)."""
    model, pipe = vlm(families_config, name)
    content = [
        {"type": "image", "image": PNG},
        {"type": "text", "text": "compare with"},
        {"type": "image", "image": PNG_SQUARE},
    ]
    request = ImageTextToTextRequest.build(
        [{"role": "user", "content": content}], model=model, parameters={"max_new_tokens": 8}
    )
    result = families.run(request)
    decoded = [{**part, "image": image(part["image"])} if part["type"] == "image" else part for part in content]
    messages = [{"role": "user", "content": decoded}]
    expected = pipe(text=messages, max_new_tokens=8, return_full_text=False)
    assert result.generated_text == expected[0]["generated_text"] != ""
    encoded = pipe.processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=True, return_dict=True)
    assert encoded["input_ids"][0].count(pipe.model.config.image_token_id) > 2


@pytest.mark.parametrize("name", ["idefics3", "qwen2-vl"])
def test_vlm_requests_batched_together_answer_as_alone(
    families: Client, stack: tuple[LocalStack, int], families_config: Path, name: str
) -> None:
    """Prompts of different lengths and image counts share one generate(): token inputs are
    left-padded, image inputs joined (Idefics3's per-request tile slots padded with zero images)."""
    model, pipe = vlm(families_config, name)
    placeholder = PLACEHOLDERS[name]
    prompts = [([PNG], f"{placeholder} describe"), ([PNG_SQUARE, PNG], f"{placeholder}{placeholder} compare them")]
    prompts += [([sample_png(16, 64, seed=2)], f"{placeholder} what is this, in a few words")]
    before = batch_stats(stack[1]).get("image-text-to-text", (0.0, 0.0))
    jobs = [
        families.submit(ImageTextToTextRequest.build({"images": images, "text": text}, model, {"max_new_tokens": 6}))
        for images, text in prompts
    ]
    results = [job.result(timeout=120).generated_text for job in jobs]
    expected = [
        pipe(images=[image(data) for data in images], text=text, max_new_tokens=6, return_full_text=False)
        for images, text in prompts
    ]
    assert results == [output[0]["generated_text"] for output in expected]
    after = batch_stats(stack[1])["image-text-to-text"]
    batches, requests = after[0] - before[0], after[1] - before[1]
    assert requests == len(prompts) and batches < requests, "the requests shared generate() calls"


# text-to-speech: SpeechT5 + HiFi-GAN


def test_speecht5_speaks(families: Client, families_config: Path) -> None:
    model, source = family(families_config, Task.TEXT_TO_SPEECH, "speecht5")
    result = families.text_to_speech("hello world", model=model, seed=5)
    pipe = transformers.pipeline(
        "text-to-speech", model=source, vocoder=SpeechT5HifiGan.from_pretrained(Path(source) / "vocoder")
    )
    speaker = torch.from_numpy(np.load(Path(source) / "speaker_embeddings.npy"))
    transformers.set_seed(5)
    expected = pipe("hello world", forward_params={"speaker_embeddings": speaker})
    samples, rate = soundfile.read(io.BytesIO(result.audio.data or b""), dtype="float32")
    want = np.asarray(expected["audio"]).reshape(-1)
    assert rate == expected["sampling_rate"] == 16_000 and samples.shape == want.shape
    assert np.abs(want).max() > 0.01  # audible, not rounded to silence by 16-bit PCM
    np.testing.assert_allclose(samples, np.clip(want, -1, 1), atol=2 / 32768)
