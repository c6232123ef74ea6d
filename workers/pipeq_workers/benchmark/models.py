"""Benchmark models: random weights, realistic shapes for a CPU (4 layers, 256 hidden)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    BertModel,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
)

from pipeq_workers.tiny import tokenizers as tok

__all__ = ["build_bench_models"]

BENCH_VERSION = "1"


def _bert(vocab_size: int, **extra: object) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=1024,
        max_position_embeddings=512,
        **extra,
    )


def _classifier(out: Path) -> None:
    tokenizer = tok.bert_tokenizer(1000)
    labels = {0: "NEGATIVE", 1: "POSITIVE"}
    model = BertForSequenceClassification(
        _bert(len(tokenizer), id2label=labels, label2id={v: k for k, v in labels.items()})
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _encoder(out: Path) -> None:
    tokenizer = tok.bert_tokenizer(1000)
    BertModel(_bert(len(tokenizer))).save_pretrained(out)
    tokenizer.save_pretrained(out)


def _llama(out: Path) -> None:
    tokenizer = tok.causal_tokenizer(1000)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=256,
        intermediate_size=1024,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=512,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(
        do_sample=False, max_new_tokens=32, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def build_bench_models(directory: Path) -> Path:
    """Builds (once) the three bench models and a models config naming them; returns its path."""
    config_path = directory / "models.json"
    marker = directory / ".bench-version"
    if config_path.exists() and marker.exists() and marker.read_text() == BENCH_VERSION:
        return config_path
    directory.mkdir(parents=True, exist_ok=True)
    builders = {"text-classification": _classifier, "feature-extraction": _encoder, "text-generation": _llama}
    tasks = {}
    for task, build in builders.items():
        torch.manual_seed(0)
        build(directory / task)
        tasks[task] = {"default": f"bench/{task}", "models": {f"bench/{task}": task}}
    config_path.write_text(json.dumps({"tasks": tasks}, indent=2))
    marker.write_text(BENCH_VERSION)
    return config_path
