"""Generation semantics through the queue, checked against in-process ``generate()`` on the
same tiny model: greedy, seeds, top-k/top-p, min/max tokens, penalties, stop strings,
logprobs, streaming, cancel, deadlines, chat."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import redis
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from pipeq_client import AsyncClient, Client
from pipeq_client.errors import JobCancelledError
from pipeq_client.events import DoneEvent, TokenEvent
from pipeq_client.protocol import EventType, Task, attempts_key
from pipeq_client.types import ImageTextToTextRequest, TextGenerationRequest, TextGenerationResult
from pipeq_workers.tooling.display import escape_unprintable
from pipeq_workers.tooling.samples import sample_png
from tests.integration.reference import model_dir

pytestmark = pytest.mark.integration

PROMPT = "hello world"


@cache
def local_model(models_config: Path) -> tuple[Any, Any]:
    source = model_dir(models_config, Task.TEXT_GENERATION)
    return AutoModelForCausalLM.from_pretrained(source).eval(), AutoTokenizer.from_pretrained(source)


def eos_id(models_config: Path) -> int:
    return int(local_model(models_config)[1].eos_token_id)


def greedy_ids(models_config: Path, prompt: str, max_new_tokens: int) -> list[int]:
    model, tokenizer = local_model(models_config)
    inputs = tokenizer(prompt, return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return output[0, inputs["input_ids"].shape[1] :].tolist()


def first_step_logits(models_config: Path, prompt: str) -> torch.Tensor:
    model, tokenizer = local_model(models_config)
    with torch.no_grad():
        return model(**tokenizer(prompt, return_tensors="pt")).logits[0, -1].float()


def generate(client: Client, prompt: str = PROMPT, **parameters: Any) -> TextGenerationResult:
    return client.text_generation(prompt, **parameters)


def test_temperature_zero_equals_greedy_generate(client: Client, models_config: Path) -> None:
    result = generate(client, max_new_tokens=12, temperature=0, logprobs=True)
    assert [token.id for token in result.details.tokens or []] == greedy_ids(models_config, PROMPT, 12)
    _, tokenizer = local_model(models_config)
    assert result.generated_text == tokenizer.decode(greedy_ids(models_config, PROMPT, 12), skip_special_tokens=True)


def test_same_seed_same_output_different_seeds_differ(client: Client) -> None:
    settings = {"max_new_tokens": 16, "temperature": 1.5, "logit_bias": {}}
    first = generate(client, seed=11, **settings)
    again = generate(client, seed=11, **settings)
    other = generate(client, seed=12, **settings)
    assert first.generated_text == again.generated_text
    assert other.generated_text != first.generated_text


def sampled_first_tokens(client: Client, **parameters: Any) -> set[int]:
    seen: set[int] = set()
    for seed in range(4):
        result = generate(client, max_new_tokens=1, num_return_sequences=16, seed=seed, logprobs=True, **parameters)
        for sequence in result.sequences or []:
            seen.add((sequence.details.tokens or [])[0].id)
    return seen


def test_top_k_leaves_exactly_k_candidates(client: Client, models_config: Path) -> None:
    logits = first_step_logits(models_config, PROMPT)
    top3 = set(torch.topk(logits, 3).indices.tolist())
    # temperature 2 flattens the tiny model's distribution: 64 draws see all three candidates
    assert sampled_first_tokens(client, top_k=3, temperature=2.0) == top3


def test_top_p_keeps_the_nucleus(client: Client, models_config: Path) -> None:
    # ~50%, 30%, 18%, 1% of the mass: the 0.9 nucleus is {7, 8, 9}, with margins either side
    bias = {7: 12.0, 8: 11.5, 9: 11.0, 10: 8.0}
    logits = first_step_logits(models_config, PROMPT)
    for token_id, value in bias.items():
        logits[token_id] += value
    probs = torch.softmax(logits, dim=-1)
    order = torch.argsort(probs, descending=True)
    cumulative = torch.cumsum(probs[order], dim=0)
    nucleus = set(order[: int((cumulative < 0.9).sum()) + 1].tolist())
    assert 1 < len(nucleus) < 4, "the bias makes a small nucleus (sanity of the test itself)"
    assert sampled_first_tokens(client, top_p=0.9, logit_bias=bias) == nucleus


def test_min_new_tokens_blocks_eos_until_reached(client: Client, models_config: Path) -> None:
    eos = eos_id(models_config)
    eager = generate(client, temperature=0, max_new_tokens=20, logit_bias={eos: 50.0})
    assert (eager.details.finish_reason, eager.details.generated_tokens) == ("eos_token", 1)
    held = generate(client, temperature=0, max_new_tokens=20, min_new_tokens=5, logit_bias={eos: 50.0})
    assert (held.details.finish_reason, held.details.generated_tokens) == ("eos_token", 6)


def test_max_new_tokens_caps_exactly(client: Client, models_config: Path) -> None:
    result = generate(client, temperature=0, max_new_tokens=7, logit_bias={eos_id(models_config): -100.0})
    assert (result.details.finish_reason, result.details.generated_tokens) == ("length", 7)


@pytest.mark.parametrize(
    "penalty", [{"repetition_penalty": 10.0}, {"presence_penalty": 2.0}, {"frequency_penalty": 2.0}]
)
def test_penalties_stop_repetition(client: Client, models_config: Path, penalty: dict[str, float]) -> None:
    banned = {eos_id(models_config): -100.0}
    plain = generate(client, temperature=0, max_new_tokens=24, logprobs=True, logit_bias=banned)
    plain_ids = [token.id for token in plain.details.tokens or []]
    assert len(set(plain_ids)) < len(plain_ids), "without a penalty the tiny model repeats itself"
    penalised = generate(client, temperature=0, max_new_tokens=24, logprobs=True, logit_bias=banned, **penalty)
    ids = [token.id for token in penalised.details.tokens or []]
    assert len(set(ids)) == len(ids) == 24


def boundary_stop(client: Client) -> tuple[str, str]:
    """A stop string that spans a token boundary in the greedy output, and that output."""
    result = generate(client, temperature=0, max_new_tokens=16, logprobs=True)
    tokens = result.details.tokens or []
    texts = [token.text for token in tokens]
    for index in range(3, len(texts) - 1):
        left, right = texts[index], texts[index + 1]
        if left and right and "\ufffd" not in left + right:
            stop = left[-1] + right[:1]
            if result.generated_text.find(stop) == len("".join(texts[:index])) + len(left) - 1:
                return stop, result.generated_text
    pytest.fail(f"no token boundary to put a stop string on in {texts!r}")


def test_stop_string_across_token_boundary_is_trimmed_from_result_and_stream(client: Client) -> None:
    stop, greedy = boundary_stop(client)
    expected = greedy[: greedy.find(stop)]
    job = client.submit(
        TextGenerationRequest.build(PROMPT, parameters={"temperature": 0, "max_new_tokens": 16, "stop": [stop]})
    )
    deltas = [event.text for event in job.stream(timeout=60) if isinstance(event, TokenEvent)]
    result = job.result(timeout=5)
    assert result.generated_text == expected and stop not in result.generated_text
    assert result.details.finish_reason == "stop_sequence"
    assert "".join(deltas) == expected
    assert all(stop not in "".join(deltas[: i + 1]) for i in range(len(deltas)))


def test_logprobs_are_raw_log_softmax_of_the_logits(client: Client, models_config: Path) -> None:
    """Compared with an in-process generate(output_logits=True): raw, not the penalised scores."""
    result = generate(client, temperature=0, max_new_tokens=6, logprobs=True, top_logprobs=3, repetition_penalty=1.5)
    model, tokenizer = local_model(models_config)
    inputs = tokenizer(PROMPT, return_tensors="pt")
    output = model.generate(
        **inputs, max_new_tokens=6, do_sample=False, repetition_penalty=1.5,
        return_dict_in_generate=True, output_logits=True, output_scores=True,
    )  # fmt: skip
    tokens = result.details.tokens or []
    assert [token.id for token in tokens] == output.sequences[0, inputs["input_ids"].shape[1] :].tolist()
    for step, token in enumerate(tokens):
        raw = torch.log_softmax(output.logits[step][0].float(), dim=-1)
        processed = torch.log_softmax(output.scores[step][0].float(), dim=-1)
        assert token.logprob == pytest.approx(float(raw[token.id]), abs=1e-4)
        top = result.details.top_tokens[step]  # type: ignore[index]
        assert [alt.id for alt in top] == torch.topk(raw, 3).indices.tolist()
        assert [alt.logprob for alt in top] == pytest.approx(torch.topk(raw, 3).values.tolist(), abs=1e-4)
        if step > 0:  # the penalty has seen generated tokens: raw and processed differ
            assert not torch.allclose(raw, processed)


def test_async_stream_yields_tokens_then_the_result(stack) -> None:
    async def main() -> tuple[list[str], str]:
        async with AsyncClient(stack.redis_url) as client:
            job = await client.submit(
                TextGenerationRequest.build(PROMPT, parameters={"max_new_tokens": 10, "temperature": 0})
            )
            deltas, final = [], ""
            async for event in job.stream(timeout=60):
                if isinstance(event, TokenEvent):
                    deltas.append(event.text)
                elif isinstance(event, DoneEvent):
                    final = event.result.generated_text
            return deltas, final

    deltas, final = asyncio.run(main())
    assert len(deltas) == 10 and "".join(deltas) == final


def test_cli_submit_stream_prints_tokens_then_the_result(stack) -> None:
    env = {**os.environ, "PIPEQ_REDIS_URL": stack.redis_url}
    command = [
        sys.executable, "-m", "pipeq_workers.cli", "submit", "text-generation", PROMPT,
        "--param", "max_new_tokens=8", "--param", "temperature=0", "--stream",
    ]  # fmt: skip
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    streamed, _, result_json = out.stdout.partition("\n")
    result = json.loads(result_json)
    # The terminal gets control characters escaped (random-weight text is full of them).
    assert streamed == escape_unprintable(result["generated_text"])
    assert result["details"]["generated_tokens"] == 8


def test_stream_concatenation_late_readers_and_resume(client: Client) -> None:
    job = client.submit(TextGenerationRequest.build(PROMPT, parameters={"temperature": 0, "max_new_tokens": 20}))
    live = list(job.stream(timeout=60))
    tokens = [event for event in live if isinstance(event, TokenEvent)]
    done = live[-1]
    assert isinstance(done, DoneEvent) and "".join(t.text for t in tokens) == done.result.generated_text
    # A reader attaching after the job finished still gets every event.
    late = list(client.job(job.id, TextGenerationRequest).stream(timeout=5))
    assert [event.event_id for event in late] == [event.event_id for event in live]
    # A reader resuming after event N gets N+1...
    resumed = list(job.stream(after=tokens[4].event_id, timeout=5))
    assert [event.event_id for event in resumed] == [event.event_id for event in live[5:]]


def long_generation(client: Client, models_config: Path) -> Any:
    return client.submit(
        TextGenerationRequest.build(
            PROMPT,
            parameters={"temperature": 0, "max_new_tokens": 200, "num_return_sequences": 1,
                        "logit_bias": {eos_id(models_config): -100.0}},
        )
    )  # fmt: skip


def test_tokens_arrive_before_the_job_is_done_and_cancel_stops_it(client: Client, models_config: Path) -> None:
    job = long_generation(client, models_config)
    connection = redis.Redis.from_url(client.settings.redis_url)
    for event in job.stream(timeout=60):
        if isinstance(event, TokenEvent):
            events_so_far = connection.xrange(job.handle.events_key)
            assert all(fields[b"type"] != EventType.DONE.value.encode() for _, fields in events_so_far)
            job.cancel()
            break
    result = job.result(timeout=60)
    assert result.details.finish_reason == "cancelled"
    assert 0 < result.details.generated_tokens < 200
    # The worker goes on serving.
    assert generate(client, max_new_tokens=3, temperature=0).details.generated_tokens == 3


def test_cancelled_while_queued_never_runs(client: Client, models_config: Path) -> None:
    blocker = long_generation(client, models_config)  # occupies the (solo) text worker
    queued = client.submit(TextGenerationRequest.build(PROMPT), job_id=f"queued-{uuid.uuid4().hex}")
    queued.cancel()
    with pytest.raises(JobCancelledError):
        queued.result(timeout=60)
    assert not any(isinstance(event, TokenEvent) for event in _events_without_error(queued))
    assert redis.Redis.from_url(client.settings.redis_url).get(attempts_key(queued.id)) is None
    assert blocker.result(timeout=60).details.generated_tokens == 200


def _events_without_error(job: Any) -> list[Any]:
    return [event for event in job.events(timeout=5) if event.type is not EventType.ERROR]


def test_deadline_ends_generation_with_time_limit(client: Client, models_config: Path) -> None:
    result = generate(
        client, temperature=0, max_new_tokens=200, max_time=0.001, logit_bias={eos_id(models_config): -100.0}
    )
    assert result.details.finish_reason == "time_limit"
    assert 0 < result.details.generated_tokens < 200


def test_chat_messages_use_the_chat_template(client: Client, models_config: Path) -> None:
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi there"}]
    result = client.text_generation(messages, max_new_tokens=8, temperature=0)
    model, tokenizer = local_model(models_config)
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True, return_tensors="pt")
    assert tokenizer.decode(inputs["input_ids"][0]).endswith("<|user|>hi there\n<|assistant|>")
    output = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    expected = tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert result.generated_text == expected


def test_image_chat_messages_with_image_parts(client: Client) -> None:
    png = sample_png()
    chat = client.run(
        ImageTextToTextRequest.build(
            [{"role": "user", "content": [{"type": "image", "image": png}, {"type": "text", "text": "describe"}]}],
            parameters={"max_new_tokens": 6, "temperature": 0},
        )
    )
    plain = client.image_text_to_text([png], "<|user|><image>describe\n<|assistant|>", max_new_tokens=6, temperature=0)
    assert chat.generated_text == plain.generated_text
    assert chat.details.generated_tokens == 6


def test_a_streamed_generations_events_keep_their_ttl_throughout(client: Client, redis_url: str) -> None:
    """Token events renew the stream's TTL only now and then (job_events.RENEW_TTL_EVERY):
    ``started`` set it, XADD keeps it, ``done`` sets it again."""
    broker = redis.Redis.from_url(redis_url)
    job = client.submit(TextGenerationRequest.build("keep", parameters={"temperature": 0, "max_new_tokens": 24}))
    ttls = []
    for event in job.stream(timeout=60):
        if isinstance(event, TokenEvent):
            ttls.append(broker.ttl(job.handle.events_key))
    ttls.append(broker.ttl(job.handle.events_key))
    assert ttls and all(ttl > 0 for ttl in ttls), f"the stream had no TTL at some point: {ttls}"
