"""Client settings: arguments or ``PIPEQ_*`` environment variables (pydantic-settings)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["ClientSettings"]


class ClientSettings(BaseSettings):
    """Everything a producer needs; workers extend it with their own settings."""

    model_config = SettingsConfigDict(env_prefix="PIPEQ_", extra="ignore")

    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Broker and event-stream Redis.")
    result_ttl_s: int = Field(3600, ge=1, description="How long a job's events (and result) are kept.")
    inline_limit_bytes: int = Field(
        256 * 1024, ge=0, description="Binary inputs above this go by claim check (a Redis key) instead of inline."
    )
    max_payload_bytes: int = Field(32 * 1024 * 1024, ge=1, description="Largest binary input accepted.")
    blob_ttl_s: int = Field(3600, ge=1, description="TTL of claim-checked payloads.")
    default_timeout_s: float = Field(300.0, gt=0, description="Default wait for Job.result().")
    require_worker: bool = Field(
        False, description="submit() raises NoWorkerError at once when no live worker consumes the queue."
    )
    visibility_timeout_s: int = Field(
        7200, ge=1, description="Redis transport visibility timeout; every app on the broker must agree."
    )
