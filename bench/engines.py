"""``python -m bench.engines [--quick]``: continuous batching engines side by side, in-process,
on the bench's text-generation model (llama 4x256, random weights, torch on 1 thread).

The same 32 greedy requests (prompts of different lengths, max_new_tokens from 16 to 64, EOS
masked so every request makes exactly its tokens), run by:

- ``generate()``: one static batch through pipeq's batch runner (rows end at their own caps,
  the batch runs to the longest);
- ``pipeq step loop``: ``generation/continuous.py`` with all 32 at once (rows leave as they end);
- ``pipeq step loop, arrivals``: 8 start, and each time one ends the next joins (a queue's
  steady state, which generate() cannot do at all);
- ``transformers ContinuousBatchingManager`` (``init_continuous_batching``): all 32 at once.

Repeats are interleaved engine by engine; medians are reported: tokens/s and CPU seconds per
1,000 tokens. Greedy outputs are compared with generate()'s. Writes ``bench/results/engines.json``
and ``engines.png``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

from pipeq_client.types import GenerationParameters
from pipeq_workers.generation.continuous import StepLoop
from pipeq_workers.generation.plan import SamplingPlan
from pipeq_workers.generation.runner import GenerationControl, GenerationJob, Prompt, run_generation_batch
from pipeq_workers.runtime.batching import Call
from pipeq_workers.tooling.benchmark.models import build_bench_models

REQUESTS = 32
RESULTS = Path(__file__).parent / "results"

Run = Callable[[list[list[int]], list[int]], list[str]]  # prompts, caps -> generated texts


def _prompt(ids: list[int]) -> Callable[[], Prompt]:
    tensor = torch.tensor([ids])
    return lambda: Prompt({"input_ids": tensor, "attention_mask": torch.ones_like(tensor)}, len(ids))


def _plan(model: Any, eos: int, cap: int) -> SamplingPlan:
    return SamplingPlan.build(GenerationParameters(temperature=0, max_new_tokens=cap, logit_bias={eos: -100}), model)


def static(model: Any, tokenizer: Any, eos: int) -> Run:
    def run(prompts: list[list[int]], caps: list[int]) -> list[str]:
        jobs = [
            GenerationJob(_prompt(ids)(), GenerationControl(), _plan(model, eos, cap))
            for ids, cap in zip(prompts, caps, strict=True)
        ]
        results = run_generation_batch(model, tokenizer, jobs)
        return [sequences[0].text for sequences in results]

    return run


def step_loop(model: Any, tokenizer: Any, eos: int, running: int | None = None) -> Run:
    """All at once, or ``running`` at a time with the next joining as one ends."""

    def run(prompts: list[list[int]], caps: list[int]) -> list[str]:
        limit = running or REQUESTS  # the loop keeps at most this many requests running
        calls = [
            Call("bench", lambda items: [], (_prompt(ids), GenerationControl(), _plan(model, eos, cap)), limit)
            for ids, cap in zip(prompts, caps, strict=True)
        ]
        first, queue = calls[:limit], calls[limit:]

        def join(room: int) -> list[Call]:
            taken = queue[:room]
            del queue[:room]
            return taken

        StepLoop(model, tokenizer, None)(first, join)
        return [call.future.result()[0].text for call in calls]

    return run


def manager(model: Any, tokenizer: Any, eos: int) -> Run:
    config = GenerationConfig(do_sample=False, max_new_tokens=64, eos_token_id=None, pad_token_id=eos)
    cb = model.init_continuous_batching(generation_config=config)
    cb.start()

    def run(prompts: list[list[int]], caps: list[int]) -> list[str]:
        ids = [cb.add_request(prompt, max_new_tokens=cap) for prompt, cap in zip(prompts, caps, strict=True)]
        outputs = {}
        for _ in ids:
            output = cb.get_result(timeout=600)
            outputs[output.request_id] = output.generated_tokens
        return [tokenizer.decode(outputs[request_id], skip_special_tokens=True) for request_id in ids]

    run.stop = cb.stop  # type: ignore[attr-defined]
    return run


def workload(tokenizer: Any) -> tuple[list[list[int]], list[int]]:
    text = "the quick brown fox jumps over the lazy dog while a queue of requests waits"
    words = text.split(" ")
    prompts = [
        tokenizer.encode(" ".join(words[: 2 + index % 12]), add_special_tokens=True) for index in range(REQUESTS)
    ]
    caps = [16 + (index * 7) % 49 for index in range(REQUESTS)]  # 16..64
    return prompts, caps


def measure(run: Run, prompts: list[list[int]], caps: list[int]) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run(prompts, caps)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    tokens = sum(caps)
    return {"tokens_per_s": tokens / wall, "cpu_s_per_1000_tokens": cpu / tokens * 1000, "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.engines")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="one repeat")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = build_bench_models(Path(".cache/bench-models"))
    path = config.parent / "text-generation"
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    eos = int(model.generation_config.eos_token_id)
    prompts, caps = workload(tokenizer)
    engines: dict[str, Run] = {
        "generate() static batch": static(model, tokenizer, eos),
        "pipeq step loop": step_loop(model, tokenizer, eos),
        "pipeq step loop, 8 running, arrivals": step_loop(model, tokenizer, eos, running=8),
        "transformers ContinuousBatchingManager": manager(model, tokenizer, eos),
    }
    want = engines["generate() static batch"](prompts, caps)  # also the warm-up
    same = {name: run(prompts, caps) == want for name, run in engines.items()}
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in engines}
    for _ in range(1 if args.quick else args.repeats):
        for name, run in engines.items():
            samples[name].append(measure(run, prompts, caps))
    engines["transformers ContinuousBatchingManager"].stop()  # type: ignore[attr-defined]
    results = {
        name: {
            **{key: statistics.median(sample[key] for sample in runs) for key in runs[0]},
            "greedy_texts_equal_generate": same[name],
        }
        for name, runs in samples.items()
    }
    report = {
        "requests": REQUESTS,
        "tokens": sum(caps),
        "max_new_tokens": [min(caps), max(caps)],
        "machine": {"platform": platform.platform(), "torch_threads": torch.get_num_threads()},
        "engines": results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "engines.json").write_text(json.dumps(report, indent=2) + "\n")
    plot(results, args.out / "engines.png")
    for name, figures in results.items():
        print(f"{name:42s} {figures['tokens_per_s']:9.0f} tokens/s  {figures['cpu_s_per_1000_tokens']:7.3f} CPU s/1k")


def plot(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    figure, axes = plt.subplots(1, 2, figsize=(12, 4))
    for axis, key, title in (
        (axes[0], "tokens_per_s", "tokens/s (higher is better)"),
        (axes[1], "cpu_s_per_1000_tokens", "CPU s per 1,000 tokens (lower is better)"),
    ):
        axis.barh(names, [results[name][key] for name in names])
        axis.set_title(title)
        axis.set_xscale("log")
    figure.tight_layout()
    figure.savefig(path)


if __name__ == "__main__":
    main()
