"""Checks for lesson 05's exercises: the pre-norm block's forward pass, top-p (nucleus) sampling
probabilities, one attention step with a KV cache (and its causal mask), a whole GPT step with
one cache per layer, and the "predict, then measure" experiment on residual connections.

Each check runs the learner's function and the reference on fresh random inputs, prints a
one-line verdict, and on failure a hint aimed at the usual mistake (never the solution).

The answers are in the library (``Block.forward``, ``top_p_filter``, ``MultiHeadAttention`` with a
``KVCache``, ``GPT.forward``): an answer that calls them gets "uses the library version". Some are
methods of an argument (``block(x)``), which no name lookup can see, so while the learner's
function runs those methods are replaced by a stub that reports the call (:func:`_forbidding`).
"""

from __future__ import annotations

import copy
import random
from contextlib import contextmanager

import torch
from torch import nn

from ..attention import (
    KVCache,
    MultiHeadAttention,
    attention_mask,
    causal_mask,
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
)
from ..sampling import next_token_probs, top_p_filter
from ..transformer import GPT, Block, GPTConfig
from . import (
    Hint,
    _qualified,
    check_function,
    check_prediction,
    check_rng,
    library_use_verdict,
)
from . import library_verdict as _library_verdict

# --- an answer that calls the library's method on its argument ---------------------------------


class _LibraryCalled(Exception):
    """Raised by a forbidden library method while the learner's function runs."""


@contextmanager
def _forbidding(methods: list[tuple[type, str]]):
    """Within the block, each ``(class, name)`` method raises :class:`_LibraryCalled`."""
    saved = [(cls, name, cls.__dict__[name]) for cls, name in methods]

    def stub(qualified):
        def forbidden(*args, **kwargs):
            raise _LibraryCalled(qualified)

        return forbidden

    try:
        for cls, name, method in saved:
            setattr(cls, name, stub(_qualified(method)))
        yield
    finally:
        for cls, name, method in saved:
            setattr(cls, name, method)


def _guarded_check(fn, reference, make_inputs, *, name, library, methods, verbose, **kw) -> bool:
    """:func:`check_function`, after two tests for an answer that is the library's: a name it
    calls (``library``), then a first run with the library's ``methods`` forbidden."""
    if _library_verdict(fn, library, name, verbose) is False:
        return False
    first = make_inputs(check_rng(name)) if callable(make_inputs) else next(iter(make_inputs))
    try:
        with _forbidding(methods):
            fn(*copy.deepcopy(first))
    except _LibraryCalled as called:
        return library_use_verdict(
            name,
            f"your function calls {called}, the course's own answer: write the steps yourself",
            verbose,
        )
    except Exception:  # a stub or a bug: the check below reports it
        pass

    def learner(*args):
        with _forbidding(methods):
            return fn(*args)

    return check_function(learner, reference, make_inputs, name=name, verbose=verbose, **kw)


def _same(got, want) -> bool:
    return (
        isinstance(got, torch.Tensor)
        and isinstance(want, torch.Tensor)
        and got.shape == want.shape
        and torch.allclose(got.detach().to(want.dtype), want, atol=1e-6)
    )


def _is_mistake(got, mistake, expected) -> bool:
    """``got`` is what the ``mistake`` gives, and on this input the mistake shows."""
    return _same(got, mistake) and not _same(mistake, expected)


def _random_weights(module: nn.Module, std: float = 0.4) -> nn.Module:
    """Float64, evaluation mode, and weights large enough for every mistake to show."""
    module = module.double().eval()
    with torch.no_grad():
        for p in module.parameters():
            nn.init.normal_(p, std=std)
    return module


def _heads(rng: random.Random) -> tuple[int, int]:
    C = rng.choice([8, 12, 16])
    return C, rng.choice([h for h in (1, 2, 4) if C % h == 0])


# --- the block's forward pass -----------------------------------------------------------------


def _block_reference(block: Block, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return block(x)


def _block_variant(block: Block, x: torch.Tensor, kind: str) -> torch.Tensor:
    """A pre-norm block with one of the usual mistakes."""
    attn = block.attn

    def sa(h, causal=True):
        return attn(h, is_causal=causal)[0]

    with torch.no_grad():
        if kind == "post_norm":
            x = block.ln1(x + sa(x))
            return block.ln2(x + block.mlp(x))
        if kind == "not_causal":
            x = x + sa(block.ln1(x), causal=False)
            return x + block.mlp(block.ln2(x))
        if kind == "no_residual":
            x = sa(block.ln1(x))
            return block.mlp(block.ln2(x))
        if kind == "normed_residual":  # the residual stream itself normalised
            h = block.ln1(x)
            x = h + sa(h)
            h = block.ln2(x)
            return h + block.mlp(h)
        if kind == "same_norm":  # ln1 used twice
            x = x + sa(block.ln1(x))
            return x + block.mlp(block.ln1(x))
        if kind == "attn_only":
            return x + sa(block.ln1(x))
        if kind == "parallel":  # both branches read the block's input
            return x + sa(block.ln1(x)) + block.mlp(block.ln2(x))
    raise ValueError(kind)


def _is_variant(kind: str):
    def applies(args, got, expected):
        return _is_mistake(got, _block_variant(*args, kind), expected)

    return applies


BLOCK_HINTS = [
    Hint(
        _is_variant("post_norm"),
        "this is the post-norm block (LayerNorm after the residual sum). The lesson's block is "
        "pre-norm: normalise the input of each sublayer and add the sublayer's output to the "
        "un-normalised x",
    ),
    Hint(
        _is_variant("not_causal"),
        "the attention is not causal: each position sees the future. Pass is_causal=True",
    ),
    Hint(
        _is_variant("no_residual"),
        "the residual connections are missing: each sublayer's output must be ADDED to x",
    ),
    Hint(
        _is_variant("normed_residual"),
        "the normalised vector is carried on as the residual stream: add the sublayer's output "
        "to x itself, and use LayerNorm only on the sublayer's input",
    ),
    Hint(
        _is_variant("same_norm"),
        "the MLP's input is normalised with ln1: each sublayer has its own LayerNorm (ln2 for "
        "the MLP)",
    ),
    Hint(_is_variant("attn_only"), "the feed-forward sublayer (block.mlp) is missing"),
    Hint(
        _is_variant("parallel"),
        "the MLP reads the block's input: it should read x AFTER the attention's output has "
        "been added to it (the two sublayers run one after the other)",
    ),
]


def _block_inputs(rng: random.Random):
    C, H = _heads(rng)
    B, T = rng.randint(1, 3), rng.randint(2, 9)
    torch.manual_seed(rng.randrange(2**31))
    block = _random_weights(Block(GPTConfig(vocab_size=5, block_size=16, n_head=H, n_embd=C)))
    return block, torch.randn(B, T, C, dtype=torch.float64)


def check_block_forward(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(block, x) -> y``, the pre-norm block's forward pass, against
    :class:`course_lib.transformer.Block` on random sizes (``x`` ``(B, T, C)``, float64). Calling
    the block itself (``block(x)``, ``block.forward(x)``) is "uses the library version"."""
    return _guarded_check(
        fn,
        _block_reference,
        _block_inputs,
        name="check_block_forward",
        library=[Block.forward],
        methods=[(Block, "forward")],
        trials=10,
        hints=BLOCK_HINTS,
        verbose=verbose,
    )


# --- top-p (nucleus) sampling -----------------------------------------------------------------


def _top_p_reference(logits, p):
    return next_token_probs(logits, top_p=p)


def _top_p_variant(logits, p, kind):
    if kind == "sorted_order":  # the right probabilities, left in sorted order
        return next_token_probs(logits, top_p=p).sort(dim=-1, descending=True).values
    if kind == "not_renormalised":
        return logits.softmax(-1).masked_fill(top_p_filter(logits, p).isneginf(), 0.0)
    if kind == "zeroed_logits":
        return logits.masked_fill(top_p_filter(logits, p).isneginf(), 0.0).softmax(-1)
    sorted_logits, order = logits.sort(dim=-1, descending=kind != "ascending")
    probs = sorted_logits.softmax(dim=-1)
    cum = probs.cumsum(dim=-1)
    drop = cum > p if kind == "crossing_dropped" else cum - probs >= p
    if kind == "gathered_back":  # the sort's indices used the wrong way round
        drop = drop.gather(-1, order)
    else:
        drop = drop.scatter(-1, order, drop)
    return logits.masked_fill(drop, float("-inf")).softmax(-1)


def _top_p_is(kind):
    def applies(args, got, expected):
        return _is_mistake(got, _top_p_variant(*args, kind), expected)

    return applies


TOP_P_HINTS = [
    Hint(
        _top_p_is("crossing_dropped"),
        "the token that takes the running total past p is dropped: the nucleus is the smallest "
        "set that REACHES p, so drop a token only when the tokens before it already hold p",
    ),
    Hint(
        lambda args, got, expected: isinstance(got, torch.Tensor) and bool(got.isnan().any()),
        "some probabilities are NaN: in some row every token was dropped. The most likely "
        "token is always kept (nothing comes before it)",
    ),
    Hint(
        _top_p_is("sorted_order"),
        "these are the right probabilities in sorted order: put each one back at its token's "
        "place in the vocabulary (the sort also returns where each entry came from)",
    ),
    Hint(
        _top_p_is("gathered_back"),
        "the kept tokens are put back in the wrong places: the sort's indices say where each "
        "sorted entry CAME FROM, so write the sorted mask to those places (scatter), do not "
        "read from them (gather)",
    ),
    Hint(_top_p_is("ascending"), "you kept the LEAST likely tokens: sort in descending order"),
    Hint(
        _top_p_is("not_renormalised"),
        "the kept probabilities do not sum to 1: zeroing the others after the softmax leaves "
        "them un-normalised. Mask the logits (to -inf) before the softmax, or divide by the sum",
    ),
    Hint(
        _top_p_is("zeroed_logits"),
        "the dropped tokens still get probability: a logit of 0 is not 'impossible'. Set the "
        "dropped logits to -inf so the softmax gives them exactly 0",
    ),
    Hint(
        lambda args, got, expected: (
            isinstance(got, torch.Tensor)
            and got.shape == expected.shape
            and not torch.allclose(got.sum(-1), torch.ones_like(got.sum(-1)), atol=1e-5)
        ),
        "each row should be a probability distribution (summing to 1): return probabilities, "
        "not logits",
    ),
]


def _top_p_inputs(rng: random.Random):
    B, V = rng.randint(1, 4), rng.randint(3, 12)
    g = torch.Generator().manual_seed(rng.randrange(2**31))
    return 2 * torch.randn(B, V, generator=g, dtype=torch.float64), rng.uniform(0.3, 0.95)


def check_top_p(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(logits, p) -> probs``: the nucleus of each row of ``logits`` ``(B, V)``
    (float64, no ties), the smallest set of most likely tokens holding probability ``p``,
    renormalised; every other token gets exactly 0."""
    return check_function(
        fn,
        _top_p_reference,
        _top_p_inputs,
        name="check_top_p",
        trials=25,
        hints=TOP_P_HINTS,
        verbose=verbose,
        library=[top_p_filter, next_token_probs],
    )


# --- one attention step with a KV cache -------------------------------------------------------


def _step_reference(attn, x_new, past_k, past_v):
    cache = KVCache()
    cache.k, cache.v = past_k, past_v
    with torch.no_grad():
        y, _ = MultiHeadAttention.forward(attn, x_new, is_causal=True, kv_cache=cache)
    return y, cache.k, cache.v


def _step_variant(attn, x_new, past_k, past_v, kind):
    """The output of one cached attention step with one of the usual mistakes."""
    H = attn.n_head
    with torch.no_grad():
        q = split_heads(attn.q_proj(x_new), H)
        k_new, v_new = split_heads(attn.k_proj(x_new), H), split_heads(attn.v_proj(x_new), H)
        if kind == "no_cache":
            k, v = k_new, v_new
        elif kind == "new_first":
            k, v = torch.cat([k_new, past_k], dim=2), torch.cat([v_new, past_v], dim=2)
        else:
            k, v = torch.cat([past_k, k_new], dim=2), torch.cat([past_v, v_new], dim=2)
        T_q, T_k = q.size(2), k.size(2)
        mask = {"top_left": torch.ones(T_q, T_k, dtype=torch.bool).tril(), "no_mask": None}
        mask = mask.get(kind, causal_mask(T_q, T_k))
        scale = 1.0 if kind == "no_scale" else None
        y = merge_heads(scaled_dot_product_attention(q, k, v, mask, scale=scale)[0])
        return y if kind == "no_out_proj" else attn.out_proj(y)


def _step_is(kind):
    def applies(args, got, expected):
        want = _step_variant(*args, kind)
        return isinstance(got, tuple | list) and _is_mistake(got[0], want, expected[0])

    return applies


def _cache_not_returned(args, got, expected):
    return (
        isinstance(got, tuple | list)
        and len(got) == 3
        and _same(got[0], expected[0])
        and not (_same(got[1], expected[1]) and _same(got[2], expected[2]))
    )


STEP_HINTS = [
    Hint(
        lambda args, got, expected: not (isinstance(got, tuple | list) and len(got) == 3),
        "return three things: the output (B, T_new, C), then all the keys and all the values "
        "so far (the updated cache)",
    ),
    Hint(
        _step_is("top_left"),
        "the mask lines the new queries up with the FIRST keys: new query i is position "
        "T_past + i, so it may see keys 0 .. T_past + i (all the cached ones, and the new ones "
        "up to itself)",
    ),
    Hint(
        _step_is("no_mask"),
        "with several new tokens in one step, each sees the new tokens after it: a causal mask "
        "is still needed (the cached positions are all in the past)",
    ),
    Hint(
        _step_is("no_cache"),
        "the new queries attend only to the new keys: attend over the cached keys and values "
        "too, joined with the new ones along the positions axis",
    ),
    Hint(
        _step_is("new_first"),
        "the new keys and values go AFTER the cached ones: positions run oldest first along dim 2",
    ),
    Hint(_step_is("no_scale"), "the scores are not scaled by 1/sqrt(D), D the head size"),
    Hint(
        _step_is("no_out_proj"),
        "the merged heads must still go through the output projection, attn.out_proj",
    ),
    Hint(
        _cache_not_returned,
        "the output is right, but the returned keys and values must hold every position so "
        "far: the cached ones followed by the new ones, (B, H, T_past + T_new, D)",
    ),
]


def _step_inputs(rng: random.Random):
    C, H = _heads(rng)
    B, T_past, T_new = rng.randint(1, 3), rng.randint(0, 6), rng.randint(1, 4)
    torch.manual_seed(rng.randrange(2**31))
    attn = _random_weights(MultiHeadAttention(C, H))
    past_k, past_v = torch.randn(2, B, H, T_past, C // H, dtype=torch.float64)
    return attn, torch.randn(B, T_new, C, dtype=torch.float64), past_k, past_v


def check_attention_step(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(attn, x_new, past_k, past_v) -> (y, k, v)``: one step of causal self-attention
    with a KV cache. ``attn`` is a :class:`~course_lib.attention.MultiHeadAttention`, ``x_new``
    ``(B, T_new, C)`` the new positions, ``past_k``/``past_v`` ``(B, H, T_past, D)`` the cache
    (``T_past`` may be 0); ``k``, ``v`` hold all ``T_past + T_new`` positions."""
    return _guarded_check(
        fn,
        _step_reference,
        _step_inputs,
        name="check_attention_step",
        library=[causal_mask, attention_mask, KVCache.update],
        methods=[(MultiHeadAttention, "forward")],
        trials=20,
        hints=STEP_HINTS,
        verbose=verbose,
    )


# --- a whole GPT step, one cache per layer ----------------------------------------------------


def _gpt_step_reference(model, new_ids, caches):
    kv = [KVCache() for _ in caches]
    for cache, (k, v) in zip(kv, caches, strict=True):
        cache.k, cache.v = k, v
    with torch.no_grad():
        logits, _ = GPT.forward(model, new_ids, kv_caches=kv)
    return logits, [(cache.k, cache.v) for cache in kv]


def _gpt_step_variant(model, new_ids, caches, kind):
    """The logits of a GPT step with one of the usual mistakes."""
    start = 0 if kind == "positions_from_0" else caches[0][0].size(2)
    with torch.no_grad():
        x = model.tok_emb(new_ids) + model.positions(start, new_ids.size(1))
        for i, block in enumerate(model.blocks):
            cache = KVCache()
            cache.k, cache.v = caches[0 if kind == "first_cache" else i]
            y = block.attn(block.ln1(x), is_causal=True, kv_cache=cache)[0]
            x = y if kind == "no_residual" else x + y
            h = block.mlp(block.ln2(x))
            x = h if kind == "no_residual" else x + h
        return model.head(x if kind == "no_final_norm" else model.ln_f(x))


def _gpt_step_is(kind):
    def applies(args, got, expected):
        want = _gpt_step_variant(*args, kind)
        return isinstance(got, tuple | list) and _is_mistake(got[0], want, expected[0])

    return applies


GPT_STEP_HINTS = [
    Hint(
        lambda args, got, expected: not (isinstance(got, tuple | list) and len(got) == 2),
        "return two things: the logits (B, T_new, V) and the list of updated caches",
    ),
    Hint(
        _gpt_step_is("positions_from_0"),
        "the new tokens' positions start again at 0: they continue from the number of "
        "positions the caches already hold",
    ),
    Hint(
        _gpt_step_is("first_cache"),
        "every layer reads the first layer's cache: layer l has its own keys and values, caches[l]",
    ),
    Hint(
        _gpt_step_is("no_residual"),
        "the residual connections are missing: each sublayer's output must be ADDED to x",
    ),
    Hint(
        _gpt_step_is("no_final_norm"),
        "the final LayerNorm (model.ln_f) is missing before the output layer",
    ),
    Hint(
        lambda args, got, expected: (
            isinstance(got, tuple | list) and len(got) == 2 and _same(got[0], expected[0])
        ),
        "the logits are right, but the returned caches are not: return, for each layer, the "
        "keys and values your attention_step gave back (past and new positions)",
    ),
]


def _gpt_step_inputs(rng: random.Random):
    C, H = _heads(rng)
    V, L = rng.randint(5, 20), rng.randint(1, 3)
    B, T_past, T_new = rng.randint(1, 2), rng.randint(0, 6), rng.randint(1, 4)
    torch.manual_seed(rng.randrange(2**31))
    config = GPTConfig(vocab_size=V, block_size=16, n_layer=L, n_head=H, n_embd=C)
    model = _random_weights(GPT(config), std=0.3)
    caches = [tuple(torch.randn(2, B, H, T_past, C // H, dtype=torch.float64)) for _ in range(L)]
    return model, torch.randint(0, V, (B, T_new)), caches


def check_gpt_step(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(model, new_ids, caches) -> (logits, new_caches)``: a :class:`GPT` (learned
    positions, pre-norm, tied) reads ``new_ids`` ``(B, T_new)`` after the positions its caches
    hold; ``caches`` has one ``(k, v)`` pair ``(B, H, T_past, D)`` per layer. Calling the model,
    a block or an attention layer is "uses the library version"."""
    return _guarded_check(
        fn,
        _gpt_step_reference,
        _gpt_step_inputs,
        name="check_gpt_step",
        library=[KVCache.update, GPT.features],
        methods=[(GPT, "forward"), (GPT, "features"), (Block, "forward")]
        + [(MultiHeadAttention, "forward")],
        trials=10,
        hints=GPT_STEP_HINTS,
        verbose=verbose,
    )


# --- predict, then measure: blocks without residual connections -------------------------------

RESIDUAL_EXPLANATION = (
    "without residual connections each block REPLACES a position's vector instead of adding to "
    "it. At initialisation causal attention averages the positions before each one almost "
    "uniformly, and every layer averages those averages again, so the positions' vectors merge "
    "into nearly one direction (rank collapse: pure attention loses rank doubly exponentially "
    "with depth, Dong et al. 2021); the MLP works on each position alone and cannot pull them "
    "apart. With x + f(x) every position keeps its own embedding in the stream and each block "
    "only adds a correction, so the positions stay distinguishable at any depth, and the "
    "gradient keeps its direct path down"
)


def check_residual_prediction(prediction, measured: float, *, verbose: bool = True) -> bool:
    """The prediction of the mean cosine similarity between different positions' vectors at the
    top of a fresh stack without residual connections (right within 0.15)."""
    return check_prediction(
        prediction,
        measured,
        name="check_residual_prediction",
        explain=RESIDUAL_EXPLANATION,
        tolerance=0.15,
        verbose=verbose,
    )


__all__ = [
    "check_block_forward",
    "check_top_p",
    "check_attention_step",
    "check_gpt_step",
    "check_residual_prediction",
]
