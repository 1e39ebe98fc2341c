"""Checks for lesson 05's exercises: a transformer block's forward pass, the parameter count of
the lesson's GPT, and top-k sampling probabilities.

Each check runs the learner's function and the reference on fresh random inputs, prints a
one-line verdict, and on failure a hint aimed at the usual mistake (never the solution).
"""

from __future__ import annotations

import random

import torch
from torch import nn

from ..sampling import next_token_probs
from ..transformer import Block, GPTConfig, num_parameters_formula
from . import Hint, check_function

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
        want = _block_variant(*args, kind)
        return (
            isinstance(got, torch.Tensor)
            and got.shape == want.shape
            and torch.allclose(got.to(want.dtype), want, atol=1e-6)
        )

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
    C = rng.choice([8, 12, 16])
    H = rng.choice([h for h in (1, 2, 4) if C % h == 0])
    B, T = rng.randint(1, 3), rng.randint(2, 9)
    torch.manual_seed(rng.randrange(2**31))
    block = Block(GPTConfig(vocab_size=5, block_size=16, n_layer=1, n_head=H, n_embd=C))
    block = block.double().eval()
    with torch.no_grad():
        for p in block.parameters():
            nn.init.normal_(p, std=0.4)
    return block, torch.randn(B, T, C, dtype=torch.float64)


def check_block_forward(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(block, x) -> y``, the pre-norm block's forward pass, against
    :class:`course_lib.transformer.Block` on random sizes (``x`` ``(B, T, C)``, float64)."""
    return check_function(
        fn,
        _block_reference,
        _block_inputs,
        name="check_block_forward",
        trials=10,
        hints=BLOCK_HINTS,
        verbose=verbose,
    )


# --- counting parameters ----------------------------------------------------------------------


def _count_reference(vocab_size, block_size, n_layer, n_embd):
    return num_parameters_formula(
        GPTConfig(
            vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=1, n_embd=n_embd
        )
    )


def _count_is(delta):
    def applies(args, got, expected):
        V, T, L, C = args
        return isinstance(got, int | float) and got - expected == delta(V, T, L, C)

    return applies


COUNT_HINTS = [
    Hint(
        _count_is(lambda V, T, L, C: V * C),
        "the output layer is counted on its own, but it is tied: it reuses the token "
        "embedding's (V, C) matrix, so those parameters count once",
    ),
    Hint(
        _count_is(lambda V, T, L, C: -T * C),
        "the learned position embedding (block_size x n_embd) is missing",
    ),
    Hint(
        _count_is(lambda V, T, L, C: -V * C),
        "the token embedding (vocab_size x n_embd) is missing",
    ),
    Hint(
        _count_is(lambda V, T, L, C: -9 * L * C),
        "the biases of the linear layers are missing: 4 projections of C each in the "
        "attention, 4C + C in the MLP",
    ),
    Hint(
        _count_is(lambda V, T, L, C: -(4 * L + 2) * C),
        "the LayerNorms are missing: each has a gain and a bias of C numbers; two per block and "
        "one at the end",
    ),
    Hint(
        _count_is(lambda V, T, L, C: -2 * C),
        "the final LayerNorm (before the output layer) is missing",
    ),
    Hint(
        _count_is(lambda V, T, L, C: -4 * L * C * C),
        "the MLP counts C*4C too few weights per block: it has two matrices, C x 4C and 4C x C",
    ),
    Hint(
        _count_is(lambda V, T, L, C: -L * C * C),
        "the attention is missing one C x C matrix per block: queries, keys, values AND the "
        "output projection",
    ),
]


def _count_inputs(rng: random.Random):
    return (rng.randint(2, 300), rng.randint(1, 512), rng.randint(1, 12), rng.choice(range(2, 200)))


def check_parameter_count(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(vocab_size, block_size, n_layer, n_embd) -> int``, the parameter count of the
    lesson's GPT (learned positions, biases, pre-norm, tied output layer)."""
    return check_function(
        fn,
        _count_reference,
        [(77, 128, 4, 128)] + [_count_inputs(random.Random(i)) for i in range(20)],
        name="check_parameter_count",
        hints=COUNT_HINTS,
        verbose=verbose,
    )


# --- top-k sampling ---------------------------------------------------------------------------


def _top_k_reference(logits, k):
    return next_token_probs(logits, top_k=k)


def _top_k_variant(logits, k, kind):
    if kind == "not_renormalised":
        probs = logits.softmax(-1)
        kth = logits.topk(k, dim=-1).values[..., -1:]
        return probs.masked_fill(logits < kth, 0.0)
    if kind == "smallest":
        kth = (-logits).topk(k, dim=-1).values[..., -1:]
        return logits.masked_fill(-logits < kth, float("-inf")).softmax(-1)
    if kind in ("k_plus_1", "k_minus_1"):
        kk = k + 1 if kind == "k_plus_1" else k - 1
        if not 1 <= kk <= logits.size(-1):
            return None
        return next_token_probs(logits, top_k=kk)
    if kind == "zeroed_logits":  # zero instead of -inf: the dropped tokens keep some mass
        kth = logits.topk(k, dim=-1).values[..., -1:]
        return logits.masked_fill(logits < kth, 0.0).softmax(-1)
    raise ValueError(kind)


def _top_k_is(kind):
    def applies(args, got, expected):
        want = _top_k_variant(*args, kind)
        return (
            want is not None
            and isinstance(got, torch.Tensor)
            and got.shape == want.shape
            and torch.allclose(got.to(want.dtype), want, atol=1e-6)
        )

    return applies


TOP_K_HINTS = [
    Hint(
        _top_k_is("not_renormalised"),
        "the kept probabilities do not sum to 1: zeroing the others after the softmax leaves "
        "them un-normalised. Mask the logits (to -inf) before the softmax, or divide by the sum",
    ),
    Hint(
        _top_k_is("zeroed_logits"),
        "the dropped tokens still get probability: a logit of 0 is not 'impossible'. Set the "
        "dropped logits to -inf so the softmax gives them exactly 0",
    ),
    Hint(_top_k_is("smallest"), "you kept the k LEAST likely tokens: keep the k largest logits"),
    Hint(
        _top_k_is("k_plus_1"),
        "one token too many is kept: keep exactly k (compare with the k-th largest logit)",
    ),
    Hint(
        _top_k_is("k_minus_1"),
        "one token too few is kept: the k-th largest logit itself must stay (use >=, not >)",
    ),
    Hint(
        lambda args, got, expected: isinstance(got, torch.Tensor) and bool(got.isnan().any()),
        "some probabilities are NaN: in some row every logit was set to -inf, so nothing was "
        "kept. The k-th largest logit itself must stay (keep logits >= it)",
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


def _top_k_inputs(rng: random.Random):
    B, V = rng.randint(1, 4), rng.randint(2, 12)
    g = torch.Generator().manual_seed(rng.randrange(2**31))
    return 3 * torch.randn(B, V, generator=g, dtype=torch.float64), rng.randint(1, V)


def check_top_k(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(logits, k) -> probs``: the next-token distribution restricted to the ``k``
    largest logits of each row (``logits`` ``(B, V)``, float64, ties impossible)."""
    return check_function(
        fn,
        _top_k_reference,
        _top_k_inputs,
        name="check_top_k",
        trials=25,
        hints=TOP_K_HINTS,
        verbose=verbose,
    )
