"""The ``pipeq`` command: demo, worker, submit, models."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from pipeq_client.protocol import TASK_QUEUES, Queue, Task
from pipeq_workers.tooling.cli_errors import PipeqGroup
from pipeq_workers.tooling.submit_args import TaskName

__all__ = ["main"]

QUEUE_NAMES = [queue.value for queue in Queue]


@click.group(cls=PipeqGroup)
@click.option("--log-level", default="WARNING", show_default=True, help="Python logging level.")
def main(log_level: str) -> None:
    """pipeq: Hugging Face pipelines served from a Redis-backed Celery queue."""
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@click.option("--models-config", type=click.Path(exists=True, path_type=Path), help="Default: tiny models.")
@click.option("--flower", "with_flower", is_flag=True, help="Start Flower first; keep the stack up until Ctrl-C.")
@click.option("--flower-port", default=5555, show_default=True, type=int)
@click.option("--serve", is_flag=True, help="Keep the stack, the HTTP gateway and its playground up until Ctrl-C.")
@click.option("--gateway-port", default=8000, show_default=True, type=int, help="Any free port if taken.")
def demo(models_config: Path | None, with_flower: bool, flower_port: int, serve: bool, gateway_port: int) -> None:
    """Runs one request per task through Redis and real workers; exits 0 only if all 13 succeed.

    Uses PIPEQ_REDIS_URL if set, else a private redis-server; PIPEQ_MODELS_CONFIG or
    --models-config if given, else tiny offline models it builds. The HTTP gateway (and its
    playground) runs alongside; --serve keeps everything up.
    """
    import subprocess

    from pipeq_client import Client
    from pipeq_gateway.demo import demo_gateway, gateway_check
    from pipeq_workers.monitoring.flower import flower_command, wait_http
    from pipeq_workers.tooling.demo import TINY_NOTE, format_table, run_requests, stream_demo
    from pipeq_workers.tooling.stack import LocalStack

    env_config = os.environ.get("PIPEQ_MODELS_CONFIG")
    config = models_config or (Path(env_config) if env_config else None)
    redis_url = os.environ.get("PIPEQ_REDIS_URL")
    if redis_url:
        _require_redis(redis_url, "pipeq demo")
    _quiet()
    click.echo("starting redis and one worker per queue (text, vision, audio)...")
    with (
        LocalStack(redis_url=redis_url, models_config=config, progress=lambda step: click.echo(f"  {step}")) as stack,
        demo_gateway(stack.worker_env(), gateway_port) as gateway,
    ):
        click.echo(f"redis: {stack.redis_url}   models: {stack.models_config}")
        click.echo(f"gateway: {gateway.url}/ (playground)   OpenAI base URL: {gateway.url}/v1")
        flower = None
        if with_flower:
            # Loopback only, so the demo's Flower has no auth; `pipeq flower` elsewhere requires it.
            flower = subprocess.Popen(flower_command(flower_port), env=stack.worker_env())
            wait_http(f"http://127.0.0.1:{flower_port}/healthcheck")
            click.echo(f"flower: http://127.0.0.1:{flower_port}/ (tasks: /tasks, workers: /workers)")
        with Client(stack.redis_url) as client:
            rows = run_requests(client)
            click.echo(format_table(rows))
            if config is None:
                click.echo(TINY_NOTE)
            streamed = stream_demo(client)
        gateway_ok, gateway_line = gateway_check(gateway.url)
        click.echo(f"\ngateway: {gateway_line}")
        if flower is not None or serve:
            _hold_until_interrupted(flower or gateway.process)
    sys.exit(0 if all(row.ok for row in rows) and streamed and gateway_ok else 1)


def _require_redis(url: str, command: str) -> None:
    """BrokerUnavailableError (one line, URL masked) unless Redis answers at ``url``."""
    from pipeq_workers.runtime.preflight import redis_error

    error = redis_error(url, command)
    if error is not None:
        raise error


def _quiet() -> None:
    from pipeq_workers.runtime.quiet import quiet_libraries

    quiet_libraries()


def _hold_until_interrupted(process: Any) -> None:
    click.echo("the stack, the gateway (and Flower, if started) stay up; Ctrl-C stops them")
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
    from pipeq_workers.monitoring.flower import flower_argv
    from pipeq_workers.runtime.app import create_app
    from pipeq_workers.settings import WorkerSettings

    if not basic_auth and not no_auth:
        raise click.UsageError("set PIPEQ_FLOWER_BASIC_AUTH=user:password (or --basic-auth), or pass --no-auth")
    settings = WorkerSettings()
    _require_redis(settings.redis_url, "pipeq flower")
    create_app(settings).start(flower_argv(port, address, None if no_auth else basic_auth))


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []})
@click.pass_context
def gateway(ctx: click.Context) -> None:
    """The HTTP gateway: OpenAI, TGI and HF task routes, jobs, playground (pipeq gateway --help)."""
    from pipeq_gateway.cli import main as gateway_main

    gateway_main.main(ctx.args, prog_name="pipeq gateway")


@main.command()
@click.option("--queue", "queues", multiple=True, required=True, type=click.Choice(QUEUE_NAMES), help="Repeatable.")
@click.option("--pool", type=click.Choice(["solo", "threads", "prefork"]), help="Default: solo, threads if batching.")
@click.option("--concurrency", type=int, help="Default: 1, or the batch size when batching.")
@click.option("--batch-size", type=int, help="Micro-batch size (PIPEQ_MAX_BATCH_SIZE); > 1 uses the threads pool.")
@click.option("--max-wait-ms", type=float, help="Longest wait for batch-mates (PIPEQ_MAX_WAIT_MS).")
@click.option("--log-level", default="INFO", show_default=True, help="Worker log level.")
@click.option("--loglevel", "old_log_level", hidden=True, help="Old name of --log-level.")
@click.option("--ready-file", type=click.Path(path_type=Path), help="Touched once models are loaded.")
@click.option(
    "--redis-wait",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    envvar="PIPEQ_REDIS_WAIT_S",
    help="Seconds to wait for Redis at start (one line per attempt), then exit 1 (env PIPEQ_REDIS_WAIT_S).",
)
def worker(
    queues: tuple[str, ...],
    pool: str | None,
    concurrency: int | None,
    batch_size: int | None,
    max_wait_ms: float | None,
    log_level: str,
    old_log_level: str | None,
    ready_file: Path | None,
    redis_wait: float,
) -> None:
    """Runs a Celery worker for the given queue(s). Configured by PIPEQ_* variables."""
    from pipeq_workers.runtime.preflight import check_models_config, wait_for_redis
    from pipeq_workers.settings import WorkerSettings

    overrides = {"max_batch_size": batch_size, "max_wait_ms": max_wait_ms}
    settings = WorkerSettings().model_copy(update={k: v for k, v in overrides.items() if v is not None})
    chosen = [Queue(name) for name in queues]
    say = logging.getLogger("pipeq_workers.runtime.worker").warning
    # Seconds, before torch is even imported; a config error is permanent, so it goes first.
    check_models_config(settings.models_config, chosen, say)
    wait_for_redis(settings.redis_url, redis_wait, say)
    from pipeq_workers.runtime.quiet import quiet_celery, quiet_libraries
    from pipeq_workers.runtime.worker import WorkerOptions, run_worker

    quiet_libraries()
    quiet_celery()
    level = old_log_level or log_level
    run_worker(settings, WorkerOptions.decide(chosen, settings, pool, concurrency, level, ready_file))


@main.command()
@click.argument("task", type=TaskName())
@click.argument("inputs")
@click.option(
    "--param", "params", multiple=True, help="key=value, repeatable; JSON when it parses; a list field takes a,b,c."
)
@click.option("--model", default=None)
@click.option("--timeout", default=300.0, show_default=True)
@click.option(
    "--output",
    type=click.Path(path_type=Path, dir_okay=False, allow_dash=True),
    help="Write the result here (- for stdout): WAV for text-to-speech (required there), JSON for the others.",
)
@click.option("--stream", is_flag=True, help="Generative tasks: print tokens as they arrive, then the result.")
@click.option("--text", default=None, help="image-text-to-text: the prompt that goes with the image INPUTS.")
@click.option(
    "--require-worker/--no-require-worker",
    default=True,
    show_default=True,
    help="Fail at once when no live worker consumes the task's queue; with --no-require-worker, warn and queue.",
)
def submit(
    task: Task,
    inputs: str,
    params: tuple[str, ...],
    model: str | None,
    timeout: float,
    output: Path | None,
    stream: bool,
    text: str | None,
    require_worker: bool,
) -> None:
    """Submits one request to PIPEQ_REDIS_URL and prints the JSON result.

    INPUTS is the text, or @PATH for a file (image or audio bytes); @@ starts a text with @.
    """
    from pipeq_client import Client
    from pipeq_client.errors import PipeqError
    from pipeq_client.types import REQUEST_TYPES
    from pipeq_workers.tooling.demo import print_stream
    from pipeq_workers.tooling.submit_args import parse_params, read_inputs

    _check_submit_options(task, output, stream)
    raw, parameters = read_inputs(task, inputs, text), parse_params(task, params)
    try:
        request = REQUEST_TYPES[task].build(raw, model, parameters)
        with Client() as client:
            _check_worker(client, task, require_worker)
            job = client.submit(request, require_worker=False)
            result = print_stream(job, timeout) if stream else job.result(timeout=timeout)
    except PipeqError as error:
        raise click.ClickException(f"{type(error).__name__}: {error}") from None
    _emit(result, output)


def _check_submit_options(task: Task, output: Path | None, stream: bool) -> None:
    """Refuses, before anything is sent, what could only end in an unusable answer."""
    from pipeq_workers.tooling.submit_args import STREAMING_TASKS

    if stream and task not in STREAMING_TASKS:
        streaming = ", ".join(sorted(t.value for t in STREAMING_TASKS))
        raise click.UsageError(f"--stream: {task.value} answers at once, not token by token (streaming: {streaming})")
    if task is Task.TEXT_TO_SPEECH and output is None:
        raise click.UsageError("text-to-speech answers with WAV audio: pass --output FILE.wav (- for stdout)")


def _check_worker(client: Any, task: Task, require_worker: bool) -> None:
    """Says at once when nobody consumes the task's queue, instead of waiting out the timeout."""
    queue = TASK_QUEUES[task].value
    if client.live_consumers(TASK_QUEUES[task]) > 0:
        return
    start = f"start one (`pipeq worker --queue {queue}`)"
    if require_worker:
        raise click.ClickException(
            f"NoWorkerError: no live worker consumes queue {queue!r}: {start}, "
            "or pass --no-require-worker to queue the job until one starts"
        )
    click.echo(f"warning: no live worker consumes queue {queue!r}; the job waits until one starts: {start}", err=True)


def _emit(result: Any, output: Path | None) -> None:
    """The result as JSON (unprintable characters escaped), or WAV bytes, to stdout or ``output``."""
    from pipeq_client.types import TextToSpeechResult
    from pipeq_workers.tooling.display import escape_unprintable

    if isinstance(result, TextToSpeechResult):
        payload, what = result.audio.data or b"", f"WAV audio ({result.sampling_rate} Hz)"
    else:
        payload, what = (escape_unprintable(result.model_dump_json(indent=2)) + "\n").encode(), "the JSON result"
    if output is None:
        click.echo(payload.decode(), nl=False)
        return
    with click.open_file(str(output), "wb") as sink:
        sink.write(payload)
    if str(output) != "-":
        click.echo(f"wrote {what} to {output}")


@main.command()
@click.option(
    "--file",
    "health_file",
    type=click.Path(path_type=Path),
    help="One heartbeat file. Default: PIPEQ_HEALTH_FILE, else every worker's heartbeat in PIPEQ_HEALTH_DIR.",
)
@click.option("--probe", type=click.Choice(["live", "ready", "startup"]), default="ready", show_default=True)
@click.option("--max-age", type=float, default=None, help="Oldest acceptable heartbeat, s (default 3 intervals).")
def health(health_file: Path | None, probe: str, max_age: float | None) -> None:
    """Reads the workers' heartbeats (one JSON line each); exits 0 if the probe passes for every
    one (compose / k8s probes). Stale files of workers that exited are removed and reported."""
    from pipeq_workers.monitoring.health import default_health_dir
    from pipeq_workers.monitoring.health_report import report_directory, report_file
    from pipeq_workers.settings import WorkerSettings

    settings = WorkerSettings()
    age_limit = max_age if max_age is not None else 3 * settings.heartbeat_interval_s
    path = health_file or settings.health_file
    if path is not None:
        sys.exit(0 if report_file(path, probe, age_limit) else 1)
    sys.exit(0 if report_directory(settings.health_dir or default_health_dir(), probe, age_limit) else 1)


@main.command()
@click.option("--quick", is_flag=True, help="One repeat, smaller measurements (a smoke run).")
@click.option("--repeats", type=click.IntRange(min=1), help="Rounds per workload [default: 3; 1 with --quick].")
@click.option(
    "--workloads",
    default="all",
    show_default=True,
    help="Comma-separated: text-classification, feature-extraction, text-generation, generation-mixed, "
    "streaming, submit-rate.",
)
@click.option("--threads", default=1, show_default=True, help="torch threads, the same for direct and pipeq.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("bench/results"), show_default=True)
@click.option("--cache", type=click.Path(path_type=Path), default=Path(".cache/bench-models"), show_default=True)
@click.option("--commandstats/--no-commandstats", default=True, show_default=True, help="Redis calls per request.")
def bench(
    quick: bool, repeats: int | None, workloads: str, threads: int, out: Path, cache: Path, commandstats: bool
) -> None:
    """Benchmarks pipeq against the direct pipeline, interleaved; writes JSON + PNG and the targets."""
    from pipeq_workers.tooling.benchmark.names import parse_workloads

    try:
        chosen = parse_workloads(workloads)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--workloads") from None
    from pipeq_workers.tooling.benchmark.report import format_targets, write_report
    from pipeq_workers.tooling.benchmark.runner import BenchConfig, run_bench

    config = BenchConfig.build(
        quick=quick, repeats=repeats, workloads=chosen, threads=threads, commandstats=commandstats
    )
    run = run_bench(config, cache)
    json_path, png_path = write_report(run, out)
    click.echo(format_targets(run["targets"]))
    click.echo(f"results: {json_path}  plot: {png_path}")


@main.group()
def models() -> None:
    """Model utilities."""


@models.command("tiny")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--all", "all_families", is_flag=True, help="Every verified model family per task, not one.")
def models_tiny(directory: Path, all_families: bool) -> None:
    """Builds tiny random-weight models for all 13 tasks in DIRECTORY (offline, seconds)."""
    from pipeq_workers.tooling.tiny import build_tiny_models

    _quiet()
    click.echo(f"models config: {build_tiny_models(directory, all_families=all_families)}")


@models.command("fetch")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--model", "specs", multiple=True, help="TASK=ORG/NAME[@REVISION], repeatable. Default: every task's Hub default."
)
@click.option("--cache-dir", type=click.Path(path_type=Path), help="Hub cache to fill (default: DIRECTORY/hub).")
def models_fetch(directory: Path, specs: tuple[str, ...], cache_dir: Path | None) -> None:
    """Downloads Hub models once into DIRECTORY and writes DIRECTORY/models.json naming each
    snapshot (its commit), so workers start offline (HF_HUB_OFFLINE=1) with PIPEQ_MODELS_CONFIG."""
    from pipeq_workers.errors import WorkerConfigError
    from pipeq_workers.models.fetch import HubModel, default_hub_models, fetch_models

    try:
        wanted = [HubModel.parse(spec) for spec in specs] or default_hub_models()
        click.echo(f"models config: {fetch_models(directory, wanted, cache_dir)}")
    except WorkerConfigError as error:
        raise click.ClickException(str(error)) from None


if __name__ == "__main__":
    main()
