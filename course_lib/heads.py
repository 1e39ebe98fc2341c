"""What an attention head does, as one number per head: head scores (lesson 05, and the
interpretability lesson that extends this module).

A score reads a head's weights and says how much of its attention follows one simple rule,
averaged over the query positions ``i`` where the rule applies:

* :func:`previous_token_score`: the weight on position ``i - 1``, the token just before;
* :func:`first_token_score`: the weight on position 0, the window's first token;
* :func:`line_start_score`: the weight on the first token of ``i``'s line (after a newline);
* :func:`duplicate_token_score`: the weight on earlier copies of token ``i``;
* :func:`induction_score`: the weight on the tokens that *followed* earlier copies of token
  ``i`` (on a repeated random sequence: :func:`induction_scores`).

Conventions used everywhere in this module:

* Weights have shape ``(..., T, T)``: the last two axes are queries and keys, row ``i`` is how
  query ``i`` spreads its attention (it sums to 1), e.g. ``(L, H, T, T)`` from
  :func:`course_lib.transformer.attention_maps`. Tensors and arrays are both accepted.
* A score is a float for one head ``(T, T)``, else an array of shape ``weights.shape[:-2]``
  (``(L, H)``: one per head). 1 means the head follows the rule perfectly, 0 never; where the
  rule applies to no query (a text without a newline has no line start), the score is NaN.
* **First token means position 0**, the first position of the window, not a line start: a
  model that reads windows cut anywhere in a text often parks the attention it does not need
  on position 0 (an "attention sink"; Xiao et al. 2023). Heads that jump back to the start of
  the current line are measured separately, by :func:`line_start_score`.
* Chance: a head that spreads its weight evenly over the positions it may see
  (:func:`uniform_causal`) scores about ``1 / (i + 1)`` per query: :func:`chance_scores` gives
  the exact value for a text, to print beside a score.
* The induction score (Olsson et al. 2022) is measured on a **repeated random sequence**
  (:func:`repeated_random_tokens`: ``n`` random tokens, then the same ``n`` again), where the
  only way to predict the second copy is to find the token's earlier occurrence and copy what
  came next: an induction head, at query ``i`` of the second copy, attends to position
  ``i - n + 1``. :func:`induction_scores` runs a GPT on such sequences.

:func:`model_head_scores` gives all five for every head of a GPT at once, ``(L, H)`` each.

numpy and torch only; :func:`induction_scores` and :func:`model_head_scores` use
:mod:`course_lib.transformer` (imported when called). Argument checks live in ``_check_*``
helpers at the end.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "SCORES",
    "previous_token_score",
    "first_token_score",
    "line_start_score",
    "duplicate_token_score",
    "induction_score",
    "head_scores",
    "chance_scores",
    "uniform_causal",
    "repeated_random_tokens",
    "induction_scores",
    "model_head_scores",
]

SCORES: dict[str, str] = {
    "previous": "previous-token score: the weight on the position just before",
    "first": "first-token score: the weight on position 0, the window's first token",
    "line_start": "line-start score: the weight on the first character of the current line",
    "duplicate": "duplicate-token score: the weight on earlier copies of the same token",
    "induction": "induction score: on a repeated random sequence, the weight on the token that "
    "followed the earlier copy of the current token",
}
"""Score name -> what it measures, in one line (the explorer's tooltips show it)."""


# --- scores on a fixed pattern of target positions --------------------------------------------


def previous_token_score(weights):
    """Mean weight that query ``i`` puts on position ``i - 1``, over ``i = 1 .. T-1``.

    Args:
        weights: ``(..., T, T)`` attention weights.
    Returns:
        a float for ``(T, T)``, else an array ``weights.shape[:-2]``.
    """
    w = _weights(weights)
    T = w.shape[-1]
    i = np.arange(1, T)
    return _out(w[..., i, i - 1].mean(-1) if T > 1 else _nan(w))


def first_token_score(weights):
    """Mean weight on position 0, over queries ``i = 1 .. T-1`` (query 0 can only read itself,
    so it is left out).

    Args:
        weights: ``(..., T, T)`` attention weights.
    Returns:
        a float for ``(T, T)``, else an array ``weights.shape[:-2]``.
    """
    w = _weights(weights)
    T = w.shape[-1]
    return _out(w[..., 1:, 0].mean(-1) if T > 1 else _nan(w))


def line_start_score(weights, tokens, newline: str = "\n"):
    """Mean weight on the first token of the query's own line.

    A line starts just after a ``newline`` token; query ``i`` counts when its line started
    inside the window and before ``i`` (so the line start is an earlier token, not ``i``
    itself). Position 0 is not a line start unless a newline precedes it: that is
    :func:`first_token_score`'s business.

    Args:
        weights: ``(..., T, T)`` attention weights.
        tokens: the ``T`` tokens (characters, or any values comparable with ``newline``).
    Returns:
        a float for ``(T, T)``, else an array ``weights.shape[:-2]`` (NaN without a line start
        before a query).
    """
    w = _weights(weights)
    tokens = _check_tokens(tokens, w)
    starts = np.full(len(tokens), -1)
    start = -1
    for i, tok in enumerate(tokens):
        starts[i] = start
        if tok == newline:
            start = i + 1
    queries = np.nonzero((starts >= 0) & (starts < np.arange(len(tokens))))[0]
    if len(queries) == 0:
        return _out(_nan(w))
    return _out(w[..., queries, starts[queries]].mean(-1))


# --- scores that depend on the tokens ---------------------------------------------------------


def duplicate_token_score(weights, tokens):
    """Total weight on earlier copies of the query's token, averaged over the queries that have
    one (a duplicate-token head finds "where did I see this before?").

    Args:
        weights: ``(..., T, T)`` attention weights.
        tokens: the ``T`` tokens (ids or strings).
    Returns:
        a float for ``(T, T)``, else an array ``weights.shape[:-2]``.
    """
    w = _weights(weights)
    tokens = _check_tokens(tokens, w)
    same = np.equal.outer(tokens, tokens)  # (T, T): key j holds query i's token
    return _masked_mean(w, np.tril(same, k=-1))


def induction_score(weights, tokens):
    """Total weight on the tokens that followed earlier copies of the query's token, averaged
    over the queries that have such a token before them.

    For query ``i`` the targets are the positions ``j + 1`` where ``tokens[j] == tokens[i]``,
    ``j < i`` and ``j + 1 < i`` (the query itself is not a target). On a repeated random
    sequence (:func:`repeated_random_tokens`) with distinct tokens in each copy, query ``i`` of
    the second copy has one target, ``i - n + 1``, and a perfect induction head scores 1.

    Args:
        weights: ``(..., T, T)`` attention weights.
        tokens: the ``T`` tokens (ids or strings).
    Returns:
        a float for ``(T, T)``, else an array ``weights.shape[:-2]``.
    """
    w = _weights(weights)
    tokens = _check_tokens(tokens, w)
    T = len(tokens)
    same = np.tril(np.equal.outer(tokens, tokens), k=-1)  # same[i, j]: j < i holds i's token
    targets = np.zeros((T, T), dtype=bool)
    targets[:, 1:] = same[:, :-1]  # the position after each earlier copy
    targets &= np.tri(T, k=-1, dtype=bool)  # ... when it is before the query
    return _masked_mean(w, targets)


def head_scores(weights, tokens) -> dict[str, np.ndarray | float]:
    """Every score of :data:`SCORES` that a text alone can give (all but ``"induction"``, which
    needs a repeated random sequence: :func:`induction_scores`).

    Args:
        weights: ``(..., T, T)``, e.g. ``(L, H, T, T)`` for one text.
        tokens: its ``T`` tokens.
    Returns:
        ``{"previous": ..., "first": ..., "line_start": ..., "duplicate": ...}``, each a float
        or an array ``weights.shape[:-2]``.
    """
    return {
        "previous": previous_token_score(weights),
        "first": first_token_score(weights),
        "line_start": line_start_score(weights, tokens),
        "duplicate": duplicate_token_score(weights, tokens),
    }


def chance_scores(tokens) -> dict[str, float]:
    """The scores of a head that spreads its weight evenly over the positions it may see
    (:func:`uniform_causal`), on ``tokens``: what a score means nothing below. Same keys as
    :func:`head_scores`, plus ``"induction"`` (on ``tokens``)."""
    u = uniform_causal(len(tokens))
    out = head_scores(u, tokens)
    out["induction"] = induction_score(u, tokens)
    return {k: float(v) for k, v in out.items()}


# --- patterns and sequences to score on -------------------------------------------------------


def uniform_causal(T: int) -> np.ndarray:
    """``(T, T)``: query ``i`` puts ``1 / (i + 1)`` on each of positions ``0 .. i`` (a causal
    head that does not choose: the chance pattern)."""
    _check_length(T)
    return np.tri(T) / np.arange(1, T + 1)[:, None]


def repeated_random_tokens(n: int, vocab_size: int, seed: int = 0) -> np.ndarray:
    """``(2n,)`` token ids: ``n`` random ids, then the same ``n`` again (the induction test).

    The ``n`` ids are distinct when ``n <= vocab_size`` (then every query of the second copy
    has exactly one earlier occurrence), drawn with repeats otherwise."""
    _check_length(n)
    rng = np.random.default_rng(seed)
    first = rng.choice(vocab_size, size=n, replace=n > vocab_size)
    return np.concatenate([first, first])


def induction_scores(model, n: int | None = None, n_sequences: int = 4, seed: int = 0):
    """The induction score of every head of a GPT, ``(L, H)``: the model reads
    ``n_sequences`` repeated random sequences (:func:`repeated_random_tokens`, ``n`` tokens
    twice; default ``n = block_size // 2``, so they fill the window) and the scores are
    averaged. Chance is about ``log(2) / n``: :func:`chance_scores` on one of the sequences."""
    import torch

    from .transformer import attention_maps

    n = model.config.block_size // 2 if n is None else n
    _check_fits(n, model.config.block_size)
    seqs = np.stack(
        [repeated_random_tokens(n, model.config.vocab_size, seed + k) for k in range(n_sequences)]
    )
    maps = attention_maps(model, torch.as_tensor(seqs))  # (S, L, H, 2n, 2n)
    return np.mean([induction_score(m, s) for m, s in zip(maps, seqs, strict=True)], axis=0)


def model_head_scores(
    model, ids, tokens=None, *, n: int | None = None, n_sequences: int = 4, seed: int = 0
):
    """Every score of :data:`SCORES` for every head of a GPT, each ``(L, H)``: the text scores
    (:func:`head_scores`) on the model reading ``ids`` ``(T,)``, and ``"induction"`` on repeated
    random sequences (:func:`induction_scores`, arguments ``n``, ``n_sequences``, ``seed``).

    ``tokens`` are the ``T`` tokens the text scores compare (default: ``ids``); pass the text
    itself (its characters) for a character model, so that :func:`line_start_score` finds the
    newlines.

    Returns:
        ``{"previous", "first", "line_start", "duplicate", "induction"}`` -> ``(L, H)`` arrays.
    """
    import torch

    from .transformer import attention_maps

    ids = torch.as_tensor(ids, dtype=torch.long)
    _check_one_sequence(ids)
    out = head_scores(attention_maps(model, ids), ids if tokens is None else tokens)  # (L, H, T, T)
    out["induction"] = induction_scores(model, n=n, n_sequences=n_sequences, seed=seed)
    return {k: np.asarray(v) for k, v in out.items()}


# --- helpers ----------------------------------------------------------------------------------


def _weights(weights) -> np.ndarray:
    if hasattr(weights, "detach"):
        weights = weights.detach().cpu().double().numpy()
    w = np.asarray(weights, dtype=float)
    _check_square(w)
    return w


def _masked_mean(w: np.ndarray, targets: np.ndarray):
    """Mean over the queries with at least one target of their total weight on the targets."""
    queries = targets.any(-1)
    if not queries.any():
        return _out(_nan(w))
    per_query = (w * targets).sum(-1)  # (..., T)
    return _out(per_query[..., queries].mean(-1))


def _nan(w: np.ndarray):
    return np.full(w.shape[:-2], np.nan)


def _out(x):
    return float(x) if np.ndim(x) == 0 else np.asarray(x)


def _check_square(w: np.ndarray) -> None:
    if w.ndim < 2 or w.shape[-1] != w.shape[-2]:
        raise ValueError(
            f"weights must end in (T, T) (queries, keys of one self-attention), got {w.shape}"
        )


def _check_tokens(tokens, w: np.ndarray) -> np.ndarray:
    if hasattr(tokens, "detach"):
        tokens = tokens.detach().cpu().numpy()
    tokens = np.asarray(list(tokens) if isinstance(tokens, str) else tokens)
    if tokens.ndim != 1 or len(tokens) != w.shape[-1]:
        raise ValueError(
            f"tokens must be the T = {w.shape[-1]} tokens of the weights' text, "
            f"got shape {tokens.shape}"
        )
    return tokens


def _check_one_sequence(ids) -> None:
    if ids.dim() != 1:
        raise ValueError(f"ids must be one sequence of T token ids (T,), got {tuple(ids.shape)}")


def _check_length(n: int) -> None:
    if n < 1:
        raise ValueError(f"the length must be at least 1, got {n}")


def _check_fits(n: int, block_size: int) -> None:
    if 2 * n > block_size:
        raise ValueError(
            f"two copies of n = {n} tokens do not fit in the block size {block_size}: "
            f"use n <= {block_size // 2}"
        )
