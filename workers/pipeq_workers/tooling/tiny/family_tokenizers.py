"""Tokenizers of the extra text families, in each family's own tokenizer class and layout.

Trained in-process on the shared small corpus (plus the family's task prefixes), so that
``AutoTokenizer`` loads them exactly as it loads the real models' tokenizers.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from tokenizers import Tokenizer, models, pre_tokenizers, trainers
from transformers import GPT2Tokenizer, NllbTokenizer, Qwen2Tokenizer, RobertaTokenizer, T5Tokenizer

from pipeq_workers.tooling.tiny import tokenizers as tok

__all__ = [
    "NLLB_LANGUAGES",
    "QWEN2_CHAT_TEMPLATE",
    "T5_PREFIXES",
    "gpt2_tokenizer",
    "nllb_tokenizer",
    "qwen2_tokenizer",
    "roberta_tokenizer",
    "t5_tokenizer",
]

# The prefixes t5-small's config carries in task_specific_params (its tokenizer knows their words).
T5_PREFIXES = {
    "summarization": "summarize: ",
    "translation_en_to_de": "translate English to German: ",
    "translation_en_to_fr": "translate English to French: ",
}
# A few of NLLB's FLORES-200 codes: enough to prove src_lang / tgt_lang, a small vocabulary.
NLLB_LANGUAGES = ["eng_Latn", "fra_Latn", "deu_Latn", "spa_Latn"]
# Qwen2-Instruct's template: a default system prompt unless the conversation brings its own.
QWEN2_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def _vocab_and_merges(tokenizer: Tokenizer) -> tuple[dict[str, int], list[tuple[str, str]]]:
    model = json.loads(tokenizer.to_str())["model"]
    return dict(model["vocab"]), [tuple(pair) for pair in model["merges"]]


def gpt2_tokenizer(vocab_size: int = 300) -> GPT2Tokenizer:
    """GPT-2: byte-level BPE, ``<|endoftext|>`` for BOS/EOS/UNK, no pad token, no chat template."""
    vocab, merges = _vocab_and_merges(tok.byte_level_bpe(vocab_size, ["<|endoftext|>"]))
    return GPT2Tokenizer(vocab=vocab, merges=merges)


def qwen2_tokenizer(vocab_size: int = 300) -> Qwen2Tokenizer:
    """Qwen2: byte-level BPE with the ChatML specials and the Instruct chat template."""
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab, merges = _vocab_and_merges(tok.byte_level_bpe(vocab_size, specials))
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=merges, additional_special_tokens=specials[1:])
    tokenizer.chat_template = QWEN2_CHAT_TEMPLATE
    return tokenizer


def roberta_tokenizer(vocab_size: int = 300) -> RobertaTokenizer:
    """RoBERTa: byte-level BPE, ``<s> A </s></s> B </s>`` pairs (as roberta-large-mnli)."""
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    vocab, merges = _vocab_and_merges(tok.byte_level_bpe(vocab_size, specials))
    return RobertaTokenizer(vocab=vocab, merges=merges)


def nllb_tokenizer(vocab_size: int = 200) -> NllbTokenizer:
    """NLLB: Metaspace BPE (``<s> <pad> </s> <unk>`` first), language codes as special tokens."""
    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    raw.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], show_progress=False
    )
    raw.train_from_iterator(tok.CORPUS * 4, trainer=trainer)
    vocab, merges = _vocab_and_merges(raw)
    return NllbTokenizer(vocab=vocab, merges=merges, extra_special_tokens=list(NLLB_LANGUAGES))


def t5_tokenizer(vocab_size: int = 120) -> T5Tokenizer:
    """T5: a SentencePiece unigram (``<pad>`` 0, ``</s>`` 1, ``<unk>`` 2) that knows the task prefixes."""
    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as scratch:
        corpus = Path(scratch) / "corpus.txt"
        corpus.write_text("\n".join([*tok.CORPUS, *T5_PREFIXES.values()] * 4), encoding="utf-8")
        prefix = str(Path(scratch) / "spm")
        spm.SentencePieceTrainer.train(
            input=str(corpus),
            model_prefix=prefix,
            vocab_size=vocab_size,
            model_type="unigram",
            character_coverage=1.0,
            pad_id=0,
            eos_id=1,
            unk_id=2,
            bos_id=-1,
            minloglevel=2,
        )
        processor = spm.SentencePieceProcessor(model_file=f"{prefix}.model")
    pieces = [(processor.id_to_piece(i), processor.get_score(i)) for i in range(processor.get_piece_size())]
    return T5Tokenizer(vocab=pieces, extra_ids=8)
