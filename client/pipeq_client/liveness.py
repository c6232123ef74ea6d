"""Is any worker consuming a queue? Read from the workers' registry and leases in one call.

Every consuming worker registers in ``CONSUMERS_KEY`` and holds a lease with a TTL (see
``pipeq_workers.delivery.leases``); a worker that died stops counting when its lease lapses.
The check is one ``EVAL`` (the same for the sync and the async client), so a producer can
fail fast instead of waiting out its timeout on a queue nobody reads.
"""

from __future__ import annotations

from pipeq_client.errors import NoWorkerError
from pipeq_client.protocol import CONSUMERS_KEY, Queue, lease_key

__all__ = ["LIVE_CONSUMERS_SCRIPT", "live_consumers_args", "no_worker_error"]

# KEYS[1]: the registry; ARGV[1]: the queue; ARGV[2]: the lease key prefix. Returns the count.
LIVE_CONSUMERS_SCRIPT = """
local live = 0
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local ok, record = pcall(cjson.decode, entries[i + 1])
  if ok and type(record) == 'table' and type(record.queues) == 'table' then
    for _, queue in ipairs(record.queues) do
      if queue == ARGV[1] and redis.call('EXISTS', ARGV[2] .. entries[i]) == 1 then
        live = live + 1
      end
    end
  end
end
return live
"""


def live_consumers_args(queue: Queue) -> tuple[str, int, str, str, str]:
    """``(script, numkeys, *keys_and_args)`` for ``redis.eval``."""
    return LIVE_CONSUMERS_SCRIPT, 1, CONSUMERS_KEY, queue.value, lease_key("")


def no_worker_error(queue: Queue) -> NoWorkerError:
    return NoWorkerError(
        f"no live worker consumes queue {queue.value!r}: start one (`pipeq worker --queue {queue.value}`), "
        "or submit with require_worker=False to queue the job until one starts",
        field="queue",
    )
