"""Exercise checks for lesson 04 (attention).

Each check runs the learner's function and the reference from :mod:`course_lib.attention` on
fresh random inputs, prints a one-line verdict and returns True/False. The hints recognise the
usual mistakes: a mask the wrong way round or on the wrong axis, a missing or wrong scaling, a
softmax over the wrong axis, NaN for a query that may attend to nothing, a reshape that mixes
heads and positions, key/value heads shared in the wrong order. An answer that only calls the
library's version (or PyTorch's fused attention) gets "uses the library version".
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
import torch.nn.functional as F

from ..attention import (
    AdditiveAttention,
    attention_mask,
    causal_mask,
    merge_heads,
    padding_mask,
    scaled_dot_product_attention,
    split_heads,
)
from . import (
    Hint,
    _as_array,
    check_function,
    check_prediction,
    compare,
    library_use_verdict,
    library_verdict,
    transposed,
    uses_library,
)

__all__ = [
    "check_attention_mask",
    "check_additive_attention",
    "check_attend",
    "check_scaling_prediction",
    "check_split_heads",
    "check_merge_heads",
    "check_grouped_query_attention",
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
    return compare(_denan(a), _denan(b)) is None


def _variant_hint(variant, message):
    """The learner's result is what ``variant`` (the reference with one usual mistake) gives."""

    def applies(args, got, expected):
        return _same(got, variant(*args))

    return Hint(applies, message)


def _no_shortcut(fn, name: str, library, torch_fns=()) -> bool | None:
    """``False`` (after printing "uses the library version") when ``fn`` calls PyTorch's own
    attention in ``torch_fns`` or the course's answer in ``library``; else ``None``. (PyTorch's
    first: ``F.scaled_dot_product_attention`` shares its name with the course's.)"""
    used = uses_library(fn, torch_fns) if torch_fns else None
    if used is not None:
        return library_use_verdict(
            name,
            f"your function calls PyTorch's {used.rsplit('.', 1)[-1]}: write the steps "
            "yourself (the lesson shows them)",
        )
    return library_verdict(fn, library, name)


# --- 1. the attention mask of a padded batch ------------------------------------------------


def _ref_mask(lengths, T, causal):
    mask = attention_mask(T, T, key_padding_mask=padding_mask(lengths, T), is_causal=causal)
    return mask.expand(len(lengths), 1, T, T)


def _mask_inputs(rng):
    g = _gen(rng)
    B, T = rng.randint(2, 4), rng.randint(3, 6)
    lengths = torch.randint(1, T + 1, (B,), generator=g)
    lengths[rng.randrange(B)] = rng.randint(1, T - 1)  # at least one padded sequence
    return lengths, T, rng.random() < 0.5


def _mask_result(fn):
    """The learner's mask, expanded to (B, 1, T, T) when it broadcasts there with 4 axes (a
    (B, 1, 1, T) padding-only mask is right too); a non-bool result is an error."""

    def wrapped(lengths, T, causal):
        out = fn(lengths, T, causal)
        if not isinstance(out, torch.Tensor) or out.dtype != torch.bool:
            kind = out.dtype if isinstance(out, torch.Tensor) else type(out).__name__
            raise TypeError(f"the mask must be a bool tensor (True = may attend), got {kind}")
        if out.dim() == 4:
            try:
                return out.expand(len(lengths), 1, T, T)
            except RuntimeError:
                return out
        return out

    return wrapped


def _mask_variant(keys_ok, causal_ok, message):
    """A mask built as ``keys_ok(i, j, length) & causal_ok(i, j, causal)``: one usual mistake."""

    def variant(lengths, T, causal):
        i, j = torch.arange(T)[:, None], torch.arange(T)[None, :]
        keys = keys_ok(i, j, lengths[:, None, None, None])  # (B, 1, T, T)
        return (keys & causal_ok(i, j, causal)).expand(len(lengths), 1, T, T)

    return _variant_hint(variant, message)


def _real_key(i, j, n):
    return j < n


def _causal_if(i, j, causal):
    return j <= i if causal else torch.ones_like(i == j)


MASK_HINTS = [
    Hint(
        lambda args, got, expected: _same(got, ~expected),
        "your mask is inverted: True means *may attend*, so real keys in the past (and the "
        "position itself) are True, padding and the future are False",
    ),
    _mask_variant(
        lambda i, j, n: i < n,
        _causal_if,
        "you blocked the padded *queries* (rows): padding must be blocked as *keys*, the last "
        "axis, so that no query looks at a padding position",
    ),
    _mask_variant(
        lambda i, j, n: j <= n,
        _causal_if,
        "a sequence of length L has real tokens at positions 0 .. L-1: position L is padding",
    ),
    _mask_variant(
        _real_key,
        lambda i, j, c: j >= i if c else j == j,
        "your causal part lets each position see the future instead of the past: row i is the "
        "query, column j the key, and i may attend to j <= i",
    ),
    _mask_variant(
        _real_key,
        lambda i, j, c: j < i if c else j == j,
        "the diagonal is wrong: a position may attend to itself (j = i is allowed)",
    ),
    _mask_variant(
        _real_key,
        lambda i, j, c: j == j,
        "with causal=True the future must be blocked too: your mask only blocks the padding",
    ),
    _mask_variant(
        _real_key,
        lambda i, j, c: j <= i,
        "with causal=False only the padding is blocked: your mask is causal either way",
    ),
    Hint(
        lambda args, got, expected: isinstance(got, torch.Tensor) and got.dim() < 4,
        "the mask needs 4 axes, (B, 1, T, T), to broadcast over the scores (B, H, T_q, T_k): "
        "a (B, T) or (B, T, T) mask broadcasts wrong (see padding_mask's docstring)",
    ),
]


def check_attention_mask(make_attention_mask, trials: int = 20) -> bool:
    """``make_attention_mask(lengths, T, causal)`` -> bool ``(B, 1, T, T)``: True where query
    ``i`` of sequence ``b`` may attend to key ``j``, i.e. ``j < lengths[b]`` and, when
    ``causal``, ``j <= i``. A ``(B, 1, 1, T)`` mask is accepted where it is the same."""
    name = "check_attention_mask"
    library = [padding_mask, causal_mask, attention_mask]
    if library_verdict(make_attention_mask, library, name) is False:
        return False
    return check_function(
        _mask_result(make_attention_mask),
        _ref_mask,
        _mask_inputs,
        name=name,
        trials=trials,
        hints=MASK_HINTS,
    )


# --- 2. additive attention ------------------------------------------------------------------


def _additive(query, keys, mask, W, U, v, *, energy=None, mask_fill=float("-inf"), dim=-1):
    """Additive attention written out, with knobs for the usual mistakes."""
    pre_q, pre_k = (query @ W.T)[:, None, :], keys @ U.T  # (B, 1, a_dim), (B, S, a_dim)
    if energy == "linear":
        e = pre_q + pre_k
    elif energy == "split":
        e = torch.tanh(pre_q) + torch.tanh(pre_k)
    else:
        e = torch.tanh(pre_q + pre_k)
    scores = e @ v  # (B, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, mask_fill)
    weights = scores.softmax(dim=dim)
    return (weights[:, :, None] * keys).sum(1), weights


def _ref_additive(query, keys, mask, W, U, v):
    layer = AdditiveAttention(W.size(1), U.size(1), W.size(0)).to(W.dtype)
    with torch.no_grad():
        layer.query_proj.weight.copy_(W)
        layer.key_proj.weight.copy_(U)
        layer.key_proj.bias.zero_()
        layer.v.weight.copy_(v[None, :])
        return layer(query, keys, mask=mask)


def _additive_inputs(rng):
    g = _gen(rng)
    B, S = rng.randint(2, 3), rng.randint(3, 6)
    q_dim, k_dim, a_dim = rng.sample([3, 4, 5, 6], 3)  # all different: a wrong product fails

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    lengths = torch.randint(1, S + 1, (B,), generator=g)
    lengths[0] = rng.randint(1, S - 1)  # at least one padded source
    mask = padding_mask(lengths, S)
    query, keys = randn(B, q_dim), randn(B, S, k_dim)
    return query, keys, mask, randn(a_dim, q_dim), randn(a_dim, k_dim), randn(a_dim)


def _weights_right_context_wrong(args, got, expected):
    return (
        isinstance(got, tuple | list)
        and len(got) == 2
        and compare(got[1], expected[1]) is None
        and compare(got[0], expected[0]) is not None
    )


ADDITIVE_HINTS = [
    _variant_hint(
        lambda q, k, m, W, U, v: _additive(q, k, m, W, U, v, energy="linear"),
        "the scoring network has a tanh: e_j = v . tanh(W s + U h_j), not v . (W s + U h_j)",
    ),
    _variant_hint(
        lambda q, k, m, W, U, v: _additive(q, k, m, W, U, v, energy="split"),
        "the tanh applies to the sum W s + U h_j, not to each term separately",
    ),
    _variant_hint(
        lambda q, k, m, W, U, v: _additive(q, k, None, W, U, v),
        "the mask made no difference: padding positions (mask False) must get zero weight",
    ),
    _variant_hint(
        lambda q, k, m, W, U, v: _additive(q, k, ~m, W, U, v),
        "your mask works the wrong way round: True marks the real source words",
    ),
    _variant_hint(
        lambda q, k, m, W, U, v: _additive(q, k, m, W, U, v, mask_fill=0.0),
        "padding positions still get weight: a blocked score must become -inf (a score of 0 "
        "is an ordinary score), so that the softmax gives it exactly zero",
    ),
    _variant_hint(
        lambda q, k, m, W, U, v: _additive(q, k, m, W, U, v, dim=0),
        "your weights are normalised over the batch: the softmax runs over the source "
        "positions, the last axis of the (B, S) scores",
    ),
    Hint(
        _weights_right_context_wrong,
        "your weights are right but the context is not: it is the weighted sum of the keys, "
        "c = sum_j alpha_j h_j, one (key_dim,) vector per example",
    ),
]


def check_additive_attention(additive_attention, trials: int = 20) -> bool:
    """``additive_attention(query, keys, mask, W, U, v)`` -> ``(context, weights)``: query
    ``(B, q_dim)``, keys ``(B, S, k_dim)``, mask bool ``(B, S)`` (True at real words), W
    ``(a_dim, q_dim)``, U ``(a_dim, k_dim)``, v ``(a_dim,)``; weights ``(B, S)``, context
    ``(B, k_dim)``."""
    return check_function(
        additive_attention,
        _ref_additive,
        _additive_inputs,
        name="check_additive_attention",
        trials=trials,
        hints=ADDITIVE_HINTS,
        library=[AdditiveAttention],
    )


# --- 3. masked scaled dot-product attention -------------------------------------------------


def _attend_case(rng, kind: str):
    """One input of ``kind``: "padding" (right padding, causal or not), "nobody" (left padding
    and causal: the first queries may attend to nothing) or "none" (no mask)."""
    g = _gen(rng)
    B, H, T_q, d = rng.randint(2, 3), rng.randint(1, 3), rng.randint(3, 5), rng.choice([4, 16])
    causal = kind == "nobody" or (kind == "padding" and rng.random() < 0.5)
    T_k = T_q if causal else T_q + rng.randint(0, 2)
    q, k, v = (torch.randn(B, H, t, d, generator=g) for t in (T_q, T_k, T_k))
    if kind == "none":
        return q, k, v, None
    lengths = torch.randint(1, T_k + 1, (B,), generator=g)
    lengths[0] = rng.randint(1, T_k - 1)  # at least one padded sequence: the mask matters
    real = torch.arange(T_k)[None, :] < lengths[:, None]  # (B, T_k)
    if kind == "nobody":
        real = real.flip(-1)  # left padding: the real tokens at the end
    mask = real[:, None, None, :]  # (B, 1, 1, T_k)
    return q, k, v, mask & causal_mask(T_q) if causal else mask


def _attend_inputs():
    """A fresh make_inputs: padded masks, then every 3rd input one where some query may attend
    to nothing, every 5th one without a mask (the same kinds on every run)."""
    trial = itertools.count()

    def make(rng):
        n = next(trial)
        kind = "nobody" if n % 3 == 1 else "none" if n % 5 == 2 else "padding"
        return _attend_case(rng, kind)

    return make


def _weights_of(out):
    return out[1] if isinstance(out, tuple | list) and len(out) == 2 else None


def _blocked_positions_get_weight(args, got, expected):
    w, mask = _as_array(_weights_of(got)), args[3]
    if w is None or mask is None:
        return False
    blocked = ~np.broadcast_to(mask.numpy(), w.shape)
    return bool(np.nan_to_num(np.abs(w[blocked]), nan=0.0).max(initial=0) > 1e-6)


def _rows_not_normalised(args, got, expected):
    w, e = _as_array(_weights_of(got)), _as_array(_weights_of(expected))
    if w is None or w.shape != e.shape:
        return False
    live = e.sum(-1) > 0.5  # queries that may attend to something
    return not np.allclose(w.sum(-1)[live], 1, atol=1e-4)


def _normalised_over_queries(args, got, expected):
    w = _as_array(_weights_of(got))
    if w is None or w.shape[-2] < 2:
        return False
    cols = np.nan_to_num(w).sum(-2)  # a key blocked for every query gives a NaN column
    ones = np.isclose(cols, 1, atol=1e-4)
    return bool(ones.any() and np.all(ones | np.isclose(cols, 0, atol=1e-4)))


def _nan_where_nobody(args, got, expected):
    """NaN exactly in the rows of queries that may attend to nothing, right everywhere else."""
    w, e = _weights_of(got), _weights_of(expected)
    if not isinstance(w, torch.Tensor) or w.shape != e.shape or not torch.isnan(w).any():
        return False
    dead = e.sum(-1) == 0
    return bool(torch.isnan(w).any(-1).eq(dead).all()) and _same(got, expected)


ATTEND_HINTS = [
    Hint(
        _nan_where_nobody,
        "a query whose mask row is all False may attend to nothing: the softmax of a row of "
        "-inf is 0/0 = NaN. Give such a query zero weights (hence a zero output), as PyTorch "
        "does",
    ),
    _variant_hint(
        lambda q, k, v, m: scaled_dot_product_attention(q, k, v),
        "the mask made no difference: positions where the mask is False must get zero weight",
    ),
    _variant_hint(
        lambda q, k, v, m: scaled_dot_product_attention(q, k, v, None if m is None else ~m),
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
    """``attend(q, k, v, mask=None)`` -> ``(output, weights)``: q ``(B, H, T_q, d)``, k and v
    ``(B, H, T_k, d)``, mask None or bool broadcastable to ``(B, H, T_q, T_k)`` (True = may
    attend); a query that may attend to nothing gets zero weights and a zero output."""
    name = "check_attend"
    library = [scaled_dot_product_attention]
    if _no_shortcut(attend, name, library, [F.scaled_dot_product_attention]) is False:
        return False
    return check_function(
        attend,
        scaled_dot_product_attention,
        _attend_inputs(),
        name=name,
        trials=trials,
        hints=ATTEND_HINTS,
    )


# --- 4. predict, then measure: the scale of q and k -----------------------------------------

SCALING_EXPLAIN = (
    "dividing by sqrt(d) removes only the growth that comes from d. Each product q_i k_i has "
    "standard deviation 2 x 2 = 4, so the scaled scores have standard deviation 4 x sqrt(d) / "
    "sqrt(d) = 4: the spread of the *unscaled* d = 16 row of section 6's table (score std 3.95, "
    "largest weight 0.63). The softmax sees only the scores, so it saturates just as much: "
    "what matters is the spread of the scores, and sqrt(d) fixes the part due to d, not the "
    "part due to the size of q and k. A trained network can grow its queries and keys, which "
    "is why some models normalise them (QK-norm) or learn the softmax's temperature."
)


def check_scaling_prediction(prediction, measured: float) -> bool:
    """Predict, then measure: the mean largest weight over 32 keys with scaled scores, d = 256,
    queries and keys with entries of standard deviation 2 (about 0.63). Passed once a number is
    predicted; right within 0.1."""
    return check_prediction(
        prediction,
        measured,
        name="check_scaling_prediction",
        tolerance=0.1,
        explain=SCALING_EXPLAIN,
    )


# --- 5. splitting and merging heads ---------------------------------------------------------


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
        library=[split_heads],
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
        library=[merge_heads],
    )


# --- 6. grouped-query attention -------------------------------------------------------------


def _gqa(
    x, W_q, W_k, W_v, W_o, n_heads, n_kv_heads, *, share="interleave", causal=True, project=True
):
    """Causal grouped-query self-attention written out, with knobs for the usual mistakes."""
    q = split_heads(x @ W_q.T, n_heads)  # (B, H, T, D)
    k, v = (split_heads(x @ W.T, n_kv_heads) for W in (W_k, W_v))  # (B, G, T, D)
    group = n_heads // n_kv_heads
    if share == "interleave":  # query head h reads key/value head h // group
        k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    else:  # "tile": query head h reads key/value head h % G
        k, v = k.repeat(1, group, 1, 1), v.repeat(1, group, 1, 1)
    mask = causal_mask(x.size(1)) if causal else None
    out = merge_heads(scaled_dot_product_attention(q, k, v, mask)[0])  # (B, T, C)
    return out @ W_o.T if project else out


def _ref_gqa(x, W_q, W_k, W_v, W_o, n_heads, n_kv_heads):
    return _gqa(x, W_q, W_k, W_v, W_o, n_heads, n_kv_heads)


def _gqa_inputs(rng):
    g = _gen(rng)
    n_heads, D = rng.choice([4, 6]), rng.choice([2, 3])
    n_kv_heads = rng.choice([d for d in (1, 2, 3) if n_heads % d == 0])
    B, T, C = rng.randint(1, 2), rng.randint(3, 6), n_heads * D

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64) / shape[-1] ** 0.5

    kv = n_kv_heads * D
    x = torch.randn(B, T, C, generator=g, dtype=torch.float64)
    return x, randn(C, C), randn(kv, C), randn(kv, C), randn(C, C), n_heads, n_kv_heads


GQA_HINTS = [
    _variant_hint(
        lambda *a: _gqa(*a, share="tile"),
        "the query heads share the key/value heads in the wrong order: with H/G query heads "
        "per group, query head h reads key/value head h // (H/G), so consecutive query heads "
        "share one. repeat tiles the heads (0, 1, 0, 1, ...); repeat_interleave gives "
        "(0, 0, 1, 1, ...)",
    ),
    _variant_hint(
        lambda *a: _gqa(*a, causal=False),
        "the attention is not causal: position i may attend to positions j <= i only",
    ),
    _variant_hint(
        lambda *a: _gqa(*a, project=False),
        "the heads are merged but not mixed: finish with the output projection W_o",
    ),
]


def check_grouped_query_attention(grouped_query_attention, trials: int = 20) -> bool:
    """``grouped_query_attention(x, W_q, W_k, W_v, W_o, n_heads, n_kv_heads)`` -> ``(B, T, C)``:
    causal self-attention with ``n_heads`` query heads sharing ``n_kv_heads`` key/value heads
    (query head h reads key/value head h // (n_heads // n_kv_heads)); no biases."""
    name = "check_grouped_query_attention"
    torch_fns = [F.scaled_dot_product_attention]
    if _no_shortcut(grouped_query_attention, name, None, torch_fns) is False:
        return False
    return check_function(
        grouped_query_attention,
        _ref_gqa,
        _gqa_inputs,
        name=name,
        trials=trials,
        hints=GQA_HINTS,
    )
