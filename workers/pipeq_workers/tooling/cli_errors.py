"""One line, not a traceback, for the errors a user's setup causes (Redis away, a bad URL, a
worker that cannot start): every ``pipeq`` command runs under :class:`PipeqGroup`."""

from __future__ import annotations

from typing import Any

import click

__all__ = ["PipeqGroup", "one_line"]


def _redis_url() -> str:
    from pipeq_client.settings import ClientSettings

    return ClientSettings().redis_url


def one_line(error: BaseException, command: str) -> str | None:
    """The one-line message for a setup error; None for anything else (a bug keeps its traceback)."""
    from pipeq_client.errors import BrokerUnavailableError
    from pipeq_client.outage import CONNECTION_ERRORS, broker_unavailable, mask_url
    from pipeq_workers.errors import WorkerConfigError

    if isinstance(error, BrokerUnavailableError):
        return f"{type(error).__name__}: {error}"
    if isinstance(error, CONNECTION_ERRORS):
        return f"BrokerUnavailableError: {broker_unavailable(_redis_url(), error, command)}"
    if isinstance(error, WorkerConfigError):
        return str(error)
    if isinstance(error, ValueError) and str(error).startswith("Redis URL"):
        # redis-py's parse error for `localhost:6379` and other scheme-less URLs.
        return f"PIPEQ_REDIS_URL={mask_url(_redis_url())}: {error}"
    return None


class PipeqGroup(click.Group):
    """Turns setup errors escaping any subcommand into ``Error: <one line>`` and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.ClickException:
            raise
        except Exception as error:
            message = one_line(error, f"pipeq {ctx.invoked_subcommand or ''}".strip())
            if message is None:
                raise
            raise click.ClickException(message) from None
