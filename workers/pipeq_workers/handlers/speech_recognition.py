"""What an automatic-speech-recognition request asks of the pipeline, per model family.

The family is read from the loaded pipeline (its model's config), never from a model name:

- CTC models (Wav2Vec2, HuBERT...) label every audio frame in one pass: 'char' or 'word'
  offsets, no generation settings, no language or task.
- Whisper generates text: generation settings apply; ``language`` and ``task`` become its
  decoder prompt tokens (the maps in its generation config); it returns segment timestamps
  (True) and word timestamps (where its generation config has alignment heads); it hears 30 s
  at a time, so longer audio is cut into windows (the pipeline's ``chunk_length_s``).
- Other sequence-to-sequence models generate text, without timestamps or language options.

A setting the model cannot honour is refused as an unsupported parameter naming the model,
before anything runs.
"""

from __future__ import annotations

from typing import Any

from transformers import Pipeline
from transformers.models.whisper.tokenization_whisper import TO_LANGUAGE_CODE

from pipeq_client.errors import UnsupportedParameterError
from pipeq_client.types import AutomaticSpeechRecognitionParameters, GenerationParameters
from pipeq_workers.generation.plan import SamplingPlan
from pipeq_workers.pipelines.naming import model_label

__all__ = ["recognition_options", "recognition_plan"]

_GENERATION_FIELDS = tuple(GenerationParameters.model_fields)
# The result is text and timestamps: no token details, and stop strings would cut segments.
_TEXT_ONLY_FIELDS = ("stop", "logprobs", "top_logprobs")
_WHISPER_PROMPT_TOKENS = 4


def _refuse(pipe: Pipeline, field: str, reason: str) -> UnsupportedParameterError:
    return UnsupportedParameterError(
        f"parameters.{field}: model {model_label(pipe.model)!r} {reason}", field=f"parameters.{field}"
    )


def _is_whisper(pipe: Pipeline) -> bool:
    return bool(pipe.model.config.model_type == "whisper")


def _check_timestamps(pipe: Pipeline, value: bool | str) -> None:
    if not value:
        return
    if _is_whisper(pipe):
        if value == "char":
            raise _refuse(pipe, "return_timestamps", "returns segment (true) or 'word' timestamps, not 'char'")
        if value == "word" and not getattr(pipe.model.generation_config, "alignment_heads", None):
            raise _refuse(pipe, "return_timestamps", "has no alignment heads in its generation config: no 'word'")
    elif pipe.model.can_generate():
        raise _refuse(pipe, "return_timestamps", "returns no timestamps (Whisper and CTC models do)")
    elif value is True:
        raise _refuse(pipe, "return_timestamps", "is a CTC model: it returns 'char' or 'word' timestamps")


def _language_token(pipe: Pipeline, language: str) -> str:
    lang_to_id = getattr(pipe.model.generation_config, "lang_to_id", None)
    if not lang_to_id or not getattr(pipe.model.generation_config, "is_multilingual", True):
        raise _refuse(pipe, "language", "is English-only: it takes no language")
    name = language.lower().strip("<|>")
    token = f"<|{TO_LANGUAGE_CODE.get(name, name)}|>"
    if token not in lang_to_id:
        raise _refuse(pipe, "language", f"does not know the language {language!r}")
    return token


def _whisper_prompt(pipe: Pipeline, params: AutomaticSpeechRecognitionParameters) -> dict[str, str]:
    """Whisper's language and task, checked against its generation config."""
    prompt: dict[str, str] = {}
    if params.language is not None:
        prompt["language"] = _language_token(pipe, params.language)
    if params.task is not None:
        if params.task not in (getattr(pipe.model.generation_config, "task_to_id", None) or {}):
            raise _refuse(pipe, "task", f"has no {params.task!r} task")
        prompt["task"] = params.task
    return prompt


def recognition_plan(pipe: Pipeline, params: AutomaticSpeechRecognitionParameters) -> SamplingPlan | None:
    """The request's SamplingPlan; None when it sets no generation setting (the pipeline's
    defaults apply) or the model is a CTC model (which refuses any)."""
    chosen = [name for name in _GENERATION_FIELDS if getattr(params, name) is not None]
    if chosen and not pipe.model.can_generate():
        raise _refuse(pipe, chosen[0], "is a CTC model: it generates nothing, generation parameters do not apply")
    return SamplingPlan.build(params, pipe.model) if chosen else None


def _generation(
    pipe: Pipeline, params: AutomaticSpeechRecognitionParameters, plan: SamplingPlan | None
) -> dict[str, Any]:
    """``generate()`` kwargs of the request's generation settings (none without a plan)."""
    if plan is None:
        return {}
    for name in _TEXT_ONLY_FIELDS:
        if getattr(params, name):
            raise _refuse(pipe, name, "transcribes to text and timestamps only: no " + name)
    if (params.num_return_sequences or 1) > 1:
        raise _refuse(pipe, "num_return_sequences", "returns one transcription")
    if _is_whisper(pipe) and params.max_new_tokens is not None:
        # Whisper's decoder positions hold its prompt tokens (start, language, task, no-timestamps) too.
        room = int(pipe.model.config.max_target_positions) - _WHISPER_PROMPT_TOKENS
        if params.max_new_tokens > room:
            raise _refuse(pipe, "max_new_tokens", f"generates at most {room} tokens per 30 s window")
    kwargs = plan.generate_kwargs()
    if plan.max_time is not None:
        kwargs["max_time"] = plan.max_time  # generate()'s own deadline, per 30 s window
    return kwargs


def recognition_options(
    pipe: Pipeline, params: AutomaticSpeechRecognitionParameters, plan: SamplingPlan | None, seconds: float
) -> dict[str, Any]:
    """The pipeline call's keyword arguments for ``seconds`` of audio (``plan``: recognition_plan's)."""
    _check_timestamps(pipe, params.return_timestamps)
    whisper = _is_whisper(pipe)
    if not whisper and (params.language is not None or params.task is not None):
        field = "language" if params.language is not None else "task"
        raise _refuse(pipe, field, "takes no language or task (Whisper does)")
    generation = {**_generation(pipe, params, plan), **(_whisper_prompt(pipe, params) if whisper else {})}
    options: dict[str, Any] = {}
    if params.return_timestamps:
        options["return_timestamps"] = params.return_timestamps
    chunk_length_s = params.chunk_length_s
    window = float(getattr(pipe.feature_extractor, "chunk_length", 0) or 0)
    if whisper and chunk_length_s is None and seconds > window:
        # Whisper hears one 30 s window; the pipeline cuts longer audio into windows with
        # overlapping strides and merges the transcripts.
        chunk_length_s = window
    if chunk_length_s is not None:
        options["chunk_length_s"] = chunk_length_s
    if generation:
        options["generate_kwargs"] = generation
    return options
