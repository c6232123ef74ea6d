"""Tokenizers trained in-process on a small built-in corpus (no Hub access needed)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

CORPUS: tuple[str, ...] = (
    "the quick brown fox jumps over the lazy dog",
    "a queue of requests waits for a worker to answer",
    "I love this movie, it was wonderful and moving",
    "this is terrible, I hated every minute of it",
    "translate this sentence into another language please",
    "summaries are short texts that keep the main points",
    "a photo of a cat sitting on a red chair near the window",
    "speech recognition turns sound into written words",
    "hello world, how are you today? fine, thanks!",
    "0 1 2 3 4 5 6 7 8 9 . , ; : ! ? ' \" ( ) - + = / %",
)
CHARACTERS = "abcdefghijklmnopqrstuvwxyz' "


def byte_level_bpe(vocab_size: int, specials: list[str]) -> Tokenizer:
    """A GPT-2 style byte-level BPE: any input text round-trips, so decoding is lossless."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(CORPUS * 4, trainer=trainer)
    return tokenizer


def _wordpiece_vocab(normalizer: normalizers.Normalizer, splitter: pre_tokenizers.PreTokenizer, size: int) -> list[str]:
    """Characters, their ``##`` continuations, then whole words by frequency (ties alphabetical).

    Built by hand because the tokenizers WordPiece trainer breaks frequency ties differently
    in every process, which made tiny model builds differ from run to run."""
    words: Counter[str] = Counter()
    for line in CORPUS:
        words.update(piece for piece, _ in splitter.pre_tokenize_str(normalizer.normalize_str(line)))
    chars = sorted({char for word in words for char in word})
    pieces = [*chars, *(f"##{char}" for char in chars)]
    ranked = [word for word, _ in sorted(words.items(), key=lambda item: (-item[1], item[0])) if len(word) > 1]
    return (pieces + ranked)[:size]


def wordpiece(vocab_size: int) -> Tokenizer:
    """A BERT style WordPiece tokenizer with [CLS] ... [SEP] post-processing (deterministic)."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    normalizer = normalizers.BertNormalizer(lowercase=True)
    splitter = pre_tokenizers.BertPreTokenizer()
    entries = specials + _wordpiece_vocab(normalizer, splitter, vocab_size - len(specials))
    tokenizer = Tokenizer(models.WordPiece({token: index for index, token in enumerate(entries)}, unk_token="[UNK]"))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = splitter
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", entries.index("[CLS]")), ("[SEP]", entries.index("[SEP]"))],
    )
    return tokenizer


def bert_tokenizer(vocab_size: int = 300) -> PreTrainedTokenizerFast:
    return PreTrainedTokenizerFast(
        tokenizer_object=wordpiece(vocab_size),
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def causal_tokenizer(vocab_size: int = 400) -> PreTrainedTokenizerFast:
    """Llama/GPT-2 style tokenizer: BOS prepended, EOS used for padding."""
    raw = byte_level_bpe(vocab_size, ["<s>", "</s>", "<unk>", "<pad>"])
    raw.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", raw.token_to_id("<s>"))]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>"
    )


def seq2seq_tokenizer(vocab_size: int = 400) -> PreTrainedTokenizerFast:
    """BART style: <s> text </s>."""
    raw = byte_level_bpe(vocab_size, ["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bos, eos = raw.token_to_id("<s>"), raw.token_to_id("</s>")
    raw.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=raw,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
    )


def sentencepiece_models(directory: Path, vocab_size: int = 120) -> None:
    """Trains source.spm / target.spm and writes the joint vocab.json MarianTokenizer needs."""
    import sentencepiece as spm

    corpus = directory / "corpus.txt"
    corpus.write_text("\n".join(CORPUS * 4), encoding="utf-8")
    prefix = directory / "spm"
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(prefix),
        vocab_size=vocab_size,
        model_type="unigram",
        character_coverage=1.0,
        pad_id=-1,
        bos_id=-1,
        eos_id=-1,
        unk_id=0,
        minloglevel=2,
    )
    model_bytes = prefix.with_suffix(".model").read_bytes()
    (directory / "source.spm").write_bytes(model_bytes)
    (directory / "target.spm").write_bytes(model_bytes)
    processor = spm.SentencePieceProcessor(model_file=str(prefix.with_suffix(".model")))
    pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
    # Marian's convention: <pad> last so that decoder_start_token_id = pad_token_id is valid.
    vocab = {"</s>": 0, "<unk>": 1}
    for piece in pieces:
        vocab.setdefault(piece, len(vocab))
    vocab["<pad>"] = len(vocab)
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    for leftover in (corpus, prefix.with_suffix(".model"), prefix.with_suffix(".vocab")):
        leftover.unlink()


def character_vocab(specials: dict[str, int]) -> dict[str, int]:
    vocab = dict(specials)
    for char in CHARACTERS:
        vocab.setdefault(char, len(vocab))
    return vocab
