"""Lesson 04's exercise checks: pass on the reference, fail with the right hint on the usual
mistakes."""

import math

import pytest
import torch

from course_lib.attention import causal_mask, merge_heads, split_heads
from course_lib.checks.attention import (
    check_attend,
    check_attention_scores,
    check_causal_mask,
    check_merge_heads,
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


# --- attention scores -----------------------------------------------------------------------


def good_scores(q, k):
    return q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))


def test_scores_pass(capsys):
    ok, out = run(check_attention_scores, good_scores, capsys)
    assert ok and out.startswith("\u2705 check_attention_scores: passed on 20 random inputs")


def test_scores_hints(capsys):
    assert_hint(
        check_attention_scores, lambda q, k: q @ k.transpose(-2, -1), "scaling by sqrt(d)", capsys
    )
    assert_hint(
        check_attention_scores,
        lambda q, k: q @ k.transpose(-2, -1) / q.size(-1),
        "scaling by sqrt(d)",
        capsys,
    )
    assert_hint(
        check_attention_scores,
        lambda q, k: k @ q.transpose(-2, -1) / math.sqrt(q.size(-1)),
        "axes are swapped",
        capsys,
    )


# --- causal mask ----------------------------------------------------------------------------


def test_causal_mask_pass(capsys):
    def good(T):
        return torch.tril(torch.ones(T, T, dtype=torch.bool))

    ok, out = run(check_causal_mask, good, capsys)
    assert ok and "\u2705 check_causal_mask: passed on 12 inputs" in out


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda T: torch.triu(torch.ones(T, T, dtype=torch.bool), 1), "inverted"),
        (lambda T: torch.triu(torch.ones(T, T, dtype=torch.bool)), "see the future"),
        (lambda T: torch.tril(torch.ones(T, T, dtype=torch.bool), -1), "diagonal is wrong"),
    ],
    ids=["inverted", "upper-triangle", "no-diagonal"],
)
def test_causal_mask_hints(wrong, hint, capsys):
    assert_hint(check_causal_mask, wrong, hint, capsys)


def test_causal_mask_must_be_bool(capsys):
    ok, out = run(check_causal_mask, lambda T: torch.tril(torch.ones(T, T)), capsys)
    assert not ok and "must be a bool tensor" in out and "torch.float32" in out


def test_unwritten_exercise_stops_the_run_like_an_nbgrader_stub(capsys):
    def stub(T):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check_causal_mask(stub)
    assert "check_causal_mask: not attempted" in capsys.readouterr().out


# --- attend ---------------------------------------------------------------------------------


def make_attend(scale=None, mask_mode="inf", softmax_dim=-1):
    def attend(q, k, v, mask):
        d = q.size(-1)
        s = q @ k.transpose(-2, -1) * (1 / math.sqrt(d) if scale is None else scale(d))
        if mask_mode == "inf":
            s = s.masked_fill(~mask, float("-inf"))
        elif mask_mode == "inverted":
            s = s.masked_fill(mask, float("-inf"))
        elif mask_mode == "zero":
            s = s.masked_fill(~mask, 0.0)
        w = s.softmax(softmax_dim)
        if mask_mode == "after":
            w = w * mask
        return w @ v, w

    return attend


def test_attend_pass(capsys):
    ok, out = run(check_attend, make_attend(), capsys)
    assert ok and out.startswith("\u2705 check_attend: passed")


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
    ],
    ids=["no-mask", "inverted", "unscaled", "by-d", "softmax-axis", "zero-fill", "after"],
)
@pytest.mark.filterwarnings("ignore:All-NaN slice:RuntimeWarning")  # NaN answers, in compare()
def test_attend_hints(wrong, hint, capsys):
    assert_hint(check_attend, wrong, hint, capsys)


# --- heads ----------------------------------------------------------------------------------


def test_split_and_merge_pass(capsys):
    ok, out = run(check_split_heads, split_heads, capsys)
    assert ok and "\u2705 check_split_heads" in out
    ok, out = run(check_merge_heads, merge_heads, capsys)
    assert ok and "\u2705 check_merge_heads" in out


def test_split_heads_hints(capsys):
    def reshape_only(x, n_heads):
        B, T, C = x.shape
        return x.reshape(B, n_heads, T, C // n_heads)

    def no_transpose(x, n_heads):
        B, T, C = x.shape
        return x.view(B, T, n_heads, C // n_heads)

    def last_two_swapped(x, n_heads):
        return split_heads(x, n_heads).transpose(-2, -1)

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


def test_references_used_by_the_checks_are_the_library_ones():
    assert causal_mask(2).tolist() == [[True, False], [True, True]]
