"""Lesson 03's exercise checks pass the reference and catch the usual mistakes with the right
hint."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib.checks import rnn as checks
from course_lib.rnn import next_token_probs


def gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    r_i, z_i, n_i = F.linear(x, weight_ih, bias_ih).chunk(3, -1)
    r_h, z_h, n_h = F.linear(h, weight_hh, bias_hh).chunk(3, -1)
    r, z = torch.sigmoid(r_i + r_h), torch.sigmoid(z_i + z_h)
    n = torch.tanh(n_i + r * n_h)
    return (1 - z) * n + z * h


def _verdict(capsys, check, fn):
    ok = check(fn)
    return ok, capsys.readouterr().out


def test_gru_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_gru_cell, gru_cell)
    assert ok and out.startswith("✅ check_gru_cell: passed on 20 random inputs")


def test_gru_check_hints(capsys):
    def swapped_gates(x, h, w_ih, w_hh, b_ih, b_hh):
        z_i, r_i, n_i = F.linear(x, w_ih, b_ih).chunk(3, -1)
        z_h, r_h, n_h = F.linear(h, w_hh, b_hh).chunk(3, -1)
        r, z = torch.sigmoid(r_i + r_h), torch.sigmoid(z_i + z_h)
        return (1 - z) * torch.tanh(n_i + r * n_h) + z * h

    def swapped_mix(x, h, *w):
        out = gru_cell(x, h, *w)
        # z n + (1 - z) h: rebuild from the parts
        r_i, z_i, n_i = F.linear(x, w[0], w[2]).chunk(3, -1)
        r_h, z_h, n_h = F.linear(h, w[1], w[3]).chunk(3, -1)
        z = torch.sigmoid(z_i + z_h)
        n = torch.tanh(n_i + torch.sigmoid(r_i + r_h) * n_h)
        return out * 0 + z * n + (1 - z) * h

    def reset_before(x, h, w_ih, w_hh, b_ih, b_hh):
        H = h.shape[-1]
        r_i, z_i, n_i = F.linear(x, w_ih, b_ih).chunk(3, -1)
        r_h, z_h, _ = F.linear(h, w_hh, b_hh).chunk(3, -1)
        r, z = torch.sigmoid(r_i + r_h), torch.sigmoid(z_i + z_h)
        n = torch.tanh(n_i + F.linear(r * h, w_hh[2 * H :], b_hh[2 * H :]))
        return (1 - z) * n + z * h

    def no_tanh(x, h, w_ih, w_hh, b_ih, b_hh):
        r_i, z_i, n_i = F.linear(x, w_ih, b_ih).chunk(3, -1)
        r_h, z_h, n_h = F.linear(h, w_hh, b_hh).chunk(3, -1)
        r, z = torch.sigmoid(r_i + r_h), torch.sigmoid(z_i + z_h)
        return (1 - z) * (n_i + r * n_h) + z * h

    for fn, words in [
        (swapped_gates, "order r, z, n"),
        (swapped_mix, "KEEP the old state"),
        (reset_before, "reset gate is applied in the wrong place"),
        (no_tanh, "needs a tanh"),
    ]:
        ok, out = _verdict(capsys, checks.check_gru_cell, fn)
        assert not ok and out.startswith("❌ check_gru_cell: failed"), fn.__name__
        assert words in out, (fn.__name__, out)


def test_an_unwritten_exercise_stops_run_all(capsys):
    def unwritten(*args):
        raise NotImplementedError()

    for check in (
        checks.check_gru_cell,
        checks.check_perplexity_from_log_probs,
        checks.check_next_token_probs,
    ):
        with pytest.raises(NotImplementedError):
            check(unwritten)
        assert "not attempted" in capsys.readouterr().out


def test_perplexity_check(capsys):
    ok, out = _verdict(
        capsys, checks.check_perplexity_from_log_probs, lambda lp: math.exp(-lp.mean().item())
    )
    assert ok and "✅ check_perplexity_from_log_probs" in out
    # returning a 0-d tensor is fine too
    assert checks.check_perplexity_from_log_probs(lambda lp: torch.exp(-lp.mean()))
    capsys.readouterr()
    for fn, words in [
        (lambda lp: math.exp(lp.mean().item()), "sign is off"),
        (lambda lp: math.exp(-lp.sum().item()), "MEAN loss"),
        (lambda lp: 2 ** (-lp.mean().item()), "not with 2**"),
        (lambda lp: -lp.mean().item(), "e to the power"),
    ]:
        ok, out = _verdict(capsys, checks.check_perplexity_from_log_probs, fn)
        assert not ok and words in out, out


def test_next_token_probs_check(capsys):
    ok, out = _verdict(capsys, checks.check_next_token_probs, next_token_probs)
    assert ok and out.startswith("✅ check_next_token_probs: passed on 23 inputs")

    def times_t(logits, temperature, top_k):
        if temperature == 0:
            return next_token_probs(logits, 0)
        return next_token_probs(logits * temperature, 1.0, top_k)

    def smallest_k(logits, temperature, top_k):
        if temperature == 0:
            return next_token_probs(logits, 0)
        if top_k is not None and top_k < logits.shape[-1]:
            keep = logits.topk(top_k, -1, largest=False).indices
            mask = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, keep, True)
            logits = logits.masked_fill(~mask, float("-inf"))
        return torch.softmax(logits / temperature, -1)

    def no_renorm(logits, temperature, top_k):
        p = next_token_probs(logits, temperature)
        if top_k is not None and temperature > 0:
            p = p * (logits >= logits.topk(top_k).values[..., -1:])
        return p

    def no_greedy(logits, temperature, top_k):
        return next_token_probs(logits, max(temperature, 1.0), top_k)

    for fn, words in [
        (times_t, "DIVIDE the logits"),
        (no_renorm, "sum to 1 again"),
        (no_greedy, "temperature 0 means greedy"),
        (smallest_k, "k LARGEST logits"),
    ]:
        ok, out = _verdict(capsys, checks.check_next_token_probs, fn)
        assert not ok and words in out, (fn.__name__, out)
