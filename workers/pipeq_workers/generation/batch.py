"""Joins the prompts of several requests into one ``generate()`` input.

Decoder-only models take left-padded prompts (generation continues at the right edge; the
attention mask and derived positions keep the padding out). Encoder-decoder models take
right-padded encoder inputs; their decoder prompts (start token, caption prompt) are
identical within a batch because the batch key holds the task's own parameters.

Other per-token inputs (Qwen2-VL's ``mm_token_type_ids``) are padded like the token ids.
Image inputs are joined along the batch dimension; where their other dimensions differ
(Idefics3: one slot per image tile, so per request), they are padded with zeros, as the
processors themselves pad a batch (an all-zero image is padding to those models).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import torch

__all__ = ["combine_prompts", "own_offsets"]

_PADDED = ("input_ids", "attention_mask")


def _pad(tensors: list[torch.Tensor], value: int, left: bool) -> torch.Tensor:
    width = max(tensor.shape[1] for tensor in tensors)
    padded = []
    for tensor in tensors:
        filler = torch.full((tensor.shape[0], width - tensor.shape[1]), value, dtype=tensor.dtype, device=tensor.device)
        padded.append(torch.cat([filler, tensor] if left else [tensor, filler], dim=1))
    return torch.cat(padded, dim=0)


def _pad_to(tensor: torch.Tensor, shape: list[int]) -> torch.Tensor:
    """``tensor`` zero-padded at the end of every dimension after the first to ``shape``."""
    widths = [(0, size - current) for size, current in zip(reversed(shape), reversed(tensor.shape[1:]), strict=True)]
    return torch.nn.functional.pad(tensor, [amount for pair in widths for amount in pair])


def _join(tensors: list[torch.Tensor]) -> torch.Tensor:
    shape = [max(sizes) for sizes in zip(*(tensor.shape[1:] for tensor in tensors), strict=True)]
    return torch.cat([_pad_to(tensor, shape) for tensor in tensors], dim=0)


def _per_token(name: str, prompts: list[Any]) -> bool:
    """Whether ``name`` holds one value per prompt token (shaped like every prompt's input_ids)."""
    return name in _PADDED or all(
        prompt.inputs[name].dim() == 2 and prompt.inputs[name].shape == prompt.inputs["input_ids"].shape
        for prompt in prompts
    )


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
        if _per_token(name, prompts):
            inputs[name] = _pad(tensors, int(pad_token_id or 0) if name == "input_ids" else 0, left)
        else:
            inputs[name] = _join(tensors)  # pixel values, identical decoder prompts
    # Left padding moves where generation starts by the padding added to the first prompt
    # (BLIP's output starts one token before its input's end, so not always at the width).
    padding = inputs["input_ids"].shape[1] - first.inputs["input_ids"].shape[1] if left else 0
    return replace(first, inputs=inputs, prefix_length=first.prefix_length + padding)


def own_offsets(prompts: list[Any], model: Any) -> list[int]:
    """Where each prompt's own ids start in its rows of the combined input: after the left
    padding of a decoder-only batch; at 0 in a decoder's ids (encoder-decoder models)."""
    if model.config.is_encoder_decoder:
        return [0] * len(prompts)
    width = max(prompt.inputs["input_ids"].shape[1] for prompt in prompts)
    return [width - prompt.inputs["input_ids"].shape[1] for prompt in prompts]
