"""pipeq's kombu transport: kombu's Redis transport with reliable fetch, leases and a poison gate.

kombu's Redis channel takes a message with ``BRPOP`` and records it as unacked in a second
round trip: between the two the message exists only in the worker's socket buffer, and a
worker killed there loses it (celery/kombu#305). Here a message moves atomically from its
queue into this consumer's in-flight list (``LMOVE`` in a Lua script over the queue's
priority lists, or ``BLMOVE`` while waiting), so at every instant it is in its queue or in
exactly one in-flight list; ack removes it (``LREM``). A dead consumer's in-flight lists
return to their queues when its lease lapses (``leases.py``), in seconds, whatever the
visibility timeout. Before Celery sees a message, ``poison.py`` checks it.

Selected with Celery's ``broker_transport = "pipeq_workers.delivery.transport:Transport"``;
producers keep kombu's Redis transport (they only ``LPUSH``), and Flower reads the same
queue lists as before.

Costs: ``BLMOVE`` waits on one list, so while idle a worker blocks on the first queue of its
cycle; messages arriving on its other queues or priority lists wait up to ``brpop_timeout``
(1 s). pipeq runs one queue per worker and sends no priorities, so neither applies to it.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from queue import Empty
from typing import Any

import redis
from kombu.transport import redis as redis_transport
from kombu.transport import virtual

from pipeq_client.protocol import inflight_key
from pipeq_workers.delivery.leases import ConsumerRecord, LeaseKeeper, new_consumer_id
from pipeq_workers.delivery.poison import Inspection, inspect_message, record_refusal

__all__ = ["Channel", "HeldMessage", "LeasedQoS", "Transport", "held_message"]

log = logging.getLogger(__name__)

# KEYS: n source lists, then their n in-flight lists. Takes the first available message.
_TAKE_SCRIPT = """
local n = #KEYS / 2
for i = 1, n do
  local item = redis.call('LMOVE', KEYS[i], KEYS[n + i], 'RIGHT', 'LEFT')
  if item then return {KEYS[i], item} end
end
return false
"""


@dataclass(frozen=True)
class Taken:
    """A message this consumer holds: the list it came from and its exact bytes (for LREM)."""

    source: str
    raw: bytes
    job_id: str | None = None


@dataclass(frozen=True)
class HeldMessage:
    """A job's message in this consumer's in-flight list, for an ack written together with the
    job's answer (:func:`held_message`); ``settle()`` once that write succeeded."""

    inflight: str
    raw: bytes
    settle: Callable[[], None]


# The channels that consume in this process: a task thread finds its job's message here.
_CONSUMING: weakref.WeakSet[Channel] = weakref.WeakSet()


def held_message(job_id: str) -> HeldMessage | None:
    """The in-flight message of ``job_id`` if a channel of this process holds it (not under a
    prefork pool: the channel is in the parent, the task in a child)."""
    for channel in list(_CONSUMING):
        held = channel.held_job(job_id)
        if held is not None:
            return held
    return None


class LeasedQoS(virtual.QoS):
    """Acks remove the message from the in-flight list; nothing else is written per message
    (kombu's ``unacked`` hash and its visibility-timeout sweep are not used)."""

    channel: Channel

    def ack(self, delivery_tag: str) -> None:
        taken = self.channel.release(delivery_tag)
        if taken is not None:
            with self.channel.conn_or_acquire() as client:
                client.lrem(self.channel.inflight_of(taken.source), 1, taken.raw)
        super().ack(delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if not requeue:
            self.ack(delivery_tag)
            return
        self.channel.give_back(delivery_tag, front=False)
        super().ack(delivery_tag)

    def restore_unacked(self, client: Any = None) -> list[Any]:
        """Warm shutdown: what was delivered but not acked goes back to the front of its queue.
        If Redis is unreachable it stays in flight and returns when the lease lapses."""
        for delivery_tag in list(self._delivered):
            self.channel.give_back(delivery_tag, front=True)
        self._delivered.clear()
        return []

    def restore_visible(self, *args: Any, **kwargs: Any) -> None:
        """Leases replace the visibility-timeout sweep (see leases.py)."""


class Channel(redis_transport.Channel):
    """A Redis channel whose consumers take messages atomically and hold a lease."""

    QoS = LeasedQoS
    from_transport_options = (
        *redis_transport.Channel.from_transport_options,
        "lease_ttl",
        "lease_interval",
        "result_ttl",
        "fetch_wait",
    )
    lease_ttl: float = 15.0
    lease_interval: float = 5.0
    result_ttl: int = 3600
    fetch_wait: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.consumer_id = new_consumer_id()
        self._held: dict[str, Taken] = {}
        self._tags: dict[str, str] = {}  # job id -> delivery tag, for the acks written with answers
        self._sources: list[str] = []
        self._keeper: LeaseKeeper | None = None
        self._blocking_next = False
        self._fetch_command = "EVAL"
        self._blocking_source = ""
        self._shared: tuple[Any, redis.Redis] | None = None
        super().__init__(*args, **kwargs)
        if self.fetch_wait:
            self.brpop_timeout = self.fetch_wait
        _CONSUMING.add(self)

    def _create_client(self, asynchronous: bool = False) -> Any:
        """One client object per connection pool, not one per command: kombu builds a new
        ``Redis`` for every ack and every event it publishes, and building one (its response
        callbacks) cost more worker CPU than the command itself. A ``Redis`` over a pool is
        thread-safe."""
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        if self._shared is None or self._shared[0] is not pool:
            self._shared = (pool, super()._create_client())
        return self._shared[1]

    # -- taking messages -------------------------------------------------------------------

    def _brpop_start(self, timeout: float | None = None) -> None:
        queues = self._queue_cycle.consume(len(self.active_queues))
        if not queues:
            return
        sources = [self._q_for_pri(queue, pri) for pri in self.priority_steps for queue in queues]
        self._register(sources)
        self._in_poll = self.client.connection
        self._brpop_sent_at = redis_transport.monotonic()
        if self._blocking_next:
            wait = timeout or self.brpop_timeout or 1
            self._blocking_source = sources[0]
            command: list[Any] = ["BLMOVE", sources[0], self.inflight_of(sources[0]), "RIGHT", "LEFT", wait]
        else:
            keys = [*sources, *(self.inflight_of(source) for source in sources)]
            command = ["EVAL", _TAKE_SCRIPT, len(keys), *keys]
        self._fetch_command = command[0]
        self.client.connection.send_command(*command)

    def _brpop_read(self, **options: Any) -> bool:
        blocking = self._blocking_next
        try:
            try:
                reply = self.client.parse_response(self.client.connection, self._fetch_command, **options)
            except self.connection_errors:
                self.client.connection.disconnect()
                raise
            taken = self._taken(reply, blocking)
            # A miss without waiting is followed by a wait; anything else by a fresh look at
            # every list (priorities first).
            self._blocking_next = taken is None and not blocking
            if taken is None:
                raise Empty()
            return self._accept(taken)
        finally:
            self._in_poll = None
            self._flush_brpop_reauth()

    def _taken(self, reply: Any, blocking: bool) -> Taken | None:
        if not reply:
            return None
        if blocking:
            return Taken(self._blocking_source, reply)
        source, raw = reply
        return Taken(_text(source), raw)

    def _accept(self, taken: Taken) -> bool:
        queue = taken.source.rsplit(self.sep, 1)[0]
        self._queue_cycle.rotate(queue)
        inspection = inspect_message(taken.raw, queue)
        if inspection.envelope is None:
            self._refuse(taken, inspection, queue)
            raise Empty()
        delivery_tag = inspection.envelope["properties"]["delivery_tag"]
        if delivery_tag in self._held:  # only a forged message repeats a tag this consumer holds
            self._refuse(taken, Inspection(None, "duplicate delivery tag", "properties.delivery_tag"), queue)
            raise Empty()
        self._held[delivery_tag] = replace(taken, job_id=inspection.job_id)
        if inspection.job_id is not None:
            self._tags[inspection.job_id] = delivery_tag
        self.connection._deliver(inspection.envelope, queue)
        return True

    # -- what the QoS and the strategy call ------------------------------------------------

    def inflight_of(self, source: str) -> str:
        return inflight_key(self.consumer_id, source)

    def release(self, delivery_tag: str) -> Taken | None:
        """Forgets a held message (the caller removes it from Redis)."""
        taken = self._held.pop(delivery_tag, None)
        if taken is not None and taken.job_id is not None:
            self._tags.pop(taken.job_id, None)
        return taken

    def held_job(self, job_id: str) -> HeldMessage | None:
        """The message of ``job_id`` if this channel holds it. Its ``settle()`` forgets it, so
        the ack that Celery sends afterwards writes nothing more."""
        delivery_tag = self._tags.get(job_id)
        taken = self._held.get(delivery_tag) if delivery_tag is not None else None
        if delivery_tag is None or taken is None:
            return None

        def settle() -> None:
            self.release(delivery_tag)

        return HeldMessage(self.inflight_of(taken.source), taken.raw, settle)

    def give_back(self, delivery_tag: str, front: bool) -> None:
        """Moves a held message from in flight back to its queue, atomically."""
        taken = self.release(delivery_tag)
        if taken is None:
            return
        try:
            with self.conn_or_acquire() as client, client.pipeline(transaction=True) as pipe:
                pipe.lrem(self.inflight_of(taken.source), 1, taken.raw)
                (pipe.rpush if front else pipe.lpush)(taken.source, taken.raw)
                pipe.execute()
        except redis.RedisError as error:
            log.warning("could not return message %s to %s (%s); it returns when the lease lapses",
                        delivery_tag, taken.source, error)  # fmt: skip

    def refuse_delivered(self, delivery_tag: str, inspection: Inspection, queue: str) -> None:
        """Refuses a message Celery could not read after delivery (see strategy.py)."""
        taken = self.release(delivery_tag)
        if taken is not None:
            self._refuse(taken, inspection, queue)
        virtual.QoS.ack(self.qos, delivery_tag)  # frees its prefetch slot

    def _refuse(self, taken: Taken, inspection: Inspection, queue: str) -> None:
        with self.conn_or_acquire() as client, client.pipeline(transaction=True) as pipe:
            record_refusal(pipe, inspection, queue, taken.raw, self.result_ttl)
            pipe.lrem(self.inflight_of(taken.source), 1, taken.raw)
            pipe.execute()

    # -- registration and lease ------------------------------------------------------------

    def _register(self, sources: list[str]) -> None:
        new = [source for source in sources if source not in self._sources]
        if not new and self._keeper is not None:
            return
        # Sources are only ever added: a list it once took from may still hold its messages.
        self._sources += new
        if self._keeper is None:
            self._keeper = LeaseKeeper(
                redis.Redis(connection_pool=self.pool),
                self.consumer_id,
                self._record,
                self.lease_ttl,
                self.lease_interval,
            )
            self._keeper.start()
        else:
            self._keeper.renew()

    def _record(self) -> ConsumerRecord:
        queues = sorted({source.rsplit(self.sep, 1)[0] for source in self._sources})
        return ConsumerRecord(queues=queues, sources=list(self._sources))

    def close(self) -> None:
        keeper, self._keeper = self._keeper, None
        if keeper is not None:
            keeper.stop(release=False)  # no renewal may race the release below
        super().close()  # returns what was delivered but not acked
        if keeper is not None:
            keeper.release()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Transport(redis_transport.Transport):
    """kombu's Redis transport with pipeq's channel."""

    Channel = Channel
