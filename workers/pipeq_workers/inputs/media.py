"""Decodes binary inputs within bounds: images by sniffed format, audio with soundfile + soxr
(no ffmpeg).

Sizes are checked from headers before anything is decoded: an image's pixels against the
request's budget, an audio file's rate and its length after resampling. A few bytes cannot
claim gigabytes of memory or minutes of compute.
"""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import soundfile
import soxr
from PIL import Image

from pipeq_client.errors import InvalidInputError, PayloadTooLargeError
from pipeq_client.types.common import MAX_SAMPLING_RATE, MIN_SAMPLING_RATE
from pipeq_workers.runtime.messages import clean_message

__all__ = ["ALLOWED_IMAGE_FORMATS", "PixelBudget", "decode_audio", "decode_image", "encode_wav", "sniff_image_format"]

# Never trust a filename or a declared type: the format is sniffed from the first bytes, and
# only its decoder is tried (Pillow would otherwise try every plugin: TIFF, EPS via Ghostscript...).
ALLOWED_IMAGE_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF"})
_SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "PNG"), (b"\xff\xd8\xff", "JPEG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"))
_AUDIO_BLOCK = 1 << 16  # frames decoded at a time: memory follows the output, not the file
_MAX_CHANNELS = 64
_SHOWN_ERROR = 200


class PixelBudget:
    """Decoded pixels left for the images of one request (``PIPEQ_MAX_IMAGE_PIXELS``)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def take(self, width: int, height: int, field: str) -> None:
        pixels = width * height
        if self.used + pixels > self.limit:
            earlier = f" ({self.used} already taken by earlier images)" if self.used else ""
            raise PayloadTooLargeError(
                f"{field}: image of {width}x{height} pixels is over the limit of {self.limit} pixels per "
                f"request{earlier}",
                field=field,
            )
        self.used += pixels


def sniff_image_format(data: bytes) -> str | None:
    """PNG, JPEG, WEBP or GIF from the magic bytes; None for anything else."""
    for magic, image_format in _SIGNATURES:
        if data.startswith(magic):
            return image_format
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def decode_image(data: bytes, field: str, budget: PixelBudget) -> Image.Image:
    """An RGB image, or InvalidInputError / PayloadTooLargeError naming ``field``."""
    image_format = sniff_image_format(data)
    if image_format is None:
        allowed = ", ".join(sorted(ALLOWED_IMAGE_FORMATS))
        raise InvalidInputError(
            f"{field}: not an image in an accepted format ({allowed}), by its first bytes", field=field
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[image_format])
            budget.take(image.width, image.height, field)  # from the header, before decoding
            image.load()
            return image.convert("RGB")
    except PayloadTooLargeError:
        raise  # the budget's own answer (a ValueError, like decoders' errors)
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise PayloadTooLargeError(f"{field}: {clean_message(str(error), _SHOWN_ERROR)}", field=field) from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        problem = clean_message(str(error), _SHOWN_ERROR)
        raise InvalidInputError(f"{field}: not a decodable image ({image_format}: {problem})", field=field) from None


def _check_rate(rate: int, field: str) -> None:
    if not MIN_SAMPLING_RATE <= rate <= MAX_SAMPLING_RATE:
        raise InvalidInputError(
            f"{field}: sampling rate {rate} Hz is outside {MIN_SAMPLING_RATE}..{MAX_SAMPLING_RATE} Hz", field=field
        )


def _too_long(seconds: float, max_seconds: float, field: str) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"{field}: {seconds:.1f}s of audio is over the limit of {max_seconds:g}s", field=field)


def _check_length(frames: int, rate: int, target_rate: int, max_seconds: float, field: str) -> None:
    """Refuses audio longer than ``max_seconds``, counted in samples at the model's rate."""
    if math.ceil(frames * target_rate / rate) > max_seconds * target_rate:
        raise _too_long(frames / rate, max_seconds, field)


def _finite(samples: np.ndarray, field: str) -> np.ndarray:
    if not np.isfinite(samples).all():
        raise InvalidInputError(f"{field}: audio contains NaN or infinite samples", field=field)
    return samples


def _open_sound(data: bytes, field: str) -> soundfile.SoundFile:
    try:
        return soundfile.SoundFile(io.BytesIO(data))
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
        problem = clean_message(str(error), _SHOWN_ERROR)
        raise InvalidInputError(f"{field}: not decodable audio (WAV/FLAC/OGG) ({problem})", field=field) from None


def _decode_file(data: bytes, field: str, target_rate: int, max_seconds: float) -> np.ndarray:
    """Block by block: downmixed and resampled as it is read, so memory follows the output."""
    with _open_sound(data, field) as sound:
        rate = int(sound.samplerate)
        _check_rate(rate, field)
        if not 1 <= sound.channels <= _MAX_CHANNELS:
            raise InvalidInputError(f"{field}: {sound.channels} audio channels (1..{_MAX_CHANNELS})", field=field)
        _check_length(max(int(sound.frames), 0), rate, target_rate, max_seconds, field)
        resampler = soxr.ResampleStream(rate, target_rate, 1, dtype="float32") if rate != target_rate else None
        limit = max_seconds * target_rate
        parts, total = [], 0
        try:
            for block in sound.blocks(blocksize=_AUDIO_BLOCK, dtype="float32", always_2d=True):
                mono = _finite(block.mean(axis=1, dtype=np.float32), field)
                part = mono if resampler is None else resampler.resample_chunk(mono)
                total += part.size
                if total > limit:  # a header that understated its length
                    raise _too_long(total / target_rate, max_seconds, field)
                parts.append(part)
        except (soundfile.LibsndfileError, RuntimeError) as error:
            problem = clean_message(str(error), _SHOWN_ERROR)
            raise InvalidInputError(f"{field}: audio could not be decoded ({problem})", field=field) from None
        if resampler is not None:
            parts.append(resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def _decode_pcm(data: bytes, field: str, rate: int, target_rate: int, max_seconds: float) -> np.ndarray:
    _check_rate(rate, field)
    samples = _finite(np.frombuffer(data, dtype="<f4").astype(np.float32), field)
    _check_length(samples.size, rate, target_rate, max_seconds, field)
    return samples if rate == target_rate else soxr.resample(samples, rate, target_rate)


def decode_audio(
    data: bytes,
    field: str,
    target_rate: int,
    max_seconds: float,
    pcm_rate: int | None = None,
    min_samples: int = 1,
) -> np.ndarray:
    """Mono float32 samples at ``target_rate``, at least ``min_samples`` of them (the model's
    shortest input). ``pcm_rate`` set: ``data`` is raw float32 PCM at that rate."""
    if pcm_rate is not None:
        samples = _decode_pcm(data, field, pcm_rate, target_rate, max_seconds)
    else:
        samples = _decode_file(data, field, target_rate, max_seconds)
    if samples.size == 0:
        raise InvalidInputError(f"{field}: audio has no samples", field=field)
    if samples.size < min_samples:
        raise InvalidInputError(
            f"{field}: {samples.size} samples ({1000 * samples.size / target_rate:.1f} ms at {target_rate} Hz) is "
            f"shorter than the model's shortest input of {min_samples} samples "
            f"({1000 * min_samples / target_rate:.1f} ms)",
            field=field,
        )
    return np.ascontiguousarray(samples, dtype=np.float32)


def encode_wav(samples: np.ndarray, sampling_rate: int) -> bytes:
    """16-bit PCM WAV: what every player and browser plays."""
    buffer = io.BytesIO()
    soundfile.write(
        buffer, np.asarray(samples, dtype=np.float32).reshape(-1), sampling_rate, format="WAV", subtype="PCM_16"
    )
    return buffer.getvalue()
