"""Text to speech: VITS/MMS load as transformers builds them; SpeechT5 needs two more things.

SpeechT5 predicts a spectrogram: transformers' pipeline turns it into a waveform with a HiFi-GAN
vocoder, which it fetches from the Hub unless one is given, and SpeechT5 refuses to speak
without a speaker embedding (an x-vector), which the pipeline leaves to the caller. A SpeechT5
model directory therefore carries both: the vocoder in ``vocoder/`` and the default voice in
``speaker_embeddings.npy`` (shape ``(1, speaker_embedding_dim)``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import AutoConfig, Pipeline, SpeechT5HifiGan, TextToAudioPipeline, pipeline

from pipeq_workers.errors import WorkerConfigError

__all__ = ["SPEAKER_EMBEDDINGS_FILE", "VOCODER_DIR", "SpeakerTextToSpeechPipeline", "build_text_to_speech"]

VOCODER_DIR = "vocoder"
SPEAKER_EMBEDDINGS_FILE = "speaker_embeddings.npy"


class SpeakerTextToSpeechPipeline(TextToAudioPipeline):
    """transformers' text-to-audio pipeline with a default speaker embedding in ``forward_params``."""

    def __init__(self, *args: Any, speaker_embeddings: torch.Tensor, **kwargs: Any) -> None:
        # Set first: Pipeline.__init__ already calls _sanitize_parameters.
        self.speaker_embeddings = speaker_embeddings
        super().__init__(*args, **kwargs)

    def _sanitize_parameters(
        self,
        preprocess_params: dict[str, Any] | None = None,
        forward_params: dict[str, Any] | None = None,
        generate_kwargs: dict[str, Any] | None = None,
        processor_kwargs: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        forward = {"speaker_embeddings": self.speaker_embeddings, **(forward_params or {})}
        sanitized: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] = super()._sanitize_parameters(
            preprocess_params, forward, generate_kwargs, processor_kwargs
        )
        return sanitized


def _speecht5_parts(source: str, dtype: torch.dtype) -> tuple[SpeechT5HifiGan, torch.Tensor]:
    directory = Path(source)
    vocoder_dir, speaker_file = directory / VOCODER_DIR, directory / SPEAKER_EMBEDDINGS_FILE
    if not vocoder_dir.is_dir() or not speaker_file.is_file():
        raise WorkerConfigError(
            f"SpeechT5 model {source}: needs a local directory with a HiFi-GAN vocoder in {VOCODER_DIR}/ "
            f"and a speaker embedding in {SPEAKER_EMBEDDINGS_FILE}"
        )
    vocoder = SpeechT5HifiGan.from_pretrained(vocoder_dir, dtype=dtype)
    speaker = torch.from_numpy(np.load(speaker_file)).to(dtype).reshape(1, -1)
    return vocoder, speaker


def build_text_to_speech(source: str, device: str, dtype: torch.dtype) -> Pipeline:
    """The text-to-speech pipeline for ``source``: SpeechT5 with its local vocoder and voice."""
    options: dict[str, Any] = {"model": source, "device": device, "dtype": dtype, "trust_remote_code": False}
    if AutoConfig.from_pretrained(source).model_type != "speecht5":
        return pipeline("text-to-speech", **options)
    vocoder, speaker = _speecht5_parts(source, dtype)
    return pipeline(
        "text-to-speech",
        vocoder=vocoder.to(device),
        speaker_embeddings=speaker,
        pipeline_class=SpeakerTextToSpeechPipeline,
        **options,
    )
