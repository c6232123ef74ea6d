"""Tiny builds of the audio model families people deploy, beside the default one per task:
Whisper (automatic-speech-recognition) and SpeechT5 with a HiFi-GAN vocoder (text-to-speech).

Each builder writes one model directory in that family's real layout (model class, generation
config fields, tokenizer and processor classes), so the family-specific behaviour pipeq keys on
(Whisper's language/task tokens, timestamps, 30 s windows; SpeechT5's vocoder and speaker
embedding) is exercised exactly as on the Hub models. ``FAMILIES`` registers them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch
from transformers import (
    GenerationConfig,
    SpeechT5Config,
    SpeechT5FeatureExtractor,
    SpeechT5ForTextToSpeech,
    SpeechT5HifiGan,
    SpeechT5HifiGanConfig,
    SpeechT5Processor,
    SpeechT5Tokenizer,
    WhisperConfig,
    WhisperFeatureExtractor,
    WhisperForConditionalGeneration,
    WhisperProcessor,
    WhisperTokenizer,
)
from transformers.models.whisper.tokenization_whisper import LANGUAGES

from pipeq_workers.pipelines.text_to_speech import SPEAKER_EMBEDDINGS_FILE, VOCODER_DIR
from pipeq_workers.tooling.tiny import TinyFamily
from pipeq_workers.tooling.tiny import tokenizers as tok
from pipeq_workers.tooling.tiny.audio import SAMPLING_RATE

__all__ = ["FAMILIES"]

HIDDEN = 32
WHISPER_MAX_NEW_TOKENS = 24
# Whisper's timestamp tokens: <|0.00|> ... <|30.00|> in steps of 20 ms.
TIMESTAMPS = 1501


def _whisper_tokenizer() -> WhisperTokenizer:
    """Byte-level BPE, then Whisper's special tokens in its order: the language tokens must
    follow <|startoftranscript|> directly (the tokenizer computes their ids from it)."""
    trained = json.loads(tok.byte_level_bpe(300, ["<|endoftext|>"]).to_str())["model"]
    merges = [tuple(merge.split(" ")) if isinstance(merge, str) else tuple(merge) for merge in trained["merges"]]
    tokenizer = WhisperTokenizer(vocab=trained["vocab"], merges=merges)
    specials = ["<|startoftranscript|>", *(f"<|{code}|>" for code in LANGUAGES)]
    specials += ["<|translate|>", "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>"]
    tokenizer.add_special_tokens({"additional_special_tokens": [*specials, "<|notimestamps|>"]})
    tokenizer.add_tokens([f"<|{index * 0.02:.2f}|>" for index in range(TIMESTAMPS)])
    return tokenizer


def _whisper_generation_config(tokenizer: WhisperTokenizer) -> GenerationConfig:
    """The fields Whisper's generate() reads: language/task token maps, timestamp and
    alignment settings (word timestamps need ``alignment_heads``)."""
    ids = tokenizer.convert_tokens_to_ids
    eot = ids("<|endoftext|>")
    return GenerationConfig(
        decoder_start_token_id=ids("<|startoftranscript|>"),
        bos_token_id=eot,
        eos_token_id=eot,
        pad_token_id=eot,
        do_sample=False,
        num_beams=1,
        max_new_tokens=WHISPER_MAX_NEW_TOKENS,
        is_multilingual=True,
        lang_to_id={f"<|{code}|>": ids(f"<|{code}|>") for code in LANGUAGES},
        task_to_id={"transcribe": ids("<|transcribe|>"), "translate": ids("<|translate|>")},
        no_timestamps_token_id=ids("<|notimestamps|>"),
        prev_sot_token_id=ids("<|startofprev|>"),
        max_initial_timestamp_index=50,
        alignment_heads=[[0, 0], [0, 1]],
        begin_suppress_tokens=[ids("Ġ"), eot],
        suppress_tokens=[],
        return_timestamps=False,
    )


def automatic_speech_recognition_whisper(out: Path) -> None:
    """Whisper (as openai/whisper-tiny): 80 mel bins, 30 s windows, multilingual."""
    tokenizer = _whisper_tokenizer()
    generation = _whisper_generation_config(tokenizer)
    config = WhisperConfig(
        vocab_size=len(tokenizer),
        num_mel_bins=80,
        d_model=HIDDEN,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_source_positions=1500,  # 30 s of 10 ms frames, halved by the conv stride
        max_target_positions=448,
        init_std=0.2,  # with the default 0.02 greedy decoding ends at once
        pad_token_id=generation.pad_token_id,
        bos_token_id=generation.bos_token_id,
        eos_token_id=generation.eos_token_id,
        decoder_start_token_id=generation.decoder_start_token_id,
        begin_suppress_tokens=generation.begin_suppress_tokens,
        suppress_tokens=[],
    )
    model = WhisperForConditionalGeneration(config)
    with torch.no_grad():
        # Timestamp tokens are three quarters of the vocabulary: at random weights they would
        # win almost every step and leave the text empty. Near-zero embeddings (tied to the
        # output layer) keep their logits near zero, below the best text token.
        timestamp_begin = generation.no_timestamps_token_id + 1
        model.model.decoder.embed_tokens.weight[timestamp_begin:] *= 0.1
    model.generation_config = generation
    model.save_pretrained(out)
    extractor = WhisperFeatureExtractor(feature_size=80, sampling_rate=SAMPLING_RATE)
    WhisperProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(out)


def _speecht5_tokenizer(out: Path) -> SpeechT5Tokenizer:
    """A character-level sentencepiece model, as microsoft/speecht5_tts has."""
    corpus = out / "corpus.txt"
    corpus.write_text("\n".join(tok.CORPUS * 4), encoding="utf-8")
    prefix = out / "spm_char"
    spm.SentencePieceTrainer.train(
        input=str(corpus),
        model_prefix=str(prefix),
        model_type="char",
        vocab_size=60,
        character_coverage=1.0,
        bos_id=0,
        pad_id=1,
        eos_id=2,
        unk_id=3,
        minloglevel=2,
    )
    corpus.unlink()
    prefix.with_suffix(".vocab").unlink()
    return SpeechT5Tokenizer(str(prefix.with_suffix(".model")))


def _hifigan(mel_bins: int) -> SpeechT5HifiGan:
    config = SpeechT5HifiGanConfig(
        model_in_dim=mel_bins,
        sampling_rate=SAMPLING_RATE,
        upsample_initial_channel=16,
        upsample_rates=[4, 4],
        upsample_kernel_sizes=[8, 8],
        resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 3]],
        initializer_range=0.1,  # the default 0.01 gives a near-silent waveform, all zero as 16-bit PCM
    )
    return SpeechT5HifiGan(config)


def text_to_speech_speecht5(out: Path) -> None:
    """SpeechT5 (as microsoft/speecht5_tts), its HiFi-GAN vocoder (as microsoft/speecht5_hifigan)
    in ``vocoder/``, and a default speaker embedding (an x-vector, here random)."""
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = _speecht5_tokenizer(out)
    mel_bins, speaker_dim = 20, 16
    config = SpeechT5Config(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        num_mel_bins=mel_bins,
        speech_decoder_prenet_units=HIDDEN,
        speech_decoder_postnet_layers=2,
        speech_decoder_postnet_units=HIDDEN,
        speaker_embedding_dim=speaker_dim,
        reduction_factor=2,
        max_speech_positions=600,
        max_text_positions=200,
        encoder_max_relative_position=16,
        bos_token_id=0,
        pad_token_id=1,
        eos_token_id=2,
        decoder_start_token_id=2,
    )
    model = SpeechT5ForTextToSpeech(config)
    with torch.no_grad():
        # A random stop head ends speech at the first frame: bias it towards going on (the
        # length then comes from the input, as SpeechT5's maxlenratio caps it).
        model.speech_decoder_postnet.prob_out.bias.fill_(-4.0)
    model.save_pretrained(out)
    SpeechT5Processor(
        tokenizer=tokenizer, feature_extractor=SpeechT5FeatureExtractor(num_mel_bins=mel_bins)
    ).save_pretrained(out)
    _hifigan(mel_bins).save_pretrained(out / VOCODER_DIR)
    np.save(out / SPEAKER_EMBEDDINGS_FILE, torch.randn(1, speaker_dim).numpy())


FAMILIES: tuple[TinyFamily, ...] = (
    TinyFamily("automatic-speech-recognition", "whisper", automatic_speech_recognition_whisper),
    TinyFamily("text-to-speech", "speecht5", text_to_speech_speecht5),
)
