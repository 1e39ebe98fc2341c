"""Head scores on constructed attention patterns: a head that follows a rule perfectly scores 1,
one that spreads its weight evenly scores its chance value, and a GPT's induction scores have
the shape of its heads."""

import math

import numpy as np
import pytest
import torch

from course_lib import heads


def _one_hot_rows(targets, T):
    """(T, T): query i puts all its weight on targets[i]."""
    w = np.zeros((T, T))
    w[np.arange(T), targets] = 1.0
    return w


def _harmonic_chance(queries):
    """Mean of 1 / (i + 1) over the query positions: a uniform causal head on one target."""
    return float(np.mean([1 / (i + 1) for i in queries]))


def test_previous_token_head_scores_one_and_others_less():
    T = 10
    prev = _one_hot_rows(np.maximum(np.arange(T) - 1, 0), T)
    assert heads.previous_token_score(prev) == 1.0
    assert heads.previous_token_score(np.eye(T)) == 0.0  # a head that reads itself
    assert heads.first_token_score(prev) == pytest.approx(1 / (T - 1))  # only query 1 reads 0
    # chance: query i gives 1 / (i + 1) to each position it may see
    uniform = heads.uniform_causal(T)
    assert np.allclose(uniform.sum(-1), 1) and np.all(np.triu(uniform, 1) == 0)
    assert heads.previous_token_score(uniform) == pytest.approx(_harmonic_chance(range(1, T)))


def test_first_token_head_and_batched_shapes():
    T = 7
    first = _one_hot_rows(np.zeros(T, dtype=int), T)
    assert heads.first_token_score(first) == 1.0
    assert heads.previous_token_score(first) == pytest.approx(1 / (T - 1))
    stack = np.stack([first, np.eye(T), heads.uniform_causal(T)])  # (3, T, T): three heads
    scores = heads.first_token_score(torch.tensor(stack[None]))  # a tensor (1, 3, T, T)
    assert scores.shape == (1, 3)
    assert np.allclose(scores, [[1.0, 0.0, _harmonic_chance(range(1, T))]])


def test_line_start_score_uses_the_current_line_only():
    text = "ab\ncde\nfg"  # lines start at 3 and 7; queries 4, 5, 6 (line 2) and 8 (line 3)
    T = len(text)
    starts = [0, 0, 0, 3, 3, 3, 3, 7, 7]  # a head that always reads its line's first character
    perfect = _one_hot_rows(starts, T)
    assert heads.line_start_score(perfect, text) == 1.0
    # reading position 0 is not reading a line start: position 0 follows no newline
    assert heads.line_start_score(_one_hot_rows(np.zeros(T, dtype=int), T), text) == 0.0
    assert math.isnan(heads.line_start_score(np.eye(3), "abc"))  # no newline: no score
    # the newline itself ends a line: query 6 ('\n') still belongs to the line started at 3
    half = perfect.copy()
    half[8] = 0
    half[8, 8] = 1.0
    assert heads.line_start_score(half, text) == pytest.approx(3 / 4)


def test_induction_head_on_a_repeated_random_sequence():
    n, V = 12, 50
    ids = heads.repeated_random_tokens(n, V, seed=3)
    assert ids.shape == (2 * n,) and np.array_equal(ids[:n], ids[n:])
    assert len(set(ids[:n].tolist())) == n  # distinct when n <= vocab_size
    T = 2 * n
    # an induction head: in the second copy, query i reads i - n + 1 (what followed i's twin);
    # in the first copy (nothing to copy yet) it reads position 0
    targets = [0] * n + [i - n + 1 for i in range(n, T)]
    induction = _one_hot_rows(targets, T)
    assert heads.induction_score(induction, ids) == 1.0
    # a duplicate-token head reads the twin itself, i - n: it is not an induction head
    duplicate = _one_hot_rows([0] * n + [i - n for i in range(n, T)], T)
    assert heads.duplicate_token_score(duplicate, ids) == 1.0
    assert heads.induction_score(duplicate, ids) == 0.0
    assert heads.duplicate_token_score(induction, ids) == 0.0
    # chance: one target per query of the second copy, about log(2) / n
    chance = heads.chance_scores(ids)["induction"]
    assert chance == pytest.approx(_harmonic_chance(range(n, T)))
    assert chance == pytest.approx(math.log(2) / n, rel=0.1)
    assert heads.induction_score(heads.uniform_causal(T), ids) == pytest.approx(chance)


def test_induction_targets_skip_the_query_itself():
    tokens = ["a", "a", "b"]  # query 1's earlier 'a' is at 0, followed by 1 = the query itself
    w = heads.uniform_causal(3)
    assert math.isnan(heads.induction_score(w, tokens))  # no query has a target before it
    assert heads.duplicate_token_score(w, tokens) == pytest.approx(0.5)  # query 1 -> 0


def test_head_scores_and_chance_scores_keys():
    T = 6
    w = np.stack([heads.uniform_causal(T), np.eye(T)])[None]  # (1, 2, T, T)
    scores = heads.head_scores(w, "ab\ncab")
    assert set(scores) == {"previous", "first", "line_start", "duplicate"}
    assert set(heads.SCORES) == set(scores) | {"induction"}
    assert all(v.shape == (1, 2) for v in scores.values())
    chance = heads.chance_scores("ab\ncab")
    assert set(chance) == set(heads.SCORES)
    assert scores["previous"][0, 0] == pytest.approx(chance["previous"])
    assert scores["previous"][0, 1] == 0.0 and scores["duplicate"][0, 1] == 0.0


def test_gpt_induction_scores_have_one_per_head():
    from course_lib.transformer import GPT, GPTConfig

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=3, n_embd=12))
    scores = heads.induction_scores(model, n_sequences=2)
    assert scores.shape == (2, 3) and np.all((scores >= 0) & (scores <= 1))
    # an untrained model's heads are close to uniform: near chance, far from 1
    chance = heads.chance_scores(heads.repeated_random_tokens(8, 20))["induction"]
    assert np.all(np.abs(scores - chance) < 0.15)
    with pytest.raises(ValueError, match="do not fit in the block size 16: use n <= 8"):
        heads.induction_scores(model, n=9)


def test_bad_shapes_are_clear_errors():
    with pytest.raises(ValueError, match=r"must end in \(T, T\)"):
        heads.previous_token_score(np.ones((3, 4)))
    with pytest.raises(ValueError, match="T = 3 tokens"):
        heads.duplicate_token_score(np.eye(3), "ab")
    with pytest.raises(ValueError, match="at least 1"):
        heads.uniform_causal(0)


def test_model_head_scores_gives_every_score_per_head():
    from course_lib.transformer import GPT, GPTConfig, attention_maps

    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=2, n_head=3, n_embd=12))
    text = "ab\ncab\nbca"
    ids = torch.tensor([ord(c) % 20 for c in text])
    scores = heads.model_head_scores(model, ids, text, n_sequences=2)
    assert set(scores) == set(heads.SCORES)
    assert all(v.shape == (2, 3) for v in scores.values())
    maps = attention_maps(model, ids)  # (L, H, T, T): the scores are those of the maps
    assert np.allclose(scores["duplicate"], heads.duplicate_token_score(maps, text))
    assert np.allclose(scores["line_start"], heads.line_start_score(maps, text))
    assert np.allclose(scores["induction"], heads.induction_scores(model, n_sequences=2))
    # without the text, the ids are the tokens: no id is a newline, so no line-start score
    assert np.all(np.isnan(heads.model_head_scores(model, ids, n_sequences=1)["line_start"]))
    with pytest.raises(ValueError, match=r"one sequence of T token ids \(T,\)"):
        heads.model_head_scores(model, ids[None])
