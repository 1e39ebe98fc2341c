"""course_lib.ngram: counting, smoothing and scoring, checked against plain-Python references."""

import math
from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.ngram import NGramLM, ngram_codes, ngram_sparsity, shakespeare_ngram_loss


def kn_reference(train, n, V, d):
    """Interpolated Kneser-Ney written from the textbook definition with dicts (slow, clear).

    Returns ``prob(history, c)`` where history is a tuple of the preceding tokens."""
    grams = {
        m: Counter(tuple(train[i : i + m]) for i in range(len(train) - m + 1))
        for m in range(1, n + 2)
    }
    counts = {}
    for m in range(1, n + 1):
        if m == n:
            counts[m] = dict(grams[m])
        else:  # continuation counts: distinct left neighbours
            cont = defaultdict(int)
            for g in grams[m + 1]:
                cont[g[1:]] += 1
            counts[m] = dict(cont)
    totals = {m: defaultdict(int) for m in counts}
    types = {m: defaultdict(int) for m in counts}
    for m, table in counts.items():
        for g, c in table.items():
            totals[m][g[:-1]] += c
            types[m][g[:-1]] += 1

    def prob(history, c, m=None):
        m = min(n, len(history) + 1) if m is None else m
        if m == 0:
            return 1 / V
        ctx = tuple(history[len(history) - (m - 1) :]) if m > 1 else ()
        lower = prob(history, c, m - 1)
        total = totals[m].get(ctx, 0)
        if total == 0:
            return lower
        count = counts[m].get(ctx + (c,), 0)
        return max(count - d[m - 1], 0) / total + d[m - 1] * types[m][ctx] / total * lower

    return prob


@settings(max_examples=30, deadline=None)
@given(
    train=st.lists(st.integers(0, 3), min_size=8, max_size=60),
    val=st.lists(st.integers(0, 3), min_size=2, max_size=20),
    n=st.integers(1, 4),
)
def test_kneser_ney_equals_the_textbook_definition(train, val, n):
    V = 4
    lm = NGramLM(n, V, discount=0.6).fit(train)
    ref = kn_reference(train, n, V, [0.6] * n)
    expected = [
        math.log(ref(tuple(val[max(0, t - n + 1) : t]), val[t])) for t in range(1, len(val))
    ]
    np.testing.assert_allclose(lm.log_probs(val), expected, rtol=1e-10)


@settings(max_examples=30, deadline=None)
@given(
    train=st.lists(st.integers(0, 4), min_size=6, max_size=80),
    context=st.lists(st.integers(0, 4), min_size=1, max_size=5),
    n=st.integers(1, 5),
    smoothing=st.sampled_from(["kneser_ney", "add_k"]),
)
def test_distributions_sum_to_one(train, context, n, smoothing):
    lm = NGramLM(n, 5, smoothing=smoothing, k=0.3).fit(train)
    # raw scores of every possible next token after the context, not renormalised
    total = sum(math.exp(lm.log_probs(context + [c])[-1]) for c in range(5))
    assert total == pytest.approx(1.0, abs=1e-9)


def test_add_k_equals_counting_by_hand():
    rng = np.random.default_rng(0)
    train, val = rng.integers(0, 6, 500), rng.integers(0, 6, 100)
    counts = np.zeros((6, 6))
    np.add.at(counts, (train[:-1], train[1:]), 1)
    probs = (counts + 0.5) / (counts + 0.5).sum(1, keepdims=True)
    lm = NGramLM(2, 6, smoothing="add_k", k=0.5).fit(train)
    expected = -np.log(probs[val[:-1], val[1:]]).mean()
    assert lm.loss(val) == pytest.approx(expected, rel=1e-12)
    # a trigram's first position has only one token of context: it uses the bigram counts
    tri = NGramLM(3, 6, smoothing="add_k", k=0.5).fit(train)
    assert tri.log_probs(val)[0] == pytest.approx(np.log(probs[val[0], val[1]]))


def test_codes_and_sparsity_by_hand():
    ids = np.array([0, 1, 2, 0, 1])
    assert ngram_codes(ids, 2, 3).tolist() == [1, 5, 6, 1]  # "01" = 0*3+1, "12" = 5, ...
    s = ngram_sparsity([0, 1, 0, 1, 2], [0, 1, 2, 2, 2], n=2, vocab_size=3)
    # training contexts (1 token, all but the last): 0, 1, 0, 1 -> {0: 2, 1: 2}
    assert s["distinct_contexts"] == 2 and s["singleton_fraction"] == 0.0
    # validation contexts 0, 1, 2, 2: two of four (the 2s) were never seen
    assert s["unseen_val_fraction"] == 0.5 and s["possible_contexts"] == 3
    lm = NGramLM(2, 3).fit([0, 1, 0, 1, 2])
    assert lm.unseen_context_rate([0, 1, 2, 2, 2]) == 0.5


def test_sampling_is_seeded_and_greedy_follows_the_counts():
    train = [0, 1, 2] * 50
    lm = NGramLM(3, 3).fit(train)
    assert lm.sample([0, 1], 6, temperature=0) == [2, 0, 1, 2, 0, 1]
    a = NGramLM(2, 3, smoothing="add_k").fit(train)
    assert a.sample([0], 20, seed=1) == a.sample([0], 20, seed=1)


# --- loss by position in a window -------------------------------------------------------------


def _windows(ids, T):
    return [ids[i * T : (i + 1) * T + 1] for i in range((len(ids) - 1) // T)]


@settings(max_examples=25, deadline=None)
@given(
    train=st.lists(st.integers(0, 3), min_size=8, max_size=60),
    val=st.lists(st.integers(0, 3), min_size=2, max_size=40),
    n=st.integers(1, 4),
    T=st.integers(1, 6),
)
def test_loss_by_position_sees_only_its_window(train, val, n, T):
    if len(val) < T + 1:
        val = (val * (T + 1))[: T + 1]
    lm = NGramLM(n, 4, discount=0.6).fit(train)
    ref = kn_reference(train, n, 4, [0.6] * n)
    curve = lm.loss_by_position(val, T)
    # position p of a window knows x[0..p], and uses its last n - 1 tokens at most
    expected = np.mean(
        [
            [-math.log(ref(tuple(w[max(0, p + 2 - n) : p + 1]), w[p + 1])) for p in range(T)]
            for w in _windows(val, T)
        ],
        axis=0,
    )
    np.testing.assert_allclose(curve, expected, rtol=1e-10)
    # the mean over positions is the loss of scoring every window as a text of its own
    separately = np.mean([lm.loss(w) for w in _windows(val, T)])
    assert curve.mean() == pytest.approx(separately, rel=1e-12)


def test_loss_by_position_starts_from_the_bigram_and_flattens_at_full_context():
    rng = np.random.default_rng(1)
    train, val = rng.integers(0, 6, 2000), rng.integers(0, 6, 10 * 8 + 3)
    kw = dict(smoothing="add_k", k=0.5)  # add-k's order 2 is the bigram's own counts
    four = NGramLM(4, 6, **kw).fit(train).loss_by_position(val, 8)
    bigram = NGramLM(2, 6, **kw).fit(train)
    starts = [w[:2] for w in _windows(val, 8)]  # position 0 sees one token
    assert four[0] == pytest.approx(np.mean([bigram.loss(s) for s in starts]), rel=1e-12)
    assert four[0] == pytest.approx(bigram.loss_by_position(val, 8)[0], rel=1e-12)
    # a period of 7 read in windows of 8: over 7 windows every position meets each point of the
    # period once, so a curve is flat wherever the model has all the context it can use
    period = [0, 1, 0, 2, 1, 2, 3]
    text = np.array((period * 9)[: 7 * 8 + 1])
    two = NGramLM(2, 4).fit(period * 20).loss_by_position(text, 8)
    np.testing.assert_allclose(two, two[0], rtol=1e-12)  # a bigram: flat from position 0
    four = NGramLM(4, 4).fit(period * 20).loss_by_position(text, 8)
    np.testing.assert_allclose(four[2:], four[2], rtol=1e-12)  # full order from p = n - 2
    assert four[0] > four[1] > four[2]  # each token of context helps on this text


def test_loss_by_position_runs_on_the_validation_split_in_a_second():
    import time

    rng = np.random.default_rng(2)
    train, val = rng.integers(0, 65, 200_000), rng.integers(0, 65, 111_540)
    lm = NGramLM(6, 65).fit(train)
    start = time.perf_counter()
    curve = lm.loss_by_position(val, 64)
    assert time.perf_counter() - start < 3.0 and curve.shape == (64,)


def test_errors_are_clear():
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        NGramLM(0, 5)
    with pytest.raises(ValueError, match="smoothing must be one of"):
        NGramLM(2, 5, smoothing="good_turing")
    with pytest.raises(ValueError, match="k > 0"):
        NGramLM(2, 5, smoothing="add_k", k=0)
    with pytest.raises(RuntimeError, match="not fitted yet"):
        NGramLM(2, 5).loss([1, 2])
    with pytest.raises(ValueError, match=r"ids outside 0..4"):
        NGramLM(2, 5).fit([1, 7])
    with pytest.raises(ValueError, match="too large"):
        NGramLM(12, 77)
    with pytest.raises(ValueError, match="fewer than one window of block_size \\+ 1 = 5"):
        NGramLM(2, 5).fit([1, 2, 3]).loss_by_position([1, 2, 3, 4], 4)
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        NGramLM(2, 5).fit([1, 2, 3]).loss_by_position([1, 2, 3, 4], 0)


def test_shakespeare_numbers():
    """The counted bigram of lesson 00 (add-one) and a Kneser-Ney 5-gram on the course split."""
    bigram = shakespeare_ngram_loss(2, smoothing="add_k", k=1.0)
    assert bigram["val_loss"] == pytest.approx(2.519, abs=5e-4)  # lesson 00's counted bigram
    five = shakespeare_ngram_loss(5)
    assert 1.5 < five["val_loss"] < 1.7 and five["train_loss"] < five["val_loss"]
    assert five["val_bpc"] == pytest.approx(five["val_loss"] / math.log(2))
