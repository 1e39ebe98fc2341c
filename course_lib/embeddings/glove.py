"""GloVe (Pennington et al. 2014): word vectors fitted to the log of co-occurrence counts.

Where Word2Vec streams over the text, GloVe first counts: :func:`cooccurrence_matrix` gives
``X[i, j]``, how often word ``j`` appears near word ``i`` (weighted ``1 / distance``);
:func:`ppmi_vectors` turns those counts into word vectors directly (positive PMI). The model
:class:`GloVe` then fits ``w_i · w̃_j + b_i + b̃_j ≈ log X_ij`` by weighted least squares
(:func:`glove_loss`, weights :func:`glove_weight`) over the non-zero entries, which
:class:`GloVeBatches` serves in shuffled mini-batches to the course's shared training loop
``course_lib.train.train``. The word vectors are ``w + w̃`` (:meth:`GloVe.vectors`).

Conventions: ``V`` words, ``d`` dimensions; ids index the same vocabulary as Word2Vec's
(:func:`~course_lib.embeddings.build_vocab`); a batch is ``(i, j, log_x, weight)``, all ``(B,)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def cooccurrence_matrix(ids, sentence_of, vocab_size: int, window: int = 10):
    """GloVe's co-occurrence counts ``X[i, j]``: how often word ``j`` appears within ``window``
    words of word ``i`` in the same sentence, each occurrence weighted ``1 / distance``.
    Symmetric. Returns a ``scipy.sparse`` CSR matrix ``(V, V)`` (float64)."""
    from scipy import sparse

    ids = np.asarray(ids, dtype=np.int64)
    sentence_of = np.asarray(sentence_of)
    rows, cols, vals = [], [], []
    for d in range(1, window + 1):
        same = sentence_of[d:] == sentence_of[:-d]
        left, right = ids[:-d][same], ids[d:][same]
        w = np.full(len(left), 1.0 / d)
        rows += [left, right]  # both directions: X is symmetric
        cols += [right, left]
        vals += [w, w]
    X = sparse.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(vocab_size, vocab_size),
    ).tocsr()  # duplicates are summed
    X.sum_duplicates()
    return X


def ppmi_vectors(X, words, contexts: int = 1000, power: float = 0.75):
    """Count-based word vectors: each word's row of positive pointwise mutual information with
    the ``contexts`` most frequent words (the first columns of ``X``, ids ordered by count).

    ``PMI(w, c) = log P(w, c) / (P(w) P_0.75(c))``, the context distribution smoothed by the
    same power as skip-gram's noise words; negative values are set to 0 (PPMI). Levy & Goldberg
    (2014) showed that skip-gram with negative sampling implicitly factorises this matrix
    (shifted by ``log K``), so these vectors show directly what a window's counts hold. Words
    with no count are left out (their cosine is undefined). Returns :class:`WordVectors`."""
    from .vectors import WordVectors

    coo = X[:, :contexts].tocoo()
    total = coo.sum()
    p_word = np.asarray(coo.sum(axis=1)).ravel() / total
    p_ctx = np.asarray(coo.sum(axis=0)).ravel() ** power
    p_ctx = p_ctx / p_ctx.sum()
    pmi = np.log(coo.data / total / (p_word[coo.row] * p_ctx[coo.col]))
    vecs = np.zeros(coo.shape, dtype=np.float32)
    positive = pmi > 0
    vecs[coo.row[positive], coo.col[positive]] = pmi[positive]
    seen = np.flatnonzero(vecs.any(axis=1))
    return WordVectors([words[i] for i in seen], torch.from_numpy(vecs[seen]))


def glove_weight(x: torch.Tensor, x_max: float = 100.0, power: float = 0.75) -> torch.Tensor:
    """GloVe's weighting ``f(x) = (x / x_max) ** power`` below ``x_max``, 1 above: rare
    co-occurrences (noisy) count less, frequent ones are capped."""
    return torch.clamp(x / x_max, max=1.0) ** power


class GloVe(nn.Module):
    """GloVe's model: word vectors ``w``, context vectors ``w̃`` and two biases, so that
    ``w_i · w̃_j + b_i + b̃_j ≈ log X_ij``.

    ``forward(i, j)``: ``(B,)`` word ids and ``(B,)`` context ids -> ``(B,)`` predictions."""

    def __init__(self, vocab_size: int, dim: int = 50, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        # the reference C code: uniform in [-0.5, 0.5) / dim, biases too
        self.w = nn.Parameter((torch.rand(vocab_size, dim, generator=g) - 0.5) / dim)
        self.w_ctx = nn.Parameter((torch.rand(vocab_size, dim, generator=g) - 0.5) / dim)
        self.b = nn.Parameter((torch.rand(vocab_size, generator=g) - 0.5) / dim)
        self.b_ctx = nn.Parameter((torch.rand(vocab_size, generator=g) - 0.5) / dim)

    def forward(self, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        # F.embedding is a row lookup, like self.w[i], with a faster backward pass
        w, w_ctx = F.embedding(i, self.w), F.embedding(j, self.w_ctx)  # (B, d) each
        return (w * w_ctx).sum(-1) + self.b[i] + self.b_ctx[j]

    def vectors(self) -> torch.Tensor:
        """``(V, d)``: ``w + w̃``, the sum the GloVe paper uses as the word vectors."""
        return (self.w + self.w_ctx).detach()

    def extra_repr(self) -> str:
        return f"vocab_size={self.w.shape[0]}, dim={self.w.shape[1]}"


def glove_loss(model: GloVe, batch) -> torch.Tensor:
    """GloVe's weighted least squares on a batch ``(i, j, log_x, weight)`` of non-zero entries:
    mean of ``f(X_ij) * (w_i · w̃_j + b_i + b̃_j - log X_ij) ** 2``."""
    i, j, log_x, weight = batch
    return (weight * (model(i, j) - log_x) ** 2).mean()


class GloVeBatches:
    """Mini-batches of the non-zero entries of a co-occurrence matrix, for
    ``course_lib.train.train``: ``batches(split, step) -> (i, j, log_x, f(x))``, all ``(B,)``.

    Each epoch visits every entry once in a fresh random order (a pure function of ``seed`` and
    the epoch), as contiguous slices of the shuffled arrays: slicing is much cheaper than
    gathering random entries at every step. The "val" split is a fixed sample of entries (GloVe
    has no held-out data: it only reports the fit)."""

    def __init__(self, X, batch_size: int = 16384, *, x_max: float = 100.0, seed: int = 0):
        coo = X.tocoo()
        if coo.nnz == 0:
            raise ValueError("the co-occurrence matrix is empty: no word has a neighbour")
        self.i = torch.from_numpy(coo.row.astype(np.int64))
        self.j = torch.from_numpy(coo.col.astype(np.int64))
        x = torch.from_numpy(coo.data).float()
        self.log_x, self.weight = x.log(), glove_weight(x, x_max)
        self.batch_size, self.seed = batch_size, seed
        self.steps_per_epoch = math.ceil(len(self.i) / batch_size)
        self._epoch, self._shuffled = None, None

    def __len__(self) -> int:
        return len(self.i)

    def _arrays(self, epoch: int):
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            perm = torch.randperm(len(self.i), generator=g)
            self._shuffled = tuple(t[perm] for t in (self.i, self.j, self.log_x, self.weight))
            self._epoch = epoch
        return self._shuffled

    def __call__(self, split: str = "train", step: int = 0):
        if split == "val":
            arrays, k = self._arrays(-1), 0  # a fixed shuffle, first batch
        else:
            arrays = self._arrays(step // self.steps_per_epoch)
            k = step % self.steps_per_epoch
        sl = slice(k * self.batch_size, (k + 1) * self.batch_size)
        return tuple(t[sl] for t in arrays)

    def __repr__(self) -> str:
        return (
            f"GloVeBatches({len(self):,} non-zero entries, batch_size={self.batch_size}, "
            f"{self.steps_per_epoch} steps per epoch)"
        )
