"""Checks for lesson 02's exercises: the noise distribution, the loss of one pair, analogy search.

Each check runs the learner's function and the reference (``course_lib.embeddings``) on the same
inputs, edge cases first, then random ones, and prints a one-line verdict with a hint aimed at
the usual mistake.
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F

from ..embeddings import analogy_search, noise_distribution, sgns_pair_loss
from . import Hint, check_function

# --- the noise distribution ---------------------------------------------------------------------


def _counts(rng: random.Random) -> tuple:
    V = rng.randint(2, 12)
    return (torch.tensor([rng.choice([1, 2, 5, 40, 1000]) * rng.randint(1, 9) for _ in range(V)]),)


def _close_to(fn):
    def applies(args, got, exp):
        want = fn(args[0].double())
        return (
            torch.is_tensor(got)
            and got.shape == want.shape
            and torch.allclose(got.double(), want, rtol=1e-5, atol=1e-9)
        )

    return applies


_NOISE_HINTS = [
    Hint(
        lambda a, got, exp: not torch.is_tensor(got),
        "return a tensor of probabilities, one per word, in the order of `counts`",
    ),
    Hint(
        _close_to(lambda c: c / c.sum()),
        "these are the plain unigram frequencies: raise the counts to the power 0.75 first",
    ),
    Hint(
        _close_to(lambda c: c**0.75),
        "the values do not sum to 1: divide by their total to make probabilities",
    ),
    Hint(
        _close_to(lambda c: (c / c.sum()) ** 0.75),
        "normalise after raising to the power 0.75, not before: (c / total) ** 0.75 does not "
        "sum to 1",
    ),
    Hint(
        lambda a, got, exp: torch.is_tensor(got) and abs(float(got.double().sum()) - 1) > 1e-6,
        "the probabilities must sum to 1",
    ),
]


def check_noise_distribution(fn, trials: int = 20) -> bool:
    """Check ``fn(counts) -> probabilities``: unigram counts to the power 0.75, normalised."""
    edge = [
        (torch.tensor([5]),),
        (torch.tensor([3, 3, 3, 3]),),
        (torch.tensor([1000, 10, 1]),),
    ]
    rng = random.Random(2)
    cases = edge + [_counts(rng) for _ in range(trials)]
    return check_function(
        fn,
        lambda c: noise_distribution(c),
        cases,
        name="check_noise_distribution",
        hints=_NOISE_HINTS,
    )


# --- the loss of one pair -----------------------------------------------------------------------


def _pair(rng: random.Random) -> tuple:
    d, K = rng.randint(2, 8), rng.randint(1, 6)
    g = torch.Generator().manual_seed(rng.randrange(2**31))
    return (
        torch.randn(d, generator=g),
        torch.randn(d, generator=g),
        torch.randn(K, d, generator=g),
    )


def _variant(fn):
    def applies(args, got, exp):
        try:
            want = fn(*args)
            return torch.is_tensor(got) and torch.allclose(got.double(), want.double(), atol=1e-5)
        except Exception:
            return False

    return applies


_LOSS_HINTS = [
    Hint(
        lambda a, got, exp: not torch.is_tensor(got) or got.dim() != 0,
        "return one number as a 0-dimensional tensor (sum the noise words' terms)",
    ),
    Hint(
        _variant(lambda u, v, n: -sgns_pair_loss(u, v, n)),
        "the sign is flipped: the loss is the *negative* log-likelihood, -(log σ(...) + ...)",
    ),
    Hint(
        _variant(lambda u, v, n: -(F.logsigmoid(u @ v) + F.logsigmoid(n @ v).sum())),
        "noise words should get a low score: their term is log σ(-score), with a minus sign "
        "inside the sigmoid",
    ),
    Hint(
        _variant(lambda u, v, n: -(torch.sigmoid(u @ v) + torch.sigmoid(-(n @ v)).sum())),
        "take the log of the sigmoid (F.logsigmoid or torch.log(torch.sigmoid(...))), not the "
        "sigmoid itself",
    ),
    Hint(
        _variant(lambda u, v, n: -(F.logsigmoid(u @ v) + F.logsigmoid(-(n @ v)).mean())),
        "add up the K noise words' terms (a sum, not a mean)",
    ),
    Hint(
        _variant(lambda u, v, n: -F.logsigmoid(u @ v)),
        "the noise words' terms are missing: add log σ(-u_k · v) for every noise vector u_k",
    ),
]


def check_pair_loss(fn, trials: int = 20) -> bool:
    """Check ``fn(centre, context, negatives) -> loss``: the negative-sampling loss of one pair."""
    d = 4
    edge = [
        (torch.zeros(d), torch.zeros(d), torch.zeros(2, d)),  # every score 0: 3 * log 2
        (torch.ones(d), torch.ones(d), -torch.ones(1, d)),
    ]
    rng = random.Random(3)
    cases = edge + [_pair(rng) for _ in range(trials)]
    return check_function(
        fn, sgns_pair_loss, cases, name="check_pair_loss", hints=_LOSS_HINTS, atol=1e-5
    )


# --- analogy search -----------------------------------------------------------------------------


def _vectors(rng: random.Random) -> tuple:
    V, d = rng.randint(6, 40), rng.randint(2, 10)
    g = torch.Generator().manual_seed(rng.randrange(2**31))
    # rows of very different lengths, so forgetting to normalise changes the answer
    vecs = torch.randn(V, d, generator=g) * torch.exp(2 * torch.randn(V, 1, generator=g))
    a, b, c = rng.sample(range(V), 3)
    return vecs, a, b, c


def _unnormalised(vecs, a, b, c):
    sims = vecs @ (vecs[b] - vecs[a] + vecs[c])
    sims[[a, b, c]] = -math.inf
    return int(sims.argmax())


def _not_excluded(vecs, a, b, c):
    u = vecs / vecs.norm(dim=1, keepdim=True)
    return int((u @ (u[b] - u[a] + u[c])).argmax())


def _same_answer(fn):
    def applies(args, got, exp):
        try:
            return int(got) == fn(*args) != exp
        except Exception:
            return False

    return applies


_ANALOGY_HINTS = [
    Hint(
        lambda a, got, exp: not isinstance(got, int) and not torch.is_tensor(got),
        "return the index (an int) of the answer's row",
    ),
    Hint(
        lambda a, got, exp: int(got) in a[1:],
        "the answer is one of the question's words: exclude a, b and c before taking the best",
    ),
    Hint(
        _same_answer(_unnormalised),
        "scale every vector to length 1 first: the search is by cosine, so long vectors must "
        "not win because they are long",
    ),
    Hint(
        _same_answer(lambda v, a, b, c: analogy_search(v, b, a, c)),
        "check the signs: a is to b as c is to ?, so the target is b - a + c (king - man + woman)",
    ),
    Hint(
        _same_answer(lambda v, a, b, c: _not_excluded(v, a, b, c)),
        "exclude a, b and c before taking the best",
    ),
]


def check_analogy_search(fn, trials: int = 30) -> bool:
    """Check ``fn(vectors, a, b, c) -> index`` of the row nearest to ``b - a + c`` by cosine,
    excluding ``a``, ``b`` and ``c``."""
    man, woman, royal = torch.eye(3)
    toy = torch.stack([man, woman, man + royal, woman + royal, 3 * (man + royal) + 0.5 * woman])
    edge = [(toy, 0, 2, 1)]  # man : king :: woman : queen (row 3), a long decoy in row 4
    rng = random.Random(4)
    cases = edge + [_vectors(rng) for _ in range(trials)]
    return check_function(
        lambda *args: _as_int(fn(*args)),
        analogy_search,
        cases,
        name="check_analogy_search",
        hints=_ANALOGY_HINTS,
    )


def _as_int(x):
    return int(x) if torch.is_tensor(x) and x.numel() == 1 else x
