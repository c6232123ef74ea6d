"""Tiny builds of the text model families people deploy, beside the default one per task.

Each builder writes one model directory in that family's real layout (model class, config
fields, tokenizer class), so that the family-specific behaviour pipeq keys on (task
prefixes, language codes, chat templates, label names, sentence-transformers modules) is
exercised exactly as on the Hub models. ``FAMILIES`` registers them.
"""

from __future__ import annotations

import json
from pathlib import Path

from transformers import (
    BartConfig,
    BartForSequenceClassification,
    DistilBertConfig,
    DistilBertForSequenceClassification,
    DistilBertTokenizer,
    GenerationConfig,
    GPT2Config,
    GPT2LMHeadModel,
    M2M100Config,
    M2M100ForConditionalGeneration,
    PreTrainedModel,
    Qwen2Config,
    Qwen2ForCausalLM,
    RobertaConfig,
    RobertaForSequenceClassification,
    T5Config,
    T5ForConditionalGeneration,
)

from pipeq_workers.tooling.tiny import TinyFamily, text
from pipeq_workers.tooling.tiny import family_tokenizers as ft
from pipeq_workers.tooling.tiny import tokenizers as tok
from pipeq_workers.tooling.tiny.text import HIDDEN

__all__ = ["FAMILIES"]

FFN = 64
MAX_NEW_TOKENS = 16
# Weights ten times the usual spread: with the default, tiny random models answer the same
# token whatever the input, and a parity test could not tell prompts apart.
INIT = 0.2


def _greedy(**token_ids: object) -> GenerationConfig:
    # The pipelines sample by default (and T5/BART configs carry beam settings) unless told.
    return GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=MAX_NEW_TOKENS, **token_ids)


def _save(model: PreTrainedModel, tokenizer: object, out: Path) -> None:
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)  # type: ignore[attr-defined]


def text_generation_gpt2(out: Path) -> None:
    """GPT-2: no chat template and no pad token (as openai-community/gpt2)."""
    tokenizer = ft.gpt2_tokenizer()
    eos = tokenizer.eos_token_id
    config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=HIDDEN,
        n_layer=2,
        n_head=2,
        n_positions=256,
        initializer_range=INIT,
        bos_token_id=eos,
        eos_token_id=eos,
    )
    model = GPT2LMHeadModel(config)
    model.generation_config = _greedy(bos_token_id=eos, eos_token_id=eos)
    _save(model, tokenizer, out)


def text_generation_qwen2(out: Path) -> None:
    """Qwen2-Instruct: ChatML template with a system prompt, two EOS ids (``<|im_end|>``, ``<|endoftext|>``)."""
    tokenizer = ft.qwen2_tokenizer()
    end_of_text, im_end = tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_end|>"])
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=FFN,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        initializer_range=INIT,
        bos_token_id=end_of_text,
        eos_token_id=im_end,
        pad_token_id=end_of_text,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config = _greedy(
        bos_token_id=end_of_text, eos_token_id=[im_end, end_of_text], pad_token_id=end_of_text
    )
    _save(model, tokenizer, out)


def text_classification_distilbert(out: Path) -> None:
    """DistilBERT (the default Hub model's family): no token_type_ids."""
    tokenizer = DistilBertTokenizer(vocab=tok.wordpiece(300).get_vocab())
    labels = {0: "NEGATIVE", 1: "POSITIVE"}
    config = DistilBertConfig(
        vocab_size=len(tokenizer),
        dim=HIDDEN,
        n_layers=2,
        n_heads=2,
        hidden_dim=FFN,
        max_position_embeddings=128,
        initializer_range=INIT,
        id2label=labels,
        label2id={label: index for index, label in labels.items()},
    )
    _save(DistilBertForSequenceClassification(config), tokenizer, out)


def _t5(out: Path) -> None:
    """t5-small's layout: task prefixes in ``task_specific_params``, decoder starts with pad."""
    tokenizer = ft.t5_tokenizer()
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    config = T5Config(
        vocab_size=len(tokenizer),
        d_model=HIDDEN,
        d_kv=16,
        d_ff=FFN,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=2,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=32,
        dropout_rate=0.0,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=pad,
        task_specific_params={task: {"prefix": prefix} for task, prefix in ft.T5_PREFIXES.items()},
    )
    model = T5ForConditionalGeneration(config)
    # Random weights favour pad, which decodes to nothing; real T5 never emits it.
    model.generation_config = _greedy(
        decoder_start_token_id=pad, eos_token_id=eos, pad_token_id=pad, bad_words_ids=[[pad]]
    )
    _save(model, tokenizer, out)


def summarization_t5(out: Path) -> None:
    _t5(out)


def translation_t5(out: Path) -> None:
    _t5(out)


def translation_nllb(out: Path) -> None:
    """NLLB (M2M100 architecture, NllbTokenizer): source language token first, target forced as BOS."""
    tokenizer = ft.nllb_tokenizer()
    bos, pad, eos = tokenizer.bos_token_id, tokenizer.pad_token_id, tokenizer.eos_token_id
    config = M2M100Config(
        vocab_size=len(tokenizer),
        d_model=HIDDEN,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=FFN,
        decoder_ffn_dim=FFN,
        max_position_embeddings=128,
        # 0.02 (the default) emits EOS at once; 1.0 makes the output depend on both language codes.
        init_std=1.0,
        dropout=0.0,
        scale_embedding=True,
        bos_token_id=bos,
        pad_token_id=pad,
        eos_token_id=eos,
        decoder_start_token_id=eos,
    )
    model = M2M100ForConditionalGeneration(config)
    model.generation_config = _greedy(
        decoder_start_token_id=eos, bos_token_id=bos, eos_token_id=eos, pad_token_id=pad, bad_words_ids=[[pad]]
    )
    _save(model, tokenizer, out)


def zero_shot_classification_bart(out: Path) -> None:
    """facebook/bart-large-mnli's family: BART sequence classification, lower-case NLI labels."""
    tokenizer = tok.seq2seq_tokenizer()
    labels = {0: "contradiction", 1: "neutral", 2: "entailment"}
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=HIDDEN,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=FFN,
        decoder_ffn_dim=FFN,
        max_position_embeddings=128,
        init_std=INIT,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        id2label=labels,
        label2id={label: index for index, label in labels.items()},
    )
    _save(BartForSequenceClassification(config), tokenizer, out)


def zero_shot_classification_roberta(out: Path) -> None:
    """A RoBERTa NLI model whose labels are upper-case and start with ENTAILMENT (index 0, not 2)."""
    tokenizer = ft.roberta_tokenizer()
    labels = {0: "ENTAILMENT", 1: "NEUTRAL", 2: "CONTRADICTION"}
    config = RobertaConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=FFN,
        max_position_embeddings=130,  # RoBERTa positions start after the pad id
        type_vocab_size=1,
        initializer_range=INIT,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        id2label=labels,
        label2id={label: index for index, label in labels.items()},
    )
    _save(RobertaForSequenceClassification(config), tokenizer, out)


# sentence-transformers/all-MiniLM-L6-v2's layout: Transformer -> mean Pooling -> Normalize.
ST_MODULES = [
    {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
    {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
]
ST_MAX_SEQ_LENGTH = 64  # below the model's 128 positions, as MiniLM's 256 is below BERT's 512


def _write_json(path: Path, data: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def feature_extraction_sentence_transformers(out: Path) -> None:
    """A BERT encoder saved as a sentence-transformers model: pooling config, normalisation, max length."""
    text.feature_extraction(out)
    pooling = {
        "word_embedding_dimension": HIDDEN,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }
    _write_json(out / "modules.json", ST_MODULES)
    _write_json(out / "1_Pooling" / "config.json", pooling)
    _write_json(out / "sentence_bert_config.json", {"max_seq_length": ST_MAX_SEQ_LENGTH, "do_lower_case": False})
    _write_json(
        out / "config_sentence_transformers.json",
        {"prompts": {}, "default_prompt_name": None, "similarity_fn_name": "cosine"},
    )


FAMILIES: tuple[TinyFamily, ...] = (
    TinyFamily("text-generation", "gpt2", text_generation_gpt2),
    TinyFamily("text-generation", "qwen2", text_generation_qwen2),
    TinyFamily("text-classification", "distilbert", text_classification_distilbert),
    TinyFamily("summarization", "t5", summarization_t5),
    TinyFamily("translation", "t5", translation_t5),
    TinyFamily("translation", "nllb", translation_nllb),
    TinyFamily("zero-shot-classification", "bart", zero_shot_classification_bart),
    TinyFamily("zero-shot-classification", "roberta", zero_shot_classification_roberta),
    TinyFamily("feature-extraction", "sentence-transformers", feature_extraction_sentence_transformers),
)
