"""``python -m bench.gateway [--quick]``: what the HTTP gateway adds over the Python client, side by
side in one run on one stack (Redis, one text worker, tiny models, torch on 1 thread).

- Single request: text-classification through ``Client.text_classification`` and through the
  gateway's HF task route (``POST /models/<model>``, keep-alive HTTP), alternated request by
  request so both see the same load. Overhead = p50(HTTP) - p50(client); target <= 2 ms.
- Streaming: a 32-token greedy generation. Per-token delivery lag (worker publishes -> reader
  receives, from the ``ts`` each token event carries) through ``job.stream()`` and through the
  gateway's SSE (``GET /v1/jobs/{id}/events``); overhead per token = the difference of the
  p50s. Time to first token through the client and through OpenAI chat streaming too.

Writes ``bench/results/gateway.json`` and ``gateway.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

from pipeq_client import Client
from pipeq_client.events import TokenEvent
from pipeq_client.protocol import Queue
from pipeq_client.types import TextGenerationRequest
from pipeq_gateway.process import GatewayProcess
from pipeq_workers.tooling.stack import LocalStack

TOKENS = 32
TEXT = "the quick brown fox jumps over the lazy dog"
CLASSIFIER = "tiny/text-classification"
GENERATOR = "tiny/text-generation"
TARGET_OVERHEAD_MS = 2.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def _ms(seconds: float) -> float:
    return seconds * 1e3


def _summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": statistics.median(values), "p99_ms": percentile(values, 99), "n": len(values)}


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def single_requests(client: Client, http: httpx.Client, gateway_pid: int, count: int) -> dict[str, Any]:
    """Alternating client and HTTP requests: latencies, and CPU per request (which, unlike
    latency on a shared machine, does not grow with other load)."""
    direct, over_http = [], []
    client_cpu = http_client_cpu = 0.0
    gateway_cpu = process_cpu_s(gateway_pid)
    for _ in range(count):
        started, cpu = time.perf_counter(), time.process_time()
        client.text_classification(TEXT, model=CLASSIFIER)  # as a backend calls it: validation included
        direct.append(_ms(time.perf_counter() - started))
        client_cpu += time.process_time() - cpu
        started, cpu = time.perf_counter(), time.process_time()
        http.post(f"/models/{CLASSIFIER}", json={"inputs": TEXT}).raise_for_status()
        over_http.append(_ms(time.perf_counter() - started))
        http_client_cpu += time.process_time() - cpu
    gateway_cpu = process_cpu_s(gateway_pid) - gateway_cpu
    client_side, http_side = _summary(direct), _summary(over_http)
    return {
        "python_client": client_side,
        "http_hf_route": http_side,
        "overhead_p50_ms": http_side["p50_ms"] - client_side["p50_ms"],
        "overhead_p99_ms": http_side["p99_ms"] - client_side["p99_ms"],
        "cpu_ms_per_request": {
            "python_client": _ms(client_cpu / count),
            "http_client_httpx": _ms(http_client_cpu / count),
            "gateway_process": _ms(gateway_cpu / count),
        },
    }


def _generation(eos_bias: dict[str, float]) -> dict[str, Any]:
    return {"max_new_tokens": TOKENS, "temperature": 0, "logit_bias": eos_bias}


def client_stream(client: Client, parameters: dict[str, Any]) -> tuple[float, list[float]]:
    """(time to first token, per-token lags), ms."""
    started = time.perf_counter()
    job = client.submit(TextGenerationRequest.build(TEXT, GENERATOR, parameters))
    first, lags = None, []
    for event in job.stream(timeout=120):
        if isinstance(event, TokenEvent) and event.token_id is not None:
            first = first if first is not None else time.perf_counter()
            lags.append(_ms(time.time() - (event.published_at or 0.0)))
    return _ms((first or started) - started), lags


def sse_stream(http: httpx.Client, parameters: dict[str, Any]) -> list[float]:
    """Per-token lags through the gateway's job events (SSE), ms."""
    submitted = http.post(
        "/v1/jobs", json={"task": "text-generation", "model": GENERATOR, "inputs": TEXT, "parameters": parameters}
    )
    lags = []
    with http.stream("GET", submitted.json()["events_url"]) as response:
        event = None
        for line in response.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "token":
                data = json.loads(line[6:])
                if data.get("id") is not None:
                    lags.append(_ms(time.time() - data["ts"]))
    return lags


def openai_ttft(http: httpx.Client, eos_bias: dict[str, float]) -> float:
    body = {"model": GENERATOR, "messages": [{"role": "user", "content": TEXT}], "max_tokens": TOKENS, "temperature": 0}
    started = time.perf_counter()
    first = None
    with http.stream("POST", "/v1/chat/completions", json={**body, "logit_bias": eos_bias, "stream": True}) as response:
        for line in response.iter_lines():
            if first is None and line.startswith("data: {") and '"content":""' not in line:
                first = time.perf_counter()
    return _ms((first or started) - started)


def client_chat_ttft(client: Client, eos_bias: dict[str, float]) -> float:
    messages = [{"role": "user", "content": TEXT}]
    parameters = {"max_new_tokens": TOKENS, "temperature": 0, "logit_bias": {int(k): v for k, v in eos_bias.items()}}
    started = time.perf_counter()
    first = None
    # Read to the end: a job left running would delay the next measurement on the solo worker.
    for event in client.submit(TextGenerationRequest.build(messages, GENERATOR, parameters)).stream(timeout=120):
        if first is None and isinstance(event, TokenEvent) and event.text:
            first = time.perf_counter()
    return _ms((first or started) - started)


def streaming(client: Client, http: httpx.Client, eos_bias: dict[str, float], count: int) -> dict[str, Any]:
    parameters = _generation(eos_bias)
    client_lags, sse_lags, client_first, chat_first, http_first = [], [], [], [], []
    for _ in range(count):
        first, lags = client_stream(client, parameters)
        client_first.append(first)
        client_lags += lags
        sse_lags += sse_stream(http, parameters)
        chat_first.append(client_chat_ttft(client, eos_bias))
        http_first.append(openai_ttft(http, eos_bias))
    client_lag, sse_lag = _summary(client_lags), _summary(sse_lags)
    return {
        "tokens_per_stream": TOKENS,
        "python_client_lag": client_lag,
        "http_sse_lag": sse_lag,
        "per_token_overhead_p50_ms": sse_lag["p50_ms"] - client_lag["p50_ms"],
        "ttft_python_client_p50_ms": statistics.median(client_first),
        "ttft_chat_python_client_p50_ms": statistics.median(chat_first),
        "ttft_chat_openai_sse_p50_ms": statistics.median(http_first),
    }


def _eos_bias(models_config: Path) -> dict[str, float]:
    entry = json.loads(models_config.read_text())["tasks"]["text-generation"]
    source = models_config.parent / entry["models"][entry["default"]]
    return {str(json.loads((source / "config.json").read_text())["eos_token_id"]): -100.0}


def run(quick: bool) -> dict[str, Any]:
    single_count, stream_count = (40, 3) if quick else (300, 12)
    env = {"PIPEQ_TORCH_THREADS": "1"}
    with LocalStack(queues=(Queue.TEXT,), extra_env=env) as stack:
        assert stack.models_config is not None
        gateway_env = {"PIPEQ_REDIS_URL": str(stack.redis_url), "PIPEQ_MODELS_CONFIG": str(stack.models_config)}
        with (
            GatewayProcess(gateway_env) as gateway,
            Client(stack.redis_url) as client,
            httpx.Client(base_url=gateway.url, timeout=120) as http,
        ):
            assert gateway.process is not None
            single_requests(client, http, gateway.process.pid, 10)  # warm up both paths
            eos_bias = _eos_bias(stack.models_config)
            return {
                "meta": {
                    "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                    "python": platform.python_version(),
                    "setup": "embedded Redis, one solo text worker (torch 1 thread), uvicorn gateway, tiny models",
                    # Other work on the machine inflates both paths; the side-by-side difference less so.
                    "load_average_1m": os.getloadavg()[0],
                },
                "single": single_requests(client, http, gateway.process.pid, single_count),
                "stream": streaming(client, http, eos_bias, stream_count),
            }


def plot(results: dict[str, Any], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    single, stream = results["single"], results["stream"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar(
        ["Python client", "HTTP (HF route)"], [single["python_client"]["p50_ms"], single["http_hf_route"]["p50_ms"]]
    )
    left.set_title(f"text-classification p50, ms (HTTP adds {single['overhead_p50_ms']:.2f})")
    right.bar(["Python client", "HTTP SSE"], [stream["python_client_lag"]["p50_ms"], stream["http_sse_lag"]["p50_ms"]])
    right.set_title(f"token delivery lag p50, ms (SSE adds {stream['per_token_overhead_p50_ms']:.2f})")
    figure.tight_layout()
    figure.savefig(target, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Fewer requests (a smoke run).")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    options = parser.parse_args()
    results = run(options.quick)
    overhead = results["single"]["overhead_p50_ms"]
    results["targets"] = [
        {
            "target": f"single-request overhead p50 <= {TARGET_OVERHEAD_MS} ms",
            "value": overhead,
            "met": overhead <= TARGET_OVERHEAD_MS,
        }
    ]
    options.out.mkdir(parents=True, exist_ok=True)
    (options.out / "gateway.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, options.out / "gateway.png")
    print(json.dumps({key: results[key] for key in ("single", "stream", "targets")}, indent=2))


if __name__ == "__main__":
    main()
