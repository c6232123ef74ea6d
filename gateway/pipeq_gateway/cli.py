"""``pipeq gateway`` / ``pipeq-gateway`` / ``python -m pipeq_gateway``: serve the gateway on uvicorn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

__all__ = ["main"]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--host", default=None, help="Bind address [PIPEQ_GATEWAY_HOST; default 127.0.0.1].")
@click.option("--port", type=int, default=None, help="Bind port [PIPEQ_GATEWAY_PORT; default 8000].")
@click.option("--api-keys-file", type=click.Path(path_type=Path), default=None, help="One key per line.")
@click.option("--no-auth", is_flag=True, default=None, help="No keys on a non-loopback address (own proxy).")
@click.option("--models-config", type=click.Path(path_type=Path), default=None, help="[PIPEQ_MODELS_CONFIG]")
@click.option("--max-queue-depth", type=int, default=None, help="429 above this many waiting jobs per queue.")
@click.option("--request-timeout", "request_timeout_s", type=float, default=None, help="Seconds per request.")
@click.option("--log-level", default="warning", show_default=True)
@click.option("--access-log", is_flag=True, help="Log every request (costs CPU per request).")
def main(log_level: str, access_log: bool, **overrides: Any) -> None:
    """Serves the HTTP gateway: OpenAI (/v1), TGI (/generate), HF task routes (/models/<model>),
    jobs (/v1/jobs) and the playground (/). Every PIPEQ_GATEWAY_* setting applies; options win."""
    import uvicorn

    from pipeq_gateway.app import create_app
    from pipeq_gateway.settings import GatewaySettings

    settings = GatewaySettings(**{name: value for name, value in overrides.items() if value is not None})
    try:
        settings.check_auth_posture()
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    auth = "API keys required" if settings.keys() else "no API keys (loopback or --no-auth)"
    base = f"http://{settings.host}:{settings.port}"
    click.echo(f"pipeq gateway: {base}/ (playground), OpenAI base URL {base}/v1; {auth}", err=True)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=30,
    )
    uvicorn.Server(config).run()
