"""Checks before a worker loads anything: can it get its models, and does Redis answer?

Both fail in one line that says what is missing and how to fix it, in seconds rather than
after a model download timed out (tens of seconds, a hundred lines of tracebacks) or inside
Celery's reconnect loop.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import redis

from pipeq_client.errors import BrokerUnavailableError
from pipeq_client.outage import broker_unavailable
from pipeq_client.protocol import TASK_QUEUES, Queue
from pipeq_workers.errors import WorkerConfigError
from pipeq_workers.models.allowlist import HUB_DEFAULTS

__all__ = ["MODELS_HINT", "check_models_config", "hub_defaults_available", "redis_error", "wait_for_redis"]

MODELS_HINT = (
    "set PIPEQ_MODELS_CONFIG to a models.json: `pipeq models tiny DIR` builds offline test models, "
    "`pipeq models fetch DIR` downloads the Hub models once"
)
_HUB_PROBE_TIMEOUT_S = 3.0


def check_models_config(path: Path | None, queues: list[Queue], say: Callable[[str], None]) -> None:
    """Raises WorkerConfigError (one line) when the worker could not get its models."""
    if path is not None:
        if not path.is_file():
            raise WorkerConfigError(f"PIPEQ_MODELS_CONFIG={path}: no such file; {MODELS_HINT}")
        return
    wanted = [HUB_DEFAULTS[task] for task, queue in TASK_QUEUES.items() if queue in queues]
    missing = [model for model in wanted if not _in_hub_cache(model)]
    if not missing:
        say("no PIPEQ_MODELS_CONFIG: serving the Hub default models from the local Hugging Face cache")
        return
    names = ", ".join(missing[:2]) + (f" and {len(missing) - 2} more" if len(missing) > 2 else "")
    if not hub_defaults_available():
        raise WorkerConfigError(
            f"no models config (PIPEQ_MODELS_CONFIG is unset), and the Hub default models ({names}) are not "
            f"in the local Hugging Face cache while the Hub is {_hub_state()}: {MODELS_HINT}"
        )
    say(f"no PIPEQ_MODELS_CONFIG: downloading the Hub default models ({names}); {MODELS_HINT} to pin them")


def hub_defaults_available() -> bool:
    """Can missing Hub models be downloaded? Not offline, and the Hub answers within seconds."""
    return not _hub_offline() and _hub_reachable()


def _hub_state() -> str:
    return "off (HF_HUB_OFFLINE)" if _hub_offline() else "unreachable"


def _hub_offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("TRANSFORMERS_OFFLINE", "").upper() in {"1", "ON", "YES"}


def _in_hub_cache(model_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(model_id, "config.json"), str)


def _hub_reachable() -> bool:
    # Through huggingface_hub's own HTTP session, so proxies and HF_ENDPOINT apply as they will.
    from huggingface_hub import constants
    from huggingface_hub.utils import get_session

    try:
        get_session().head(constants.ENDPOINT, timeout=_HUB_PROBE_TIMEOUT_S)
    except Exception:  # any failure to get an answer means "not reachable": DNS, refused, timeout, TLS
        return False
    return True


def wait_for_redis(url: str, wait_s: float, say: Callable[[str], None]) -> None:
    """Returns once Redis answers; says so in one line per failed attempt, and raises
    BrokerUnavailableError (URL masked) when ``wait_s`` ran out."""
    ends_at, pause = time.monotonic() + wait_s, 1.0
    while (error := redis_error(url, "pipeq worker")) is not None:
        left = ends_at - time.monotonic()
        if left <= 0:
            raise error
        say(f"{error}; retrying for {left:.0f} s more")
        time.sleep(min(pause, left))
        pause = min(pause * 2, 5.0)


def redis_error(url: str, what: str) -> BrokerUnavailableError | None:
    """One quick ping: the typed error naming ``what`` and the masked URL, or None if Redis answers."""
    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as error:  # refused, unknown host, wrong password, bad database
        return broker_unavailable(url, error, what)
    finally:
        client.close()
    return None
