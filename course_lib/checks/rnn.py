"""Checks for lesson 03's exercises: a GRU cell, perplexity from log-probabilities, and the
next-token distribution with temperature and top-k.

Each check runs the learner's function and the reference on fresh random inputs, prints a
one-line verdict, and on failure a hint aimed at the usual mistake (never the solution).
"""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F
from torch import nn

from ..sampling import next_token_probs
from . import Hint, check_function

# --- GRU cell ---------------------------------------------------------------------------------


def _gru_reference(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    """PyTorch's own ``nn.GRUCell`` with the given weights."""
    cell = nn.GRUCell(x.shape[-1], h.shape[-1]).to(x.dtype)
    with torch.no_grad():
        for name, w in zip(
            ("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
            (weight_ih, weight_hh, bias_ih, bias_hh),
            strict=True,
        ):
            getattr(cell, name).copy_(w)
        return cell(x, h)


def _gru_variant(
    x, h, w_ih, w_hh, b_ih, b_hh, *, order="rzn", reset="after", mix="pytorch", act=torch.tanh
):
    """A GRU with one of the usual mistakes, to recognise a wrong answer."""
    gi = dict(zip(order, F.linear(x, w_ih, b_ih).chunk(3, -1), strict=True))
    gh = dict(zip(order, F.linear(h, w_hh, b_hh).chunk(3, -1), strict=True))
    r = torch.sigmoid(gi["r"] + gh["r"])
    z = torch.sigmoid(gi["z"] + gh["z"])
    if reset == "after":  # PyTorch: r * (W_hn h + b_hn)
        n = act(gi["n"] + r * gh["n"])
    elif reset == "before":  # W_hn (r * h) + b_hn, the original paper's variant
        w_hn = w_hh.chunk(3, 0)[order.index("n")]
        b_hn = b_hh.chunk(3, 0)[order.index("n")]
        n = torch.tanh(gi["n"] + F.linear(r * h, w_hn, b_hn))
    else:  # reset ignored
        n = torch.tanh(gi["n"] + gh["n"])
    return (1 - z) * n + z * h if mix == "pytorch" else z * n + (1 - z) * h


def _matches_variant(**kw):
    def applies(args, got, expected):
        want = _gru_variant(*args, **kw)
        return (
            isinstance(got, torch.Tensor)
            and got.shape == want.shape
            and torch.allclose(got.to(want.dtype), want, atol=1e-6)
        )

    return applies


GRU_HINTS = [
    Hint(
        _matches_variant(order="zrn"),
        "the gates are swapped: PyTorch stacks the GRU's weights in the order r, z, n "
        "(reset, update, new), so chunk(3) gives r first",
    ),
    Hint(
        _matches_variant(mix="swapped"),
        "the update gate mixes the wrong way round: z close to 1 should KEEP the old state h",
    ),
    Hint(
        _matches_variant(reset="before"),
        "the reset gate is applied in the wrong place: PyTorch multiplies r with the whole "
        "hidden-to-hidden term of the candidate, (W_hn h + b_hn), not with h before the product",
    ),
    Hint(
        _matches_variant(reset="none"),
        "the reset gate r is not used: it should scale the hidden-to-hidden term of the "
        "candidate n",
    ),
    Hint(
        _matches_variant(act=lambda t: t),
        "some outputs are outside [-1, 1]: the candidate n needs a tanh and the gates a sigmoid",
    ),
    Hint(
        lambda args, got, expected: (
            isinstance(got, torch.Tensor)
            and got.shape == expected.shape
            and bool((got.abs() > 1.0 + 1e-9).any())
        ),
        "some outputs are outside [-1, 1]: the candidate n needs a tanh and the gates a sigmoid",
    ),
]


def _gru_inputs(rng: random.Random):
    B, D, H = rng.randint(1, 4), rng.randint(1, 6), rng.randint(1, 6)
    g = torch.Generator().manual_seed(rng.randrange(2**31))

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    return (rand(B, D), rand(B, H), rand(3 * H, D), rand(3 * H, H), rand(3 * H), rand(3 * H))


def check_gru_cell(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(x, h, weight_ih, weight_hh, bias_ih, bias_hh) -> h_new`` against
    ``nn.GRUCell`` on random shapes: ``x (B, I)``, ``h (B, H)``, ``weight_ih (3H, I)``,
    ``weight_hh (3H, H)``, biases ``(3H,)``, float64, to 1e-6."""
    return check_function(
        fn,
        _gru_reference,
        _gru_inputs,
        name="check_gru_cell",
        trials=20,
        hints=GRU_HINTS,
        verbose=verbose,
    )


# --- perplexity -------------------------------------------------------------------------------


def _perplexity_reference(log_probs):
    return math.exp(-float(log_probs.mean()))


def _ratio_hint(transform, message):
    def applies(args, got, expected):
        want = transform(args[0])
        return isinstance(got, float) and math.isclose(got, want, rel_tol=1e-5)

    return Hint(applies, message)


PERPLEXITY_HINTS = [
    _ratio_hint(
        lambda lp: math.exp(float(lp.mean())),
        "the sign is off: log-probabilities are negative, and the loss is MINUS their mean",
    ),
    _ratio_hint(
        lambda lp: math.exp(-float(lp.sum())),
        "you summed over the tokens: perplexity uses the MEAN loss per token",
    ),
    _ratio_hint(
        lambda lp: 2 ** (-float(lp.mean())),
        "the log-probabilities are natural logs (nats), so undo them with exp, not with 2**",
    ),
    _ratio_hint(
        lambda lp: -float(lp.mean()),
        "that is the cross-entropy loss itself; perplexity is e to the power of the loss",
    ),
]


def _perplexity_inputs(rng: random.Random):
    n = rng.randint(1, 40)
    g = torch.Generator().manual_seed(rng.randrange(2**31))
    probs = torch.rand(n, generator=g, dtype=torch.float64) * 0.98 + 0.01
    return (probs.log(),)


def _as_float(fn):
    def wrapped(log_probs):
        out = fn(log_probs)
        return float(out) if isinstance(out, torch.Tensor) and out.numel() == 1 else out

    return wrapped


def check_perplexity_from_log_probs(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(log_probs) -> float``: the perplexity of a model that gave the true next
    tokens the natural-log probabilities ``log_probs (N,)``."""
    return check_function(
        _as_float(fn),
        _perplexity_reference,
        _perplexity_inputs,
        name="check_perplexity_from_log_probs",
        trials=20,
        hints=PERPLEXITY_HINTS,
        verbose=verbose,
    )


# --- next-token distribution ------------------------------------------------------------------


def _probs_variant(logits, temperature, top_k, *, invert_t=False, smallest=False, renorm=True):
    if temperature == 0:
        return next_token_probs(logits, 0)
    t = 1 / temperature if invert_t else temperature
    if top_k is None or top_k >= logits.shape[-1]:
        return torch.softmax(logits / t, -1)
    keep = logits.topk(top_k, -1, largest=not smallest).indices
    mask = torch.zeros_like(logits, dtype=torch.bool).scatter(-1, keep, True)
    if renorm:
        return torch.softmax((logits / t).masked_fill(~mask, float("-inf")), -1)
    return torch.softmax(logits / t, -1) * mask


def _probs_hint(message, **kw):
    def applies(args, got, expected):
        want = _probs_variant(*args, **kw)
        return (
            isinstance(got, torch.Tensor)
            and got.shape == want.shape
            and torch.allclose(got.float(), want.float(), atol=1e-5)
        )

    return Hint(applies, message)


PROBS_HINTS = [
    _probs_hint(
        "the temperature works backwards: DIVIDE the logits by it, so a small temperature "
        "sharpens the distribution",
        invert_t=True,
    ),
    _probs_hint("top-k should keep the k LARGEST logits (the most likely tokens)", smallest=True),
    _probs_hint(
        "after keeping the top k, the probabilities must sum to 1 again: set the other logits "
        "to -inf BEFORE the softmax",
        renorm=False,
    ),
    Hint(
        lambda args, got, expected: (
            args[1] == 0
            and isinstance(got, torch.Tensor)
            and not torch.allclose(got.float(), expected.float(), atol=1e-5)
        ),
        "temperature 0 means greedy: all the probability on the largest logit (handle it "
        "before dividing by the temperature)",
    ),
]


def _probs_inputs(rng: random.Random):
    V = rng.randint(2, 12)
    g = torch.Generator().manual_seed(rng.randrange(2**31))
    shape = (V,) if rng.random() < 0.5 else (rng.randint(1, 3), V)
    logits = torch.randn(shape, generator=g) * 2
    temperature = rng.choice([0.0, 0.5, 1.0, 1.0, 2.0])
    top_k = rng.choice([None, None, 1, 2, V])
    return logits, temperature, top_k


def check_next_token_probs(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(logits, temperature, top_k) -> probs`` (same shape as ``logits (..., V)``)
    against :func:`course_lib.sampling.next_token_probs`; the first cases always include
    temperature 0, top-k and a temperature other than 1."""
    rng = random.Random()
    fixed = [
        (torch.tensor([1.0, 3.0, 2.0, -1.0]), 2.0, None),
        (torch.tensor([1.0, 3.0, 2.0, -1.0]), 1.0, 2),
        (torch.tensor([[0.5, -2.0, 1.5]]), 0.0, None),
    ]
    cases = fixed + [_probs_inputs(rng) for _ in range(20)]
    return check_function(
        fn,
        next_token_probs,
        cases,
        name="check_next_token_probs",
        hints=PROBS_HINTS,
        atol=1e-5,
        verbose=verbose,
    )
