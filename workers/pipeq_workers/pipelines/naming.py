"""How error messages name a model: its Hub id, or the directory it was loaded from."""

from __future__ import annotations

import re
from pathlib import PurePath
from typing import Any

__all__ = ["model_label"]

# A snapshot in a Hub cache: .../models--<org>--<name>/snapshots/<revision>
_HUB_SNAPSHOT = re.compile(r"models--(?P<org>[^/\\]+?)--(?P<name>[^/\\]+)[/\\]snapshots[/\\]")


def model_label(model: Any) -> str:
    """The Hub id (also for a snapshot in a local Hub cache) or the model directory's name.

    Only the directory's name: a client should learn which model refused, not the
    worker's file layout."""
    source = str(getattr(model, "name_or_path", "") or "")
    match = _HUB_SNAPSHOT.search(source)
    if match:
        return f"{match['org']}/{match['name']}"
    path = PurePath(source)
    return path.name if path.is_absolute() else source
