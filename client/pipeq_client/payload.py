"""Builds the JSON wire payload of a request: size limits and claim checks for binary inputs.

Pure functions: the sync and async clients both use them and only differ in how they
write the claim-checked blobs to Redis.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from pipeq_client.errors import PayloadTooLargeError
from pipeq_client.protocol import blob_key
from pipeq_client.settings import ClientSettings
from pipeq_client.types.common import TaskRequest

__all__ = ["WirePayload", "build_payload"]


@dataclass
class WirePayload:
    """The JSON message body, plus the blobs to store under their claim-check keys first."""

    body: dict[str, Any]
    uploads: dict[str, bytes] = field(default_factory=dict)


def _set_path(body: dict[str, Any], path: str, value: Any) -> None:
    node: Any = body
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


def build_payload(request: TaskRequest[Any], settings: ClientSettings) -> WirePayload:
    """Checks every binary input against ``max_payload_bytes`` and claim-checks the large ones."""
    payload = WirePayload(body=request.model_dump(mode="json", exclude_none=True))
    for path, blob in request.blobs():
        if blob.size > settings.max_payload_bytes:
            raise PayloadTooLargeError(
                f"{path}: {blob.size} bytes is over the limit of {settings.max_payload_bytes} bytes", field=path
            )
        if blob.data is None or blob.size <= settings.inline_limit_bytes:
            continue
        key = blob_key(uuid.uuid4().hex)
        payload.uploads[key] = blob.data
        replaced = blob.model_dump(mode="json", exclude_none=True, exclude={"data"})
        _set_path(payload.body, path, {**replaced, "ref": key})
    return payload
