"""The ``pipeq`` command: demo, worker, submit, models."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from pipeq_client.protocol import Queue, Task

__all__ = ["main"]

QUEUE_NAMES = [queue.value for queue in Queue]
TASK_NAMES = [task.value for task in Task]


@click.group()
@click.option("--log-level", default="WARNING", show_default=True, help="Python logging level.")
def main(log_level: str) -> None:
    """pipeq: Hugging Face pipelines served from a Redis-backed Celery queue."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--models-config", type=click.Path(exists=True, path_type=Path), help="Default: tiny models.")
@click.option("--flower", "with_flower", is_flag=True, help="Start Flower first; keep the stack up until Ctrl-C.")
@click.option("--flower-port", default=5555, show_default=True, type=int)
def demo(models_config: Path | None, with_flower: bool, flower_port: int) -> None:
    """Runs one request per task through Redis and real workers; exits 0 only if all 13 succeed.

    Uses PIPEQ_REDIS_URL if set, else a private redis-server; PIPEQ_MODELS_CONFIG or
    --models-config if given, else tiny offline models it builds.
    """
    import subprocess

    from pipeq_client import Client
    from pipeq_workers.demo import format_table, run_requests, stream_demo
    from pipeq_workers.monitoring import flower_command, wait_http
    from pipeq_workers.stack import LocalStack

    env_config = os.environ.get("PIPEQ_MODELS_CONFIG")
    config = models_config or (Path(env_config) if env_config else None)
    click.echo("starting redis and one worker per queue (text, vision, audio)...")
    with LocalStack(redis_url=os.environ.get("PIPEQ_REDIS_URL"), models_config=config) as stack:
        click.echo(f"redis: {stack.redis_url}   models: {stack.models_config}")
        flower = None
        if with_flower:
            # Loopback only, so the demo's Flower has no auth; `pipeq flower` elsewhere requires it.
            flower = subprocess.Popen(flower_command(flower_port), env=stack.worker_env())
            wait_http(f"http://127.0.0.1:{flower_port}/healthcheck")
            click.echo(f"flower: http://127.0.0.1:{flower_port}/ (tasks: /tasks, workers: /workers)")
        with Client(stack.redis_url) as client:
            rows = run_requests(client)
            click.echo(format_table(rows))
            streamed = stream_demo(client)
        if flower is not None:
            _hold_until_interrupted(flower)
    sys.exit(0 if all(row.ok for row in rows) and streamed else 1)


def _hold_until_interrupted(process: Any) -> None:
    click.echo("the stack and Flower stay up; Ctrl-C stops them")
    try:
        process.wait()
    except KeyboardInterrupt:
        process.terminate()
        process.wait(timeout=10)


@main.command()
@click.option("--port", default=5555, show_default=True, type=int)
@click.option("--address", default="0.0.0.0", show_default=True)
@click.option(
    "--basic-auth", envvar="PIPEQ_FLOWER_BASIC_AUTH", help="user:password[,...]; env PIPEQ_FLOWER_BASIC_AUTH."
)
@click.option("--no-auth", is_flag=True, help="No authentication (loopback, or behind your own proxy).")
def flower(port: int, address: str, basic_auth: str | None, no_auth: bool) -> None:
    """Starts Flower against PIPEQ_REDIS_URL. Basic auth is required unless --no-auth."""
    from pipeq_workers.app import create_app
    from pipeq_workers.monitoring import flower_argv
    from pipeq_workers.settings import WorkerSettings

    if not basic_auth and not no_auth:
        raise click.UsageError("set PIPEQ_FLOWER_BASIC_AUTH=user:password (or --basic-auth), or pass --no-auth")
    create_app(WorkerSettings()).start(flower_argv(port, address, None if no_auth else basic_auth))


@main.command()
@click.option("--queue", "queues", multiple=True, required=True, type=click.Choice(QUEUE_NAMES), help="Repeatable.")
@click.option("--pool", type=click.Choice(["solo", "threads", "prefork"]), help="Default: solo, threads if batching.")
@click.option("--concurrency", type=int, help="Default: 1, or the batch size when batching.")
@click.option("--batch-size", type=int, help="Micro-batch size (PIPEQ_MAX_BATCH_SIZE); > 1 uses the threads pool.")
@click.option("--max-wait-ms", type=float, help="Longest wait for batch-mates (PIPEQ_MAX_WAIT_MS).")
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--ready-file", type=click.Path(path_type=Path), help="Touched once models are loaded.")
def worker(
    queues: tuple[str, ...],
    pool: str | None,
    concurrency: int | None,
    batch_size: int | None,
    max_wait_ms: float | None,
    loglevel: str,
    ready_file: Path | None,
) -> None:
    """Runs a Celery worker for the given queue(s). Configured by PIPEQ_* variables."""
    from pipeq_workers.settings import WorkerSettings
    from pipeq_workers.worker import WorkerOptions, run_worker

    overrides = {"max_batch_size": batch_size, "max_wait_ms": max_wait_ms}
    settings = WorkerSettings().model_copy(update={k: v for k, v in overrides.items() if v is not None})
    options = WorkerOptions.decide([Queue(name) for name in queues], settings, pool, concurrency, loglevel, ready_file)
    run_worker(settings, options)


def _parse_param(text: str) -> tuple[str, Any]:
    name, sep, raw = text.partition("=")
    if not sep:
        raise click.BadParameter(f"{text!r}: expected key=value")
    try:
        return name, json.loads(raw)
    except ValueError:
        return name, raw


@main.command()
@click.argument("task", type=click.Choice(TASK_NAMES))
@click.argument("inputs")
@click.option("--param", "params", multiple=True, help="key=value (value parsed as JSON when it is).")
@click.option("--model", default=None)
@click.option("--timeout", default=300.0, show_default=True)
@click.option("--output", type=click.Path(path_type=Path), help="text-to-speech: write the WAV here.")
@click.option("--stream", is_flag=True, help="Print generated tokens as they arrive, then the result.")
def submit(
    task: str,
    inputs: str,
    params: tuple[str, ...],
    model: str | None,
    timeout: float,
    output: Path | None,
    stream: bool,
) -> None:
    """Submits one request to PIPEQ_REDIS_URL and prints the JSON result.

    INPUTS is the text, or @PATH for a file (image or audio bytes).
    """
    from pipeq_client import Client
    from pipeq_client.errors import PipeqError
    from pipeq_client.types import REQUEST_TYPES, TextToSpeechResult
    from pipeq_workers.demo import print_stream

    raw: Any = Path(inputs[1:]).read_bytes() if inputs.startswith("@") else inputs
    if Task(task) in (Task.AUTOMATIC_SPEECH_RECOGNITION, Task.AUDIO_CLASSIFICATION):
        raw = {"data": raw}
    try:
        request = REQUEST_TYPES[Task(task)].build(raw, model, dict(_parse_param(p) for p in params))
        with Client() as client:
            job = client.submit(request)
            result = print_stream(job, timeout) if stream else job.result(timeout=timeout)
    except PipeqError as error:
        raise click.ClickException(f"{type(error).__name__}: {error}") from None
    if isinstance(result, TextToSpeechResult) and output is not None:
        output.write_bytes(result.audio.data or b"")
        click.echo(f"wrote {output}")
        return
    click.echo(result.model_dump_json(indent=2))


@main.command()
@click.option("--file", "health_file", type=click.Path(path_type=Path), help="Default: PIPEQ_HEALTH_FILE.")
@click.option("--probe", type=click.Choice(["live", "ready", "startup"]), default="ready", show_default=True)
@click.option("--max-age", type=float, default=None, help="Oldest acceptable heartbeat, s (default 3 intervals).")
def health(health_file: Path | None, probe: str, max_age: float | None) -> None:
    """Reads a worker's heartbeat file; exits 0 if the probe passes (for compose / k8s probes)."""
    import dataclasses

    from pipeq_workers.health import read_health
    from pipeq_workers.settings import WorkerSettings

    settings = WorkerSettings()
    path = health_file or settings.health_file
    if path is None:
        raise click.UsageError("no heartbeat file: pass --file or set PIPEQ_HEALTH_FILE")
    try:
        state = read_health(path)
    except (OSError, ValueError, TypeError) as error:
        click.echo(f"unhealthy: cannot read {path}: {error}", err=True)
        sys.exit(1)
    age_limit = max_age if max_age is not None else 3 * settings.heartbeat_interval_s
    passed = {"live": state.live(age_limit), "ready": state.ready(age_limit), "startup": state.models_loaded}[probe]
    click.echo(json.dumps({"probe": probe, "healthy": passed, **dataclasses.asdict(state)}))
    sys.exit(0 if passed else 1)


@main.command()
@click.option("--quick", is_flag=True, help="One repeat, fewer requests (a smoke run).")
@click.option("--threads", default=1, show_default=True, help="torch threads, the same for direct and pipeq.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench/results"), show_default=True)
@click.option("--cache", type=click.Path(path_type=Path), default=Path(".cache/bench-models"), show_default=True)
def bench(quick: bool, threads: int, out: Path, cache: Path) -> None:
    """Benchmarks pipeq (unbatched, batched) against the direct pipeline; writes JSON + PNG."""
    from pipeq_workers.benchmark.report import write_report
    from pipeq_workers.benchmark.runner import BenchConfig, run_bench

    config = BenchConfig.quick() if quick else BenchConfig()
    config = BenchConfig(threads, config.repeats, config.requests, config.clients)
    json_path, png_path = write_report(run_bench(config, cache), out)
    for row in json.loads(json_path.read_text())["targets"]:
        mark = "met" if row["met"] else "NOT met"
        click.echo(f"{row['task']:<22} {row['target']:<45} {row['value']:>9.2f}  {mark}")
    click.echo(f"results: {json_path}  plot: {png_path}")


@main.group()
def models() -> None:
    """Model utilities."""


@models.command("tiny")
@click.argument("directory", type=click.Path(path_type=Path))
def models_tiny(directory: Path) -> None:
    """Builds tiny random-weight models for all 13 tasks in DIRECTORY (offline, seconds)."""
    from pipeq_workers.tiny import build_tiny_models

    click.echo(f"models config: {build_tiny_models(directory)}")


if __name__ == "__main__":
    main()
