"""Lesson 05's exercise checks pass the reference and catch the usual mistakes with the right
hint."""

import pytest
import torch

from course_lib.checks import transformer as checks


def _verdict(capsys, check, fn):
    ok = check(fn)
    return ok, capsys.readouterr().out


# --- the block's forward pass -----------------------------------------------------------------


def block_forward(block, x):
    x = x + block.attn(block.ln1(x), is_causal=True)[0]
    return x + block.mlp(block.ln2(x))


def test_block_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_block_forward, block_forward)
    assert ok and out.startswith("✅ check_block_forward: passed on 10 random inputs")


def _post_norm(block, x):
    x = block.ln1(x + block.attn(x, is_causal=True)[0])
    return block.ln2(x + block.mlp(x))


def _not_causal(block, x):
    x = x + block.attn(block.ln1(x))[0]
    return x + block.mlp(block.ln2(x))


def _no_residual(block, x):
    return block.mlp(block.ln2(block.attn(block.ln1(x), is_causal=True)[0]))


def _normed_residual(block, x):
    h = block.ln1(x)
    x = h + block.attn(h, is_causal=True)[0]
    h = block.ln2(x)
    return h + block.mlp(h)


def _same_norm(block, x):
    x = x + block.attn(block.ln1(x), is_causal=True)[0]
    return x + block.mlp(block.ln1(x))


def _attn_only(block, x):
    return x + block.attn(block.ln1(x), is_causal=True)[0]


def _parallel(block, x):
    return x + block.attn(block.ln1(x), is_causal=True)[0] + block.mlp(block.ln2(x))


@pytest.mark.parametrize(
    "fn, hint",
    [
        (_post_norm, "post-norm block"),
        (_not_causal, "not causal"),
        (_no_residual, "residual connections are missing"),
        (_normed_residual, "normalised vector is carried on"),
        (_same_norm, "own LayerNorm"),
        (_attn_only, "feed-forward sublayer"),
        (_parallel, "AFTER the attention"),
    ],
)
def test_block_check_hints(capsys, fn, hint):
    ok, out = _verdict(capsys, checks.check_block_forward, fn)
    assert not ok and out.startswith("❌ check_block_forward: failed")
    assert hint in out


def test_block_check_stops_on_an_unwritten_stub(capsys):
    def stub(block, x):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.check_block_forward(stub)
    assert "not attempted" in capsys.readouterr().out


# --- counting parameters ----------------------------------------------------------------------


def count(V, T, L, C):
    return V * C + T * C + L * (12 * C * C + 13 * C) + 2 * C


def test_count_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_parameter_count, count)
    assert ok and out.startswith("✅ check_parameter_count: passed on 21 inputs")


@pytest.mark.parametrize(
    "fn, hint",
    [
        (lambda V, T, L, C: count(V, T, L, C) + V * C, "it is tied"),
        (lambda V, T, L, C: count(V, T, L, C) - T * C, "position embedding"),
        (lambda V, T, L, C: count(V, T, L, C) - V * C, "token embedding"),
        (lambda V, T, L, C: count(V, T, L, C) - 9 * L * C, "biases"),
        (lambda V, T, L, C: count(V, T, L, C) - (4 * L + 2) * C, "LayerNorms are missing"),
        (lambda V, T, L, C: count(V, T, L, C) - 2 * C, "final LayerNorm"),
        (lambda V, T, L, C: count(V, T, L, C) - 4 * L * C * C, "two matrices"),
        (lambda V, T, L, C: count(V, T, L, C) - L * C * C, "output projection"),
    ],
)
def test_count_check_hints(capsys, fn, hint):
    ok, out = _verdict(capsys, checks.check_parameter_count, fn)
    assert not ok and hint in out


def test_count_check_without_a_known_mistake_gives_no_hint(capsys):
    ok, out = _verdict(capsys, checks.check_parameter_count, lambda V, T, L, C: 12 * L * C * C)
    assert not ok and "hint" not in out


# --- top-k ------------------------------------------------------------------------------------


def top_k(logits, k):
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf")).softmax(-1)


def test_top_k_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_top_k, top_k)
    assert ok and out.startswith("✅ check_top_k: passed on 25 random inputs")


def _not_renormalised(logits, k):
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.softmax(-1).masked_fill(logits < kth, 0.0)


def _zeroed(logits, k):
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, 0.0).softmax(-1)


def _smallest(logits, k):
    kth = (-logits).topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(-logits < kth, float("-inf")).softmax(-1)


def _k_plus_1(logits, k):
    return top_k(logits, min(k + 1, logits.size(-1)))


def _strict(logits, k):  # '>' instead of '>=': the k-th largest is dropped
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits <= kth, float("-inf")).softmax(-1)


def _logits_back(logits, k):
    kth = logits.topk(k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


@pytest.mark.parametrize(
    "fn, hint",
    [
        (_not_renormalised, "do not sum to 1"),
        (_zeroed, "-inf"),
        (_smallest, "LEAST likely"),
        (_k_plus_1, "one token too many"),
        (_logits_back, "return probabilities"),
    ],
)
def test_top_k_check_hints(capsys, fn, hint):
    ok, out = _verdict(capsys, checks.check_top_k, fn)
    assert not ok and hint in out


def test_top_k_check_strict_comparison(capsys):
    # '>' instead of '>=' drops the k-th token: with k >= 2 that keeps k - 1 tokens; with k = 1
    # it keeps none and the softmax gives NaN. Either way the hint points at the comparison.
    for _ in range(5):  # fresh random inputs each time
        ok, out = _verdict(capsys, checks.check_top_k, _strict)
        assert not ok
        assert "one token too few" in out or "(keep logits >= it)" in out


def test_top_k_check_nan_hint(capsys):
    ok, out = _verdict(capsys, checks.check_top_k, lambda logits, k: _strict(logits, 1))
    assert not ok and "NaN" in out


def test_checks_do_not_depend_on_global_torch_seed(capsys):
    torch.manual_seed(123)
    assert checks.check_top_k(top_k, verbose=False)
    assert checks.check_block_forward(block_forward, verbose=False)
