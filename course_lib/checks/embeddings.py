"""Checks for lesson 02's exercises: the noise distribution, the loss of one pair, its gradients
in closed form, the update step, analogy search, and the window-size prediction.

Each check runs the learner's function and the reference on the same inputs, edge cases first,
then random ones, and prints a one-line verdict with a hint aimed at the usual mistake. The
gradients and the update step are checked against PyTorch's autograd. A learner's function that
only calls the library's answer (``course_lib.embeddings``) gets "uses the library version".
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F

from ..embeddings import (
    analogy_search,
    noise_distribution,
    sgns_gradients,
    sgns_loss,
    sgns_pair_loss,
    sgns_update_,
)
from . import Hint, _code_names, _fail, check_function, check_prediction, library_verdict

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
        library=noise_distribution,
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
        fn,
        sgns_pair_loss,
        cases,
        name="check_pair_loss",
        hints=_LOSS_HINTS,
        atol=1e-5,
        library=sgns_pair_loss,
    )


# --- the gradients in closed form ---------------------------------------------------------------


def _autograd_gradients(inp: torch.Tensor, out: torch.Tensor) -> tuple:
    """The reference: autograd's gradients of the summed loss ``sgns_loss(inp, out)``."""
    inp = inp.detach().clone().requires_grad_(True)
    out = out.detach().clone().requires_grad_(True)
    sgns_loss(inp, out).backward()
    return inp.grad, out.grad


def _grads_from(g_of):
    """The two gradients computed from a (possibly wrong) ``dL/df = g_of(f, y)``."""

    def grads(inp, out):
        f = torch.bmm(inp, out.transpose(1, 2))
        y = torch.zeros_like(f)
        y[..., 0] = 1
        g = g_of(f, y)
        return torch.bmm(g, out), torch.bmm(g.transpose(1, 2), inp)

    return grads


def _last_column_label(f, y):
    return torch.sigmoid(f) - y.flip(-1)


def _pair_is(fn):
    """``got`` is the pair of tensors ``fn(*args)`` returns."""

    def applies(args, got, exp):
        want = fn(*args)
        return _is_pair(got) and all(
            g.shape == w.shape and torch.allclose(g.double(), w.double(), atol=1e-6)
            for g, w in zip(got, want, strict=True)
        )

    return applies


def _is_pair(got) -> bool:
    return isinstance(got, tuple | list) and len(got) == 2 and all(map(torch.is_tensor, got))


def _one_right(k: int):
    """Item ``k`` of the pair is right, the other is not."""

    def applies(args, got, exp):
        if not _is_pair(got) or got[k].shape != exp[k].shape:
            return False
        other = got[1 - k]
        right = torch.allclose(got[k].double(), exp[k].double(), atol=1e-6)
        return right and not (
            other.shape == exp[1 - k].shape
            and torch.allclose(other.double(), exp[1 - k].double(), atol=1e-6)
        )

    return applies


def _pair_scaled(args, got, exp) -> bool:
    """Both gradients are the expected ones times the same positive constant (not 1)."""
    if not _is_pair(got) or any(g.shape != e.shape for g, e in zip(got, exp, strict=True)):
        return False
    g = torch.cat([t.double().flatten() for t in got])
    e = torch.cat([t.double().flatten() for t in exp])
    mask = e.abs() > 1e-9
    ratio = g[mask] / e[mask]
    return bool(torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-4)) and (
        ratio[0] > 0 and abs(float(ratio[0]) - 1) > 1e-3
    )


_GRADIENT_HINTS = [
    Hint(
        lambda a, got, exp: not _is_pair(got),
        "return two tensors: (grad_inp, grad_out), shaped like inp and out",
    ),
    Hint(
        _pair_is(lambda inp, out: _autograd_gradients(inp, out)[::-1]),
        "return grad_inp first (the shape of inp), then grad_out (the shape of out)",
    ),
    Hint(
        _pair_is(lambda inp, out: tuple(-g for g in _autograd_gradients(inp, out))),
        "the sign is flipped: the loss's gradient with respect to a score f is σ(f) − y; "
        "y − σ(f) is the direction the update moves, not the gradient",
    ),
    Hint(
        _pair_is(_grads_from(lambda f, y: torch.sigmoid(f))),
        "subtract the label: y = 1 for the centre word (column 0 of out), 0 for the noise "
        "words, so dL/df = σ(f) − y",
    ),
    Hint(
        _pair_is(_grads_from(lambda f, y: torch.sigmoid(f) - 1)),
        "only column 0 (the centre word) has the label y = 1; the noise words' label is 0",
    ),
    Hint(
        _pair_is(_grads_from(_last_column_label)),
        "the centre word is column 0 of out; the noise words are columns 1 to K",
    ),
    Hint(
        _pair_is(_grads_from(lambda f, y: f - y)),
        "apply the sigmoid: dL/df = σ(f) − y, not f − y",
    ),
    Hint(
        _pair_scaled,
        "your gradients are the expected ones times a constant: the loss is the sum over all "
        "(context, output) pairs of the batch, not a mean",
    ),
    Hint(
        _one_right(0),
        "grad_inp is right, grad_out is not: each output vector collects (σ(f) − y) times the "
        "input vectors of the context words, summed over them: a product with the transpose "
        "of σ(f) − y",
    ),
    Hint(
        _one_right(1),
        "grad_out is right, grad_inp is not: each context word's input vector collects "
        "(σ(f) − y) times the output vectors, summed over the 1 + K outputs",
    ),
]


def _uses_autograd(fn, name: str) -> bool:
    """True (after printing a failed verdict) when ``fn`` calls autograd: the exercise asks for
    the closed form, which the check compares with autograd."""
    code = getattr(getattr(fn, "__func__", fn), "__code__", None)
    if code is None or not {"backward", "autograd"} & _code_names(code):
        return False
    return not _fail(
        name,
        "your function calls autograd (.backward() or torch.autograd): write the gradients "
        "in closed form, σ(f) − y times the other vectors (the check compares them with "
        "autograd's)",
        True,
    )


def _gradient_batch(rng: random.Random) -> tuple:
    B, S, K, d = rng.randint(1, 5), rng.randint(1, 4), rng.randint(1, 4), rng.randint(2, 6)
    g = torch.Generator().manual_seed(rng.randrange(2**31))
    inp = torch.randn(B, S, d, generator=g, dtype=torch.float64)
    return inp, torch.randn(B, 1 + K, d, generator=g, dtype=torch.float64)


def check_sgns_gradients(fn, trials: int = 20) -> bool:
    """Check ``fn(inp, out) -> (grad_inp, grad_out)``: the gradients of the summed
    negative-sampling loss of a batch, against autograd's."""
    name = "check_sgns_gradients"
    if library_verdict(fn, [sgns_gradients, sgns_loss], name) is False:
        return False
    if _uses_autograd(fn, name):
        return False
    g = torch.Generator().manual_seed(0)
    edge = [
        (torch.ones(1, 1, 2, dtype=torch.float64), torch.randn(1, 2, 2, generator=g).double()),
        (torch.randn(2, 3, 4, generator=g).double(), torch.randn(2, 3, 4, generator=g).double()),
    ]
    rng = random.Random(5)
    cases = edge + [_gradient_batch(rng) for _ in range(trials)]
    return check_function(
        fn, _autograd_gradients, cases, name=name, hints=_GRADIENT_HINTS, atol=1e-6
    )


# --- the update step ----------------------------------------------------------------------------


def _autograd_grads(W_in, W_out, ctx, out_ids) -> tuple:
    """Autograd's gradients of the batch's summed loss with respect to the two matrices (a row
    met several times gets the sum of its gradients)."""
    a, b = W_in.clone().requires_grad_(True), W_out.clone().requires_grad_(True)
    sgns_loss(a[ctx], b[out_ids]).backward()
    return a.grad, b.grad


def _autograd_step(W_in, W_out, ctx, out_ids, lr) -> tuple:
    """The reference: the two matrices after one SGD step, gradients by autograd."""
    g_in, g_out = _autograd_grads(W_in, W_out, ctx, out_ids)
    return W_in - lr * g_in, W_out - lr * g_out


def _one_after_the_other(args, got, exp) -> bool:
    """One matrix was updated before the other's gradient was computed."""
    W_in, W_out, ctx, out_ids, lr = args
    new_in = W_in - lr * _autograd_grads(W_in, W_out, ctx, out_ids)[0]
    new_out = W_out - lr * _autograd_grads(W_in, W_out, ctx, out_ids)[1]
    in_first = (new_in, W_out - lr * _autograd_grads(new_in, W_out, ctx, out_ids)[1])
    out_first = (W_in - lr * _autograd_grads(W_in, new_out, ctx, out_ids)[0], new_out)
    return any(
        all(_same(g, w) for g, w in zip(got, want, strict=True)) for want in (in_first, out_first)
    )


def _after_step(fn):
    """Call the learner's in-place ``fn`` and return the two matrices it changed."""

    def run(W_in, W_out, ctx, out_ids, lr):
        fn(W_in, W_out, ctx, out_ids, lr)
        return W_in, W_out

    return run


def _same(a, b) -> bool:
    return a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=1e-7)


def _step_is(make):
    """The matrices after the step are ``make(args, expected)``."""

    def applies(args, got, exp):
        want = make(args, exp)
        return all(_same(g, w) for g, w in zip(got, want, strict=True))

    return applies


def _unchanged(k: int | None):
    """Matrix ``k`` (both when None) is as it was before the step, the other is not."""

    def applies(args, got, exp):
        same = [_same(got[i], args[i]) for i in (0, 1)]
        return all(same) if k is None else same[k] and not same[1 - k]

    return applies


def _repeated_rows_wrong(args, got, exp) -> bool:
    """Rows met once in the batch are right, some row met several times is not: the
    gradients of a repeated row were not summed (``W[ids] -= ...`` keeps one of them)."""
    wrong_repeated = False
    for W, ids, g, e in zip(args[:2], args[2:4], got, exp, strict=True):
        met = torch.bincount(ids.flatten(), minlength=W.shape[0])
        rows_ok = (g.double() - e.double()).abs().amax(dim=1) < 1e-7
        if not rows_ok[met <= 1].all():
            return False
        wrong_repeated |= bool((~rows_ok[met > 1]).any())
    return wrong_repeated


def _step_scaled(args, got, exp) -> bool:
    """Both steps are the expected ones times the same constant (not 1)."""
    moved = torch.cat([(g - a).double().flatten() for g, a in zip(got, args[:2], strict=True)])
    want = torch.cat([(e - a).double().flatten() for e, a in zip(exp, args[:2], strict=True)])
    mask = want.abs() > 1e-9
    ratio = moved[mask] / want[mask]
    return bool(torch.allclose(ratio, ratio[0].expand_as(ratio), rtol=1e-4)) and (
        abs(float(ratio[0]) - 1) > 1e-3
    )


_UPDATE_HINTS = [
    Hint(
        _unchanged(None),
        "W_in and W_out are unchanged: update them in place (the trailing _ in the name), "
        "e.g. with index_add_, rather than making new tensors",
    ),
    Hint(
        _unchanged(1), "W_out did not change: the centre and noise words' output vectors move too"
    ),
    Hint(_unchanged(0), "W_in did not change: the context words' input vectors move too"),
    Hint(
        _step_is(lambda a, e: tuple(2 * w - x for w, x in zip(a[:2], e, strict=True))),
        "you moved up the gradient: subtract lr times the gradient, so that the loss goes down",
    ),
    Hint(
        _step_is(lambda a, e: tuple(w - (w - x) / a[4] for w, x in zip(a[:2], e, strict=True))),
        "multiply the gradients by the learning rate lr",
    ),
    Hint(
        _repeated_rows_wrong,
        "a row that appears several times in the batch must get the sum of all its "
        "gradients: W[ids] -= ... keeps only one of them, index_add_ adds every one",
    ),
    Hint(
        _one_after_the_other,
        "compute both gradients from the vectors as they were before the step, then update "
        "both: your second gradient used vectors the first update had already moved",
    ),
    Hint(
        _step_scaled,
        "your steps are the expected ones times a constant: the loss is the sum over the "
        "batch's pairs (not a mean) and each step is lr times its gradient",
    ),
]


def _update_batch(rng: random.Random) -> tuple:
    V, d = rng.randint(3, 8), rng.randint(2, 5)  # few words: rows repeat within a batch
    B, S, K = rng.randint(1, 4), rng.randint(1, 4), rng.randint(1, 3)
    g = torch.Generator().manual_seed(rng.randrange(2**31))
    W_in = 0.5 * torch.randn(V, d, generator=g, dtype=torch.float64)
    W_out = 0.5 * torch.randn(V, d, generator=g, dtype=torch.float64)
    ctx = torch.randint(0, V, (B, S), generator=g)
    out_ids = torch.randint(0, V, (B, 1 + K), generator=g)
    return W_in, W_out, ctx, out_ids, rng.choice([0.025, 0.1, 0.5])


def check_sgns_update(fn, trials: int = 20) -> bool:
    """Check ``fn(W_in, W_out, ctx, out_ids, lr)``: one SGD step of skip-gram with negative
    sampling on a batch, in place, against autograd's gradients."""
    name = "check_sgns_update"
    if library_verdict(fn, [sgns_update_, sgns_gradients], name) is False:
        return False
    if _uses_autograd(fn, name):
        return False
    g = torch.Generator().manual_seed(1)
    W = torch.randn(6, 3, generator=g, dtype=torch.float64)
    edge = [
        # every row once
        (W[:3].clone(), W[3:].clone(), torch.tensor([[0, 1]]), torch.tensor([[2, 0]]), 0.1),
        # word 1 is a context word twice, word 2 an output of both centres
        (
            W[:3].clone(),
            W[3:].clone(),
            torch.tensor([[1, 0], [1, 2]]),
            torch.tensor([[2, 0], [1, 2]]),
            0.5,
        ),
    ]
    rng = random.Random(6)
    cases = edge + [_update_batch(rng) for _ in range(trials)]
    return check_function(
        _after_step(fn), _autograd_step, cases, name=name, hints=_UPDATE_HINTS, atol=1e-7
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
    if library_verdict(fn, analogy_search, "check_analogy_search") is False:
        return False
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


# --- predict, then measure: the window size --------------------------------------------------

WINDOW_CHOICES = ("wordsim353", "simlex999", "both", "neither")


def window_outcome(measured: dict) -> str:
    """Which benchmark scored higher with the wider window: one of :data:`WINDOW_CHOICES`.

    ``measured``: ``{window: {"wordsim353": spearman, "simlex999": spearman}}`` for two
    windows."""
    small, wide = min(measured), max(measured)
    up = [measured[wide][b] > measured[small][b] for b in ("wordsim353", "simlex999")]
    return {(True, True): "both", (True, False): "wordsim353", (False, True): "simlex999"}.get(
        tuple(up), "neither"
    )


def check_window_prediction(prediction, measured: dict) -> bool:
    """The "predict, then measure" exercise: widening the window from 2 to 10, which
    benchmark's score goes up? ``measured`` as :func:`window_outcome` takes it."""
    small, wide = min(measured), max(measured)
    (ws0, ws1), (sl0, sl1) = (
        (measured[small][b], measured[wide][b]) for b in ("wordsim353", "simlex999")
    )
    explain = (
        f"from window {small} to {wide}, WordSim-353 went {ws0:.3f} -> {ws1:.3f} "
        f"({ws1 - ws0:+.3f}), SimLex-999 {sl0:.3f} -> {sl1:.3f} ({sl1 - sl0:+.3f}). A wide "
        "window counts the words of the whole passage as company, so words of one topic "
        "(say doctor, hospital, patient) get alike rows: relatedness, which WordSim-353 rates, "
        "so "
        "it gains most. A narrow window counts only the next words (drank ___, a cup of ___), "
        "which words of the same kind share, substitutes (coffee, tea): similarity proper, "
        "which SimLex-999 rates; a wide window's topical company blurs it (it pulls coffee "
        "towards cup), so SimLex-999 gains little or loses. Levy & Goldberg (Dependency-Based "
        "Word Embeddings, 2014) found the same with skip-gram: small windows give functional "
        "similarity, large ones topical relatedness."
    )
    return check_prediction(
        prediction,
        window_outcome(measured),
        name="check_window_prediction",
        explain=explain,
        choices=WINDOW_CHOICES,
    )
