"""Model inputs for ``generate()``, per generative task: prompts, chat templates, images."""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image
from transformers import Pipeline

from pipeq_client.errors import UnsupportedParameterError
from pipeq_client.types import ChatMessage, ImageChatMessage, ImagePart
from pipeq_workers.generation.runner import Prompt

__all__ = ["causal_prompt", "image_text_prompt", "image_to_text_prompt", "seq2seq_prompt"]


def _on_device(inputs: Any, pipe: Pipeline) -> dict[str, Any]:
    moved = {}
    for name, value in dict(inputs).items():
        if not isinstance(value, torch.Tensor):
            moved[name] = value
            continue
        tensor = value.to(pipe.device)
        # Pixel values follow the weights' dtype (bf16 on GPU); token ids stay integers.
        moved[name] = tensor.to(pipe.model.dtype) if tensor.is_floating_point() else tensor
    return moved


def _require_chat_template(owner: Any) -> None:
    if not getattr(owner, "chat_template", None):
        raise UnsupportedParameterError(
            "inputs: this model has no chat template; send a plain prompt instead of messages", field="inputs"
        )


def causal_prompt(pipe: Pipeline, inputs: str | list[ChatMessage], return_full_text: bool) -> Prompt:
    """A plain prompt, tokenized as the text-generation pipeline does, or a rendered conversation."""
    tokenizer = pipe.tokenizer
    if isinstance(inputs, str):
        encoded = tokenizer(inputs, return_tensors="pt")
        prefix_text = inputs if return_full_text else ""
    else:
        _require_chat_template(tokenizer)
        messages = [message.model_dump() for message in inputs]
        encoded = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_dict=True, return_tensors="pt"
        )
        prefix_text = ""
    model_inputs = _on_device(encoded, pipe)
    return Prompt(model_inputs, model_inputs["input_ids"].shape[1], prefix_text)


def seq2seq_prompt(
    pipe: Pipeline, text: str, truncation: bool | None, tgt_lang: str | None, src_lang: str | None
) -> Prompt:
    """Encoder inputs via pipeq's seq2seq pipeline; the decoder starts with one start token."""
    languages = {name: value for name, value in (("src_lang", src_lang), ("tgt_lang", tgt_lang)) if value is not None}
    preprocess, forward, _ = pipe._sanitize_parameters(truncation=truncation, **languages)
    model_inputs = _on_device(pipe.preprocess(text, **preprocess), pipe)
    return Prompt(model_inputs, 1, generate_options=dict(forward["generate_kwargs"]))


def image_to_text_prompt(pipe: Pipeline, image: Image.Image, prompt: str | None) -> Prompt:
    """Pixels, and the caption's start as decoder input when a prompt is given (kept in the text)."""
    model_inputs = _on_device(pipe.preprocess(image, prompt=prompt), pipe)
    decoder_ids = model_inputs.get("decoder_input_ids")
    prefix_length = 1 if decoder_ids is None else decoder_ids.shape[1]
    prefix_text = "" if prompt is None else pipe.tokenizer.decode(decoder_ids[0, 1:], skip_special_tokens=True)
    return Prompt(model_inputs, prefix_length, prefix_text)


def image_text_prompt(
    pipe: Pipeline, images: list[Image.Image], text: str | None, messages: list[ImageChatMessage] | None
) -> Prompt:
    """Images with a plain prompt (one image token per image), or a conversation with image parts."""
    processor = pipe.processor
    if messages is None:
        encoded = processor(images=images, text=text, return_tensors="pt")
    else:
        _require_chat_template(processor)
        encoded = processor.apply_chat_template(
            _chat_with_images(messages, images),
            add_generation_prompt=True,
            tokenize=True,
            return_dict=True,
            return_tensors="pt",
        )
    model_inputs = _on_device(encoded, pipe)
    return Prompt(model_inputs, model_inputs["input_ids"].shape[1])


def _chat_with_images(messages: list[ImageChatMessage], images: list[Image.Image]) -> list[dict[str, Any]]:
    """The conversation with each image part replaced by its decoded image, in order."""
    remaining = iter(images)
    rendered = []
    for message in messages:
        if isinstance(message.content, str):
            rendered.append({"role": message.role, "content": [{"type": "text", "text": message.content}]})
            continue
        parts = [
            {"type": "image", "image": next(remaining)} if isinstance(part, ImagePart) else part.model_dump()
            for part in message.content
        ]
        rendered.append({"role": message.role, "content": parts})
    return rendered
