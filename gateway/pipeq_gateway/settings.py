"""Gateway settings: arguments or ``PIPEQ_GATEWAY_*`` environment variables (pydantic-settings).

Redis and payload limits come from the client's own ``PIPEQ_*`` settings; the models config is
the workers' ``PIPEQ_MODELS_CONFIG`` (the gateway reads names and tasks from it, nothing else).
"""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Annotated

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from pipeq_client.protocol import Queue

__all__ = ["GatewaySettings", "is_loopback"]

CommaList = Annotated[list[str], NoDecode]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class GatewaySettings(BaseSettings):
    """Everything the gateway decides by itself; the client's settings do the rest."""

    model_config = SettingsConfigDict(env_prefix="PIPEQ_GATEWAY_", extra="ignore", populate_by_name=True)

    host: str = Field("127.0.0.1", description="Bind address.")
    port: int = Field(8000, ge=0, le=65535, description="Bind port (0: any free port).")
    api_keys: CommaList = Field(default_factory=list, description="Accepted bearer keys, comma-separated.")
    api_keys_file: Path | None = Field(None, description="File with one accepted key per line (# comments).")
    no_auth: bool = Field(False, description="Serve without keys on a non-loopback address (behind your own proxy).")
    models_config: Path | None = Field(
        None,
        validation_alias=AliasChoices("PIPEQ_GATEWAY_MODELS_CONFIG", "PIPEQ_MODELS_CONFIG"),
        description="The workers' models config: names and tasks for routing and /v1/models.",
    )
    request_timeout_s: float = Field(300.0, gt=0, description="Longest wait for a result or a whole stream.")
    max_body_bytes: int = Field(48 * 1024 * 1024, ge=1024, description="Largest request body (base64 included).")
    max_queue_depth: int | None = Field(
        1000, ge=0, description="Answer 429 when a queue holds more waiting jobs than this (None: never)."
    )
    queue_depths: dict[Queue, int] = Field(default_factory=dict, description="Per-queue limits, JSON.")
    queue_depth_ttl_s: float = Field(
        0.05, ge=0, description="Reuse a queue's depth this long (0: read it for every request)."
    )
    retry_after_s: int = Field(2, ge=1, description="Retry-After of a 429.")
    cors_origins: CommaList = Field(default_factory=list, description="Origins allowed by CORS (off when empty).")

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("queue_depths", mode="before")
    @classmethod
    def _json(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value

    def keys(self) -> frozenset[str]:
        """Every accepted key: the list and the file together."""
        keys = set(self.api_keys)
        if self.api_keys_file is not None:
            lines = self.api_keys_file.read_text(encoding="utf-8").splitlines()
            keys.update(line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#"))
        return frozenset(keys)

    def depth_limit(self, queue: Queue) -> int | None:
        return self.queue_depths.get(queue, self.max_queue_depth)

    def check_auth_posture(self) -> None:
        """Refuses to serve without keys on an address other machines can reach."""
        if not self.keys() and not self.no_auth and not is_loopback(self.host):
            raise ValueError(
                f"no API keys for {self.host}: set PIPEQ_GATEWAY_API_KEYS / PIPEQ_GATEWAY_API_KEYS_FILE, "
                "or pass --no-auth behind your own authenticating proxy"
            )
