"""Lesson 02's exercise checks: pass on the reference, fail with the right hint on the usual
mistakes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib import embeddings as E
from course_lib.checks import USES_LIBRARY
from course_lib.checks.embeddings import (
    WINDOW_CHOICES,
    _autograd_step,
    check_analogy_search,
    check_noise_distribution,
    check_pair_loss,
    check_sgns_gradients,
    check_sgns_update,
    check_window_prediction,
    window_outcome,
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


@pytest.mark.parametrize("fn", [noise_ok, noise_float32])
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


def test_noise_calling_the_library_is_reported(capsys):
    ok, out = verdict(capsys, check_noise_distribution, lambda c: E.noise_distribution(c))
    assert not ok and f"check_noise_distribution: {USES_LIBRARY}" in out


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


def loss_logsigmoid(centre, context, negatives):
    return -F.logsigmoid(centre @ context) - F.logsigmoid(-(negatives @ context)).sum()


def test_pair_loss_passes(capsys):
    for fn in (loss_ok, loss_logsigmoid):
        ok, out = verdict(capsys, check_pair_loss, fn)
        assert ok and out.startswith("✅ check_pair_loss")


@pytest.mark.parametrize(
    "fn,hint",
    [
        (lambda u, v, n: -loss_ok(u, v, n), "sign is flipped"),
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
        (lambda u, v, n: float(loss_ok(u, v, n)) + 1, "0-dimensional tensor"),
    ],
)
def test_pair_loss_hints(capsys, fn, hint):
    ok, out = verdict(capsys, check_pair_loss, fn)
    assert not ok and out.startswith("❌ check_pair_loss") and hint in out


def test_pair_loss_calling_the_library_is_reported(capsys):
    for fn in (E.sgns_pair_loss, lambda u, v, n: E.sgns_pair_loss(u, v, n)):
        ok, out = verdict(capsys, check_pair_loss, fn)
        assert not ok and f"check_pair_loss: {USES_LIBRARY}" in out


# --- gradients in closed form -----------------------------------------------------------------


def grads_with(g_of):
    """Gradients from dL/df = g_of(f, y); the reference when g_of is σ(f) - y."""

    def grads(inp, out):
        f = torch.bmm(inp, out.transpose(1, 2))
        y = torch.zeros_like(f)
        y[..., 0] = 1
        g = g_of(f, y)
        return torch.bmm(g, out), torch.bmm(g.transpose(1, 2), inp)

    return grads


grads_ok = grads_with(lambda f, y: torch.sigmoid(f) - y)


def grads_float32(inp, out):
    f = torch.bmm(inp.float(), out.float().transpose(1, 2))
    g = torch.sigmoid(f)
    g[..., 0] -= 1
    return torch.bmm(g, out.float()), torch.bmm(g.transpose(1, 2), inp.float())


@pytest.mark.parametrize("fn", [grads_ok, grads_float32])
def test_gradients_pass(capsys, fn):
    ok, out = verdict(capsys, check_sgns_gradients, fn)
    assert ok and out.startswith("✅ check_sgns_gradients: passed on 22 inputs")


def one_wrong(k):
    """Item k computed without the label, the other right."""

    def fn(inp, out):
        right, wrong = grads_ok(inp, out), grads_with(lambda f, y: torch.sigmoid(f))(inp, out)
        return tuple(wrong[i] if i == k else right[i] for i in (0, 1))

    return fn


@pytest.mark.parametrize(
    "fn,hint",
    [
        (lambda i, o: grads_ok(i, o)[0], "return two tensors"),
        (lambda i, o: grads_ok(i, o)[::-1], "return grad_inp first"),
        (grads_with(lambda f, y: y - torch.sigmoid(f)), "the sign is flipped"),
        (grads_with(lambda f, y: torch.sigmoid(f)), "subtract the label"),
        (grads_with(lambda f, y: torch.sigmoid(f) - 1), "only column 0"),
        (grads_with(lambda f, y: torch.sigmoid(f) - y.flip(-1)), "the centre word is column 0"),
        (grads_with(lambda f, y: f - y), "apply the sigmoid"),
        (lambda i, o: tuple(g / i.shape[0] for g in grads_ok(i, o)), "not a mean"),
        (one_wrong(1), "grad_inp is right, grad_out is not"),
        (one_wrong(0), "grad_out is right, grad_inp is not"),
    ],
)
def test_gradients_hints(capsys, fn, hint):
    ok, out = verdict(capsys, check_sgns_gradients, fn)
    assert not ok and out.startswith("❌ check_sgns_gradients: failed") and hint in out


def grads_by_autograd(inp, out):
    inp, out = inp.clone().requires_grad_(True), out.clone().requires_grad_(True)
    f = torch.bmm(inp, out.transpose(1, 2))
    f[..., 1:] *= -1
    (-F.logsigmoid(f)).sum().backward()
    return inp.grad, out.grad


def test_gradients_by_the_library_or_autograd_do_not_pass(capsys):
    for fn in (E.sgns_gradients, lambda i, o: E.sgns_gradients(i, o)):
        ok, out = verdict(capsys, check_sgns_gradients, fn)
        assert not ok and f"check_sgns_gradients: {USES_LIBRARY}" in out
    ok, out = verdict(capsys, check_sgns_gradients, grads_by_autograd)
    assert not ok and "❌ check_sgns_gradients: failed" in out and "closed form" in out


# --- the update step --------------------------------------------------------------------------


def update_ok(W_in, W_out, ctx, out_ids, lr):
    d = W_in.shape[1]
    grad_inp, grad_out = grads_ok(W_in[ctx], W_out[out_ids])
    W_in.index_add_(0, ctx.reshape(-1), -lr * grad_inp.reshape(-1, d))
    W_out.index_add_(0, out_ids.reshape(-1), -lr * grad_out.reshape(-1, d))


def update_with(change):
    """An update that applies ``change(W, ids, grad, lr)`` to each matrix."""

    def update(W_in, W_out, ctx, out_ids, lr):
        grad_inp, grad_out = grads_ok(W_in[ctx], W_out[out_ids])
        change(W_in, ctx, grad_inp, lr)
        change(W_out, out_ids, grad_out, lr)

    return update


def add_rows(W, ids, delta):
    W.index_add_(0, ids.reshape(-1), delta.reshape(-1, W.shape[1]))


def test_update_passes(capsys):
    ok, out = verdict(capsys, check_sgns_update, update_ok)
    assert ok and out.startswith("✅ check_sgns_update: passed on 22 inputs")


def test_the_reference_step_is_the_librarys_without_padding_or_weights():
    g = torch.Generator().manual_seed(0)
    V, d, B, S, K = 7, 4, 5, 3, 2
    W_in, W_out = torch.randn(V, d, generator=g), torch.randn(V, d, generator=g)
    ctx, out_ids = torch.randint(0, V, (B, S), generator=g), torch.randint(0, V, (B, 1 + K))
    want_in, want_out = _autograd_step(W_in, W_out, ctx, out_ids, 0.1)
    padded = torch.cat([W_in, torch.zeros(1, d)])  # the library's padding row
    E.sgns_update_(padded, W_out, ctx, out_ids, torch.ones(B, 1, 1 + K), 0.1)
    torch.testing.assert_close(padded[:V], want_in)
    torch.testing.assert_close(W_out, want_out)


def update_one_after_the_other(W_in, W_out, ctx, out_ids, lr):
    d = W_in.shape[1]
    grad_inp, _ = grads_ok(W_in[ctx], W_out[out_ids])
    W_in.index_add_(0, ctx.reshape(-1), -lr * grad_inp.reshape(-1, d))
    _, grad_out = grads_ok(W_in[ctx], W_out[out_ids])  # from the moved input vectors
    W_out.index_add_(0, out_ids.reshape(-1), -lr * grad_out.reshape(-1, d))


def update_new_tensors(W_in, W_out, ctx, out_ids, lr):
    W_in, W_out = W_in.clone(), W_out.clone()
    update_ok(W_in, W_out, ctx, out_ids, lr)
    return W_in, W_out


def update_only_in(W_in, W_out, ctx, out_ids, lr):
    update_ok(W_in, W_out.clone(), ctx, out_ids, lr)


def update_only_out(W_in, W_out, ctx, out_ids, lr):
    update_ok(W_in.clone(), W_out, ctx, out_ids, lr)


def update_assign(W, ids, grad, lr):
    W[ids] -= lr * grad  # a row met twice keeps only one of its updates


@pytest.mark.parametrize(
    "fn,hint",
    [
        (update_new_tensors, "update them in place"),
        (update_only_in, "W_out did not change"),
        (update_only_out, "W_in did not change"),
        (update_with(lambda W, ids, g, lr: add_rows(W, ids, lr * g)), "you moved up the gradient"),
        (update_with(lambda W, ids, g, lr: add_rows(W, ids, -g)), "multiply the gradients by"),
        (update_with(update_assign), "the sum of all its gradients"),
        (update_one_after_the_other, "as they were before the step"),
        (
            update_with(lambda W, ids, g, lr: add_rows(W, ids, -lr * g / ids.numel())),
            "times a constant",
        ),
    ],
)
def test_update_hints(capsys, fn, hint):
    ok, out = verdict(capsys, check_sgns_update, fn)
    assert not ok and out.startswith("❌ check_sgns_update: failed") and hint in out


def update_by_autograd(W_in, W_out, ctx, out_ids, lr):
    a, b = W_in.clone().requires_grad_(True), W_out.clone().requires_grad_(True)
    (-F.logsigmoid(torch.bmm(a[ctx], b[out_ids].transpose(1, 2)))).sum().backward()
    W_in -= lr * a.grad


def test_update_by_the_library_or_autograd_does_not_pass(capsys):
    def calls_gradients(W_in, W_out, ctx, out_ids, lr):
        grad_inp, grad_out = E.sgns_gradients(W_in[ctx], W_out[out_ids])
        add_rows(W_in, ctx, -lr * grad_inp)
        add_rows(W_out, out_ids, -lr * grad_out)

    for fn in (E.sgns_update_, calls_gradients):
        ok, out = verdict(capsys, check_sgns_update, fn)
        assert not ok and f"check_sgns_update: {USES_LIBRARY}" in out
    ok, out = verdict(capsys, check_sgns_update, update_by_autograd)
    assert not ok and "❌ check_sgns_update: failed" in out and "closed form" in out


def test_unwritten_update_says_so(capsys):
    def stub(W_in, W_out, ctx, out_ids, lr):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):
        check_sgns_update(stub)
    assert "not written yet" in capsys.readouterr().out


# --- analogy search ---------------------------------------------------------------------------


def analogy_ok(vectors, a, b, c):
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    scores = unit @ (unit[b] - unit[a] + unit[c])
    scores[[a, b, c]] = -math.inf
    return scores.argmax()  # a 0-d tensor is accepted as an index


def test_analogy_passes(capsys):
    for fn in (analogy_ok, lambda v, a, b, c: int(analogy_ok(v, a, b, c))):
        ok, out = verdict(capsys, check_analogy_search, fn)
        assert ok and out.startswith("✅ check_analogy_search")


def test_analogy_calling_the_library_is_reported(capsys):
    for fn in (E.analogy_search, lambda v, a, b, c: E.analogy_search(v, a, b, c)):
        ok, out = verdict(capsys, check_analogy_search, fn)
        assert not ok and f"check_analogy_search: {USES_LIBRARY}" in out


def unnormalised(vectors, a, b, c):
    scores = vectors @ (vectors[b] - vectors[a] + vectors[c])
    scores[[a, b, c]] = -math.inf
    return int(scores.argmax())


def not_excluded(vectors, a, b, c):
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    return int((unit @ (unit[b] - unit[a] + unit[c])).argmax())


def wrong_sign(vectors, a, b, c):
    return analogy_ok(vectors, b, a, c)


@pytest.mark.parametrize(
    "fn,hint",
    [
        (unnormalised, "scale every vector to length 1"),
        (not_excluded, "exclude a, b and c"),
        (wrong_sign, "check the signs"),
        (lambda v, a, b, c: str(int(analogy_ok(v, a, b, c))), "return the index"),
    ],
)
def test_analogy_hints(capsys, fn, hint):
    ok, out = verdict(capsys, check_analogy_search, fn)
    assert not ok and out.startswith("❌ check_analogy_search") and hint in out


# --- predict, then measure: the window size ---------------------------------------------------

MEASURED = {  # the full-mode run: PPMI vectors of the English corpus, windows 2 and 10
    2: {"wordsim353": 0.246, "simlex999": 0.158},
    10: {"wordsim353": 0.342, "simlex999": 0.119},
}


def test_window_outcome_names_the_benchmark_that_went_up():
    assert window_outcome(MEASURED) == "wordsim353"
    swap = {
        w: {"wordsim353": m["simlex999"], "simlex999": m["wordsim353"]} for w, m in MEASURED.items()
    }
    assert window_outcome(swap) == "simlex999"
    both = {2: {"wordsim353": 0.1, "simlex999": 0.1}, 10: {"wordsim353": 0.3, "simlex999": 0.2}}
    assert window_outcome(both) == "both"
    assert window_outcome({10: both[2], 2: both[10]}) == "neither"
    assert {window_outcome(m) for m in (MEASURED, swap, both)} < set(WINDOW_CHOICES)


def test_window_prediction_right_wrong_and_not_attempted(capsys):
    assert check_window_prediction("wordsim353", MEASURED) is True
    out = capsys.readouterr().out
    assert out.startswith("✅ check_window_prediction: passed (prediction made)")
    assert ": right" in out and "0.246 -> 0.342 (+0.096)" in out and "(-0.039)" in out
    assert "relatedness" in out and "Levy & Goldberg" in out
    assert check_window_prediction("both", MEASURED) is False
    out = capsys.readouterr().out
    assert out.startswith("✅ check_window_prediction: passed") and "not what happened" in out
    assert check_window_prediction(None, MEASURED) is False
    assert "❌ check_window_prediction: not attempted" in capsys.readouterr().out
    assert check_window_prediction("window 10", MEASURED) is False
    assert "❌ check_window_prediction: failed" in capsys.readouterr().out
