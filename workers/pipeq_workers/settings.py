"""Worker settings: ``PIPEQ_*`` environment variables, on top of the client's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field

from pipeq_client.settings import ClientSettings

__all__ = ["WorkerSettings"]


class WorkerSettings(ClientSettings):
    """Built once at the entry point (CLI), never read at import time."""

    models_config: Path | None = Field(
        None, description="JSON models config (task -> default + allowed models). None: the Hub defaults."
    )
    device: Literal["cpu", "cuda", "auto"] = Field("cpu", description="auto: cuda when available.")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field("auto", description="Model weights dtype.")
    max_attempts: int = Field(3, ge=1, description="Deliveries of one job before it is dead-lettered.")
    max_task_seconds: float = Field(
        600.0,
        gt=0,
        description="Time limit of any job: typed time_limit error (generation: finish_reason time_limit). "
        "Shutdown grace periods are sized above it.",
    )
    task_seconds: dict[str, Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict, description='Per-task time limits, e.g. {"automatic-speech-recognition": 120}.'
    )
    max_image_pixels: int = Field(
        40_000_000, ge=1, description="Decoded pixels of all images of one request (decompression bombs)."
    )
    max_speech_tokens: int = Field(
        2048, ge=1, description="Text-to-speech input tokens, for models that declare no limit (memory grows as n²)."
    )
    max_audio_seconds: float = Field(600.0, gt=0, description="Longer audio is refused.")
    torch_threads: int | None = Field(None, ge=1, description="torch.set_num_threads; None: torch's default.")
    max_batch_size: int = Field(
        1, ge=1, le=256, description="Requests per model call (1: no batching; >1: threads pool of that size)."
    )
    batch_sizes: dict[str, int] = Field(
        default_factory=dict, description='Per-task batch size overrides, e.g. {"text-generation": 1}.'
    )
    model_process: Literal["auto", "on", "off"] = Field(
        "auto",
        description="Run the models in a process of their own, beside the Celery worker process "
        "(its Python no longer shares the model's GIL). auto: on when the worker batches.",
    )
    max_wait_ms: float = Field(5.0, ge=0, le=1000, description="Longest wait for batch-mates while more are coming.")
    continuous_batching: bool = Field(
        True,
        description="Batched text-generation on decoder-only models: requests join a running batch "
        "between decoding steps and leave it when they end (false: a batch runs to its end together).",
    )
    health_file: Path | None = Field(None, description="Heartbeat JSON file (probes, `pipeq health`).")
    health_dir: Path | None = Field(
        None,
        description="Without health_file: the directory of per-worker heartbeats `pipeq health` reads; "
        "None: $XDG_RUNTIME_DIR/pipeq or <tmp>/pipeq-<uid>.",
    )
    health_port: int | None = Field(
        None, ge=0, le=65535, description="HTTP port for /livez /readyz /startupz /metrics; None: off."
    )
    heartbeat_interval_s: float = Field(5.0, gt=0, description="How often the heartbeat is written.")
    lease_ttl_s: float = Field(
        15.0,
        gt=0,
        description="A dead worker's in-flight jobs return to the queue this long after it stopped renewing.",
    )
    fetch_wait_s: float = Field(
        1.0, gt=0, le=60, description="Longest single wait (BLMOVE) for a message while the worker is idle."
    )
    lease_renew_s: float = Field(
        5.0, gt=0, description="How often a worker renews its lease and sweeps lapsed ones (well below lease_ttl_s)."
    )

    def largest_batch(self) -> int:
        """The largest batch any task may form (the threads a batching worker needs)."""
        return max([self.max_batch_size, *self.batch_sizes.values()])

    def uses_model_process(self, pool: str) -> bool:
        """Whether models run in their own process. A prefork child keeps them in-process: each
        child is already its own process, and batching needs the threads pool anyway."""
        if self.model_process == "auto":
            return self.largest_batch() > 1 and pool == "threads"
        return self.model_process == "on" and pool != "prefork"
