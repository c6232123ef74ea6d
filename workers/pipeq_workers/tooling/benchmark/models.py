"""Benchmark models: the tiny builders at realistic CPU shapes (4 layers, 256 hidden)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from pipeq_workers.tooling.tiny import text

__all__ = ["build_bench_models"]

BENCH_VERSION = "3"
BENCH = text.Size(
    hidden=256, layers=4, heads=4, ffn=1024, bert_positions=512, llama_positions=512, kv_heads=4, vocab=1000
)


def build_bench_models(directory: Path) -> Path:
    """Builds (once) the three bench models and a models config naming them; returns its path."""
    config_path = directory / "models.json"
    marker = directory / ".bench-version"
    if config_path.exists() and marker.exists() and marker.read_text() == BENCH_VERSION:
        return config_path
    directory.mkdir(parents=True, exist_ok=True)
    builders = {
        "text-classification": text.text_classification,
        "feature-extraction": text.feature_extraction,
        "text-generation": text.text_generation,
    }
    tasks = {}
    for task, build in builders.items():
        torch.manual_seed(0)
        build(directory / task, BENCH)
        tasks[task] = {"default": f"bench/{task}", "models": {f"bench/{task}": task}}
    config_path.write_text(json.dumps({"tasks": tasks}, indent=2))
    marker.write_text(BENCH_VERSION)
    return config_path
