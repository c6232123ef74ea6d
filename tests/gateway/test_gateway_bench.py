"""`python -m bench.gateway --quick` measures the gateway next to the Python client and writes its
JSON and PNG. Speed is reported by the benchmark, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_gateway_bench_quick_writes_both_paths_side_by_side(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench.gateway", "--quick", "--out", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    run = json.loads((tmp_path / "gateway.json").read_text())
    single, stream = run["single"], run["stream"]
    assert single["python_client"]["p50_ms"] > 0 and single["http_hf_route"]["p50_ms"] > 0
    assert "overhead_p50_ms" in single and "per_token_overhead_p50_ms" in stream
    assert stream["python_client_lag"]["n"] == stream["http_sse_lag"]["n"] > 0, "the same tokens both ways"
    assert run["targets"][0]["met"] in (True, False)
    assert (tmp_path / "gateway.png").stat().st_size > 10_000
