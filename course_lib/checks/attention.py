"""Exercise checks for lesson 04 (attention).

Each check runs the learner's function and the reference from :mod:`course_lib.attention` on
fresh random inputs, prints a one-line verdict and returns True/False. The hints recognise the
usual mistakes: a missing or wrong scaling, a swapped axis, an ignored or inverted mask, a
reshape that mixes heads and positions.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..attention import causal_mask, merge_heads, scaled_dot_product_attention, split_heads
from . import Hint, _as_array, check_function, compare, scaled_by, transposed

__all__ = [
    "check_attention_scores",
    "check_causal_mask",
    "check_attend",
    "check_split_heads",
    "check_merge_heads",
]


def _gen(rng) -> torch.Generator:
    return torch.Generator().manual_seed(rng.randrange(2**31))


def _denan(x):
    """NaN -> 0: a learner's softmax over a fully blocked row gives NaN where ours gives 0."""
    if isinstance(x, torch.Tensor):
        return torch.nan_to_num(x.detach(), nan=0.0)
    if isinstance(x, tuple | list):
        return type(x)(_denan(t) for t in x)
    return x


def _same(a, b) -> bool:
    return compare(_denan(a), b) is None


# --- 1. attention scores --------------------------------------------------------------------


def _ref_scores(q, k):
    return q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))


def _score_inputs(rng):
    g = _gen(rng)
    B, T_q, d = rng.randint(1, 3), rng.randint(2, 5), rng.choice([4, 9, 16])
    T_k = T_q + rng.randint(1, 3)  # T_q != T_k, so a swapped product has the wrong shape
    return torch.randn(B, T_q, d, generator=g), torch.randn(B, T_k, d, generator=g)


def check_attention_scores(attention_scores, trials: int = 20) -> bool:
    """``attention_scores(q, k)``: q ``(B, T_q, d)``, k ``(B, T_k, d)`` -> ``(B, T_q, T_k)``, the
    dot product of every query with every key, divided by sqrt(d)."""
    return check_function(
        attention_scores,
        _ref_scores,
        _score_inputs,
        name="check_attention_scores",
        trials=trials,
        hints=[scaled_by("sqrt(d), where d is the size of one query"), transposed()],
    )


# --- 2. causal mask -------------------------------------------------------------------------


def _bool_result(fn, what):
    def wrapped(*args):
        out = fn(*args)
        if not isinstance(out, torch.Tensor) or out.dtype != torch.bool:
            kind = out.dtype if isinstance(out, torch.Tensor) else type(out).__name__
            raise TypeError(f"{what} must be a bool tensor (True = may attend), got {kind}")
        return out

    return wrapped


def _mask_hint(transform, message):
    def applies(args, got, expected):
        g, e = _as_array(got), _as_array(expected)
        return g is not None and g.shape == e.shape and np.array_equal(g, transform(e))

    return Hint(applies, message)


CAUSAL_HINTS = [
    _mask_hint(
        lambda e: 1 - e,
        "your mask is inverted: here True means *may attend* (F.scaled_dot_product_attention's "
        "convention), so the past and the position itself are True and the future is False",
    ),
    _mask_hint(
        lambda e: e.T,
        "your mask lets each position see the future instead of the past: row i is the query, "
        "column j the key, and position i may attend to keys j <= i",
    ),
    _mask_hint(
        lambda e: e - np.eye(len(e)),
        "the diagonal is wrong: a position may attend to itself (j = i is allowed)",
    ),
]


def check_causal_mask(causal_mask_fn, trials: int = 12) -> bool:
    """``causal_mask(T)`` -> bool ``(T, T)``, True where query i may attend to key j (j <= i)."""
    return check_function(
        _bool_result(causal_mask_fn, "the mask"),
        causal_mask,
        [(2,), (3,), (5,), (1,)] + [(t,) for t in range(6, 6 + trials - 4)],
        name="check_causal_mask",
        hints=CAUSAL_HINTS,
    )


# --- 3. attention with a mask ---------------------------------------------------------------


def _ref_attend(q, k, v, mask):
    return scaled_dot_product_attention(q, k, v, mask)


def _attend_inputs(rng):
    g = _gen(rng)
    B, H, T_q, d = rng.randint(1, 3), rng.randint(1, 3), rng.randint(2, 5), rng.choice([4, 16])
    causal = rng.random() < 0.5
    T_k = T_q if causal else T_q + rng.randint(0, 2)
    q, k, v = (torch.randn(B, H, t, d, generator=g) for t in (T_q, T_k, T_k))
    lengths = torch.randint(1, T_k + 1, (B,), generator=g)
    lengths[0] = max(1, T_k - 1)  # at least one padded key, so the mask always matters
    mask = (torch.arange(T_k)[None, :] < lengths[:, None])[:, None, None, :]  # (B, 1, 1, T_k)
    if causal:
        mask = mask & causal_mask(T_q)
    return q, k, v, mask


def _weights_of(out):
    return out[1] if isinstance(out, tuple | list) and len(out) == 2 else None


def _variant_hint(variant, message):
    def applies(args, got, expected):
        return _same(got, variant(*args))

    return Hint(applies, message)


def _blocked_positions_get_weight(args, got, expected):
    w, mask = _as_array(_weights_of(got)), args[3]
    if w is None:
        return False
    blocked = ~np.broadcast_to(mask.numpy(), w.shape)
    return bool(np.abs(w[blocked]).max(initial=0) > 1e-6)


def _rows_not_normalised(args, got, expected):
    w = _as_array(_weights_of(got))
    return w is not None and not np.allclose(w.sum(-1), 1, atol=1e-4)


def _normalised_over_queries(args, got, expected):
    w = _as_array(_weights_of(got))
    if w is None or w.shape[-2] < 2:
        return False
    cols = np.nan_to_num(w).sum(-2)  # a key blocked for every query gives a NaN column
    ones = np.isclose(cols, 1, atol=1e-4)
    return bool(ones.any() and np.all(ones | np.isclose(cols, 0, atol=1e-4)))


ATTEND_HINTS = [
    _variant_hint(
        lambda q, k, v, m: scaled_dot_product_attention(q, k, v),
        "the mask made no difference: positions where the mask is False must get zero weight",
    ),
    _variant_hint(
        lambda q, k, v, m: scaled_dot_product_attention(q, k, v, ~m),
        "your mask works the wrong way round: True means *may attend*",
    ),
    _variant_hint(
        lambda q, k, v, m: scaled_dot_product_attention(q, k, v, m, scale=1.0),
        "the scores are not scaled: check the scaling by sqrt(d)",
    ),
    _variant_hint(
        lambda q, k, v, m: scaled_dot_product_attention(q, k, v, m, scale=1.0 / q.size(-1)),
        "you divided the scores by d: the scaling is by sqrt(d)",
    ),
    Hint(
        _normalised_over_queries,
        "your weights sum to 1 down each column (over the queries): the softmax runs over the "
        "keys, the last axis",
    ),
    Hint(
        _blocked_positions_get_weight,
        "some blocked positions (mask False) still get weight: a blocked score must become "
        "-inf, so that the softmax gives it exactly zero",
    ),
    Hint(
        _rows_not_normalised,
        "each query's weights should sum to 1: apply the mask to the scores *before* the "
        "softmax, not to the weights after it",
    ),
]


def check_attend(attend, trials: int = 20) -> bool:
    """``attend(q, k, v, mask)`` -> ``(output, weights)``: q ``(B, H, T_q, d)``, k and v
    ``(B, H, T_k, d)``, mask bool broadcastable to ``(B, H, T_q, T_k)`` (True = may attend)."""
    return check_function(
        attend,
        _ref_attend,
        _attend_inputs,
        name="check_attend",
        trials=trials,
        hints=ATTEND_HINTS,
    )


# --- 4. splitting and merging heads ---------------------------------------------------------


def _heads_inputs(rng):
    g = _gen(rng)
    B, H, T, D = rng.randint(1, 3), rng.choice([2, 4]), rng.choice([3, 5]), rng.choice([2, 3])
    return torch.randn(B, T, H * D, generator=g), H


def _reshape_only_split(x, n_head):
    B, T, C = x.shape
    return x.reshape(B, n_head, T, C // n_head)


def _no_transpose_split(x, n_head):
    B, T, C = x.shape
    return x.reshape(B, T, n_head, C // n_head)


SPLIT_HINTS = [
    _variant_hint(
        _reshape_only_split,
        "you reshaped straight to (B, H, T, D): that mixes positions and heads. Split the "
        "channels C into (H, D) first, keeping T where it is, then move the head axis",
    ),
    _variant_hint(
        _no_transpose_split,
        "you split the channels into (H, D) but left the head axis after T: the result "
        "should be (B, H, T, D)",
    ),
    transposed(),
]


def check_split_heads(split_heads_fn, trials: int = 20) -> bool:
    """``split_heads(x, n_head)``: ``(B, T, C)`` -> ``(B, H, T, C // H)``."""
    return check_function(
        split_heads_fn,
        split_heads,
        _heads_inputs,
        name="check_split_heads",
        trials=trials,
        hints=SPLIT_HINTS,
    )


def _merge_inputs(rng):
    x, H = _heads_inputs(rng)
    return (split_heads(x, H).contiguous(),)


def _reshape_only_merge(x):
    B, H, T, D = x.shape
    return x.reshape(B, T, H * D)


def _interleaved_merge(x):
    B, H, T, D = x.shape
    return x.permute(0, 2, 3, 1).reshape(B, T, H * D)


MERGE_HINTS = [
    _variant_hint(
        _reshape_only_merge,
        "you reshaped straight to (B, T, H*D): that mixes positions and heads. Move the head "
        "axis next to D first, then flatten (H, D)",
    ),
    _variant_hint(
        _interleaved_merge,
        "the channels are interleaved: concatenate the heads, all D channels of head 0 first, "
        "then head 1's, and so on",
    ),
]


def check_merge_heads(merge_heads_fn, trials: int = 20) -> bool:
    """``merge_heads(x)``: ``(B, H, T, D)`` -> ``(B, T, H * D)``, the inverse of split_heads."""
    return check_function(
        merge_heads_fn,
        merge_heads,
        _merge_inputs,
        name="check_merge_heads",
        trials=trials,
        hints=MERGE_HINTS,
    )
