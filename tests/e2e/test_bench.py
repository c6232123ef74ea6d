"""`pipeq bench --quick` runs the whole suite and writes its JSON and PNG; `python -m bench`
honours its arguments. Speed is reported by the suite, never asserted here."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]  # `python -m bench` runs from the repository root

TASKS = {"text-classification", "feature-extraction", "text-generation"}
WORKLOADS = TASKS | {"generation-mixed", "streaming", "submit-rate"}
TASK_VARIANTS = {"direct-1", "direct-32", "unbatched-1", "unbatched-32", "batched-1", "batched-32"}
TURNS = {"turns-direct", "turns-unbatched", "turns-batched"}  # single requests, direct and pipeq taking turns
IN_PROCESS = {"in-process-32"}  # encoders only: the batched worker without a model process
MIXED_VARIANTS = {
    "direct-identical-32",
    "direct-mixed-1",
    "identical-batched-32",
    "mixed-batched-32",
    "mixed-unbatched-32",
}
TARGET_KEYS = {"workload", "name", "measured", "target", "op", "threshold", "unit", "met", "how"}


def _bench(command: list[str], out: Path) -> dict:
    argv = [*command, "--out", str(out)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (out / "latest.png").stat().st_size > 20_000
    return json.loads((out / "latest.json").read_text())


def _check_variant(summary: dict, *, pipeq: bool) -> None:
    assert summary["throughput"]["median"] > 0
    assert summary["throughput"]["low"] <= summary["throughput"]["median"] <= summary["throughput"]["high"]
    roles = {"server", "client", "redis"} if pipeq else {"server"}
    assert roles <= set(summary["cpu_s_per_1000"])
    assert all(spread["median"] >= 0 for spread in summary["cpu_s_per_1000"].values())
    assert summary["background_cores"] >= 0
    if pipeq:  # requests cross Redis: the commands they sent are counted
        assert summary["commandstats"]["calls_per_request"] > 0
        assert summary["commandstats"]["per_request"]
    else:
        assert summary["commandstats"] is None


def test_bench_quick_writes_every_measurement_cpu_commandstats_and_targets(tmp_path: Path) -> None:
    run = _bench([sys.executable, "-m", "pipeq_workers.cli", "bench", "--quick"], tmp_path)
    meta = run["meta"]
    assert meta["torch_threads"] == 1 and meta["repeats"] == 1
    assert {"machine", "shared", "load_average_start", "load_average_end"} <= set(meta["environment"])
    assert set(run["workloads"]) == WORKLOADS
    for task in TASKS:
        variants = run["workloads"][task]["variants"]
        assert set(variants) == TASK_VARIANTS | (set() if task == "text-generation" else TURNS | IN_PROCESS)
        for key in TASK_VARIANTS | (IN_PROCESS & set(variants)):
            _check_variant(variants[key], pipeq=not key.startswith("direct"))
        for key in TURNS & set(variants):  # latency only: no window of their own for CPU
            latency = variants[key]["series"]["latency_ms"]
            assert latency["p99"] >= latency["p50"] > 0 and latency["n"] == variants[key]["requests_per_repeat"]
            assert variants[key]["cpu_s_per_1000"] == {} and variants[key]["commandstats"] is None
        assert {"cpu_direct_32_over_batched_32_server", "batched_32_over_direct_32"} <= set(
            run["workloads"][task]["ratios"]
        )
    mixed = run["workloads"]["generation-mixed"]["variants"]
    assert set(mixed) == MIXED_VARIANTS
    for key, summary in mixed.items():
        _check_variant(summary, pipeq=not key.startswith("direct"))
    streaming = run["workloads"]["streaming"]["variants"]
    assert {"ttft_ms", "gap_ms", "worker_gap_ms", "lag_ms"} <= set(streaming["batched"]["series"])
    assert {"ttft_ms", "gap_ms"} <= set(streaming["direct"]["series"])
    submits = run["workloads"]["submit-rate"]["variants"]
    assert set(submits) == {"sync", "async"}
    assert submits["async"]["commandstats"]["per_request"]["lpush"] >= 1  # one push per submit
    targets = run["targets"]
    assert len(targets) == 17  # 5 per encoder task, 2 mixed generation, 4 streaming, 1 submit rate
    assert all(set(row) >= TARGET_KEYS and isinstance(row["met"], bool) for row in targets)
    assert {row["workload"] for row in targets} == {"text-classification", "feature-extraction"} | (WORKLOADS - TASKS)


def test_python_m_bench_honours_workloads_repeats_and_no_commandstats(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench", "--quick", "--workloads", "submit-rate", "--repeats", "2"]
    run = _bench([*command, "--no-commandstats"], tmp_path)
    assert run["meta"]["repeats"] == 2 and run["meta"]["workloads"] == ["submit-rate"]
    assert set(run["workloads"]) == {"submit-rate"}
    assert run["workloads"]["submit-rate"]["variants"]["sync"]["commandstats"] is None
    assert [row["workload"] for row in run["targets"]] == ["submit-rate"]
