"""Word vectors from scratch: Word2Vec (skip-gram with negative sampling), GloVe, and evaluation
the way the papers, and gensim, measure them.

* :func:`train_word2vec` trains skip-gram with negative sampling (Mikolov et al. 2013) on an
  iterable of token lists, as gensim's ``Word2Vec`` takes them, and returns :class:`WordVectors`.
* :class:`WordVectors` holds ``words`` (a list) and ``vectors`` (a ``(V, d)`` tensor, same order)
  and answers ``most_similar``, ``analogy`` and ``similarity``; ``save``/``load`` round-trip it.
* :func:`evaluate_analogies` and :func:`evaluate_similarity` follow gensim's
  ``evaluate_word_analogies`` / ``evaluate_word_pairs`` conventions exactly (vocabulary cut at
  ``restrict_vocab``, case-insensitive matching, out-of-vocabulary questions skipped *and counted*),
  so their numbers compare with gensim's and with the papers'.
* The pieces the lesson builds one at a time: :func:`build_vocab`, :func:`keep_probabilities`
  (subsampling), :func:`noise_distribution` (unigram^0.75), :func:`skipgram_pairs`,
  :func:`sgns_loss`, :func:`sgns_gradients`, :func:`sgns_update_`, :func:`analogy_search`.
* GloVe (Pennington et al. 2014): :func:`cooccurrence_matrix`, :func:`glove_weight`,
  :class:`GloVe`, :func:`glove_loss`, :class:`GloVeBatches`; it trains with the course's shared
  loop ``course_lib.train.train``.

Why the trainer is fast without autograd: every step gathers the rows it needs with
``index_select``, computes the gradients of the loss in closed form with three small batched
matrix products, and adds them back with ``index_add_``. Centre words are grouped by their random
window size ``b`` so each group is a dense ``(n, 2b)`` block with no padding, and the negatives
of a centre word are shared by its context words, which turns many dot products into one small
matrix product per centre (the trick of Ji et al. 2016, "Parallelizing Word2Vec in Shared and
Distributed Memory"). Everything else follows word2vec and gensim: random reduced windows,
subsampling of frequent words, noise drawn from the unigram distribution to the power 0.75, and a
learning rate decaying linearly from ``alpha`` to ``min_alpha``.

No matplotlib or ipywidgets here: figures live in ``course_lib.viz_embeddings``, the explorer in
``course_lib.widgets.embeddings``.
"""

from __future__ import annotations

import difflib
import math
import os
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .runtime import progress_bar, relpath

WORDVECTORS_FORMAT = "course_lib.wordvectors/1"
RESTRICT_VOCAB = 300_000  # gensim's default for evaluate_word_analogies / evaluate_word_pairs


# --- vocabulary ------------------------------------------------------------------------------


@dataclass
class Vocab:
    """The words kept for training, most frequent first, with their corpus counts."""

    words: list[str]
    counts: np.ndarray  # (V,) int64, descending
    total_tokens: int  # every token in the corpus, kept or not

    def __len__(self) -> int:
        return len(self.words)

    @property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}


def _as_sentences(sentences) -> list[list[str]]:
    if isinstance(sentences, str | bytes):
        raise TypeError(
            "sentences must be an iterable of token lists, got one string: split it into "
            "sentences of words first, e.g. course_lib.data.tokenize_sentences(text)"
        )
    out = []
    for i, s in enumerate(sentences):
        if isinstance(s, str | bytes):
            raise TypeError(
                f"sentence {i} is a string ({s[:40]!r}...), not a list of tokens: split it into "
                "words first, e.g. course_lib.data.tokenize_sentences(text)"
            )
        out.append(s if isinstance(s, list) else list(s))
    return out


def build_vocab(sentences: Iterable[Sequence[str]], min_count: int = 5) -> Vocab:
    """Count the tokens and keep those seen at least ``min_count`` times, most frequent first
    (ties in order of first appearance).

    Raises ValueError when the corpus is empty or ``min_count`` leaves no word."""
    if not isinstance(min_count, int) or min_count < 1:
        raise ValueError(f"min_count must be an int >= 1, got {min_count!r}")
    counter: Counter = Counter()
    for s in _as_sentences(sentences):
        counter.update(s)
    total = sum(counter.values())
    if total == 0:
        raise ValueError(
            "the corpus is empty: pass an iterable of sentences, each a list of tokens, "
            "e.g. [['the', 'cat', 'sat'], ['a', 'dog', 'ran']]"
        )
    kept = sorted(((w, c) for w, c in counter.items() if c >= min_count), key=lambda wc: -wc[1])
    if not kept:
        top, n = counter.most_common(1)[0]
        raise ValueError(
            f"min_count={min_count} leaves no vocabulary: the most frequent token, {top!r}, "
            f"occurs {n} time{'s' if n != 1 else ''} in {total:,} tokens; lower min_count "
            "or train on more text"
        )
    return Vocab([w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64), int(total))


def encode_corpus(sentences, vocab: Vocab) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of the in-vocabulary tokens, all sentences concatenated, and the sentence each
    belongs to: ``(ids, sentence_of)``, both ``(N,)`` int64. Out-of-vocabulary tokens are dropped
    before windows are formed, as word2vec and gensim do (so a window reaches past them)."""
    index = vocab.index
    ids, lengths = [], []
    for s in _as_sentences(sentences):
        kept = [index[w] for w in s if w in index]
        ids.extend(kept)
        lengths.append(len(kept))
    ids_arr = np.asarray(ids, dtype=np.int64)
    sentence_of = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    return ids_arr, sentence_of


# --- the pieces of skip-gram with negative sampling ------------------------------------------


def keep_probabilities(counts, sample: float = 1e-3) -> np.ndarray:
    """Probability of keeping each occurrence of a word when subsampling frequent words.

    word2vec's formula, as gensim implements it: with ``t = sample * total``, a word seen
    ``c`` times is kept with probability ``min(1, (sqrt(c / t) + 1) * t / c)``: rare words always,
    "the" only a small fraction of the time. ``sample=0`` keeps everything. Returns ``(V,)``."""
    counts = np.asarray(counts, dtype=np.float64)
    if sample < 0:
        raise ValueError(f"sample must be >= 0, got {sample}")
    if sample == 0:
        return np.ones_like(counts)
    t = sample * counts.sum()
    return np.minimum(1.0, (np.sqrt(counts / t) + 1.0) * t / counts)


def noise_distribution(counts, power: float = 0.75) -> torch.Tensor:
    """The distribution negatives are drawn from: unigram counts to the power 0.75, normalised.

    ``counts``: ``(V,)``. Returns ``(V,)`` float64 probabilities summing to 1. The power < 1
    flattens the distribution: frequent words are drawn less often than their share of the
    text, rare words more often."""
    c = torch.as_tensor(counts, dtype=torch.float64)
    p = c**power
    return p / p.sum()


def skipgram_pairs(ids: Sequence[int], window: int) -> list[tuple[int, int]]:
    """Every ``(centre, context)`` pair of one sentence with a fixed window: the context words
    are the up to ``window`` words on each side of the centre. (Training draws a random window
    ``b`` from 1 to ``window`` for each centre instead, which weights near words more.)"""
    pairs = []
    for i, centre in enumerate(ids):
        for j in range(max(0, i - window), min(len(ids), i + window + 1)):
            if j != i:
                pairs.append((centre, ids[j]))
    return pairs


def sgns_pair_loss(
    centre: torch.Tensor, context: torch.Tensor, negatives: torch.Tensor
) -> torch.Tensor:
    """The negative-sampling loss of one (context, centre) pair.

    ``-log σ(u_centre · v_context) - Σ_k log σ(-u_neg_k · v_context)``, with ``centre`` the
    centre word's output vector ``(d,)``, ``context`` the context word's input vector ``(d,)`` and
    ``negatives`` the ``K`` noise words' output vectors ``(K, d)``. A scalar."""
    pos = F.logsigmoid(centre @ context)
    neg = F.logsigmoid(-(negatives @ context)).sum()
    return -(pos + neg)


def sgns_loss(inp: torch.Tensor, out: torch.Tensor, weight: torch.Tensor | None = None):
    """Summed negative-sampling loss of a batch of centre words, each with its context words.

    Args:
        inp: ``(B, S, d)`` input vectors of the ``S`` context words of each of ``B`` centres.
        out: ``(B, 1 + K, d)`` output vectors: column 0 is the centre word (the positive), the
            other ``K`` are its noise words, shared by all its context words.
        weight: optional ``(B, S, 1 + K)`` (or broadcastable) weights; 0 drops a term (a padded
            context slot, or a noise word that happens to be the centre word).

    Returns the sum over all terms of ``-log σ(±score)`` (``+`` for the positive column)."""
    f = torch.bmm(inp, out.transpose(1, 2))  # (B, S, 1+K) scores
    sign = torch.ones(f.shape[-1], dtype=f.dtype, device=f.device)
    sign[1:] = -1
    terms = -F.logsigmoid(f * sign)
    if weight is not None:
        terms = terms * weight
    return terms.sum()


def sgns_gradients(inp: torch.Tensor, out: torch.Tensor, weight: torch.Tensor | None = None):
    """The gradients of :func:`sgns_loss` in closed form, without autograd.

    With scores ``f = inp · out`` and labels ``y`` (1 for the positive column, 0 for negatives),
    ``dL/df = σ(f) - y``, so ``dL/dinp = (σ(f) - y) @ out`` and ``dL/dout = (σ(f) - y)ᵀ @ inp``.

    Returns ``(grad_inp (B, S, d), grad_out (B, 1 + K, d))``."""
    f = torch.bmm(inp, out.transpose(1, 2))  # (B, S, 1+K)
    g = torch.sigmoid(f)
    g[..., 0] -= 1
    if weight is not None:
        g = g * weight
    return torch.bmm(g, out), torch.bmm(g.transpose(1, 2), inp)


def sgns_update_(
    W_in: torch.Tensor,
    W_out: torch.Tensor,
    ctx: torch.Tensor,
    out_ids: torch.Tensor,
    weight: torch.Tensor,
    lr: float,
    *,
    with_loss: bool = False,
) -> float | None:
    """One SGD step of skip-gram with negative sampling, in place, without autograd.

    Args:
        W_in: ``(V + 1, d)`` input vectors; the last row is a padding row kept at zero.
        W_out: ``(V, d)`` output vectors.
        ctx: ``(B, S)`` context word ids of ``B`` centre words (``V`` marks an empty slot).
        out_ids: ``(B, 1 + K)`` the centre word id, then its ``K`` noise word ids.
        weight: ``(B, 1, 1 + K)`` 1 or 0 per output (0 drops a noise word equal to the centre).
        lr: the learning rate.
        with_loss: also return the mean loss per (context, centre) pair (costs a little).

    Gradients of rows that appear several times in the batch are summed (``index_add_``),
    as if the pairs had been applied one after another from the same starting point.
    """
    B, S = ctx.shape
    d = W_in.shape[1]
    inp = W_in.index_select(0, ctx.view(-1)).view(B, S, d)  # (B, S, d)
    out = W_out.index_select(0, out_ids.view(-1)).view(B, -1, d)  # (B, 1+K, d)
    f = torch.bmm(inp, out.transpose(1, 2))  # (B, S, 1+K)
    loss = None
    if with_loss:
        sign = torch.ones(f.shape[-1])
        sign[1:] = -1
        valid = (ctx != W_in.shape[0] - 1).unsqueeze(-1)
        terms = -F.logsigmoid(f * sign) * weight * valid
        loss = float(terms.sum()) / max(1, int(valid.sum()))
    # g = -lr * dL/df = lr * (y - σ(f)), computed in place in f's memory
    g = torch.sigmoid_(f).neg_()
    g[..., 0] += 1
    g.mul_(weight).mul_(lr)
    grad_in = torch.bmm(g, out)  # (B, S, d), already scaled by -lr
    grad_out = torch.bmm(g.transpose(1, 2), inp)  # (B, 1+K, d)
    W_out.index_add_(0, out_ids.view(-1), grad_out.view(-1, d))
    W_in.index_add_(0, ctx.view(-1), grad_in.view(-1, d))
    W_in[-1].zero_()  # the padding row collects the gradients of empty slots: reset it
    return loss


# --- word vectors ----------------------------------------------------------------------------


class WordNotFoundError(KeyError):
    """A word is not in the vocabulary; the message suggests close ones."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0]) if self.args else ""


def _unit_rows(m: torch.Tensor) -> torch.Tensor:
    return m / m.norm(dim=-1, keepdim=True).clamp_min(1e-12)


class WordVectors:
    """Words and their vectors: ``words[i]`` has vector ``vectors[i]``.

    Args:
        words: ``V`` distinct words (most frequent first, for vectors trained here).
        vectors: ``(V, d)`` array or tensor.
        counts: optional corpus counts of the words.

    ``wv["king"]`` is a ``(d,)`` tensor; ``"king" in wv`` tests membership; a missing word raises
    a KeyError that names it and suggests close words. Similarities are cosines.
    """

    def __init__(self, words: Sequence[str], vectors, counts=None):
        words = list(words)
        vecs = torch.as_tensor(np.asarray(vectors) if not torch.is_tensor(vectors) else vectors)
        vecs = vecs.detach().to("cpu", torch.float32)
        if vecs.dim() != 2 or vecs.shape[0] != len(words):
            raise ValueError(
                f"vectors must be (V, d) with one row per word: got {len(words)} words and "
                f"vectors of shape {tuple(vecs.shape)}"
            )
        if len(set(words)) != len(words):
            dup = next(w for w, c in Counter(words).items() if c > 1)
            raise ValueError(f"words must be distinct, {dup!r} appears more than once")
        self.words = words
        self.vectors = vecs
        self.counts = None if counts is None else [int(c) for c in counts]
        self.index = {w: i for i, w in enumerate(words)}
        self.training: Word2VecLog | None = None

    # -- lookups --
    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word) -> bool:
        return word in self.index

    def __iter__(self):
        return iter(self.words)

    def __repr__(self) -> str:
        return f"WordVectors({len(self):,} words x {self.dim} dimensions)"

    def suggest(self, word: str, n: int = 5) -> list[str]:
        """Vocabulary words spelled like ``word`` (difflib), the lower-cased word first."""
        out = [word.lower()] if isinstance(word, str) and word.lower() in self.index else []
        if isinstance(word, str):
            out += difflib.get_close_matches(word.lower(), self.words, n=n, cutoff=0.6)
        return list(dict.fromkeys(out))[:n]

    def id(self, word: str) -> int:
        """The row of ``word`` in ``vectors``; a KeyError suggesting close words if missing."""
        try:
            return self.index[word]
        except (KeyError, TypeError):
            close = self.suggest(word)
            hint = f"; close words: {', '.join(close)}" if close else ""
            raise WordNotFoundError(
                f"{word!r} is not in the vocabulary ({len(self):,} words){hint}"
            ) from None

    def __getitem__(self, word: str) -> torch.Tensor:
        return self.vectors[self.id(word)]

    def unit_vectors(self) -> torch.Tensor:
        """``(V, d)``: every vector scaled to length 1, so dot products are cosines."""
        return _unit_rows(self.vectors)

    # -- similarity --
    def similarity(self, w1: str, w2: str) -> float:
        """Cosine similarity of two words' vectors, between -1 and 1."""
        a, b = self[w1], self[w2]
        return float(a @ b / (a.norm() * b.norm()).clamp_min(1e-12))

    def _nearest(self, query: torch.Tensor, topn: int, exclude: set[int]):
        sims = self.unit_vectors() @ _unit_rows(query)  # (V,) cosines
        if exclude:
            sims[list(exclude)] = -math.inf
        k = min(topn, len(self) - len(exclude))
        best = torch.topk(sims, k) if k > 0 else None
        if best is None:
            return []
        return [(self.words[i], float(s)) for s, i in zip(best.values, best.indices, strict=True)]

    def most_similar(self, word, topn: int = 10, exclude: Iterable[str] = ()):
        """The ``topn`` words nearest to ``word`` (a word, or a ``(d,)`` vector) by cosine, as
        ``[(word, cosine), ...]``; the word itself and ``exclude`` are left out."""
        excluded = {self.id(w) for w in exclude}
        if isinstance(word, str):
            excluded.add(self.id(word))
            query = self[word]
        else:
            query = torch.as_tensor(word, dtype=torch.float32)
            if query.shape != (self.dim,):
                raise ValueError(
                    f"a query vector must have shape ({self.dim},), got {tuple(query.shape)}"
                )
        return self._nearest(query, topn, excluded)

    def analogy(self, a: str, b: str, c: str, topn: int | None = None):
        """``a`` is to ``b`` as ``c`` is to what? The word nearest to ``b - a + c`` (3CosAdd on
        unit vectors, as gensim and the word2vec papers), never one of ``a``, ``b``, ``c``.

        ``wv.analogy("man", "king", "woman")`` returns a word (``"queen"`` if all goes well);
        with ``topn=5`` it returns the five best as ``[(word, cosine), ...]``."""
        u = self.unit_vectors()
        ia, ib, ic = self.id(a), self.id(b), self.id(c)
        best = self._nearest(u[ib] - u[ia] + u[ic], topn or 1, {ia, ib, ic})
        return best if topn is not None else best[0][0]

    # -- saving --
    def save(self, path) -> Path:
        """Write the words and vectors to ``path`` (a ``.pt`` file, written atomically)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        payload = {"format": WORDVECTORS_FORMAT, "words": self.words, "vectors": self.vectors}
        if self.counts is not None:
            payload["counts"] = torch.tensor(self.counts, dtype=torch.int64)
        torch.save(payload, tmp)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path) -> WordVectors:
        """Read vectors written by :meth:`save` (safely: ``torch.load(weights_only=True)``)."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no word vectors at {relpath(path)}: save them first")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise ValueError(
                f"{relpath(path)} is not a readable word-vector file ({type(e).__name__}: {e})"
            ) from e
        if not isinstance(payload, dict) or payload.get("format") != WORDVECTORS_FORMAT:
            raise ValueError(
                f"{relpath(path)} is not a WordVectors file (expected format "
                f"{WORDVECTORS_FORMAT!r}); write one with WordVectors.save"
            )
        counts = payload.get("counts")
        return cls(
            payload["words"], payload["vectors"], None if counts is None else counts.tolist()
        )

    # -- gensim interop --
    def to_gensim(self):
        """The same vectors as a gensim ``KeyedVectors`` (to use gensim's own evaluation)."""
        from gensim.models import KeyedVectors

        kv = KeyedVectors(self.dim)
        kv.add_vectors(self.words, self.vectors.numpy())
        return kv

    @classmethod
    def from_gensim(cls, kv) -> WordVectors:
        """Wrap a gensim ``KeyedVectors`` (or a ``Word2Vec`` model's ``.wv``)."""
        kv = getattr(kv, "wv", kv)
        counts = None
        if "count" in getattr(kv, "expandos", {}):
            counts = kv.expandos["count"]
        return cls(list(kv.index_to_key), np.asarray(kv.vectors), counts)


def _as_word_vectors(vectors) -> WordVectors:
    if isinstance(vectors, WordVectors):
        return vectors
    if hasattr(vectors, "index_to_key") or hasattr(vectors, "wv"):
        return WordVectors.from_gensim(vectors)
    raise TypeError(
        f"expected WordVectors (or a gensim KeyedVectors), got {type(vectors).__name__}"
    )


def analogy_search(vectors: torch.Tensor, a: int, b: int, c: int) -> int:
    """``a : b :: c : ?`` on a ``(V, d)`` matrix of word vectors: the index of the row nearest (by
    cosine) to ``unit(b) - unit(a) + unit(c)``, excluding ``a``, ``b`` and ``c``."""
    u = _unit_rows(torch.as_tensor(vectors, dtype=torch.float32))
    sims = u @ _unit_rows(u[b] - u[a] + u[c])
    sims[[a, b, c]] = -math.inf
    return int(sims.argmax())


# --- training --------------------------------------------------------------------------------


@dataclass
class Word2VecLog:
    """What happened in :func:`train_word2vec`: time, amount of text, and the loss as it went."""

    seconds: float = 0.0
    epochs_done: float = 0.0
    tokens: int = 0  # corpus tokens, every epoch counted: words per second = tokens / seconds
    pairs: int = 0  # (context, centre) pairs trained on
    progress: list[float] = field(default_factory=list)  # fraction of training done, 0..1
    loss: list[float] = field(default_factory=list)  # mean loss per pair at those points
    interrupted: bool = False
    settings: dict = field(default_factory=dict)

    @property
    def words_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else float("nan")

    def to_dict(self) -> dict:
        return asdict(self)


@contextmanager
def torch_threads(n: int | None):
    """Run a block with ``n`` torch threads, then restore the setting (``None``: unchanged).

    Embedding training is made of many small row gathers and scatters; on a busy 2-core machine
    one thread is several times faster than two, which wait for each other at every operation."""
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


@dataclass
class WindowGroup:
    """The centre words of one window size ``b`` in one epoch, in a random order."""

    ctx: torch.Tensor  # (n, 2b) context ids, V where the window leaves the sentence
    out_ids: torch.Tensor  # (n, 1 + K) centre id, then K noise ids
    weight: torch.Tensor  # (n, 1, 1 + K) 0 where a noise word equals the centre


def epoch_groups(ids, sentence_of, keep, cum_noise, *, window, negative, rng) -> list[WindowGroup]:
    """One epoch's training data, made with NumPy in one go: subsample, draw a window size for
    every centre, collect its context words, draw its noise words.

    Args:
        ids, sentence_of: the corpus as :func:`encode_corpus` returns it, ``(N,)`` each.
        keep: ``(V,)`` keep probabilities (:func:`keep_probabilities`).
        cum_noise: ``(V,)`` cumulative noise distribution (like gensim's ``cum_table``).
        window, negative: the largest window and the number of noise words per centre.
        rng: a ``numpy.random.Generator``.

    Returns one :class:`WindowGroup` per window size ``b`` (1..window): the centres that drew
    ``b``, in random order, with their ``2b`` context ids (``V`` where the window leaves the
    sentence), centre and noise ids, and 0/1 weights."""
    V = len(cum_noise)
    kept = rng.random(len(ids)) < keep[ids]  # subsampling: drop frequent words at random
    x, sent = ids[kept], sentence_of[kept]  # the windows are formed after dropping
    n = len(x)
    b = rng.integers(1, window + 1, size=n)  # word2vec's reduced window, 1..window
    x_pad = np.append(x, V)  # position n holds the padding id
    groups = []
    for bb in range(1, window + 1):
        pos = np.flatnonzero(b == bb)
        if len(pos) == 0:
            continue
        rng.shuffle(pos)
        offsets = np.r_[np.arange(-bb, 0), np.arange(1, bb + 1)]
        cpos = pos[:, None] + offsets  # (n_b, 2b) positions of the context words
        inside = (cpos >= 0) & (cpos < n)
        cpos = np.where(inside, cpos, n)
        inside &= np.append(sent, -1)[cpos] == sent[pos][:, None]  # same sentence only
        ctx = np.where(inside, x_pad[cpos], V)
        centre = x[pos]
        u = rng.random((len(pos), negative)) * cum_noise[-1]
        noise = np.minimum(np.searchsorted(cum_noise, u, side="right"), V - 1)
        weight = np.ones((len(pos), 1, negative + 1), dtype=np.float32)
        weight[:, 0, 1:] = noise != centre[:, None]  # gensim skips a noise word equal to the target
        groups.append(
            WindowGroup(
                torch.from_numpy(ctx),
                torch.from_numpy(np.concatenate([centre[:, None], noise], axis=1)),
                torch.from_numpy(weight),
            )
        )
    return groups


def train_word2vec(
    sentences: Iterable[Sequence[str]],
    *,
    dim: int = 100,
    window: int = 5,
    negative: int = 5,
    min_count: int = 5,
    sample: float = 1e-3,
    epochs: int = 5,
    seed: int = 0,
    alpha: float = 0.025,
    min_alpha: float = 1e-4,
    ns_exponent: float = 0.75,
    batch_size: int = 2048,
    threads: int | None = 1,
    progress: bool = True,
    desc: str = "word2vec",
) -> WordVectors:
    """Train skip-gram with negative sampling on ``sentences`` and return the word vectors.

    The keyword arguments mean what they mean in gensim's ``Word2Vec(sg=1)``; the defaults are
    gensim's (``vector_size`` is called ``dim`` here).

    Args:
        sentences: an iterable of token lists, e.g. ``[["the", "cat", "sat"], ...]``.
        dim: length of each word vector.
        window: the largest distance between a centre word and a context word; each centre draws
            its own window ``b`` uniformly from 1 to ``window``, as word2vec does.
        negative: noise words per centre word.
        min_count: ignore words seen fewer times.
        sample: subsampling threshold for frequent words (0 turns it off).
        epochs: passes over the corpus.
        seed: the same seed gives bitwise-identical vectors (with the same ``threads``).
        alpha, min_alpha: the learning rate decays linearly from ``alpha`` to ``min_alpha``.
        ns_exponent: the power of the noise distribution (0.75).
        batch_size: centre words per step (each brings its context words: about five times as
            many pairs). At most a quarter of the vocabulary is used, since larger steps make
            the summed updates of words met many times in one step overshoot.
        threads: torch threads while training (restored afterwards). One is fastest for these
            small operations on a busy 2-core machine; ``None`` keeps the current setting.
        progress: show a progress bar.

    Returns:
        :class:`WordVectors` (the input vectors, as gensim's ``wv``), with ``.training``, a
        :class:`Word2VecLog`. Press Ctrl-C (interrupt the kernel) to stop early: you get the
        vectors trained so far, and ``.training.interrupted`` is True.
    """
    for name, value, low in (
        ("dim", dim, 1),
        ("window", window, 1),
        ("negative", negative, 1),
        ("epochs", epochs, 1),
        ("batch_size", batch_size, 1),
    ):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
    if not 0 < min_alpha <= alpha:
        raise ValueError(f"need 0 < min_alpha <= alpha, got alpha={alpha}, min_alpha={min_alpha}")
    settings = dict(
        dim=dim, window=window, negative=negative, min_count=min_count, sample=sample,
        epochs=epochs, seed=seed, alpha=alpha, min_alpha=min_alpha, ns_exponent=ns_exponent,
        batch_size=batch_size,
    )  # fmt: skip

    sentences = _as_sentences(sentences)
    vocab = build_vocab(sentences, min_count)
    ids, sentence_of = encode_corpus(sentences, vocab)
    V = len(vocab)
    if not np.any(sentence_of[1:] == sentence_of[:-1]):
        raise ValueError(
            "no training pairs: every sentence has fewer than 2 words that occur at least "
            f"min_count={min_count} times; pass longer sentences or lower min_count"
        )
    keep = keep_probabilities(vocab.counts, sample)
    cum_noise = np.cumsum(noise_distribution(vocab.counts, ns_exponent).numpy())
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    # gensim's initialisation: inputs uniform in [-0.5, 0.5) / dim, outputs zero
    W_in = torch.zeros(V + 1, dim)  # + 1: a padding row for windows cut by a sentence end
    W_in[:V] = (torch.rand(V, dim, generator=gen) - 0.5) / dim
    W_out = torch.zeros(V, dim)

    expected_centres = float(keep[ids].sum())  # per epoch, for the learning-rate schedule
    # A step sums the updates of every row it touches. With more centres per step than about a
    # quarter of the vocabulary, rows are hit so often that the sums overshoot and training
    # diverges (measured on this course's corpus: fine up to V / 6, diverged at V / 4 per group).
    batch_size = max(1, min(batch_size, V // 4))
    steps_per_epoch = max(1, math.ceil(expected_centres / batch_size))
    total = expected_centres * epochs
    log = Word2VecLog(settings=settings)
    log_every = max(1, steps_per_epoch * epochs // 200)  # about 200 loss points

    bar = progress_bar(total=steps_per_epoch * epochs, desc=desc, disable=not progress)
    done, step, start = 0, 0, time.perf_counter()
    try:
        with torch_threads(threads), torch.no_grad():
            for epoch in range(epochs):
                groups = epoch_groups(
                    ids, sentence_of, keep, cum_noise, window=window, negative=negative, rng=rng
                )
                # every step takes a slice of each window-size group: no padding, and the
                # groups stay mixed in time
                chunks = [
                    list(
                        zip(
                            *(
                                torch.tensor_split(t, steps_per_epoch)
                                for t in (g.ctx, g.out_ids, g.weight)
                            ),
                            strict=True,
                        )
                    )
                    for g in groups
                ]
                for s in range(steps_per_epoch):
                    lr = max(min_alpha, alpha - (alpha - min_alpha) * done / total)
                    want_loss = step % log_every == 0
                    losses, pairs = [], 0
                    for per_group in chunks:
                        ctx, out_ids, weight = per_group[s]
                        if len(ctx) == 0:
                            continue
                        loss = sgns_update_(
                            W_in, W_out, ctx, out_ids, weight, lr, with_loss=want_loss
                        )
                        done += len(ctx)
                        n_pairs = int((ctx != V).sum())
                        pairs += n_pairs
                        if want_loss:
                            losses.append((loss, n_pairs))
                    log.pairs += pairs
                    step += 1
                    if losses:
                        mean = sum(v * n for v, n in losses) / max(1, sum(n for _, n in losses))
                        log.progress.append(step / (steps_per_epoch * epochs))
                        log.loss.append(mean)
                        bar.set_postfix(loss=f"{mean:.3f}", lr=f"{lr:.4f}", refresh=False)
                    bar.update(1)
                if not torch.isfinite(W_in).all():
                    raise FloatingPointError(
                        f"training diverged in epoch {epoch + 1} (the vectors hold inf or nan): "
                        f"lower alpha (now {alpha}) or batch_size (now {batch_size})"
                    )
                log.epochs_done = epoch + 1
                log.tokens += vocab.total_tokens
    except KeyboardInterrupt:
        log.interrupted = True
        log.epochs_done += (step - log.epochs_done * steps_per_epoch) / steps_per_epoch
        log.tokens = int(vocab.total_tokens * log.epochs_done)
        print(
            f"Interrupted after {log.epochs_done:.2f} of {epochs} epochs: returning the "
            "vectors trained so far."
        )
    finally:
        bar.close()
    log.seconds = time.perf_counter() - start
    wv = WordVectors(vocab.words, W_in[:V].clone(), vocab.counts)
    wv.training = log
    return wv


# --- evaluation, with gensim's conventions -----------------------------------------------------


def _resolve(path, default: str) -> Path:
    from .data import GENSIM_FILES, gensim_path

    if path is None:
        return gensim_path(default)
    p = Path(path)
    if not p.exists() and str(path) in GENSIM_FILES:
        return gensim_path(str(path))  # a short name: "analogies", "wordsim353", "simlex999"
    if not p.exists():
        raise FileNotFoundError(
            f"no evaluation file at {path!s}: pass a path, or one of the names "
            "'analogies', 'wordsim353', 'simlex999'"
        )
    return p


def _ok_vocab(wv: WordVectors, restrict_vocab: int, case_insensitive: bool) -> dict[str, int]:
    # gensim: the first `restrict_vocab` words; with case folding the most frequent spelling wins
    keys = wv.words[:restrict_vocab]
    if case_insensitive:
        return {k.upper(): i for i, k in reversed(list(enumerate(keys)))}
    return {k: i for i, k in reversed(list(enumerate(keys)))}


@dataclass
class AnalogyResult:
    """The analogy benchmark, gensim's way: accuracy over the questions whose four words are all in
    the vocabulary (the others are skipped, and counted in ``oov``)."""

    accuracy: float  # correct / evaluated
    correct: int
    evaluated: int
    oov: int  # questions skipped because a word is out of the vocabulary
    total: int  # questions in the file
    sections: dict[str, dict]  # name -> {"correct", "evaluated", "oov", "total", "accuracy"}
    questions: list[tuple] = field(default_factory=list, repr=False)
    # (section, a, b, c, expected, predicted) for every evaluated question

    @property
    def coverage(self) -> float:
        """Fraction of the questions that could be asked (all four words known)."""
        return self.evaluated / self.total if self.total else 0.0

    @property
    def oov_ratio(self) -> float:
        """Percentage of questions skipped, as gensim logs it."""
        return 100.0 * self.oov / self.total if self.total else 0.0

    def failures(self, section: str | None = None) -> list[tuple]:
        return [q for q in self.questions if q[4] != q[5] and (section is None or q[0] == section)]

    def table(self):
        """Per-section results as a pandas DataFrame (plus a total row)."""
        import pandas as pd

        rows = [{"section": k, **v} for k, v in self.sections.items()]
        rows.append(
            {"section": "total", "correct": self.correct, "evaluated": self.evaluated,
             "oov": self.oov, "total": self.total, "accuracy": self.accuracy}
        )  # fmt: skip
        df = pd.DataFrame(rows).set_index("section")
        df["coverage"] = df["evaluated"] / df["total"]
        return df

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("questions")
        return d

    def __str__(self) -> str:
        return (
            f"analogies: {100 * self.accuracy:.1f}% correct ({self.correct}/{self.evaluated}); "
            f"{self.evaluated}/{self.total} questions asked ({100 * self.coverage:.0f}% coverage), "
            f"{self.oov} skipped as out of vocabulary"
        )


def evaluate_analogies(
    vectors,
    path=None,
    *,
    restrict_vocab: int = RESTRICT_VOCAB,
    case_insensitive: bool = True,
    dummy4unknown: bool = False,
) -> AnalogyResult:
    """Accuracy on an analogy file (default: Mikolov et al.'s ``questions-words.txt``).

    Same rules as gensim's ``KeyedVectors.evaluate_word_analogies``: only the first
    ``restrict_vocab`` words count as known; words are compared upper-cased when
    ``case_insensitive``; a question with an unknown word is skipped (``dummy4unknown=True``
    counts it as wrong instead) and counted in ``oov``; the answer is the known word nearest to
    ``b - a + c`` (3CosAdd, unit vectors) other than ``a``, ``b``, ``c``.

    ``vectors``: :class:`WordVectors` or a gensim ``KeyedVectors``.
    """
    wv = _as_word_vectors(vectors)
    path = _resolve(path, "analogies")
    ok = _ok_vocab(wv, restrict_vocab, case_insensitive)
    fold = str.upper if case_insensitive else (lambda s: s)

    sections: dict[str, dict] = {}
    asked: list[tuple] = []  # (section, a, b, c, expected) with all words known
    section, total, oov = None, 0, 0
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if line.startswith(": "):
            section = line.lstrip(": ").strip()
            sections[section] = {"correct": 0, "evaluated": 0, "oov": 0, "total": 0}
            continue
        if section is None:
            raise ValueError(f"missing section header before line {line_no} in {path.name}")
        words = [fold(w) for w in line.split()]
        if len(words) != 4:
            continue  # gensim skips lines that are not four words
        total += 1
        sections[section]["total"] += 1
        if any(w not in ok for w in words):
            oov += 1
            sections[section]["oov"] += 1
            if dummy4unknown:
                sections[section]["evaluated"] += 1
            continue
        asked.append((section, *words))

    # Score all questions at once. The arithmetic follows gensim's, in float32: the mean of the
    # unit vectors of b, c and -a, made unit length, against every vector divided by its norm.
    n_known = min(restrict_vocab, len(wv))
    vecs = wv.vectors[:n_known].numpy()
    norms = np.linalg.norm(vecs, axis=1)
    unit = vecs / norms[:, None]
    questions = []
    chunk = 512
    for start in range(0, len(asked), chunk):
        part = asked[start : start + chunk]
        ia = np.array([ok[q[1]] for q in part])
        ib = np.array([ok[q[2]] for q in part])
        ic = np.array([ok[q[3]] for q in part])
        mean = ((unit[ib] + unit[ic]) - unit[ia]) / np.float32(3.0)
        mean = mean / np.linalg.norm(mean, axis=1, keepdims=True)
        dists = (mean @ vecs.T) / norms  # (chunk, n_known)
        rows = np.arange(len(part))
        for idx in (ia, ib, ic):
            dists[rows, idx] = -np.inf
        top5 = np.argpartition(-dists, 4, axis=1)[:, :5]  # gensim looks at the best five
        order = np.argsort(-np.take_along_axis(dists, top5, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top5, order, axis=1)
        for q, cand in zip(part, top, strict=True):
            sec, a, b, c, expected = q
            predicted = None
            for i in cand:
                predicted = fold(wv.words[i])
                if predicted in ok and predicted not in (a, b, c):
                    break
            questions.append((sec, a, b, c, expected, predicted))
            sections[sec]["evaluated"] += 1
            sections[sec]["correct"] += predicted == expected
    for s in sections.values():
        s["accuracy"] = s["correct"] / s["evaluated"] if s["evaluated"] else 0.0
    correct = sum(s["correct"] for s in sections.values())
    evaluated = sum(s["evaluated"] for s in sections.values())
    return AnalogyResult(
        accuracy=correct / evaluated if evaluated else 0.0,
        correct=correct,
        evaluated=evaluated,
        oov=oov,
        total=total,
        sections=sections,
        questions=questions,
    )


@dataclass
class SimilarityResult:
    """A word-similarity benchmark: how well the cosines rank the pairs the way people did."""

    name: str
    spearman: float  # rank correlation with the human scores: the number papers report
    pearson: float
    evaluated: int  # pairs with both words known
    oov: int  # pairs skipped because a word is out of the vocabulary
    total: int

    @property
    def oov_ratio(self) -> float:
        """Percentage of pairs skipped, as gensim returns it."""
        return 100.0 * self.oov / self.total if self.total else 0.0

    def to_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"{self.name}: Spearman {self.spearman:.3f} (Pearson {self.pearson:.3f}) on "
            f"{self.evaluated}/{self.total} pairs, {self.oov} skipped as out of vocabulary"
        )


def evaluate_similarity(
    vectors,
    path=None,
    *,
    restrict_vocab: int = RESTRICT_VOCAB,
    case_insensitive: bool = True,
    dummy4unknown: bool = False,
    delimiter: str = "\t",
) -> SimilarityResult:
    """Spearman (and Pearson) correlation between cosine similarities and human judgements.

    ``path``: a ``word1<TAB>word2<TAB>score`` file, default WordSim-353; ``"simlex999"`` for
    SimLex-999. Same rules as gensim's ``KeyedVectors.evaluate_word_pairs``: ``#`` lines are
    comments, pairs with an unknown word are skipped and counted (or scored 0 with
    ``dummy4unknown=True``), and words are matched upper-cased when ``case_insensitive``.
    """
    from scipy import stats

    wv = _as_word_vectors(vectors)
    path = _resolve(path, "wordsim353")
    ok = _ok_vocab(wv, restrict_vocab, case_insensitive)
    fold = str.upper if case_insensitive else (lambda s: s)
    vecs = wv.vectors.numpy()
    gold, model, oov = [], [], 0
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        if not line or line.startswith("#"):
            continue
        try:
            a, b, score = [fold(w) for w in line.split(delimiter)]
            score = float(score)
        except (ValueError, TypeError):
            continue
        if a not in ok or b not in ok:
            oov += 1
            if dummy4unknown:
                gold.append(score)
                model.append(0.0)
            continue
        va, vb = vecs[ok[a]], vecs[ok[b]]
        gold.append(score)
        model.append(float(np.dot(va / np.linalg.norm(va), vb / np.linalg.norm(vb))))
    if not gold:
        raise ValueError(f"no pair of {path.name} has both words in the vocabulary")
    total = len(gold) + (0 if dummy4unknown else oov)
    return SimilarityResult(
        name=path.stem,
        spearman=float(stats.spearmanr(gold, model).statistic),
        pearson=float(stats.pearsonr(gold, model).statistic),
        evaluated=len(gold) - (oov if dummy4unknown else 0),
        oov=oov,
        total=total,
    )


def evaluate(vectors) -> dict[str, float]:
    """The lesson's three numbers in one dict: analogy accuracy, WordSim-353 and SimLex-999
    Spearman (plus how many questions each could ask)."""
    a = evaluate_analogies(vectors)
    ws = evaluate_similarity(vectors, "wordsim353")
    sl = evaluate_similarity(vectors, "simlex999")
    return {
        "analogy_accuracy": a.accuracy,
        "analogy_coverage": a.coverage,
        "wordsim353": ws.spearman,
        "wordsim353_pairs": ws.evaluated,
        "simlex999": sl.spearman,
        "simlex999_pairs": sl.evaluated,
    }


# --- GloVe -----------------------------------------------------------------------------------


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
