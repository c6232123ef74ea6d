"""Every text family of ``pipeq models tiny --all`` through the queue: the result equals the
in-process pipeline on the same model, and what the family is known for is honoured: T5's
task prefixes, NLLB's language codes, GPT-2's missing chat template, Qwen2's system prompt,
NLI label names in any case and order, sentence-transformers pooling and normalisation.

Where a tiny model's greedy text could hide a difference (random weights often repeat one
token whatever the input), the raw logprobs of each generated token are compared instead:
they move with every change of the encoder or prompt input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer

from pipeq_client import Client
from pipeq_client.errors import RequestValidationError, UnsupportedParameterError
from pipeq_client.events import TokenEvent
from pipeq_client.protocol import Queue, Task
from pipeq_client.types import (
    GenerationDetails,
    SummarizationRequest,
    TaskRequest,
    TextGenerationRequest,
    TranslationRequest,
)
from pipeq_workers.handlers.text import _require_entailment_label
from pipeq_workers.models.allowlist import HUB_DEFAULT_FAMILIES, ModelAllowList
from pipeq_workers.pipelines.sentence import embedding_defaults
from pipeq_workers.pipelines.seq2seq import SummarizationPipeline, TranslationPipeline
from pipeq_workers.tooling.stack import LocalStack
from pipeq_workers.tooling.tiny.family_tokenizers import T5_PREFIXES
from pipeq_workers.tooling.tiny.text_families import ST_MAX_SEQ_LENGTH
from pipeq_workers.tooling.tiny.tokenizers import bert_tokenizer
from tests.integration.families.support import family_model
from tests.integration.test_batching import BATCH_ENV, batch_stats, comparable, free_port

pytestmark = pytest.mark.integration

TEXT = "the quick brown fox jumps over the lazy dog"
TEXT_FAMILIES = {
    Task.TEXT_GENERATION: {"llama", "gpt2", "qwen2"},
    Task.TEXT_CLASSIFICATION: {"bert", "distilbert"},
    Task.SUMMARIZATION: {"bart", "t5"},
    Task.TRANSLATION: {"marian", "t5", "nllb"},
    Task.ZERO_SHOT_CLASSIFICATION: {"bert", "bart", "roberta"},
    Task.FEATURE_EXTRACTION: {"bert", "sentence-transformers"},
}


@pytest.fixture(scope="module")
def text_stack(families_config: Path) -> Iterator[LocalStack]:
    # A private Redis: the suite's shared text worker (another models config) must not take these jobs.
    with LocalStack(models_config=families_config, queues=(Queue.TEXT,)) as running:
        yield running


@pytest.fixture
def client(text_stack: LocalStack) -> Iterator[Client]:
    with Client(text_stack.redis_url) as connected:
        yield connected


@pytest.fixture(scope="module")
def batched_stack(families_config: Path) -> Iterator[tuple[LocalStack, int]]:
    """A second text worker that micro-batches (its own Redis), with its metrics on a port."""
    port = free_port()
    env = {**BATCH_ENV, "PIPEQ_HEALTH_PORT": str(port)}
    with LocalStack(models_config=families_config, queues=(Queue.TEXT,), extra_env=env) as running:
        yield running, port


# --- in-process references ----------------------------------------------------------------


@dataclass
class Greedy:
    text: str
    ids: list[int]
    logprobs: list[float]


@cache
def seq2seq_model(directory: str) -> tuple[Any, Any]:
    return AutoModelForSeq2SeqLM.from_pretrained(directory).eval(), AutoTokenizer.from_pretrained(directory)


@cache
def causal_model(directory: str) -> tuple[Any, Any]:
    return AutoModelForCausalLM.from_pretrained(directory).eval(), AutoTokenizer.from_pretrained(directory)


@cache
def hf_pipeline(task: Task, directory: str) -> transformers.Pipeline:
    return transformers.pipeline(task.value, model=directory)


def greedy(model: Any, tokenizer: Any, inputs: dict[str, torch.Tensor], n: int, **options: Any) -> Greedy:
    """``generate()`` by hand: the generated ids, their text and raw logprobs."""
    with torch.no_grad():
        out = model.generate(
            **inputs, max_new_tokens=n, do_sample=False, output_logits=True, return_dict_in_generate=True, **options
        )
    start = 1 if model.config.is_encoder_decoder else inputs["input_ids"].shape[1]
    ids = out.sequences[0, start:].tolist()
    steps = zip(out.logits, ids, strict=True)
    logprobs = [torch.log_softmax(step[0].float(), -1)[token].item() for step, token in steps]
    return Greedy(tokenizer.decode(ids, skip_special_tokens=True), ids, logprobs)


def seq2seq_greedy(directory: str, text: str, n: int, src_lang: str | None = None, **options: Any) -> Greedy:
    model, tokenizer = seq2seq_model(directory)
    if src_lang is not None:
        tokenizer.src_lang = src_lang
    return greedy(model, tokenizer, dict(tokenizer(text, return_tensors="pt")), n, **options)


def token_logprobs(details: GenerationDetails) -> list[Any]:
    return [pytest.approx(token.logprob, rel=1e-4, abs=1e-5) for token in details.tokens or []]


def labels(items: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    return [(item["label"], pytest.approx(item["score"], rel=1e-4, abs=1e-6)) for item in items]


# --- the models config ----------------------------------------------------------------------


def test_models_config_names_every_text_family(families_config: Path) -> None:
    registry = ModelAllowList.from_file(families_config)
    for task, families in TEXT_FAMILIES.items():
        models = registry.for_task(task)
        assert set(models.families) == families
        assert all(name in models.sources for name in models.families.values())
        assert models.default == f"tiny/{task.value}"
        # The Hub default of the task is one of the verified families.
        assert HUB_DEFAULT_FAMILIES[task] in families


# --- summarization and translation ------------------------------------------------------------


def test_t5_summarization_puts_the_task_prefix_before_the_text(client: Client, families_config: Path) -> None:
    name, directory = family_model(families_config, Task.SUMMARIZATION, "t5")
    result = client.summarization(TEXT, model=name, max_new_tokens=8, logprobs=True)
    model, tokenizer = seq2seq_model(directory)
    expected = SummarizationPipeline(model=model, tokenizer=tokenizer)(TEXT, max_new_tokens=8)
    assert result.summary_text == expected[0]["summary_text"] != ""
    prefixed = seq2seq_greedy(directory, T5_PREFIXES["summarization"] + TEXT, 8)
    assert result.summary_text == prefixed.text
    assert token_logprobs(result.details) == prefixed.logprobs
    assert seq2seq_greedy(directory, TEXT, 8).logprobs != token_logprobs(result.details)


@pytest.mark.parametrize(
    ("languages", "prefix"),
    [
        ({}, "translation_en_to_de"),  # no languages: the model's first pair, as transformers 4 did
        ({"tgt_lang": "fr"}, "translation_en_to_fr"),
        ({"src_lang": "en", "tgt_lang": "de"}, "translation_en_to_de"),
    ],
)
def test_t5_translation_picks_the_prefix_of_the_language_pair(
    client: Client, families_config: Path, languages: dict[str, str], prefix: str
) -> None:
    name, directory = family_model(families_config, Task.TRANSLATION, "t5")
    result = client.translation(TEXT, model=name, max_new_tokens=8, logprobs=True, **languages)
    model, tokenizer = seq2seq_model(directory)
    expected = TranslationPipeline(model=model, tokenizer=tokenizer)(TEXT, max_new_tokens=8, **languages)
    assert result.translation_text == expected[0]["translation_text"] != ""
    assert token_logprobs(result.details) == seq2seq_greedy(directory, T5_PREFIXES[prefix] + TEXT, 8).logprobs


def test_t5_translation_refuses_a_pair_it_was_not_trained_on(client: Client, families_config: Path) -> None:
    name, _ = family_model(families_config, Task.TRANSLATION, "t5")
    with pytest.raises(UnsupportedParameterError, match=r"'translation-t5' translates en->de, en->fr") as caught:
        client.translation(TEXT, model=name, tgt_lang="ro")
    assert caught.value.field == "parameters.tgt_lang"


@pytest.mark.parametrize(("src_lang", "tgt_lang"), [("eng_Latn", "fra_Latn"), ("fra_Latn", "deu_Latn")])
def test_nllb_honours_src_lang_and_tgt_lang(
    client: Client, families_config: Path, src_lang: str, tgt_lang: str
) -> None:
    name, directory = family_model(families_config, Task.TRANSLATION, "nllb")
    result = client.translation(TEXT, model=name, src_lang=src_lang, tgt_lang=tgt_lang, max_new_tokens=8, logprobs=True)
    model, tokenizer = seq2seq_model(directory)
    expected = TranslationPipeline(model=model, tokenizer=tokenizer)(
        TEXT, src_lang=src_lang, tgt_lang=tgt_lang, max_new_tokens=8
    )
    assert result.translation_text == expected[0]["translation_text"] != ""
    target = tokenizer.convert_tokens_to_ids(tgt_lang)
    by_hand = seq2seq_greedy(directory, TEXT, 8, src_lang=src_lang, forced_bos_token_id=target)
    # The target language token is forced first; the source one opens the encoder input.
    tokens = result.details.tokens or []
    assert tokens[0].id == target and tokens[0].special
    assert [token.id for token in tokens] == by_hand.ids
    assert token_logprobs(result.details) == by_hand.logprobs
    other_source = seq2seq_greedy(directory, TEXT, 8, src_lang="spa_Latn", forced_bos_token_id=target)
    assert other_source.logprobs != token_logprobs(result.details)


def test_nllb_stream_matches_the_result(client: Client, families_config: Path) -> None:
    name, _ = family_model(families_config, Task.TRANSLATION, "nllb")
    parameters = {"src_lang": "eng_Latn", "tgt_lang": "deu_Latn", "max_new_tokens": 8}
    job = client.submit(TranslationRequest.build(TEXT, name, parameters))
    text = "".join(event.text for event in job.stream(timeout=60) if isinstance(event, TokenEvent))
    assert text == job.result(timeout=60).translation_text != ""


GENERATING = [
    (task, family)
    for task in (Task.TEXT_GENERATION, Task.SUMMARIZATION, Task.TRANSLATION)
    for family in sorted(TEXT_FAMILIES[task])
]


@pytest.mark.parametrize(("task", "family"), GENERATING, ids=[f"{task.value}-{family}" for task, family in GENERATING])
def test_every_generating_familys_stream_adds_up_to_its_result(
    client: Client, families_config: Path, task: Task, family: str
) -> None:
    """Token texts are decoded a window at a time (streamer.py): for every tokenizer family
    (byte-level BPE, SentencePiece, WordPiece-free seq2seq) they must add up to the result."""
    name, _ = family_model(families_config, task, family)
    parameters: dict[str, Any] = {"max_new_tokens": 24, "temperature": 0}
    if family == "nllb":
        parameters |= {"src_lang": "eng_Latn", "tgt_lang": "deu_Latn"}
    if task is Task.TEXT_GENERATION:
        request: Any = TextGenerationRequest.build(TEXT, name, parameters)
    elif task is Task.SUMMARIZATION:
        request = SummarizationRequest.build(TEXT, name, parameters)
    else:
        request = TranslationRequest.build(TEXT, name, parameters)
    job = client.submit(request)
    streamed = "".join(event.text for event in job.stream(timeout=60) if isinstance(event, TokenEvent))
    result = job.result(timeout=60)
    final = next(
        getattr(result, key) for key in ("generated_text", "summary_text", "translation_text") if hasattr(result, key)
    )
    assert streamed == final


def test_nllb_needs_a_known_target_language(client: Client, families_config: Path) -> None:
    name, _ = family_model(families_config, Task.TRANSLATION, "nllb")
    with pytest.raises(RequestValidationError, match="'translation-nllb' is multilingual") as missing:
        client.translation(TEXT, model=name)
    assert missing.value.field == "parameters.tgt_lang"
    with pytest.raises(UnsupportedParameterError, match="does not know the language code 'fr'") as unknown:
        client.translation(TEXT, model=name, tgt_lang="fr")
    assert "fra_Latn" in str(unknown.value)


def test_fixed_pair_marian_refuses_language_codes(client: Client, families_config: Path) -> None:
    name, _ = family_model(families_config, Task.TRANSLATION, "marian")
    with pytest.raises(UnsupportedParameterError, match="'translation' translates one fixed language pair"):
        client.translation(TEXT, model=name, src_lang="en", tgt_lang="de")


# --- text generation ----------------------------------------------------------------------------


def test_gpt2_plain_prompt(client: Client, families_config: Path) -> None:
    name, directory = family_model(families_config, Task.TEXT_GENERATION, "gpt2")
    result = client.text_generation("hello world", model=name, max_new_tokens=10, temperature=0)
    expected = hf_pipeline(Task.TEXT_GENERATION, directory)(
        "hello world", max_new_tokens=10, do_sample=False, return_full_text=False
    )
    assert result.generated_text == expected[0]["generated_text"] != ""


def test_gpt2_chat_input_is_a_typed_error_naming_the_model(client: Client, families_config: Path) -> None:
    name, directory = family_model(families_config, Task.TEXT_GENERATION, "gpt2")
    messages = [{"role": "user", "content": "hi"}]
    with pytest.raises(ValueError, match="chat_template is not set"):
        hf_pipeline(Task.TEXT_GENERATION, directory)(messages, max_new_tokens=4)  # the library's own error
    with pytest.raises(UnsupportedParameterError, match="model 'text-generation-gpt2' has no chat template") as error:
        client.text_generation(messages, model=name, max_new_tokens=4)
    assert error.value.field == "inputs"


@pytest.mark.parametrize("system", [True, False])
def test_qwen2_chat_template_with_system_prompt(client: Client, families_config: Path, system: bool) -> None:
    name, directory = family_model(families_config, Task.TEXT_GENERATION, "qwen2")
    messages = [{"role": "system", "content": "be brief"}] if system else []
    messages.append({"role": "user", "content": "hello world"})
    result = client.text_generation(messages, model=name, max_new_tokens=8, temperature=0, logprobs=True)
    expected = hf_pipeline(Task.TEXT_GENERATION, directory)(messages, max_new_tokens=8, do_sample=False)
    assert result.generated_text == expected[0]["generated_text"][-1]["content"]
    model, tokenizer = causal_model(directory)
    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    # Qwen2-Instruct's template: the given system prompt, else its default one.
    system_text = "be brief" if system else "You are a helpful assistant."
    assert prompt.startswith(f"<|im_start|>system\n{system_text}<|im_end|>\n")
    assert prompt.endswith("<|im_start|>assistant\n")
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True, return_tensors="pt")
    by_hand = greedy(model, tokenizer, dict(inputs), 8)
    assert token_logprobs(result.details) == by_hand.logprobs


# --- classification ---------------------------------------------------------------------------


def test_distilbert_text_classification(client: Client, families_config: Path) -> None:
    name, directory = family_model(families_config, Task.TEXT_CLASSIFICATION, "distilbert")
    result = client.text_classification("I love this movie", model=name, top_k=2)
    expected = hf_pipeline(Task.TEXT_CLASSIFICATION, directory)("I love this movie", top_k=2)
    assert [(item.label, item.score) for item in result.root] == labels(expected)


@pytest.mark.parametrize("family", ["bert", "bart", "roberta"])
@pytest.mark.parametrize("multi_label", [False, True])
def test_zero_shot_nli_families(client: Client, families_config: Path, family: str, multi_label: bool) -> None:
    name, directory = family_model(families_config, Task.ZERO_SHOT_CLASSIFICATION, family)
    candidates = ["animals", "cars", "food"]
    result = client.zero_shot_classification(TEXT, candidates, model=name, multi_label=multi_label)
    output = hf_pipeline(Task.ZERO_SHOT_CLASSIFICATION, directory)(
        TEXT, candidate_labels=candidates, multi_label=multi_label
    )
    pairs = [{"label": label, "score": score} for label, score in zip(output["labels"], output["scores"], strict=True)]
    assert [(item.label, item.score) for item in result.root] == labels(pairs)


def test_zero_shot_finds_an_upper_case_entailment_label_first_in_order(client: Client, families_config: Path) -> None:
    name, directory = family_model(families_config, Task.ZERO_SHOT_CLASSIFICATION, "roberta")
    pipe = hf_pipeline(Task.ZERO_SHOT_CLASSIFICATION, directory)
    assert pipe.model.config.id2label == {0: "ENTAILMENT", 1: "NEUTRAL", 2: "CONTRADICTION"}
    result = client.zero_shot_classification(TEXT, ["animals"], model=name, multi_label=True)
    encoded = pipe.tokenizer(TEXT, "This example is animals.", return_tensors="pt")
    with torch.no_grad():
        logits = pipe.model(**encoded).logits[0]

    def entailment_vs_contradiction(entailment: int, contradiction: int) -> float:
        return torch.softmax(logits[[contradiction, entailment]], -1)[1].item()

    # Entailment found by name at index 0 (contradiction 2), not assumed last as in MNLI order.
    assert result.root[0].score == pytest.approx(entailment_vs_contradiction(0, 2), rel=1e-4)
    assert result.root[0].score != pytest.approx(entailment_vs_contradiction(2, 0), rel=1e-3)


def test_zero_shot_refuses_a_model_without_an_entailment_label(tmp_path: Path) -> None:
    tokenizer = bert_tokenizer()
    config = transformers.BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        id2label={0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"},
        label2id={"LABEL_0": 0, "LABEL_1": 1, "LABEL_2": 2},
    )
    model = transformers.BertForSequenceClassification(config)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    pipe = transformers.pipeline("zero-shot-classification", model=str(tmp_path))
    with pytest.raises(UnsupportedParameterError, match=r"has no entailment label \(LABEL_0, LABEL_1, LABEL_2\)"):
        _require_entailment_label(pipe)


# --- feature extraction ---------------------------------------------------------------------------


def hidden_states(directory: str, texts: list[str]) -> list[np.ndarray]:
    return [np.asarray(output[0]) for output in hf_pipeline(Task.FEATURE_EXTRACTION, directory)(texts)]


def unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def test_sentence_transformers_defaults_are_the_models_pooling(client: Client, families_config: Path) -> None:
    name, directory = family_model(families_config, Task.FEATURE_EXTRACTION, "sentence-transformers")
    texts = [TEXT, "hello world"]
    result = client.feature_extraction(texts, model=name)
    # modules.json: mean pooling, then Normalize.
    for got, hidden in zip(result.root, hidden_states(directory, texts), strict=True):
        np.testing.assert_allclose(np.asarray(got), unit(hidden.mean(axis=0)), rtol=1e-4, atol=1e-5)
    overridden = client.feature_extraction(texts, model=name, pooling="cls", normalize=False)
    for got, hidden in zip(overridden.root, hidden_states(directory, texts), strict=True):
        np.testing.assert_allclose(np.asarray(got), hidden[0], rtol=1e-4, atol=1e-5)


def test_plain_encoder_defaults_stay_per_token(client: Client, families_config: Path) -> None:
    name, directory = family_model(families_config, Task.FEATURE_EXTRACTION, "bert")
    result = client.feature_extraction("hello world", model=name)
    np.testing.assert_allclose(np.asarray(result.root[0]), hidden_states(directory, ["hello world"])[0], rtol=1e-4)


def test_sentence_transformers_max_seq_length_truncates(client: Client, families_config: Path) -> None:
    long_text = " ".join([TEXT] * 12)
    st_name, _ = family_model(families_config, Task.FEATURE_EXTRACTION, "sentence-transformers")
    bert_name, _ = family_model(families_config, Task.FEATURE_EXTRACTION, "bert")
    assert len(client.feature_extraction(long_text, model=st_name, pooling="none").root[0]) == ST_MAX_SEQ_LENGTH
    assert len(client.feature_extraction(long_text, model=bert_name, pooling="none").root[0]) > ST_MAX_SEQ_LENGTH


def test_sentence_transformers_pooling_pipeq_cannot_compute_is_refused(tmp_path: Path) -> None:
    (tmp_path / "1_Pooling").mkdir()
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_max_tokens": True}))
    defaults = embedding_defaults(str(tmp_path))
    model = transformers.PretrainedConfig(name_or_path=str(tmp_path))
    with pytest.raises(UnsupportedParameterError, match="pools with pooling_mode_max_tokens") as error:
        defaults.resolve(model, None, None)
    assert error.value.field == "parameters.pooling"
    assert defaults.resolve(model, "mean", None) == ("mean", False)


# --- micro-batching ---------------------------------------------------------------------------


def family_requests(models_config: Path) -> list[TaskRequest[Any]]:
    """Prompts of different lengths per family: padding (GPT-2 has no pad token), prefixes and
    language tokens must not leak between batch-mates."""
    texts = [TEXT, "hello", "a queue of requests waits for a worker"]
    greedy_8 = {"temperature": 0, "max_new_tokens": 8}
    gpt2, _ = family_model(models_config, Task.TEXT_GENERATION, "gpt2")
    qwen2, _ = family_model(models_config, Task.TEXT_GENERATION, "qwen2")
    t5, _ = family_model(models_config, Task.SUMMARIZATION, "t5")
    nllb, _ = family_model(models_config, Task.TRANSLATION, "nllb")
    languages = {"src_lang": "fra_Latn", "tgt_lang": "deu_Latn"}
    return [
        *(TextGenerationRequest.build(text, gpt2, greedy_8) for text in texts),
        *(TextGenerationRequest.build([{"role": "user", "content": text}], qwen2, greedy_8) for text in texts),
        *(SummarizationRequest.build(text, t5, greedy_8) for text in texts),
        *(TranslationRequest.build(text, nllb, {**greedy_8, **languages}) for text in texts),
    ]


def test_family_generation_batched_equals_unbatched(
    client: Client, batched_stack: tuple[LocalStack, int], families_config: Path
) -> None:
    stack, port = batched_stack
    requests = family_requests(families_config)
    with Client(stack.redis_url) as batched_client:
        jobs = [batched_client.submit(request) for request in requests]  # all queued at once
        got = [comparable(job.result(timeout=120)) for job in jobs]
    assert got == [comparable(client.run(request, timeout=120)) for request in requests]
    stats = batch_stats(port)
    for task, requests_sent in (("text-generation", 6), ("summarization", 3), ("translation", 3)):
        batches, answered = stats[task]
        assert answered == requests_sent and batches < answered, f"{task} requests shared generate() calls"
