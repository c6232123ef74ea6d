"""Tiny random-weight vision models: ViT, YOLOS, ViT+GPT-2 captioner, LLaVA."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import (
    CLIPImageProcessor,
    CLIPVisionConfig,
    GenerationConfig,
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlavaConfig,
    LlavaForConditionalGeneration,
    LlavaProcessor,
    VisionEncoderDecoderModel,
    ViTConfig,
    ViTForImageClassification,
    ViTImageProcessor,
    ViTModel,
    YolosConfig,
    YolosForObjectDetection,
    YolosImageProcessor,
)

from pipeq_workers.tooling.tiny import tokenizers as tok
from pipeq_workers.tooling.tiny.text import CHAT_TEMPLATE, HIDDEN

IMAGE_SIZE = 32
PATCH = 8


def _vit_config(**extra: object) -> ViTConfig:
    return ViTConfig(
        image_size=IMAGE_SIZE,
        patch_size=PATCH,
        hidden_size=HIDDEN,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        **extra,
    )


def _vit_processor() -> ViTImageProcessor:
    return ViTImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})


def image_classification(out: Path) -> None:
    labels = {0: "cat", 1: "dog", 2: "bird"}
    model = ViTForImageClassification(_vit_config(id2label=labels, label2id={v: k for k, v in labels.items()}))
    model.save_pretrained(out)
    _vit_processor().save_pretrained(out)


def object_detection(out: Path) -> None:
    labels = {0: "cat", 1: "dog", 2: "car"}
    config = YolosConfig(
        image_size=[IMAGE_SIZE, IMAGE_SIZE],
        patch_size=PATCH,
        hidden_size=HIDDEN,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        num_detection_tokens=5,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    model = YolosForObjectDetection(config)
    # Detection tokens and position embeddings start at zero: every box would be identical.
    with torch.no_grad():
        model.vit.embeddings.detection_tokens.normal_(std=1.0)
        model.vit.embeddings.position_embeddings.normal_(std=1.0)
    model.save_pretrained(out)
    YolosImageProcessor(size={"shortest_edge": IMAGE_SIZE, "longest_edge": IMAGE_SIZE * 2}).save_pretrained(out)


def image_to_text(out: Path) -> None:
    tokenizer = tok.causal_tokenizer()
    decoder_config = GPT2Config(
        vocab_size=len(tokenizer),
        n_embd=HIDDEN,
        n_layer=1,
        n_head=2,
        n_positions=64,
        add_cross_attention=True,
        is_decoder=True,
        initializer_range=0.2,  # the default 0.02 makes greedy decoding stop at once
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = VisionEncoderDecoderModel(encoder=ViTModel(_vit_config()), decoder=GPT2LMHeadModel(decoder_config))
    model.config.decoder_start_token_id = tokenizer.bos_token_id
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.eos_token_id = tokenizer.eos_token_id
    model.generation_config = GenerationConfig(
        do_sample=False,
        max_new_tokens=12,
        num_beams=1,
        decoder_start_token_id=tokenizer.bos_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    _vit_processor().save_pretrained(out)


def image_text_to_text(out: Path) -> None:
    tokenizer = tok.causal_tokenizer()
    tokenizer.add_special_tokens({"additional_special_tokens": ["<image>"]})
    image_token_id = tokenizer.convert_tokens_to_ids("<image>")
    vision = CLIPVisionConfig(
        image_size=IMAGE_SIZE,
        patch_size=PATCH,
        hidden_size=HIDDEN,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        projection_dim=HIDDEN,
    )
    text = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    config = LlavaConfig(
        vision_config=vision,
        text_config=text,
        image_token_id=image_token_id,
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
    model = LlavaForConditionalGeneration(config)
    model.generation_config = GenerationConfig(
        do_sample=False,
        max_new_tokens=12,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=PATCH,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's class token
        chat_template=CHAT_TEMPLATE.replace(
            "{{ message['content'] }}",
            "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
            "{% for part in message['content'] %}{% if part['type'] == 'image' %}<image>"
            "{% else %}{{ part['text'] }}{% endif %}{% endfor %}{% endif %}",
        ),
    )
    model.save_pretrained(out)
    processor.save_pretrained(out)
