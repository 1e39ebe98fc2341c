"""Lesson 08's exercise checks pass the reference, catch the usual mistakes with the right hint,
and report an answer that calls the library's version."""

import numpy as np
import pytest
import torch

from course_lib import heads
from course_lib.checks import USES_LIBRARY
from course_lib.checks import interpret as checks
from course_lib.interpret import logit_lens


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)  # tiny tensors (conftest restores the thread count)


def _verdict(capsys, check, fn):
    ok = check(fn)
    return ok, capsys.readouterr().out


# --- the induction score -----------------------------------------------------------------------


def induction(weights, tokens):
    T = len(tokens)
    total, count = 0.0, 0
    for i in range(T):
        targets = {j + 1 for j in range(i) if tokens[j] == tokens[i] and j + 1 < i}
        if targets:
            total += sum(weights[i][t] for t in targets)
            count += 1
    return total / count


def test_induction_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_induction_score, induction)
    assert ok and out.startswith("✅ check_induction_score: passed on 20 random inputs")


def _duplicate(weights, tokens):
    return heads.duplicate_token_score(weights, tokens)


def _all_queries(weights, tokens):
    T = len(tokens)
    return (
        sum(
            sum(weights[i][j + 1] for j in range(i) if tokens[j] == tokens[i] and j + 1 < i)
            for i in range(T)
        )
        / T
    )


def _before(weights, tokens):
    T, total, count = len(tokens), 0.0, 0
    for i in range(T):
        targets = {j - 1 for j in range(1, i) if tokens[j] == tokens[i]}
        if targets:
            total += sum(weights[i][t] for t in targets)
            count += 1
    return total / count if count else float("nan")


@pytest.mark.parametrize(
    "fn, hint",
    [
        (_duplicate, "duplicate-token head"),
        (_all_queries, "averaged over every query"),
        (_before, "token BEFORE each earlier copy"),
    ],
)
def test_induction_check_hints(capsys, fn, hint):
    ok, out = _verdict(capsys, checks.check_induction_score, fn)
    assert not ok and "❌ check_induction_score: failed" in out and hint in out


def test_induction_check_reports_the_library(capsys):
    ok, out = _verdict(capsys, checks.check_induction_score, heads.induction_score)
    assert not ok and USES_LIBRARY in out


# --- zeroing one head ----------------------------------------------------------------------------


def zero_head(x, head, n_head):
    D = x.size(-1) // n_head
    x = x.clone()
    x[..., head * D : (head + 1) * D] = 0.0
    return x


def test_zero_head_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_zero_head, zero_head)
    assert ok and out.startswith("✅ check_zero_head: passed on 20 random inputs")


def _one_channel(x, head, n_head):
    x = x.clone()
    x[..., head] = 0
    return x


def _interleaved(x, head, n_head):
    x = x.clone()
    x[..., head::n_head] = 0
    return x


def _keep_only(x, head, n_head):
    return x - zero_head(x, head, n_head)


@pytest.mark.parametrize(
    "fn, hint",
    [
        (_one_channel, "you zeroed one channel"),
        (_interleaved, "every n_head-th channel"),
        (_keep_only, "the other way round"),
    ],
)
def test_zero_head_check_hints(capsys, fn, hint):
    ok, out = _verdict(capsys, checks.check_zero_head, fn)
    assert not ok and "❌ check_zero_head: failed" in out and hint in out


# --- the logit lens ------------------------------------------------------------------------------


def lens(model, ids):
    x = model.tok_emb(ids) + model.positions(0, len(ids))
    rows = [model.head(model.ln_f(x))]
    for block in model.blocks:
        x = block(x[None])[0]
        rows.append(model.head(model.ln_f(x)))
    return torch.stack(rows)


def test_logit_lens_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_logit_lens, lens)
    assert ok and out.startswith("✅ check_logit_lens: passed on 8 random inputs")


def _no_ln_f(model, ids):
    x = model.tok_emb(ids) + model.positions(0, len(ids))
    rows = [model.head(x)]
    for block in model.blocks:
        x = block(x[None])[0]
        rows.append(model.head(x))
    return torch.stack(rows)


def _no_embeddings(model, ids):
    return lens(model, ids)[1:]


@pytest.mark.parametrize(
    "fn, hint", [(_no_ln_f, "final LayerNorm"), (_no_embeddings, "L + 1 rows in all")]
)
def test_logit_lens_check_hints(capsys, fn, hint):
    ok, out = _verdict(capsys, checks.check_logit_lens, fn)
    assert not ok and "❌ check_logit_lens: failed" in out and hint in out


def test_logit_lens_check_reports_the_library(capsys):
    ok, out = _verdict(capsys, checks.check_logit_lens, lambda m, ids: logit_lens(m, ids))
    assert not ok and USES_LIBRARY in out


# --- predict, then measure ---------------------------------------------------------------------


def test_ablation_prediction(capsys):
    choices = [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert checks.check_ablation_prediction((1, 0), (1, 0), choices)
    out = capsys.readouterr().out
    assert "✅ check_ablation_prediction: passed (prediction made)" in out and ": right" in out
    assert not checks.check_ablation_prediction([0, 1], (1, 0), choices)
    assert "not what happened" in capsys.readouterr().out
    assert not checks.check_ablation_prediction(None, (1, 0), choices)
    assert "not attempted" in capsys.readouterr().out
    assert not checks.check_ablation_prediction((5, 5), (1, 0), choices)
    assert "predict one of" in capsys.readouterr().out


def test_induction_inputs_have_targets():
    import random

    rng = random.Random(0)
    for _ in range(20):
        w, tokens = checks._induction_inputs(rng)
        assert np.allclose(w.sum(-1), 1) and not np.isnan(heads.induction_score(w, tokens))
