"""`pipeq bench --quick` runs the whole suite and writes its JSON and PNG. Speed is reported by
the suite, never asserted here."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

TASKS = {"text-classification", "feature-extraction", "text-generation"}


def test_bench_quick_writes_json_and_png_with_every_measurement(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pipeq_workers.cli", "bench", "--quick", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    run = json.loads((tmp_path / "latest.json").read_text())
    assert (tmp_path / "latest.png").stat().st_size > 20_000
    assert run["meta"]["torch_threads"] == 1
    for task in TASKS:
        assert {"single", "batch32", "latency_p50_ms"} <= set(run["direct"][task])
        for mode in ("unbatched", "batched"):
            for clients in ("1", "32"):
                measured = run["pipeq"][mode][task][clients]
                assert measured["throughput"]["median"] > 0 and measured["latency_p99_ms"] >= measured["latency_p50_ms"]
    assert {"ttft_p50_ms", "token_gap_p50_ms", "delivery_lag_p50_ms"} <= set(run["pipeq"]["unbatched"]["stream"])
    assert len(run["targets"]) == 10 and all(isinstance(row["met"], bool) for row in run["targets"])
