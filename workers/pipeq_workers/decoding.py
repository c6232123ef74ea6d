"""Decodes binary inputs: images by sniffed format, audio with soundfile + soxr (no ffmpeg)."""

from __future__ import annotations

import io
import warnings

import numpy as np
import soundfile
import soxr
from PIL import Image

from pipeq_client.errors import InvalidInputError, PayloadTooLargeError

__all__ = ["ALLOWED_IMAGE_FORMATS", "decode_audio", "decode_image", "encode_wav"]

# Never trust a filename or a declared type: the format is sniffed from the bytes.
ALLOWED_IMAGE_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "GIF"})


def decode_image(data: bytes, field: str, max_pixels: int) -> Image.Image:
    """An RGB image, or InvalidInputError / PayloadTooLargeError naming ``field``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image_format = image.format
            if image.width * image.height > max_pixels:
                raise PayloadTooLargeError(
                    f"{field}: image of {image.width}x{image.height} pixels is over the limit of {max_pixels}",
                    field=field,
                )
            image.load()
    except PayloadTooLargeError:
        raise
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise InvalidInputError(f"{field}: not a decodable image ({error})", field=field) from None
    if image_format not in ALLOWED_IMAGE_FORMATS:
        allowed = ", ".join(sorted(ALLOWED_IMAGE_FORMATS))
        raise InvalidInputError(f"{field}: image format {image_format} is not accepted ({allowed})", field=field)
    return image.convert("RGB")


def _to_mono(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=1) if samples.ndim == 2 else samples


def decode_audio(
    data: bytes, field: str, target_rate: int, max_seconds: float, pcm_rate: int | None = None
) -> np.ndarray:
    """Mono float32 samples at ``target_rate``. ``pcm_rate`` set: ``data`` is raw float32 PCM."""
    if pcm_rate is not None:
        samples, rate = np.frombuffer(data, dtype="<f4").astype(np.float32), pcm_rate
    else:
        try:
            samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=False)
        except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError) as error:
            raise InvalidInputError(f"{field}: not decodable audio (WAV/FLAC/OGG) ({error})", field=field) from None
    samples = _to_mono(samples)
    if samples.size == 0:
        raise InvalidInputError(f"{field}: audio has no samples", field=field)
    if not np.isfinite(samples).all():
        raise InvalidInputError(f"{field}: audio contains NaN or infinite samples", field=field)
    if samples.size / rate > max_seconds:
        raise PayloadTooLargeError(
            f"{field}: {samples.size / rate:.1f}s of audio is over the limit of {max_seconds:g}s", field=field
        )
    if rate != target_rate:
        samples = soxr.resample(samples, rate, target_rate)
    return np.ascontiguousarray(samples, dtype=np.float32)


def encode_wav(samples: np.ndarray, sampling_rate: int) -> bytes:
    """16-bit PCM WAV: what every player and browser plays."""
    buffer = io.BytesIO()
    soundfile.write(
        buffer, np.asarray(samples, dtype=np.float32).reshape(-1), sampling_rate, format="WAV", subtype="PCM_16"
    )
    return buffer.getvalue()
