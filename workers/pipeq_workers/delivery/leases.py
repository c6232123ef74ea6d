"""Leases: a consumer is alive while its lease key exists; a lapsed lease returns its messages.

Each consuming channel registers itself in ``CONSUMERS_KEY`` (id -> record with the lists it
takes from) and holds ``lease_key(id)`` with a TTL, renewed by a thread every
``interval_s`` -- a thread, because under the solo pool a long task blocks Celery's event
loop, and a live worker must never lose its lease because it is busy. The same thread
sweeps: any registered consumer whose lease has lapsed (SIGKILL, OOM, node loss) gets its
in-flight messages moved back to the head of their queues, atomically, by one Lua script.
Recovery takes at most ``ttl_s + interval_s`` and does not depend on the longest task.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import redis

from pipeq_client.protocol import CONSUMERS_KEY, inflight_key, lease_key

__all__ = ["ConsumerRecord", "LeaseKeeper", "new_consumer_id", "restore_if_lapsed", "sweep_lapsed"]

log = logging.getLogger(__name__)

# KEYS: the lease, the registry, then (in-flight list, source list) pairs; ARGV: the consumer id.
# Checked and moved in one script, so a consumer that renews in between keeps its messages.
# LMOVE LEFT -> RIGHT: the oldest in-flight message ends up next in line at the source.
_RESTORE_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local moved = 0
for i = 3, #KEYS, 2 do
  while redis.call('LMOVE', KEYS[i], KEYS[i + 1], 'LEFT', 'RIGHT') do
    moved = moved + 1
  end
end
redis.call('HDEL', KEYS[2], ARGV[1])
return moved
"""


def new_consumer_id() -> str:
    """Unique per channel: host and pid say who it was, the suffix tells restarts apart."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@dataclass
class ConsumerRecord:
    """What the registry holds per consumer: enough for anyone to restore its messages."""

    queues: list[str]
    sources: list[str]
    host: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)
    started_at: float = field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: bytes | str) -> ConsumerRecord:
        data = json.loads(text)
        return cls(
            queues=[str(queue) for queue in data.get("queues", [])],
            sources=[str(source) for source in data.get("sources", [])],
            host=str(data.get("host", "")),
            pid=int(data.get("pid", 0)),
            started_at=float(data.get("started_at", 0.0)),
        )


def restore_if_lapsed(client: redis.Redis, consumer_id: str, sources: Iterable[str]) -> int:
    """Moves the consumer's in-flight messages back to their queues if its lease is gone.
    Returns how many moved, or -1 if the consumer is alive."""
    keys = [lease_key(consumer_id), CONSUMERS_KEY]
    for source in sources:
        keys += [inflight_key(consumer_id, source), source]
    return int(client.eval(_RESTORE_SCRIPT, len(keys), *keys, consumer_id))


def sweep_lapsed(client: redis.Redis, skip: str | None = None) -> int:
    """Restores the messages of every registered consumer whose lease lapsed; returns how many."""
    registry = client.hgetall(CONSUMERS_KEY)
    candidates = [(_text(key), value) for key, value in registry.items() if _text(key) != skip]
    if not candidates:
        return 0
    with client.pipeline(transaction=False) as pipe:
        for consumer_id, _ in candidates:
            pipe.exists(lease_key(consumer_id))
        alive = pipe.execute()
    restored = 0
    for (consumer_id, raw_record), lives in zip(candidates, alive, strict=True):
        if not lives:
            restored += max(0, restore_if_lapsed(client, consumer_id, _sources_of(raw_record)))
    if restored:
        log.warning("restored %d in-flight message(s) of consumers whose lease lapsed", restored)
    return restored


def _sources_of(raw_record: bytes | str) -> list[str]:
    try:
        return ConsumerRecord.from_json(raw_record).sources
    except (ValueError, TypeError):
        return []  # a corrupt record: the script still unregisters it


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class LeaseKeeper:
    """Registers one consumer, renews its lease and sweeps lapsed ones, on its own thread."""

    def __init__(
        self,
        client: redis.Redis,
        consumer_id: str,
        record: Callable[[], ConsumerRecord],
        ttl_s: float,
        interval_s: float,
    ) -> None:
        self.client = client
        self.consumer_id = consumer_id
        self.record = record
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failing = False

    def start(self) -> None:
        """Registers at once (the lease must exist before the first message is taken), sweeps
        once (a restarted worker returns its predecessor's messages), then keeps beating."""
        self.renew()
        self._sweep()
        self._thread = threading.Thread(target=self._run, name="pipeq-lease", daemon=True)
        self._thread.start()

    def renew(self) -> None:
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(CONSUMERS_KEY, self.consumer_id, self.record().to_json())
            pipe.set(lease_key(self.consumer_id), b"1", px=self.ttl_ms)
            pipe.execute()

    def stop(self, release: bool) -> None:
        """Stops beating; ``release`` also gives up the lease (see :meth:`release`)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self.interval_s + 5)
        if release:
            self.release()

    def release(self) -> None:
        """A clean close: gives up the lease and returns whatever is still in flight at once,
        instead of after the TTL."""
        try:
            self.client.delete(lease_key(self.consumer_id))
            restore_if_lapsed(self.client, self.consumer_id, self.record().sources)
        except redis.RedisError as error:
            log.warning("could not release lease %s (%s); it lapses by itself", self.consumer_id, error)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._beat()

    def _beat(self) -> None:
        try:
            self.renew()
            self._sweep()
        except redis.RedisError as error:
            if not self._failing:  # once per outage, not every beat
                log.warning("lease %s not renewed: %s", self.consumer_id, error)
            self._failing = True
        else:
            if self._failing:
                log.warning("lease %s renewed again", self.consumer_id)
            self._failing = False

    def _sweep(self) -> None:
        sweep_lapsed(self.client, skip=self.consumer_id)
