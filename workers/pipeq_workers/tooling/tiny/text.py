"""Tiny random-weight text models: decoder-only, encoder-only and encoder-decoder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertForSequenceClassification,
    BertModel,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    MarianConfig,
    MarianMTModel,
    MarianTokenizer,
    PreTrainedTokenizerFast,
)

from pipeq_workers.tooling.tiny import tokenizers as tok

HIDDEN = 32
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@dataclass(frozen=True)
class Size:
    """Shape of the BERT and Llama builders: tiny for tests, larger for the benchmark."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    bert_positions: int
    llama_positions: int
    kv_heads: int
    vocab: int | None = None  # None: each tokenizer's own default


TINY = Size(hidden=HIDDEN, layers=2, heads=2, ffn=64, bert_positions=128, llama_positions=256, kv_heads=2)


def _bert_config(vocab_size: int, size: Size, **extra: object) -> BertConfig:
    return BertConfig(
        vocab_size=vocab_size,
        hidden_size=size.hidden,
        num_hidden_layers=size.layers,
        num_attention_heads=size.heads,
        intermediate_size=size.ffn,
        max_position_embeddings=size.bert_positions,
        **extra,
    )


def _bert_tokenizer(size: Size) -> PreTrainedTokenizerFast:
    return tok.bert_tokenizer() if size.vocab is None else tok.bert_tokenizer(size.vocab)


def text_generation(out: Path, size: Size = TINY) -> None:
    tokenizer = tok.causal_tokenizer() if size.vocab is None else tok.causal_tokenizer(size.vocab)
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=size.hidden,
        intermediate_size=size.ffn,
        num_hidden_layers=size.layers,
        num_attention_heads=max(4, size.heads),
        num_key_value_heads=size.kv_heads,
        max_position_embeddings=size.llama_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    # The pipeline samples by default (temperature 0.7, 256 tokens) unless told otherwise.
    model.generation_config = GenerationConfig(
        do_sample=False,
        max_new_tokens=16,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def text_classification(out: Path, size: Size = TINY) -> None:
    tokenizer = _bert_tokenizer(size)
    labels = {0: "NEGATIVE", 1: "POSITIVE"}
    model = BertForSequenceClassification(
        _bert_config(len(tokenizer), size, id2label=labels, label2id={v: k for k, v in labels.items()})
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def zero_shot_classification(out: Path) -> None:
    tokenizer = tok.bert_tokenizer()
    labels = {0: "contradiction", 1: "neutral", 2: "entailment"}
    model = BertForSequenceClassification(
        _bert_config(len(tokenizer), TINY, id2label=labels, label2id={v: k for k, v in labels.items()})
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def feature_extraction(out: Path, size: Size = TINY) -> None:
    tokenizer = _bert_tokenizer(size)
    BertModel(_bert_config(len(tokenizer), size)).save_pretrained(out)
    tokenizer.save_pretrained(out)


def summarization(out: Path) -> None:
    tokenizer = tok.seq2seq_tokenizer()
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=HIDDEN,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        init_std=0.2,  # with the default 0.02 greedy decoding emits EOS at once
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        forced_bos_token_id=None,
        forced_eos_token_id=None,
    )
    model = BartForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        do_sample=False,
        max_new_tokens=16,
        num_beams=1,
        decoder_start_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def translation(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tok.sentencepiece_models(out)
    tokenizer = MarianTokenizer(
        source_spm=str(out / "source.spm"), target_spm=str(out / "target.spm"), vocab=str(out / "vocab.json")
    )
    pad = tokenizer.pad_token_id
    config = MarianConfig(
        vocab_size=len(tokenizer),
        d_model=HIDDEN,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        init_std=0.2,
        pad_token_id=pad,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=pad,
    )
    model = MarianMTModel(config)
    model.generation_config = GenerationConfig(
        do_sample=False,
        max_new_tokens=16,
        num_beams=1,
        decoder_start_token_id=pad,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=pad,
        bad_words_ids=[[pad]],
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def reseed(seed: int) -> None:
    """Random weights, but the same ones on every build: builds are reproducible."""
    torch.manual_seed(seed)
