"""Per-row decoding pieces on small tensors: RowSampler gives each request its own processors,
warpers and random stream (the same choices alone as beside others, padding skipped), and
RowEnds records where and why each row ended."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from transformers import StoppingCriteria

from pipeq_client.types import GenerationParameters
from pipeq_workers.generation.ends import RowEnd, RowEnds
from pipeq_workers.generation.plan import SamplingPlan
from pipeq_workers.generation.rows import RowGroup, RowSampler

pytestmark = pytest.mark.unit

VOCAB = 8
EOS = 1


def plan(**parameters: object) -> SamplingPlan:
    text_config = SimpleNamespace(vocab_size=VOCAB)
    model = SimpleNamespace(
        generation_config=SimpleNamespace(do_sample=False), config=SimpleNamespace(get_text_config=lambda: text_config)
    )
    return SamplingPlan.build(GenerationParameters(**parameters), model)


def chosen(logits: torch.Tensor) -> list[int]:
    """The token RowSampler left in each row (the only finite logit)."""
    assert bool((torch.isfinite(logits).sum(dim=-1) == 1).all()), "exactly one token per row"
    return logits.argmax(dim=-1).tolist()


def steps(sampler: RowSampler, ids: torch.Tensor, scores: list[torch.Tensor]) -> list[list[int]]:
    """Feeds ``scores`` step by step, appending each chosen token: what generate() would do."""
    picked = []
    for step_scores in scores:
        tokens = chosen(sampler(ids, step_scores))  # type: ignore[arg-type]
        picked.append(tokens)
        ids = torch.cat([ids, torch.tensor(tokens)[:, None]], dim=1)
    return picked


def scores_for(rows: int, count: int, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(rows, VOCAB, generator=generator) for _ in range(count)]


def test_a_request_chooses_alike_alone_and_beside_a_padded_other() -> None:
    seeded = plan(temperature=1.5, seed=3, repetition_penalty=2.0)
    greedy = plan(temperature=0, presence_penalty=2.0, logit_bias={4: 1.0})
    own = torch.tensor([[5, 6]])  # each request's prompt; the other's is longer
    other = torch.tensor([[2, 3, 7, 6]])
    scores = scores_for(2, 6)

    alone_seeded = RowSampler([RowGroup.of(seeded, 0, 0)], 2, {EOS})
    alone_greedy = RowSampler([RowGroup.of(greedy, 0, 0)], 4, {EOS})
    expected_seeded = steps(alone_seeded, own, [step[:1] for step in scores])
    expected_greedy = steps(alone_greedy, other, [step[1:] for step in scores])

    padded = torch.cat([torch.cat([torch.zeros(1, 2, dtype=torch.long), own], dim=1), other])
    together = RowSampler([RowGroup.of(seeded, 0, 2), RowGroup.of(greedy, 1, 0)], 4, {EOS})
    picked = steps(together, padded, scores)
    assert [row[0] for row in picked] == [row[0] for row in expected_seeded]
    assert [row[1] for row in picked] == [row[0] for row in expected_greedy]


def test_greedy_rows_take_the_argmax_of_their_processed_scores() -> None:
    sampler = RowSampler([RowGroup.of(plan(temperature=0, logit_bias={2: 10.0}), 0, 0)], 1, {EOS})
    assert chosen(sampler(torch.tensor([[0]]), torch.zeros(1, VOCAB))) == [2]  # type: ignore[arg-type]


def test_min_new_tokens_masks_eos_until_reached_unless_nothing_else_is_left() -> None:
    sampler = RowSampler([RowGroup.of(plan(temperature=0, min_new_tokens=2), 0, 0)], 1, {EOS})
    eos_first = torch.zeros(1, VOCAB)
    eos_first[0, EOS] = 5.0
    assert chosen(sampler(torch.tensor([[0]]), eos_first)) != [EOS]  # type: ignore[arg-type]
    assert chosen(sampler(torch.tensor([[0, 4, 4]]), eos_first)) == [EOS]  # type: ignore[arg-type]
    forced = torch.full((1, VOCAB), -float("inf"))
    forced[0, EOS] = 0.0  # the model's forced_eos_token_id, applied before pipeq's processors
    assert chosen(sampler(torch.tensor([[0]]), forced)) == [EOS]  # type: ignore[arg-type]


def test_the_n_rows_of_a_request_draw_from_one_stream_as_transformers_does() -> None:
    sampler = RowSampler([RowGroup.of(plan(temperature=1.0, seed=9, num_return_sequences=2), 0, 0)], 1, {EOS})
    scores = torch.randn(2, VOCAB, generator=torch.Generator().manual_seed(1))
    torch.manual_seed(9)
    expected = torch.multinomial(torch.softmax(scores, dim=-1), num_samples=1).squeeze(1).tolist()
    assert chosen(sampler(torch.tensor([[0], [0]]), scores)) == expected  # type: ignore[arg-type]


class Fires(StoppingCriteria):
    """Fires for the given rows from the given step on."""

    def __init__(self, rows: set[int], at: int) -> None:
        self.rows, self.at, self.calls = rows, at, 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: object) -> torch.BoolTensor:
        self.calls += 1
        flags = [self.calls >= self.at and row in self.rows for row in range(input_ids.shape[0])]
        return torch.tensor(flags)  # type: ignore[return-value]


def test_each_row_ends_once_with_its_length_and_the_first_reason() -> None:
    ends = RowEnds(
        [("stop_sequence", Fires({0}, at=2)), ("cancelled", Fires({1, 0}, at=2))], caps=[5, 5, 3, 5], eos_ids={EOS},
        prefix_length=1,
    )  # fmt: skip
    done = []
    ids = torch.zeros(4, 1, dtype=torch.long)
    for step in range(4):
        token = [7, 7, 7, EOS if step == 0 else 7]
        ids = torch.cat([ids, torch.tensor(token)[:, None]], dim=1)
        done.append(ends(ids, None).tolist())  # type: ignore[arg-type]
    assert ends.ended == {
        3: RowEnd(1, "eos_token"),
        0: RowEnd(2, "stop_sequence"),  # before cancel, which fired at the same step
        1: RowEnd(2, "cancelled"),
        2: RowEnd(3, "length"),  # its own cap
    }
    assert done[-1] == [True, True, True, True]
    assert ends.kept(0) == 2 and ends.end(5, 9) == RowEnd(9, "length")
