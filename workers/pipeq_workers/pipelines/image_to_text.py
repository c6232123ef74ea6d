"""Image captioning: transformers 5 rewrites ``image-to-text`` to ``image-text-to-text``, which
fails on vision encoder-decoder models (ViT+GPT-2, Donut...) and BLIP. pipeq keeps a
v4-compatible one.
"""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image
from transformers import Pipeline


class ImageToTextPipeline(Pipeline):
    """Image in, ``generate()`` out, ``{generated_text}`` back. An optional ``prompt`` conditions
    the caption (it is kept at the start of the generated text, as transformers 4 did).

    Where the prompt goes depends on the architecture (read from the model's config): a vision
    encoder-decoder takes it as ``decoder_input_ids`` after the decoder start token; BLIP takes
    the tokenizer's ``[CLS] prompt [SEP]`` as ``input_ids``, and its ``generate()`` swaps [CLS]
    for its [DEC] start token and drops the trailing [SEP].
    """

    _pipeline_calls_generate = True
    _load_tokenizer = True
    _load_image_processor = True
    _load_processor = False
    _load_feature_extractor = False

    def _sanitize_parameters(
        self, prompt: str | None = None, **generate_kwargs: Any
    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        preprocess = {} if prompt is None else {"prompt": prompt}
        return preprocess, {"generate_kwargs": generate_kwargs}, {}

    @property
    def _is_blip(self) -> bool:
        return bool(self.model.config.model_type == "blip")

    def preprocess(self, image: Image.Image, prompt: str | None = None) -> dict[str, torch.Tensor]:
        inputs = dict(self.image_processor(images=image, return_tensors="pt"))
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        if self._is_blip:
            inputs.update(self._blip_text(prompt))
        elif prompt is not None:
            start = self.model.generation_config.decoder_start_token_id
            prompt_ids = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
            inputs["decoder_input_ids"] = torch.cat([torch.tensor([[start]]), prompt_ids], dim=1)
        return inputs

    def _blip_text(self, prompt: str | None) -> dict[str, torch.Tensor]:
        if prompt is not None:
            encoded = self.tokenizer(prompt, return_tensors="pt")
            return {"input_ids": encoded.input_ids, "attention_mask": encoded.attention_mask}
        # BLIP's own default, [DEC] [SEP], given explicitly: every request then has input_ids,
        # and requests batched together pad alike.
        text_config = self.model.config.text_config
        return {"input_ids": torch.tensor([[text_config.bos_token_id, text_config.eos_token_id]])}

    def caption_prefix(self, model_inputs: dict[str, torch.Tensor]) -> tuple[int, list[int]]:
        """Where the caption starts in ``generate()``'s output of these inputs, and the prompt's
        token ids before it (empty without a prompt)."""
        if self._is_blip:
            ids = model_inputs["input_ids"][0].tolist()
            # Output = input_ids minus the trailing token; the first is the start token.
            return len(ids) - 1, ids[1:-1]
        decoder_ids = model_inputs.get("decoder_input_ids")
        if decoder_ids is None:
            return 1, []
        return int(decoder_ids.shape[1]), decoder_ids[0, 1:].tolist()

    def _forward(self, model_inputs: dict[str, torch.Tensor], generate_kwargs: dict[str, Any]) -> dict[str, Any]:
        batch_size = model_inputs["pixel_values"].shape[0]
        kwargs = self._prepare_generate_kwargs(generate_kwargs)
        output_ids = self.model.generate(**model_inputs, **kwargs)
        return {"output_ids": output_ids.reshape(batch_size, -1, output_ids.shape[-1])}

    def postprocess(self, model_outputs: dict[str, torch.Tensor]) -> list[dict[str, str]]:
        texts = self.tokenizer.batch_decode(model_outputs["output_ids"][0], skip_special_tokens=True)
        return [{"generated_text": text} for text in texts]
