"""Tiny builds of the vision model families people deploy, beside the default one per task:
BLIP (image-to-text), DETR (object-detection), Idefics3/SmolVLM and Qwen2-VL
(image-text-to-text).

Each builder writes one model directory in that family's real layout (model class, config
fields, processor classes, chat template, image placeholder tokens), so the family-specific
behaviour pipeq keys on is exercised exactly as on the Hub models. ``FAMILIES`` registers them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import (
    BlipConfig,
    BlipForConditionalGeneration,
    BlipImageProcessor,
    BlipProcessor,
    BlipTextConfig,
    BlipVisionConfig,
    DetrConfig,
    DetrForObjectDetection,
    DetrImageProcessor,
    GenerationConfig,
    Idefics3Config,
    Idefics3ForConditionalGeneration,
    Idefics3ImageProcessor,
    Idefics3Processor,
    Idefics3VisionConfig,
    PreTrainedTokenizerFast,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
    Qwen2VLImageProcessor,
    Qwen2VLProcessor,
    ResNetConfig,
)

from pipeq_workers.pipelines.processors import image_only_processor
from pipeq_workers.tooling.tiny import TinyFamily
from pipeq_workers.tooling.tiny import tokenizers as tok
from pipeq_workers.tooling.tiny.text import HIDDEN
from pipeq_workers.tooling.tiny.vision import IMAGE_SIZE, PATCH

__all__ = ["FAMILIES"]

FFN = 64
MAX_NEW_TOKENS = 12
LABELS = {0: "cat", 1: "dog", 2: "car"}

# SmolVLM's chat template (HuggingFaceTB/SmolVLM-256M-Instruct): one <image> per image part,
# which the processor expands into the tiles' placeholder tokens.
IDEFICS3_CHAT_TEMPLATE = (
    "<|im_start|>{% for message in messages %}{{ message['role'] | capitalize }}"
    "{% if message['content'][0]['type'] == 'image' %}{{ ':' }}{% else %}{{ ': ' }}{% endif %}"
    "{% for line in message['content'] %}{% if line['type'] == 'text' %}{{ line['text'] }}"
    "{% elif line['type'] == 'image' %}{{ '<image>' }}{% endif %}{% endfor %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
# Qwen2-VL's chat template, without the video branch: each image part becomes
# <|vision_start|><|image_pad|><|vision_end|>, the processor repeats <|image_pad|> per patch group.
QWEN2_VL_CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' %}"
    "<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'text' %}{{ content['text'] }}"
    "{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def _greedy(tokenizer: PreTrainedTokenizerFast, eos_token_id: int) -> GenerationConfig:
    return GenerationConfig(
        do_sample=False,
        num_beams=1,
        max_new_tokens=MAX_NEW_TOKENS,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def _llama_text(tokenizer: PreTrainedTokenizerFast, eos_token_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": HIDDEN,
        "intermediate_size": FFN,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 2,
        "max_position_embeddings": 512,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
        **extra,
    }


def image_to_text_blip(out: Path) -> None:
    """BLIP captioning (as Salesforce/blip-image-captioning-base): a BERT tokenizer whose
    [DEC] token starts the caption, [SEP] ends it."""
    tokenizer = tok.bert_tokenizer()
    tokenizer.add_special_tokens({"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]})
    text = BlipTextConfig(
        vocab_size=len(tokenizer),
        hidden_size=HIDDEN,
        encoder_hidden_size=HIDDEN,
        intermediate_size=FFN,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=64,
        initializer_range=0.2,  # the default 0.02 makes greedy decoding repeat one token
        bos_token_id=tokenizer.bos_token_id,
        sep_token_id=tokenizer.sep_token_id,
        eos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    vision = BlipVisionConfig(
        hidden_size=HIDDEN,
        intermediate_size=FFN,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=IMAGE_SIZE,
        patch_size=PATCH,
    )
    config = BlipConfig(text_config=text.to_dict(), vision_config=vision.to_dict(), projection_dim=HIDDEN)
    model = BlipForConditionalGeneration(config)
    # BLIP's generate() ends captions at [SEP]: the saved config says so too.
    model.generation_config = _greedy(tokenizer, tokenizer.sep_token_id)
    model.save_pretrained(out)
    image_processor = BlipImageProcessor(size={"height": IMAGE_SIZE, "width": IMAGE_SIZE})
    BlipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)


def object_detection_detr(out: Path) -> None:
    """DETR (as facebook/detr-resnet-50) on transformers' own ResNet backbone: no timm."""
    backbone = ResNetConfig(
        embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic", out_features=["stage2"]
    )
    config = DetrConfig(
        use_timm_backbone=False,
        use_pretrained_backbone=False,
        backbone_config=backbone,
        d_model=HIDDEN,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=FFN,
        decoder_ffn_dim=FFN,
        num_queries=5,
        init_std=0.3,  # with the default 0.02 every query predicts the same box
        id2label=LABELS,
        label2id={label: index for index, label in LABELS.items()},
    )
    model = DetrForObjectDetection(config)
    with torch.no_grad():
        # The object queries' position embeddings are what tells the queries apart.
        model.model.query_position_embeddings.weight.normal_(std=1.0)
    model.save_pretrained(out)
    DetrImageProcessor(size={"shortest_edge": IMAGE_SIZE, "longest_edge": IMAGE_SIZE * 2}).save_pretrained(out)


def image_text_to_text_idefics3(out: Path) -> None:
    """Idefics3, the architecture of SmolVLM (HuggingFaceTB/SmolVLM-256M-Instruct): images split
    into tiles plus a global view, each tile's tokens wrapped in <fake_token_around_image> and
    tagged <row_i_col_j>."""
    tokenizer = tok.causal_tokenizer()
    tiles = [f"<row_{row}_col_{col}>" for row in range(1, 7) for col in range(1, 7)]
    specials = ["<|im_start|>", "<fake_token_around_image>", "<image>", "<end_of_utterance>", "<global-img>", *tiles]
    tokenizer.add_special_tokens({"additional_special_tokens": specials})
    end_of_utterance = tokenizer.convert_tokens_to_ids("<end_of_utterance>")
    vision = Idefics3VisionConfig(
        hidden_size=HIDDEN,
        intermediate_size=FFN,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=IMAGE_SIZE,
        patch_size=PATCH,
    )
    scale_factor = 2
    config = Idefics3Config(
        vision_config=vision.to_dict(),
        text_config=_llama_text(tokenizer, end_of_utterance),
        scale_factor=scale_factor,
        image_token_id=tokenizer.convert_tokens_to_ids("<image>"),
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Idefics3ForConditionalGeneration(config)
    model.generation_config = _greedy(tokenizer, end_of_utterance)
    model.save_pretrained(out)
    # Images are resized to 2 tiles a side (plus the global view): the splitting is exercised.
    image_processor = Idefics3ImageProcessor(
        do_image_splitting=True,
        size={"longest_edge": IMAGE_SIZE * 2},
        max_image_size={"longest_edge": IMAGE_SIZE},
    )
    processor = Idefics3Processor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        image_seq_len=(IMAGE_SIZE // PATCH) ** 2 // scale_factor**2,
        chat_template=IDEFICS3_CHAT_TEMPLATE,
    )
    processor.save_pretrained(out)


def _qwen2_vl_processor_config(out: Path) -> None:
    """The saved processor names the real class and carries the video processor's settings
    (the same patching as for images), as Qwen/Qwen2-VL-2B-Instruct does; it was built
    image-only because the video processor needs torchvision."""
    for name in ("processor_config.json", "tokenizer_config.json"):
        path = out / name
        saved = json.loads(path.read_text(encoding="utf-8"))
        saved["processor_class"] = Qwen2VLProcessor.__name__
        if "image_processor" in saved:
            video = {key: value for key, value in saved["image_processor"].items() if key != "image_processor_type"}
            saved["video_processor"] = {**video, "video_processor_type": "Qwen2VLVideoProcessor"}
        path.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def image_text_to_text_qwen2_vl(out: Path) -> None:
    """Qwen2-VL (as Qwen/Qwen2-VL-2B-Instruct): images cut into patches, 2x2 patches merged per
    <|image_pad|> token, multimodal rotary positions (mrope)."""
    tokenizer = tok.causal_tokenizer()
    specials = ["<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
    tokenizer.add_special_tokens({"additional_special_tokens": specials})
    ids = tokenizer.convert_tokens_to_ids
    # mrope splits each head's rotary half (head_dim 16 / 2) into temporal/height/width sections.
    rope = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]}
    vision = {
        "depth": 1,
        "embed_dim": HIDDEN,
        "num_heads": 2,
        "hidden_size": HIDDEN,
        "mlp_ratio": 2,
        "patch_size": PATCH,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    config = Qwen2VLConfig(
        text_config=_llama_text(tokenizer, ids("<|im_end|>"), rope_parameters=rope),
        vision_config=vision,
        image_token_id=ids("<|image_pad|>"),
        video_token_id=ids("<|video_pad|>"),
        vision_start_token_id=ids("<|vision_start|>"),
        vision_end_token_id=ids("<|vision_end|>"),
    )
    model = Qwen2VLForConditionalGeneration(config)
    model.generation_config = _greedy(tokenizer, ids("<|im_end|>"))
    model.save_pretrained(out)
    merged_patch = PATCH * 2
    image_processor = Qwen2VLImageProcessor(
        patch_size=PATCH,
        merge_size=2,
        temporal_patch_size=2,
        min_pixels=merged_patch**2,
        max_pixels=(IMAGE_SIZE * 2) ** 2,
    )
    processor = image_only_processor(Qwen2VLProcessor)(
        image_processor=image_processor, tokenizer=tokenizer, chat_template=QWEN2_VL_CHAT_TEMPLATE
    )
    processor.save_pretrained(out)
    _qwen2_vl_processor_config(out)


FAMILIES: tuple[TinyFamily, ...] = (
    TinyFamily("image-to-text", "blip", image_to_text_blip),
    TinyFamily("object-detection", "detr", object_detection_detr),
    TinyFamily("image-text-to-text", "idefics3", image_text_to_text_idefics3),
    TinyFamily("image-text-to-text", "qwen2-vl", image_text_to_text_qwen2_vl),
)
