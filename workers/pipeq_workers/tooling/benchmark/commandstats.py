"""Redis ``INFO commandstats`` deltas: which commands a measured window sent, and how many."""

from __future__ import annotations

import redis

__all__ = ["command_calls", "delta"]

# The bench's own snapshots; not part of what pipeq sends.
_OWN = {"info"}


def command_calls(client: redis.Redis) -> dict[str, int]:
    """Calls so far per command (``cmdstat_xadd`` -> ``xadd``), as the server counts them."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Calls made between two snapshots, commands with none left out."""
    changed = {name: calls - before.get(name, 0) for name, calls in after.items() if name not in _OWN}
    return {name: calls for name, calls in sorted(changed.items()) if calls > 0}
