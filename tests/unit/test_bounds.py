"""The worker's bounds, without Redis or workers: seeds over the whole range, when generation
samples, decoding limits checked from headers, audio decoded block by block exactly as in one
piece, the shortest clip of a convolutional encoder, and the model thread's deadlines."""

from __future__ import annotations

import io
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile
import soxr
import torch
from PIL import Image

from pipeq_client.errors import InvalidInputError, PayloadTooLargeError
from pipeq_client.types import GenerationParameters
from pipeq_workers.generation.plan import will_sample
from pipeq_workers.generation.sampling import draw_seed, seed_everything
from pipeq_workers.inputs.audio_limits import min_audio_samples
from pipeq_workers.inputs.media import PixelBudget, decode_audio, decode_image, sniff_image_format
from pipeq_workers.runtime.batching import DeadlinePassedError, MicroBatcher
from tests.request_strategies import wav_claiming_rate

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("seed", [0, 2**32 - 1, 2**32, 2**62 + 5, 2**63 - 1])
def test_every_seed_in_range_seeds_and_reproduces(seed: int) -> None:
    seed_everything(seed)
    first = (torch.rand(3), np.random.rand(3))
    seed_everything(seed)
    again = (torch.rand(3), np.random.rand(3))
    assert torch.equal(first[0], again[0]) and np.array_equal(first[1], again[1])
    assert 0 <= draw_seed() <= 2**63 - 1


GREEDY = SimpleNamespace(do_sample=False)
SAMPLING = SimpleNamespace(do_sample=True)


@pytest.mark.parametrize(
    ("parameters", "config", "samples"),
    [
        ({}, GREEDY, False),
        ({}, SAMPLING, True),
        ({"num_return_sequences": 2}, GREEDY, True),
        ({"temperature": 0}, SAMPLING, False),
        ({"do_sample": False}, SAMPLING, False),
        ({"top_p": 0.9}, GREEDY, True),
    ],
)
def test_when_generation_samples(parameters: dict[str, object], config: object, samples: bool) -> None:
    assert will_sample(GenerationParameters(**parameters), config) is samples


def test_shortest_clip_of_a_convolutional_encoder() -> None:
    # Two output frames: (2-1)*4+8 = 12 after the first layer, (12-1)*5+10 = 65 samples in.
    assert min_audio_samples(SimpleNamespace(conv_kernel=[10, 8], conv_stride=[5, 4])) == 65
    wav2vec2_base = SimpleNamespace(conv_kernel=[10, 3, 3, 3, 3, 2, 2], conv_stride=[5, 2, 2, 2, 2, 2, 2])
    assert min_audio_samples(wav2vec2_base) == 720
    assert min_audio_samples(SimpleNamespace()) == 1, "models that pad (Whisper, AST) take any length"


def _png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size).save(buffer, format="PNG")
    return buffer.getvalue()


def test_images_are_sniffed_and_budgeted_before_decoding() -> None:
    assert sniff_image_format(_png((2, 2))) == "PNG" and sniff_image_format(b"II*\x00tiff") is None
    budget = PixelBudget(100)
    decode_image(_png((8, 8)), "inputs.images.0", budget)
    with pytest.raises(PayloadTooLargeError, match=r"inputs.images.1: .*64 already taken"):
        decode_image(_png((8, 8)), "inputs.images.1", budget)
    with pytest.raises(InvalidInputError, match="accepted format"):
        decode_image(b"%!PS-Adobe-3.0 EPSF-3.0", "inputs", PixelBudget(100))


def _wav(samples: np.ndarray, rate: int) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format="WAV", subtype="FLOAT")
    return buffer.getvalue()


def test_audio_is_decoded_block_by_block_exactly_as_in_one_piece() -> None:
    samples = (np.random.default_rng(0).random(200_000).astype(np.float32) - 0.5) * 0.5
    decoded = decode_audio(_wav(samples, 22_050), "inputs", 16_000, 600)
    assert np.array_equal(decoded, soxr.resample(samples, 22_050, 16_000).astype(np.float32))


def test_audio_limits_come_from_the_header() -> None:
    with pytest.raises(InvalidInputError, match="sampling rate 1 Hz"):
        decode_audio(wav_claiming_rate(1, 599), "inputs", 16_000, 600)
    with pytest.raises(PayloadTooLargeError, match="over the limit of 2s"):
        decode_audio(_wav(np.zeros(48_000, dtype=np.float32), 16_000), "inputs", 16_000, 2)
    with pytest.raises(InvalidInputError, match="shortest input of 65 samples"):
        decode_audio(_wav(np.zeros(10, dtype=np.float32), 16_000), "inputs", 16_000, 600, min_samples=65)


def test_a_caller_gives_up_at_its_deadline_and_queued_work_never_runs() -> None:
    batcher = MicroBatcher(max_wait_ms=0)
    entered, release, ran = threading.Event(), threading.Event(), []

    def slow(items: list[str]) -> list[str]:
        entered.set()
        release.wait(10)
        ran.extend(items)
        return items

    blocker = threading.Thread(target=batcher.call, args=("slow", slow, "first", 1))
    blocker.start()
    assert entered.wait(10), "the model thread is inside `slow`"
    with pytest.raises(DeadlinePassedError):
        batcher.call("other", slow, "queued", 1, deadline=time.monotonic() + 0.05)
    release.set()
    blocker.join(10)
    assert batcher.call("other", lambda items: items, "next", 1) == "next"
    assert ran == ["first"], "the withdrawn call never ran"
