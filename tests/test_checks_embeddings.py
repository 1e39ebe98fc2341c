"""Lesson 02's exercise checks: pass on the reference, fail with the right hint on the usual
mistakes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib import embeddings as E
from course_lib.checks.embeddings import (
    check_analogy_search,
    check_noise_distribution,
    check_pair_loss,
)


def verdict(capsys, check, fn):
    ok = check(fn)
    return ok, capsys.readouterr().out


# --- noise distribution -----------------------------------------------------------------------


def noise_ok(counts):
    p = counts.double() ** 0.75
    return p / p.sum()


def noise_float32(counts):
    p = counts.float() ** 0.75
    return p / p.sum()


@pytest.mark.parametrize("fn", [E.noise_distribution, noise_ok, noise_float32])
def test_noise_passes(capsys, fn):
    ok, out = verdict(capsys, check_noise_distribution, fn)
    assert ok and out.startswith("✅ check_noise_distribution")


@pytest.mark.parametrize(
    "fn,hint",
    [
        (lambda c: c / c.sum(), "raise the counts to the power 0.75"),
        (lambda c: c.double() ** 0.75, "divide by their total"),
        (lambda c: (c / c.sum()) ** 0.75, "normalise after raising"),
        (lambda c: (c.double() ** 0.75 / (c.double() ** 0.75).sum()).tolist(), "return a tensor"),
        (lambda c: c.double() ** 0.5 / (c.double() ** 0.5).sum() * 1.01, "must sum to 1"),
    ],
)
def test_noise_hints(capsys, fn, hint):
    ok, out = verdict(capsys, check_noise_distribution, fn)
    assert not ok and out.startswith("❌ check_noise_distribution") and hint in out


def test_unwritten_exercise_says_so(capsys):
    def stub(counts):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):  # stops "Run All" at the unwritten exercise
        check_noise_distribution(stub)
    assert "not written yet" in capsys.readouterr().out


# --- loss of one pair -------------------------------------------------------------------------


def loss_ok(centre, context, negatives):
    return (
        -torch.log(torch.sigmoid(centre @ context))
        - torch.log(torch.sigmoid(-negatives @ context)).sum()
    )


def test_pair_loss_passes(capsys):
    for fn in (E.sgns_pair_loss, loss_ok):
        ok, out = verdict(capsys, check_pair_loss, fn)
        assert ok and out.startswith("✅ check_pair_loss")


@pytest.mark.parametrize(
    "fn,hint",
    [
        (lambda u, v, n: -E.sgns_pair_loss(u, v, n), "sign is flipped"),
        (
            lambda u, v, n: -(F.logsigmoid(u @ v) + F.logsigmoid(n @ v).sum()),
            "minus sign inside the sigmoid",
        ),
        (
            lambda u, v, n: -(torch.sigmoid(u @ v) + torch.sigmoid(-(n @ v)).sum()),
            "take the log of the sigmoid",
        ),
        (
            lambda u, v, n: -(F.logsigmoid(u @ v) + F.logsigmoid(-(n @ v)).mean()),
            "a sum, not a mean",
        ),
        (lambda u, v, n: -F.logsigmoid(u @ v), "noise words' terms are missing"),
        (lambda u, v, n: float(E.sgns_pair_loss(u, v, n)) + 1, "0-dimensional tensor"),
    ],
)
def test_pair_loss_hints(capsys, fn, hint):
    ok, out = verdict(capsys, check_pair_loss, fn)
    assert not ok and out.startswith("❌ check_pair_loss") and hint in out


# --- analogy search ---------------------------------------------------------------------------


def analogy_ok(vectors, a, b, c):
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    scores = unit @ (unit[b] - unit[a] + unit[c])
    scores[[a, b, c]] = -math.inf
    return scores.argmax()  # a 0-d tensor is accepted as an index


def test_analogy_passes(capsys):
    for fn in (E.analogy_search, analogy_ok):
        ok, out = verdict(capsys, check_analogy_search, fn)
        assert ok and out.startswith("✅ check_analogy_search")


def unnormalised(vectors, a, b, c):
    scores = vectors @ (vectors[b] - vectors[a] + vectors[c])
    scores[[a, b, c]] = -math.inf
    return int(scores.argmax())


def not_excluded(vectors, a, b, c):
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    return int((unit @ (unit[b] - unit[a] + unit[c])).argmax())


def wrong_sign(vectors, a, b, c):
    return E.analogy_search(vectors, b, a, c)


@pytest.mark.parametrize(
    "fn,hint",
    [
        (unnormalised, "scale every vector to length 1"),
        (not_excluded, "exclude a, b and c"),
        (wrong_sign, "check the signs"),
        (lambda v, a, b, c: str(E.analogy_search(v, a, b, c)), "return the index"),
    ],
)
def test_analogy_hints(capsys, fn, hint):
    ok, out = verdict(capsys, check_analogy_search, fn)
    assert not ok and out.startswith("❌ check_analogy_search") and hint in out
