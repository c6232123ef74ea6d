"""Model inputs for ``generate()``, per generative task: prompts, chat templates, images."""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image
from transformers import Pipeline

from pipeq_client.errors import UnsupportedParameterError
from pipeq_client.types import ChatMessage, ImageChatMessage, ImagePart
from pipeq_workers.generation.placeholders import refuse_placeholders_in_chat, with_image_placeholders
from pipeq_workers.generation.runner import Prompt
from pipeq_workers.inputs.image_limits import probe_image
from pipeq_workers.inputs.model_limits import refuse_long, token_limit
from pipeq_workers.pipelines.naming import model_label

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


def _require_chat_template(owner: Any, model: Any) -> None:
    if not getattr(owner, "chat_template", None):
        raise UnsupportedParameterError(
            f"inputs: model {model_label(model)!r} has no chat template; send a plain prompt instead of messages",
            field="inputs",
        )


def causal_prompt(pipe: Pipeline, inputs: str | list[ChatMessage], return_full_text: bool) -> Prompt:
    """A plain prompt, tokenized as the text-generation pipeline does, or a rendered conversation."""
    tokenizer = pipe.tokenizer
    if isinstance(inputs, str):
        encoded = tokenizer(inputs, return_tensors="pt")
        prefix_text = inputs if return_full_text else ""
    else:
        _require_chat_template(tokenizer, pipe.model)
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
    hint = "" if truncation else "; truncation: true cuts it there"
    refuse_long(model_inputs["input_ids"].shape[1], token_limit(pipe), "inputs", pipe.model, hint)
    return Prompt(model_inputs, 1, generate_options=dict(forward["generate_kwargs"]))


def image_to_text_prompt(pipe: Pipeline, image: Image.Image, prompt: str | None) -> Prompt:
    """Pixels, and the caption's start as decoder input when a prompt is given (kept in the text)."""
    probe_image(pipe, image, "inputs")
    model_inputs = _on_device(pipe.preprocess(image, prompt=prompt), pipe)
    prefix_length, prompt_ids = pipe.caption_prefix(model_inputs)
    prefix_text = pipe.tokenizer.decode(prompt_ids, skip_special_tokens=True)
    field = "inputs" if prompt is None else "parameters.prompt"
    return Prompt(model_inputs, prefix_length, prefix_text, field=field, decode_context=prompt_ids)


def image_text_prompt(
    pipe: Pipeline,
    images: list[Image.Image],
    text: str | None,
    messages: list[ImageChatMessage] | None,
    fields: list[str] | None = None,
) -> Prompt:
    """Images with a plain prompt (image placeholders put in when it has none), or a
    conversation with image parts. ``fields``: the images' request fields, for errors."""
    for image, field in zip(images, fields or ["inputs"] * len(images), strict=True):
        probe_image(pipe, image, field)
    processor = pipe.processor
    if messages is None:
        prompt = with_image_placeholders(processor, pipe.model, text or "", len(images))
        encoded = processor(images=images, text=prompt, return_tensors="pt")
    else:
        _require_chat_template(processor, pipe.model)
        refuse_placeholders_in_chat(processor, messages)
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
