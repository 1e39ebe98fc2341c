"""Checks for lesson 08's exercises: an induction score from an attention pattern, a hook that
switches one head off, the logit lens, and the "predict, then measure" experiment on which head's
ablation hurts repeated text most.

Each check runs the learner's function and the reference (:func:`course_lib.heads.induction_score`,
the head slice that :func:`course_lib.interpret.ablate_heads` zeroes,
:func:`course_lib.interpret.logit_lens`) on fresh random inputs, prints a one-line verdict, and on
failure a hint aimed at the usual mistake (never the solution). An answer that calls the
library's version gets "uses the library version".
"""

from __future__ import annotations

import numpy as np
import torch

from ..heads import duplicate_token_score, induction_score
from ..interpret import logit_lens
from ..transformer import GPT, GPTConfig
from . import Hint, check_function, check_prediction, off_by_one

__all__ = [
    "check_induction_score",
    "check_zero_head",
    "check_logit_lens",
    "check_ablation_prediction",
]


def _close(got, want) -> bool:
    try:
        g = np.asarray(got.detach() if hasattr(got, "detach") else got, dtype=float)
        w = np.asarray(want.detach() if hasattr(want, "detach") else want, dtype=float)
    except (TypeError, ValueError):
        return False
    return g.shape == w.shape and bool(np.allclose(g, w, atol=1e-6, equal_nan=True))


def _is(mistake):
    """A hint's test: the learner's result is what ``mistake(*args)`` gives, and on this input
    the mistake differs from the right answer."""

    def applies(args, got, expected):
        wrong = mistake(*args)
        return _close(got, wrong) and not _close(wrong, expected)

    return applies


# --- an induction score from an attention pattern ---------------------------------------------


def _random_pattern(rng, T: int) -> np.ndarray:
    """``(T, T)`` causal attention weights, rows summing to 1, peaked at random places."""
    g = np.random.default_rng(rng.randrange(2**31))
    scores = g.normal(size=(T, T)) * 3.0
    scores[np.triu_indices(T, 1)] = -np.inf
    w = np.exp(scores - scores.max(-1, keepdims=True))
    return w / w.sum(-1, keepdims=True)


def _induction_inputs(rng):
    n = rng.randint(3, 10)
    first = rng.sample(range(30), n)
    tokens = np.array(first + first)
    if rng.random() < 0.5:  # a token seen twice before the repeat: several targets per query
        tokens[rng.randrange(1, n)] = tokens[0]
    return _random_pattern(rng, 2 * n), tokens


def _induction_reference(weights, tokens):
    return induction_score(weights, tokens)


def _induction_including_query(weights, tokens):
    """The position after an earlier copy counted even when it is the query itself."""
    T = len(tokens)
    same = np.tril(np.equal.outer(tokens, tokens), k=-1)
    targets = np.zeros((T, T), dtype=bool)
    targets[:, 1:] = same[:, :-1]
    targets &= np.tri(T, dtype=bool)
    queries = targets.any(-1)
    return float((weights * targets).sum(-1)[queries].mean())


def _induction_over_all_queries(weights, tokens):
    """The total weight on the targets averaged over every query, those without a target too."""
    T = len(tokens)
    same = np.tril(np.equal.outer(tokens, tokens), k=-1)
    targets = np.zeros((T, T), dtype=bool)
    targets[:, 1:] = same[:, :-1]
    targets &= np.tri(T, k=-1, dtype=bool)
    return float((weights * targets).sum(-1).mean())


def _induction_token_before(weights, tokens):
    """The weight on the token *before* each earlier copy."""
    T = len(tokens)
    same = np.tril(np.equal.outer(tokens, tokens), k=-1)
    targets = np.zeros((T, T), dtype=bool)
    targets[:, :-1] = same[:, 1:]
    queries = targets.any(-1)
    return float((weights * targets).sum(-1)[queries].mean()) if queries.any() else float("nan")


INDUCTION_HINTS = [
    Hint(
        _is(lambda w, t: duplicate_token_score(w, t)),
        "you measured the weight on the earlier copy of the query's token itself (a "
        "duplicate-token head). An induction head looks one position further: at the token "
        "that FOLLOWED the earlier copy",
    ),
    Hint(
        _is(_induction_token_before),
        "you measured the weight on the token BEFORE each earlier copy: the target is the one "
        "after it (j + 1 for an earlier copy at j)",
    ),
    Hint(
        _is(_induction_over_all_queries),
        "you averaged over every query, also those with no earlier copy (the whole first "
        "copy): average only over the queries that have at least one target",
    ),
    Hint(
        _is(_induction_including_query),
        "a target equal to the query itself was counted (an earlier copy just before the "
        "query): keep only targets j + 1 < i",
    ),
]


def check_induction_score(fn, *, trials: int = 20, verbose: bool = True) -> bool:
    """Check ``fn(weights, tokens) -> float``, one head's induction score on a ``(T, T)`` pattern
    and its ``T`` tokens, against :func:`course_lib.heads.induction_score`."""
    return check_function(
        fn,
        _induction_reference,
        _induction_inputs,
        name="check_induction_score",
        trials=trials,
        hints=INDUCTION_HINTS,
        library=[induction_score],
        verbose=verbose,
    )


# --- a hook that zeroes one head ---------------------------------------------------------------


def _zero_head_inputs(rng):
    H = rng.choice([2, 3, 4])
    D = rng.choice([2, 3, 5])
    B, T = rng.randint(1, 3), rng.randint(2, 6)
    g = torch.Generator().manual_seed(rng.randrange(2**31))
    return torch.randn(B, T, H * D, generator=g, dtype=torch.float64), rng.randrange(H), H


def _zero_head_reference(x, head, n_head):
    z = x.clone().view(*x.shape[:-1], n_head, x.size(-1) // n_head)  # (B, T, H, D)
    z[..., head, :] = 0.0
    return z.view(x.shape)


def _zero_channel(x, head, n_head):
    x = x.clone()
    x[..., head] = 0.0
    return x


def _zero_interleaved(x, head, n_head):
    x = x.clone()
    x[..., head::n_head] = 0.0
    return x


def _zero_position(x, head, n_head):
    x = x.clone()
    x[:, head] = 0.0
    return x


def _zero_others(x, head, n_head):
    return x - _zero_head_reference(x, head, n_head)


ZERO_HEAD_HINTS = [
    Hint(
        _is(_zero_channel),
        "you zeroed one channel: a head owns D = C / n_head channels, the slice "
        "head * D .. (head + 1) * D",
    ),
    Hint(
        _is(_zero_interleaved),
        "you zeroed every n_head-th channel: merge_heads puts each head's D channels side by "
        "side, so head h is the contiguous slice h * D .. (h + 1) * D",
    ),
    Hint(
        _is(_zero_position),
        "you zeroed a position (axis 1 is T): the heads sit in the last axis, the channels",
    ),
    Hint(
        _is(_zero_others), "you kept only that head and zeroed all the others: the other way round"
    ),
]


def check_zero_head(fn, *, trials: int = 20, verbose: bool = True) -> bool:
    """Check ``fn(x, head, n_head) -> x'``: the input of ``out_proj`` ``(B, T, C)`` (the heads'
    outputs side by side) with head ``head``'s slice set to zero, everything else unchanged."""
    return check_function(
        fn,
        _zero_head_reference,
        _zero_head_inputs,
        name="check_zero_head",
        trials=trials,
        hints=ZERO_HEAD_HINTS,
        verbose=verbose,
    )


# --- the logit lens ------------------------------------------------------------------------------


def _lens_inputs(rng):
    torch.manual_seed(rng.randrange(2**31))
    config = GPTConfig(
        vocab_size=rng.randint(5, 12),
        block_size=12,
        n_layer=rng.randint(1, 3),
        n_head=2,
        n_embd=8,
        mlp=rng.random() < 0.5,
    )
    model = GPT(config).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(std=0.4)
    T = rng.randint(2, 12)
    return model, torch.randint(0, config.vocab_size, (T,))


def _streams(model, ids):
    with torch.no_grad():
        x = model.tok_emb(ids[None]) + model.positions(0, len(ids))
        out = [x]
        for block in model.blocks:
            x = block(x)
            out.append(x)
    return out


def _lens_reference(model, ids):
    return logit_lens(model, ids)


def _lens_without_ln_f(model, ids):
    with torch.no_grad():
        return torch.stack([model.head(s)[0] for s in _streams(model, ids)])


def _lens_without_embeddings(model, ids):
    with torch.no_grad():
        return torch.stack([model.head(model.ln_f(s))[0] for s in _streams(model, ids)[1:]])


LENS_HINTS = [
    Hint(
        _is(_lens_without_ln_f),
        "the streams went straight into the output layer: the model always applies the final "
        "LayerNorm (model.ln_f) first, and the lens must read each stream the same way",
    ),
    Hint(
        _is(_lens_without_embeddings),
        "the first row, the embeddings before any block (token + position), is missing: "
        "L + 1 rows in all",
    ),
    off_by_one(),
]


def check_logit_lens(fn, *, trials: int = 8, verbose: bool = True) -> bool:
    """Check ``fn(model, ids) -> (L + 1, T, V)``, the logit lens of a GPT on ``(T,)`` ids,
    against :func:`course_lib.interpret.logit_lens` (random small GPTs, float64)."""
    return check_function(
        fn,
        _lens_reference,
        _lens_inputs,
        name="check_logit_lens",
        trials=trials,
        hints=LENS_HINTS,
        library=[logit_lens],
        verbose=verbose,
    )


# --- predict, then measure: which head's ablation hurts repeated text most -----------------------

ABLATION_EXPLANATION = (
    "on the second copy of a repeated random segment the only way to predict is to find the "
    "current token's earlier copy and read what came next. Two steps do that: a previous-token "
    "head in layer 0 and induction heads in layer 1 whose keys read its output. If layer 0 has "
    "only one previous-token head, taking it away breaks every induction head at once, so it "
    "can cost the most; if several layer-1 heads share the copying, the best-scoring one costs "
    "less than you might expect. Other heads may matter too: compare them in the table. "
    "On ordinary text the ranking is different (the table's text columns): there other heads "
    "carry the plain next-character statistics."
)


def check_ablation_prediction(prediction, measured, heads, *, verbose: bool = True) -> bool:
    """The prediction of which head, as ``(layer, head)``, raises the loss on repeated text most
    when zero-ablated; ``heads`` are the choices."""
    return check_prediction(
        None if prediction is None else tuple(prediction),
        tuple(measured),
        name="check_ablation_prediction",
        explain=ABLATION_EXPLANATION,
        choices=[tuple(h) for h in heads],
        verbose=verbose,
    )
