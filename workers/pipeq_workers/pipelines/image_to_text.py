"""Image captioning: transformers 5 rewrites ``image-to-text`` to ``image-text-to-text``, which
fails on vision encoder-decoder models (ViT+GPT-2, Donut...). pipeq keeps a v4-compatible one.
"""

from __future__ import annotations

from typing import Any

import torch
from PIL import Image
from transformers import Pipeline


class ImageToTextPipeline(Pipeline):
    """Image in, ``generate()`` out, ``{generated_text}`` back. An optional ``prompt`` conditions
    the decoder (it is kept at the start of the generated text, as transformers 4 did)."""

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

    def preprocess(self, image: Image.Image, prompt: str | None = None) -> dict[str, torch.Tensor]:  # type: ignore[override]
        inputs = dict(self.image_processor(images=image, return_tensors="pt"))
        inputs["pixel_values"] = inputs["pixel_values"].to(self.dtype)
        if prompt is not None:
            start = self.model.generation_config.decoder_start_token_id
            prompt_ids = self.tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
            inputs["decoder_input_ids"] = torch.cat([torch.tensor([[start]]), prompt_ids], dim=1)
        return inputs

    def _forward(self, model_inputs: dict[str, torch.Tensor], generate_kwargs: dict[str, Any]) -> dict[str, Any]:
        batch_size = model_inputs["pixel_values"].shape[0]
        kwargs = self._prepare_generate_kwargs(generate_kwargs)
        output_ids = self.model.generate(**model_inputs, **kwargs)
        return {"output_ids": output_ids.reshape(batch_size, -1, output_ids.shape[-1])}

    def postprocess(self, model_outputs: dict[str, torch.Tensor]) -> list[dict[str, str]]:  # type: ignore[override]
        texts = self.tokenizer.batch_decode(model_outputs["output_ids"][0], skip_special_tokens=True)
        return [{"generated_text": text} for text in texts]
