"""Joins the prompts of several requests into one ``generate()`` input.

Decoder-only models take left-padded prompts (generation continues at the right edge; the
attention mask and derived positions keep the padding out). Encoder-decoder models take
right-padded encoder inputs; their decoder prompts (start token, caption prompt) are
identical within a batch because the batch key includes every setting.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["combine_prompts"]

_PADDED = ("input_ids", "attention_mask")


def _pad(tensors: list[torch.Tensor], value: int, left: bool) -> torch.Tensor:
    width = max(tensor.shape[1] for tensor in tensors)
    padded = []
    for tensor in tensors:
        filler = torch.full((tensor.shape[0], width - tensor.shape[1]), value, dtype=tensor.dtype, device=tensor.device)
        padded.append(torch.cat([filler, tensor] if left else [tensor, filler], dim=1))
    return torch.cat(padded, dim=0)


def combine_prompts(prompts: list[Any], model: Any, pad_token_id: int | None) -> Any:
    """One Prompt for all; a single prompt is returned as it is."""
    if len(prompts) == 1:
        return prompts[0]
    first = prompts[0]
    if any(set(prompt.inputs) != set(first.inputs) for prompt in prompts):
        raise ValueError("prompts with different inputs cannot share a batch")
    left = not model.config.is_encoder_decoder
    inputs = {}
    for name in first.inputs:
        tensors = [prompt.inputs[name] for prompt in prompts]
        if name in _PADDED:
            inputs[name] = _pad(tensors, 0 if name == "attention_mask" else int(pad_token_id or 0), left)
        else:
            inputs[name] = torch.cat(tensors, dim=0)  # pixel values, identical decoder prompts
    prefix_length = inputs["input_ids"].shape[1] if left else first.prefix_length
    return type(first)(inputs, prefix_length, first.prefix_text, first.generate_options)
