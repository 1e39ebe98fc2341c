"""Lesson 04's exercise checks: pass on the reference, fail with the right hint on the usual
mistakes, and say "uses the library version" to an answer that calls the library's."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.attention import (
    AdditiveAttention,
    causal_mask,
    merge_heads,
    padding_mask,
    scaled_dot_product_attention,
    split_heads,
)
from course_lib.checks.attention import (
    check_additive_attention,
    check_attend,
    check_attention_mask,
    check_grouped_query_attention,
    check_merge_heads,
    check_scaling_prediction,
    check_split_heads,
)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # tiny tensors (conftest restores the thread count)


def run(check, fn, capsys):
    ok = check(fn)
    return ok, capsys.readouterr().out


def assert_hint(check, fn, hint, capsys):
    ok, out = run(check, fn, capsys)
    assert not ok, out
    assert "\u274c" in out and "hint:" in out, out
    assert hint in out, out


def assert_uses_library(check, fn, capsys):
    ok, out = run(check, fn, capsys)
    assert not ok and "uses the library version" in out, out


# --- the attention mask of a padded batch --------------------------------------------------


def make_mask(keys="j < n", causal_rule="j <= i", shape="full", dtype=torch.bool):
    # the learner's mask, with one usual mistake
    def make_attention_mask(lengths, T, causal):
        i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
        n = lengths[:, None, None]
        ok = {"j < n": j < n, "i < n": i < n, "j <= n": j <= n}[keys]  # (B, T, T)
        rules = {"j <= i": j <= i, "j >= i": j >= i, "j < i": j < i, "none": j == j}
        if causal_rule == "always":  # causal whatever the flag says
            ok = ok & (j <= i)
        elif causal:
            ok = ok & rules[causal_rule]
        if shape == "full":
            ok = ok[:, None]
        return ok.to(dtype)

    return make_attention_mask


def padding_only_mask(lengths, T, causal):
    keys = torch.arange(T)[None, :] < lengths[:, None]  # (B, T)
    mask = keys[:, None, None, :]  # (B, 1, 1, T): right when not causal
    return mask & torch.ones(T, T, dtype=torch.bool).tril() if causal else mask


def test_attention_mask_pass(capsys):
    ok, out = run(check_attention_mask, make_mask(), capsys)
    assert ok and out.startswith("\u2705 check_attention_mask: passed on 20 random inputs"), out
    ok, out = run(check_attention_mask, padding_only_mask, capsys)  # (B, 1, 1, T) is fine too
    assert ok, out


def test_attention_mask_reference_is_the_library_mask():
    lengths = torch.tensor([3, 1])
    mask = make_mask()(lengths, 3, True)
    expected = padding_mask(lengths, 3)[:, None, None, :] & causal_mask(3)
    assert torch.equal(mask, expected)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda L, T, c: ~make_mask()(L, T, c), "inverted"),
        (make_mask(keys="i < n"), "padded *queries* (rows)"),
        (make_mask(keys="j <= n"), "positions 0 .. L-1"),
        (make_mask(causal_rule="j >= i"), "see the future instead of the past"),
        (make_mask(causal_rule="j < i"), "diagonal is wrong"),
        (make_mask(causal_rule="none"), "with causal=True the future must be blocked"),
        (make_mask(causal_rule="always"), "with causal=False only the padding"),
        (make_mask(shape="3d"), "needs 4 axes"),
    ],
    ids=[
        "inverted",
        "queries",
        "off-by-one",
        "future",
        "diagonal",
        "no-causal",
        "always-causal",
        "3d",
    ],
)
def test_attention_mask_hints(wrong, hint, capsys):
    assert_hint(check_attention_mask, wrong, hint, capsys)


def test_attention_mask_must_be_bool(capsys):
    ok, out = run(check_attention_mask, make_mask(dtype=torch.float32), capsys)
    assert not ok and "must be a bool tensor" in out and "torch.float32" in out


def test_attention_mask_library_answer(capsys):
    def calls_library(lengths, T, causal):
        mask = padding_mask(lengths, T)[:, None, None, :]
        return mask & causal_mask(T) if causal else mask

    assert_uses_library(check_attention_mask, calls_library, capsys)


def test_unwritten_exercise_stops_the_run_like_an_nbgrader_stub(capsys):
    def stub(lengths, T, causal):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check_attention_mask(stub)
    assert "check_attention_mask: not attempted" in capsys.readouterr().out


# --- additive attention ---------------------------------------------------------------------


def make_additive(tanh="sum", mask_mode="inf", softmax_dim=-1, context="weighted"):
    def additive_attention(query, keys, mask, W, U, v):
        a, b = (query @ W.T)[:, None, :], keys @ U.T  # (B, 1, a_dim), (B, S, a_dim)
        energy = {
            "sum": lambda: torch.tanh(a + b),
            "none": lambda: a + b,
            "each": lambda: torch.tanh(a) + torch.tanh(b),
        }[tanh]()
        scores = energy @ v  # (B, S)
        if mask_mode == "inf":
            scores = scores.masked_fill(~mask, float("-inf"))
        elif mask_mode == "inverted":
            scores = scores.masked_fill(mask, float("-inf"))
        elif mask_mode == "zero":
            scores = scores.masked_fill(~mask, 0.0)
        weights = scores.softmax(softmax_dim)
        if context == "weighted":
            return (weights[:, :, None] * keys).sum(1), weights
        return keys.mean(1), weights  # forgot the weights

    return additive_attention


def test_additive_pass(capsys):
    ok, out = run(check_additive_attention, make_additive(), capsys)
    assert ok and out.startswith("\u2705 check_additive_attention: passed on 20 random"), out


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (make_additive(tanh="none"), "has a tanh"),
        (make_additive(tanh="each"), "not to each term separately"),
        (make_additive(mask_mode="none"), "the mask made no difference"),
        (make_additive(mask_mode="inverted"), "wrong way round"),
        (make_additive(mask_mode="zero"), "padding positions still get weight"),
        (make_additive(softmax_dim=0), "normalised over the batch"),
        (make_additive(context="mean"), "weights are right but the context is not"),
    ],
    ids=["no-tanh", "tanh-each", "no-mask", "inverted", "zero-fill", "softmax-axis", "context"],
)
@pytest.mark.filterwarnings("ignore:All-NaN slice:RuntimeWarning")  # NaN answers, in compare()
def test_additive_hints(wrong, hint, capsys):
    assert_hint(check_additive_attention, wrong, hint, capsys)


def test_additive_library_answer(capsys):
    def calls_library(query, keys, mask, W, U, v):
        layer = AdditiveAttention(W.size(1), U.size(1), W.size(0)).double()
        with torch.no_grad():
            layer.query_proj.weight.copy_(W)
            layer.key_proj.weight.copy_(U)
            layer.key_proj.bias.zero_()
            layer.v.weight.copy_(v[None])
        return layer(query, keys, mask=mask)

    assert_uses_library(check_additive_attention, calls_library, capsys)


# --- attend ---------------------------------------------------------------------------------


def make_attend(scale=None, mask_mode="inf", softmax_dim=-1, nobody="zeros"):
    def attend(q, k, v, mask=None):
        d = q.size(-1)
        s = q @ k.transpose(-2, -1) * (1 / math.sqrt(d) if scale is None else scale(d))
        if mask is not None:
            if mask_mode == "inf":
                s = s.masked_fill(~mask, float("-inf"))
            elif mask_mode == "inverted":
                s = s.masked_fill(mask, float("-inf"))
            elif mask_mode == "zero":
                s = s.masked_fill(~mask, 0.0)
        w = s.softmax(softmax_dim)
        if mask is not None and mask_mode == "after":
            w = w * mask
        if nobody == "zeros":
            w = w.nan_to_num(0.0)  # a query that may attend to nothing
        return w @ v, w

    return attend


def test_attend_pass(capsys):
    ok, out = run(check_attend, make_attend(), capsys)
    assert ok and out.startswith("\u2705 check_attend: passed on 20 random inputs"), out


def test_attend_inputs_cover_no_mask_and_queries_that_see_nothing():
    from course_lib.checks.attention import _attend_inputs

    make, rng = _attend_inputs(), __import__("random").Random(0)
    masks = [make(rng)[3] for _ in range(20)]
    assert any(m is None for m in masks)
    dead = [m is not None and bool((~m.expand(-1, 1, m.size(-1), -1)).all(-1).any()) for m in masks]
    assert dead[1] and sum(dead) >= 5, dead


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (make_attend(mask_mode="none"), "the mask made no difference"),
        (make_attend(mask_mode="inverted"), "wrong way round"),
        (make_attend(scale=lambda d: 1.0), "not scaled: check the scaling by sqrt(d)"),
        (make_attend(scale=lambda d: 1.0 / d), "divided the scores by d"),
        (make_attend(softmax_dim=-2), "over the queries"),
        (make_attend(mask_mode="zero"), "blocked positions (mask False) still get weight"),
        (make_attend(mask_mode="after"), "*before* the softmax"),
        (make_attend(nobody="nan"), "may attend to nothing"),
    ],
    ids=["no-mask", "inverted", "unscaled", "by-d", "softmax-axis", "zero-fill", "after", "nan"],
)
@pytest.mark.filterwarnings("ignore:All-NaN slice:RuntimeWarning")  # NaN answers, in compare()
def test_attend_hints(wrong, hint, capsys):
    assert_hint(check_attend, wrong, hint, capsys)


def test_attend_without_a_default_mask_says_where_it_crashed(capsys):
    def no_none(q, k, v, mask):
        w = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))).masked_fill(~mask, float("-inf"))
        return w.softmax(-1).nan_to_num(0.0) @ v, w.softmax(-1).nan_to_num(0.0)

    ok, out = run(check_attend, no_none, capsys)
    assert not ok and "raised TypeError" in out and "None" in out, out


def test_attend_library_answers(capsys):
    def calls_library(q, k, v, mask=None):
        return scaled_dot_product_attention(q, k, v, mask)

    def calls_torch(q, k, v, mask=None):
        w = make_attend()(q, k, v, mask)[1]
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), w

    assert_uses_library(check_attend, calls_library, capsys)
    ok, out = run(check_attend, calls_torch, capsys)
    assert not ok and "uses the library version" in out and "PyTorch's scaled_dot" in out, out


# --- predict, then measure ------------------------------------------------------------------


def test_scaling_prediction(capsys):
    assert check_scaling_prediction(0.6, 0.635) is True
    out = capsys.readouterr().out
    assert "\u2705 check_scaling_prediction: passed (prediction made)" in out
    assert ": right" in out and "d = 16 row" in out
    assert check_scaling_prediction(0.17, 0.635) is False  # "scaling fixes it": wrong, but made
    out = capsys.readouterr().out
    assert "passed (prediction made)" in out and "not what happened" in out
    assert check_scaling_prediction(None, 0.635) is False
    assert "not attempted" in capsys.readouterr().out


def test_scaling_prediction_measurement_is_the_d16_row():
    # the notebook's experiment: 1000 queries, 32 keys, d = 256, entries of std 2, scaled
    g = torch.Generator().manual_seed(0)
    q, k = 2 * torch.randn(1000, 1, 256, generator=g), 2 * torch.randn(1000, 32, 256, generator=g)
    w = (q @ k.transpose(-2, -1) / 16).softmax(-1)
    assert abs(w.max(-1).values.mean().item() - 0.63) < 0.03


# --- heads ----------------------------------------------------------------------------------


def good_split(x, n_heads):
    B, T, C = x.shape
    return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)


def good_merge(x):
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)


def test_split_and_merge_pass(capsys):
    ok, out = run(check_split_heads, good_split, capsys)
    assert ok and "\u2705 check_split_heads" in out
    ok, out = run(check_merge_heads, good_merge, capsys)
    assert ok and "\u2705 check_merge_heads" in out


def test_split_heads_hints(capsys):
    def reshape_only(x, n_heads):
        B, T, C = x.shape
        return x.reshape(B, n_heads, T, C // n_heads)

    def no_transpose(x, n_heads):
        B, T, C = x.shape
        return x.view(B, T, n_heads, C // n_heads)

    def last_two_swapped(x, n_heads):
        return good_split(x, n_heads).transpose(-2, -1)

    assert_hint(check_split_heads, reshape_only, "mixes positions and heads", capsys)
    assert_hint(check_split_heads, no_transpose, "left the head axis after T", capsys)
    assert_hint(check_split_heads, last_two_swapped, "axes are swapped", capsys)


def test_merge_heads_hints(capsys):
    def reshape_only(x):
        B, H, T, D = x.shape
        return x.reshape(B, T, H * D)

    def interleaved(x):
        B, H, T, D = x.shape
        return x.permute(0, 2, 3, 1).reshape(B, T, H * D)

    assert_hint(check_merge_heads, reshape_only, "mixes positions and heads", capsys)
    assert_hint(check_merge_heads, interleaved, "interleaved", capsys)


def test_heads_library_answers(capsys):
    from course_lib import attention

    def split_calls_library(x, n_heads):
        return attention.split_heads(x, n_heads)

    assert_uses_library(check_split_heads, split_calls_library, capsys)
    assert_uses_library(check_merge_heads, merge_heads, capsys)


# --- grouped-query attention ----------------------------------------------------------------


def make_gqa(share="interleave", causal=True, project=True):
    def grouped_query_attention(x, W_q, W_k, W_v, W_o, n_heads, n_kv_heads):
        T = x.size(1)
        q = split_heads(x @ W_q.T, n_heads)
        k, v = split_heads(x @ W_k.T, n_kv_heads), split_heads(x @ W_v.T, n_kv_heads)
        group = n_heads // n_kv_heads
        if share == "interleave":
            k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
        else:
            k, v = k.repeat(1, group, 1, 1), v.repeat(1, group, 1, 1)
        mask = torch.ones(T, T, dtype=torch.bool).tril() if causal else None
        out = merge_heads(make_attend()(q, k, v, mask)[0])
        return out @ W_o.T if project else out

    return grouped_query_attention


def test_gqa_pass_and_reference_equals_pytorch(capsys):
    ok, out = run(check_grouped_query_attention, make_gqa(), capsys)
    assert ok and out.startswith("\u2705 check_grouped_query_attention: passed on 20"), out
    g = torch.Generator().manual_seed(0)
    x, W_q, W_k, W_v, W_o = (
        torch.randn(*s, generator=g, dtype=torch.float64)
        for s in [(2, 5, 12), (12, 12), (6, 12), (6, 12), (12, 12)]
    )
    q, k, v = split_heads(x @ W_q.T, 4), split_heads(x @ W_k.T, 2), split_heads(x @ W_v.T, 2)
    theirs = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    ours = make_gqa()(x, W_q, W_k, W_v, W_o, 4, 2)
    assert torch.allclose(ours, merge_heads(theirs) @ W_o.T, atol=1e-10)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (make_gqa(share="tile"), "repeat_interleave"),
        (make_gqa(causal=False), "not causal"),
        (make_gqa(project=False), "output projection W_o"),
    ],
    ids=["tiled", "not-causal", "no-projection"],
)
def test_gqa_hints(wrong, hint, capsys):
    assert_hint(check_grouped_query_attention, wrong, hint, capsys)


def test_gqa_with_pytorch_fused_attention_is_the_library_version(capsys):
    def fused(x, W_q, W_k, W_v, W_o, n_heads, n_kv_heads):
        q = split_heads(x @ W_q.T, n_heads)
        k, v = split_heads(x @ W_k.T, n_kv_heads), split_heads(x @ W_v.T, n_kv_heads)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        return merge_heads(y) @ W_o.T

    ok, out = run(check_grouped_query_attention, fused, capsys)
    assert not ok and "uses the library version" in out, out
