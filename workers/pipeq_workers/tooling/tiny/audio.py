"""Tiny random-weight audio models: Wav2Vec2 CTC and classifier, VITS."""

from __future__ import annotations

import json
from pathlib import Path

from transformers import (
    VitsConfig,
    VitsModel,
    VitsTokenizer,
    Wav2Vec2Config,
    Wav2Vec2CTCTokenizer,
    Wav2Vec2FeatureExtractor,
    Wav2Vec2ForCTC,
    Wav2Vec2ForSequenceClassification,
    Wav2Vec2Processor,
)

from pipeq_workers.tooling.tiny import tokenizers as tok

SAMPLING_RATE = 16_000


def _wav2vec2_config(**extra: object) -> Wav2Vec2Config:
    return Wav2Vec2Config(
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16, 16),
        conv_stride=(5, 4),
        conv_kernel=(10, 8),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        num_feat_extract_layers=2,
        **extra,
    )


def _feature_extractor() -> Wav2Vec2FeatureExtractor:
    return Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=SAMPLING_RATE, padding_value=0.0, do_normalize=True, return_attention_mask=True
    )


def automatic_speech_recognition(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    # No <s>/</s>: the CTC pipeline does not skip special tokens when decoding.
    vocab = tok.character_vocab({"<pad>": 0, "<unk>": 1})
    vocab["|"] = vocab.pop(" ")
    (out / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    tokenizer = Wav2Vec2CTCTokenizer(
        str(out / "vocab.json"),
        unk_token="<unk>",
        pad_token="<pad>",
        word_delimiter_token="|",
        bos_token=None,
        eos_token=None,
    )
    model = Wav2Vec2ForCTC(_wav2vec2_config(vocab_size=len(vocab), pad_token_id=0, ctc_loss_reduction="mean"))
    model.save_pretrained(out)
    Wav2Vec2Processor(feature_extractor=_feature_extractor(), tokenizer=tokenizer).save_pretrained(out)


def audio_classification(out: Path) -> None:
    labels = {0: "speech", 1: "music", 2: "noise"}
    model = Wav2Vec2ForSequenceClassification(
        _wav2vec2_config(id2label=labels, label2id={v: k for k, v in labels.items()}, classifier_proj_size=16)
    )
    model.save_pretrained(out)
    _feature_extractor().save_pretrained(out)


def text_to_speech(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    vocab = tok.character_vocab({"<pad>": 0, "<unk>": 1})
    (out / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    tokenizer = VitsTokenizer(str(out / "vocab.json"), phonemize=False, add_blank=True, normalize=True)
    config = VitsConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        ffn_dim=32,
        flow_size=16,
        spectrogram_bins=33,
        upsample_initial_channel=16,
        upsample_rates=[4, 4],
        upsample_kernel_sizes=[8, 8],
        resblock_kernel_sizes=[3],
        resblock_dilation_sizes=[[1, 3]],
        prior_encoder_num_flows=1,
        prior_encoder_num_wavenet_layers=1,
        posterior_encoder_num_wavenet_layers=1,
        duration_predictor_num_flows=1,
        duration_predictor_filter_channels=16,
        depth_separable_num_layers=1,
        sampling_rate=SAMPLING_RATE,
    )
    model = VitsModel(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
