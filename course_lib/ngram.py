"""Count-based language models: n-grams of characters (or any token ids), with smoothing.

An n-gram model predicts the next token from the ``n - 1`` tokens before it, by counting how
often each continuation followed that context in the training text. Unseen events need
*smoothing*, or one unseen character costs an infinite loss:

- ``"add_k"``: add ``k`` to every count (Laplace smoothing for ``k = 1``); simple, and poor
  for large ``n``, where most contexts are rare or unseen.
- ``"kneser_ney"``: interpolated Kneser-Ney (Kneser & Ney 1995; Chen & Goodman 1998), the
  classic best count-based method: subtract a discount ``d`` from every seen count and give the
  freed probability to the order-``n - 1`` model, whose counts are *continuation* counts (in how
  many different contexts a token sequence appears).

Everything is vectorised with NumPy: an m-gram of ids is one int64 code ``sum(id * V**i)``, so
counting is ``np.unique`` and lookup is ``np.searchsorted``. Fitting all orders up to 8 on the
1 M characters of tiny Shakespeare takes about a second.

``shakespeare_ngram_loss(n)`` is the number the comparison tables in lessons 03 and 05 quote.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SMOOTHINGS = ("add_k", "kneser_ney")


def _as_ids(ids, vocab_size: int, name: str = "ids") -> np.ndarray:
    a = np.asarray(ids, dtype=np.int64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of token ids, got shape {a.shape}")
    if a.size and (a.min() < 0 or a.max() >= vocab_size):
        raise ValueError(
            f"{name} holds ids outside 0..{vocab_size - 1} (min {a.min()}, max {a.max()}): "
            "encode with the tokenizer whose vocab_size you passed"
        )
    return a


def ngram_codes(ids: np.ndarray, m: int, vocab_size: int) -> np.ndarray:
    """One int64 code per m-gram of ``ids``: ``codes[j]`` encodes ``ids[j : j + m]``, most recent
    token in the lowest digit, so ``code // V`` is the code of the context (the first ``m - 1``
    tokens) and ``code % V`` is the last token. Shape ``(len(ids) - m + 1,)``."""
    n = len(ids) - m + 1
    codes = np.zeros(max(n, 0), dtype=np.int64)
    for i in range(m):
        codes = codes * vocab_size + ids[i : i + n]
    return codes


def _lookup(table_keys: np.ndarray, table_values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """``table_values`` at ``keys`` (0 where a key is absent); ``table_keys`` sorted."""
    if table_keys.size == 0:
        return np.zeros(keys.shape, dtype=table_values.dtype)
    pos = np.searchsorted(table_keys, keys).clip(max=table_keys.size - 1)
    return np.where(table_keys[pos] == keys, table_values[pos], 0)


@dataclass
class _Order:
    """Counts of one order m: ``keys`` the sorted m-gram codes and ``counts`` their (raw or
    continuation) counts; per context: ``ctx_keys``, ``ctx_total`` (sum of counts) and
    ``ctx_types`` (number of distinct continuations)."""

    keys: np.ndarray
    counts: np.ndarray
    ctx_keys: np.ndarray
    ctx_total: np.ndarray
    ctx_types: np.ndarray


def _order_from(keys: np.ndarray, counts: np.ndarray, vocab_size: int) -> _Order:
    ctx = keys // vocab_size  # sorted, since keys are sorted and ctx is the high digits
    ctx_keys, start, ctx_types = np.unique(ctx, return_index=True, return_counts=True)
    ctx_total = np.add.reduceat(counts, start) if counts.size else counts
    return _Order(keys, counts, ctx_keys, ctx_total, ctx_types)


class NGramLM:
    """An n-gram language model over ids ``0..vocab_size-1``, fitted by counting.

    >>> lm = NGramLM(n=3, vocab_size=V).fit(train_ids)
    >>> lm.loss(val_ids)            # mean -ln P(next | previous n-1), nats per token
    >>> lm.probs(context_ids)       # (V,) next-token distribution

    Args:
        n: the order: 1 is unigram (no context), 2 bigram, ...
        vocab_size: V.
        smoothing: ``"kneser_ney"`` (interpolated, default) or ``"add_k"``.
        k: the pseudo-count added to every count with ``"add_k"``.
        discount: Kneser-Ney's ``d`` in (0, 1); ``None`` estimates it per order from the counts
            of counts, ``d = n1 / (n1 + 2 n2)`` (Ney, Essen & Kneser 1994).
    """

    def __init__(
        self,
        n: int,
        vocab_size: int,
        *,
        smoothing: str = "kneser_ney",
        k: float = 1.0,
        discount: float | None = None,
    ):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be an int >= 1 (1 = unigram, 2 = bigram, ...), got {n!r}")
        if n > 1 and vocab_size ** (n - 1) > 2**62 // vocab_size:
            raise ValueError(
                f"n={n} is too large for vocab_size={vocab_size}: codes overflow int64"
            )
        if vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")
        if smoothing not in SMOOTHINGS:
            raise ValueError(f"smoothing must be one of {SMOOTHINGS}, got {smoothing!r}")
        if smoothing == "add_k" and not k > 0:
            raise ValueError(
                f"add-k smoothing needs k > 0 (k = 0 gives zero probabilities), got {k}"
            )
        if discount is not None and not 0 < discount < 1:
            raise ValueError(f"discount must be in (0, 1), got {discount}")
        self.n, self.vocab_size, self.smoothing = n, vocab_size, smoothing
        self.k, self.discount = float(k), discount
        self.orders: list[_Order] = []  # orders[m - 1] for m = 1..n
        self.discounts: list[float] = []

    # --- fitting ------------------------------------------------------------------------------

    def fit(self, ids) -> NGramLM:
        """Count every m-gram of ``ids`` for m = 1..n. Returns ``self``."""
        ids = _as_ids(ids, self.vocab_size)
        if len(ids) < self.n:
            raise ValueError(f"need at least n={self.n} tokens to fit, got {len(ids)}")
        V = self.vocab_size
        raw = [np.unique(ngram_codes(ids, m, V), return_counts=True) for m in range(1, self.n + 1)]
        self.orders, self.discounts = [], []
        for m in range(1, self.n + 1):
            keys, counts = raw[m - 1]
            if self.smoothing == "kneser_ney" and m < self.n:
                # Continuation count of an m-gram: how many distinct tokens precede it, i.e. how
                # many distinct (m+1)-grams end with it. Dropping the (m+1)-gram's first token is
                # `code % V**m` (the first token is the highest digit).
                suffixes = raw[m][0] % V**m
                keys, counts = np.unique(suffixes, return_counts=True)
            self.orders.append(_order_from(keys, counts.astype(np.int64), V))
            if self.smoothing == "kneser_ney":
                if self.discount is not None:
                    d = self.discount
                else:
                    n1, n2 = np.sum(counts == 1), np.sum(counts == 2)
                    d = float(n1 / (n1 + 2 * n2)) if n1 + n2 else 0.5
                self.discounts.append(min(max(d, 0.05), 0.95))
        return self

    def _check_fitted(self):
        if not self.orders:
            raise RuntimeError("this NGramLM is not fitted yet: call .fit(train_ids) first")

    # --- probabilities ------------------------------------------------------------------------

    def _prob_at(self, m: int, ctx: np.ndarray, tok: np.ndarray, lower: np.ndarray) -> np.ndarray:
        """P_m(tok | ctx) for arrays of context codes and tokens, given P_{m-1} = ``lower``."""
        o, V = self.orders[m - 1], self.vocab_size
        count = _lookup(o.keys, o.counts, ctx * V + tok).astype(np.float64)
        total = _lookup(o.ctx_keys, o.ctx_total, ctx).astype(np.float64)
        if self.smoothing == "add_k":
            return (count + self.k) / (total + self.k * V)
        types = _lookup(o.ctx_keys, o.ctx_types, ctx).astype(np.float64)
        d = self.discounts[m - 1]
        seen = total > 0
        safe = np.where(seen, total, 1.0)
        p = np.maximum(count - d, 0.0) / safe + d * types / safe * lower
        return np.where(seen, p, lower)  # an unseen context backs off entirely

    def _score(self, hist: np.ndarray, tok: np.ndarray) -> np.ndarray:
        """P(tok | history) for a batch: ``hist`` is ``(N, n-1)`` with ``hist[:, j]`` the token
        ``j + 1`` steps back (-1 where the text has not started yet); ``tok`` is ``(N,)``."""
        V = self.vocab_size
        p = np.full(len(tok), 1.0 / V)  # order 0: uniform
        ctx = np.zeros(len(tok), dtype=np.int64)
        # Build P_1, P_2, ... P_n bottom up; each position stops at the longest context it has.
        # Kneser-Ney interpolates with the order below; add-k simply replaces it.
        for m in range(1, self.n + 1):
            if m == 1:
                ok = np.ones(len(tok), dtype=bool)
            else:  # extend every context one more token back in time
                back = hist[:, m - 2]
                ok = back >= 0
                ctx = np.where(ok, back.clip(min=0) * V ** (m - 2) + ctx, ctx)
            p = np.where(ok, self._prob_at(m, ctx, tok, p), p)
        return p

    def log_probs(self, ids) -> np.ndarray:
        """``ln P(ids[t] | ids[max(0, t-n+1):t])`` for t = 1..len-1, shape ``(len(ids) - 1,)``.

        Position t uses all the context it has (fewer than n - 1 tokens near the start), so
        every token after the first is scored: the same positions for every n."""
        self._check_fitted()
        ids = _as_ids(ids, self.vocab_size)
        last = np.arange(len(ids) - 1)  # the token before each prediction
        hist = self._histories(ids, last, np.zeros_like(last))
        return np.log(self._score(hist, ids[1:]))

    def _histories(self, ids: np.ndarray, last: np.ndarray, first: np.ndarray) -> np.ndarray:
        """The ``(K, n-1)`` history ``_score`` reads for K predictions: prediction k follows
        ``ids[last[k]]`` and may see back to ``ids[first[k]]``; ``hist[k, j] = ids[last[k] - j]``,
        or -1 (not started yet) before ``first[k]``."""
        back = last[:, None] - np.arange(self.n - 1)  # (K, n-1) indices into ids
        return np.where(back >= first[:, None], ids[back.clip(min=0)], -1)

    def loss(self, ids) -> float:
        """Mean cross-entropy in nats per token on ``ids`` (every token after the first)."""
        return float(-self.log_probs(ids).mean())

    def loss_by_position(self, ids, block_size: int) -> np.ndarray:
        """The mean cross-entropy (nats) at each position of a window, the count-based
        counterpart of :func:`course_lib.train.loss_by_position`: the same windows
        ``x = ids[i T : (i + 1) T]``, ``y = ids[i T + 1 : (i + 1) T + 1]`` (``T = block_size``,
        every full window), and the model sees only its window, as a GPT does. At position ``p``
        it knows the ``p + 1`` tokens ``x[0 .. p]``, so it uses the last ``min(p + 1, n - 1)``
        of them: order ``min(p + 2, n)``, backing off as at the start of a text. Each window is
        scored as if it were a text of its own (the curve's mean is the mean of
        ``-log_probs(window)`` over the windows).

        Returns:
            ``(block_size,)``: entry ``p`` is the mean over all windows of ``-ln P(y[p] | x[..p])``.
            From position ``n - 2`` on the model has all the context it can use: the curve is
            flat there, up to the noise of which windows hold which text.
        """
        self._check_fitted()
        ids = _as_ids(ids, self.vocab_size)
        _check_block_size(block_size, len(ids))
        T = block_size
        n_windows = (len(ids) - 1) // T
        first = np.repeat(np.arange(n_windows) * T, T)  # each prediction's window start
        last = first + np.tile(np.arange(T), n_windows)  # the token before it
        p = self._score(self._histories(ids, last, first), ids[last + 1])
        return -np.log(p).reshape(n_windows, T).mean(axis=0)

    def probs(self, context=()) -> np.ndarray:
        """The next-token distribution after ``context`` (a sequence of ids; only its last
        ``n - 1`` are used). Shape ``(V,)``, sums to 1."""
        self._check_fitted()
        context = _as_ids(list(context), self.vocab_size, "context")
        V, L = self.vocab_size, self.n - 1
        recent = context[::-1][:L]  # most recent first
        hist = np.full((V, L), -1, dtype=np.int64)
        hist[:, : len(recent)] = recent
        p = self._score(hist, np.arange(V))
        return p / p.sum()

    def sample(self, context, n_tokens: int, *, seed: int = 0, temperature: float = 1.0) -> list:
        """Draw ``n_tokens`` ids one at a time after ``context`` (a list of ids)."""
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0 (0 = greedy), got {temperature}")
        rng = np.random.default_rng(seed)
        out = list(context)
        for _ in range(n_tokens):
            p = self.probs(out)
            if temperature == 0:
                out.append(int(p.argmax()))
                continue
            logp = np.log(p) / temperature
            q = np.exp(logp - logp.max())
            out.append(int(rng.choice(self.vocab_size, p=q / q.sum())))
        return out[len(context) :]

    # --- diagnostics --------------------------------------------------------------------------

    def num_parameters(self) -> int:
        """Stored numbers: one count per distinct m-gram seen, for every order kept."""
        self._check_fitted()
        return int(sum(o.keys.size for o in self.orders))

    def unseen_context_rate(self, ids) -> float:
        """Fraction of positions of ``ids`` (from n-1 on) whose full (n-1)-token context never
        occurred in training: where the model must fall back on shorter contexts or guess."""
        self._check_fitted()
        if self.n == 1:
            return 0.0
        ids = _as_ids(ids, self.vocab_size)
        ctx = ngram_codes(ids, self.n - 1, self.vocab_size)[:-1]
        top = self.orders[-1]  # the top order holds raw counts with either smoothing
        return float(np.mean(_lookup(top.ctx_keys, top.ctx_total, ctx) == 0))

    def __repr__(self) -> str:
        fitted = f", {self.num_parameters():,} counts" if self.orders else ", not fitted"
        return f"NGramLM(n={self.n}, vocab_size={self.vocab_size}, {self.smoothing}{fitted})"


def ngram_sparsity(train_ids, val_ids, n: int, vocab_size: int) -> dict:
    """Why n-grams stop improving, in numbers, for contexts of n - 1 tokens:

    ``distinct_contexts`` seen in training, ``singleton_fraction`` of them seen only once,
    ``unseen_val_fraction`` of validation positions whose context never occurred in training,
    and ``possible_contexts`` = V**(n-1)."""
    train = _as_ids(train_ids, vocab_size, "train_ids")
    val = _as_ids(val_ids, vocab_size, "val_ids")
    if n < 2:
        raise ValueError("contexts need n >= 2")
    keys, counts = np.unique(ngram_codes(train[:-1], n - 1, vocab_size), return_counts=True)
    val_ctx = ngram_codes(val, n - 1, vocab_size)[:-1]
    seen = _lookup(keys, counts, val_ctx) > 0
    return {
        "n": n,
        "distinct_contexts": int(keys.size),
        "possible_contexts": vocab_size ** (n - 1),
        "singleton_fraction": float(np.mean(counts == 1)),
        "unseen_val_fraction": float(1 - seen.mean()),
    }


def shakespeare_ngram_loss(n: int, smoothing: str = "kneser_ney", **kwargs) -> dict:
    """Fit an n-gram on the course's Shakespeare training split (character ids of the
    ``CharTokenizer`` trained on the whole slice) and score the validation split.

    Returns ``{"n", "smoothing", "val_loss", "val_bpc", "train_loss", "params"}`` with losses in
    nats per character; the number lessons 03 and 05 quote for count-based baselines."""
    from .data import load_shakespeare, shakespeare_split
    from .tokenize import CharTokenizer

    tok = CharTokenizer().train(load_shakespeare())
    train_text, val_text = shakespeare_split()
    train_ids, val_ids = np.array(tok.encode(train_text)), np.array(tok.encode(val_text))
    lm = NGramLM(n, tok.vocab_size, smoothing=smoothing, **kwargs).fit(train_ids)
    val = lm.loss(val_ids)
    return {
        "n": n,
        "smoothing": smoothing,
        "val_loss": val,
        "val_bpc": val / math.log(2),
        "train_loss": lm.loss(train_ids),
        "params": lm.num_parameters(),
    }


# --- checks ---------------------------------------------------------------------------------


def _check_block_size(block_size: int, n_ids: int) -> None:
    if not isinstance(block_size, int) or isinstance(block_size, bool) or block_size < 1:
        raise ValueError(f"block_size must be a positive int, got {block_size!r}")
    if n_ids < block_size + 1:
        raise ValueError(
            f"ids has {n_ids} tokens, fewer than one window of block_size + 1 = "
            f"{block_size + 1}: pass a longer text or a smaller block_size"
        )
