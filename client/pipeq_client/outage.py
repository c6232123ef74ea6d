"""Riding out a Redis outage: typed errors with a masked URL, and reconnect backoff.

Both clients use these, so a Redis that is briefly away costs a retry, not a raw
``redis``/``kombu`` exception, and a Redis that stays away gives one typed, readable error.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import redis
from kombu.exceptions import OperationalError

from pipeq_client.errors import BrokerUnavailableError

__all__ = ["CONNECTION_ERRORS", "Backoff", "broker_unavailable", "mask_url", "pause_or_raise"]

# What a lost or refused connection raises: redis-py directly, kombu (Celery's producer) wrapped.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (redis.ConnectionError, redis.TimeoutError, OperationalError)


def mask_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (safe to print and log)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


def broker_unavailable(url: str, error: BaseException, what: str) -> BrokerUnavailableError:
    """One readable line: what failed, where (masked), and the underlying error."""
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return BrokerUnavailableError(f"{what}: Redis at {mask_url(url)} is unavailable ({reason})")


class Backoff:
    """Reconnect delays: 50 ms doubling to 1 s, never past the caller's deadline."""

    def __init__(self, first_s: float = 0.05, longest_s: float = 1.0) -> None:
        self.first_s = first_s
        self.longest_s = longest_s
        self.next_s = first_s

    def delay(self, ends_at: float) -> float | None:
        """Seconds to wait before the next try, or None once the deadline leaves no time."""
        remaining = ends_at - time.monotonic()
        if remaining <= 0:
            return None
        delay, self.next_s = min(self.next_s, remaining), min(self.next_s * 2, self.longest_s)
        return delay

    def reset(self) -> None:
        self.next_s = self.first_s


def pause_or_raise(backoff: Backoff, ends_at: float, url: str, error: BaseException, what: str) -> float:
    """The pause before reconnecting; BrokerUnavailableError once the deadline leaves no time."""
    delay = backoff.delay(ends_at)
    if delay is None:
        raise broker_unavailable(url, error, what) from error
    return delay
