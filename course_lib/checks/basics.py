"""Checks for lesson 00's exercise: loss units (nats, bits, perplexity)."""

from __future__ import annotations

import math

from . import Hint, check_function


def _losses(rng):
    return (
        rng.choice([math.log(8), math.log(77), 0.0])
        if rng.random() < 0.3
        else rng.uniform(0.01, 6.0),
    )


def _reference_bits(loss):
    return loss / math.log(2)


def _reference_perplexity(loss):
    return math.exp(loss)


def _close(a, b):
    return isinstance(a, int | float) and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def check_bits_per_char(fn) -> bool:
    """``fn(loss_in_nats) -> bits``: nats divided by ln 2."""
    hints = [
        Hint(
            lambda a, got, exp: _close(got, math.log2(a[0])) if a[0] > 0 else False,
            "you took the logarithm of the loss; the loss is already a log: just change its "
            "base by dividing by ln 2",
        ),
        Hint(
            lambda a, got, exp: _close(got, a[0] * math.log(2)),
            "you multiplied by ln 2; one bit is ln 2 nats, so divide by it",
        ),
        Hint(
            lambda a, got, exp: _close(got, a[0] / math.log(10)),
            "you divided by ln 10 (that gives digits, 'bans'); bits need ln 2",
        ),
    ]
    return check_function(fn, _reference_bits, _losses, name="check_bits_per_char", hints=hints)


def check_perplexity(fn) -> bool:
    """``fn(loss_in_nats) -> perplexity``: e to the loss."""
    hints = [
        Hint(
            lambda a, got, exp: _close(got, 2 ** a[0]),
            "you computed 2**loss; that is right for a loss in bits, but this loss is in nats, "
            "so use e**loss (math.exp)",
        ),
        Hint(
            lambda a, got, exp: a[0] > 0 and _close(got, math.log(a[0])),
            "you took the log of the loss; perplexity undoes the log: exponentiate",
        ),
    ]
    return check_function(fn, _reference_perplexity, _losses, name="check_perplexity", hints=hints)
