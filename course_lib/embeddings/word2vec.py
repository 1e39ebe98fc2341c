"""Word2Vec: skip-gram with negative sampling (Mikolov et al. 2013), trained without autograd.

The pieces, in the order the lesson builds them: :func:`build_vocab` and :func:`encode_corpus`
(the text as ids), :func:`keep_probabilities` (subsampling of frequent words),
:func:`noise_distribution` (unigram^0.75), :func:`skipgram_pairs`, :func:`sgns_loss` and its
closed-form :func:`sgns_gradients`, one in-place SGD step :func:`sgns_update_`, one epoch's
batches :func:`epoch_groups`, and the whole trainer :func:`train_word2vec`.

Why the trainer is fast without autograd: every step gathers the rows it needs with
``index_select``, computes the gradients of the loss in closed form with three small batched
matrix products, and adds them back with ``index_add_``. Centre words are grouped by their random
window size ``b`` so each group is a dense ``(n, 2b)`` block with no padding, and the negatives
of a centre word are shared by its context words, which turns many dot products into one small
matrix product per centre (the trick of Ji et al. 2016, "Parallelizing Word2Vec in Shared and
Distributed Memory"). Everything else follows word2vec and gensim: random reduced windows,
subsampling of frequent words, noise drawn from the unigram distribution to the power 0.75, and a
learning rate decaying linearly from ``alpha`` to ``min_alpha``.

Conventions: ``V`` words, ``d`` dimensions; ``W_in`` ``(V + 1, d)`` are the input (word)
vectors, whose last row is a zero padding row, and ``W_out`` ``(V, d)`` the output (context)
vectors. Randomness: one NumPy generator for the data (subsampling, windows, noise, in that
order every epoch) and one torch generator for the initial vectors, both seeded with ``seed``.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..runtime import progress_bar
from .vectors import WordVectors

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
            many pairs). At most a quarter of the vocabulary is used: larger steps make the
            summed updates of words met many times in one step overshoot.
        threads: torch threads while training (restored afterwards). One is fastest for these
            small operations on a busy 2-core machine; ``None`` keeps the current setting.
        progress: show a progress bar.

    Returns:
        :class:`WordVectors` (the input vectors, as gensim's ``wv``), with ``.training``, a
        :class:`Word2VecLog`. Press Ctrl-C (interrupt the kernel) to stop early: you get the
        vectors trained so far, and ``.training.interrupted`` is True.
    """
    settings = _check_settings(
        dim=dim, window=window, negative=negative, min_count=min_count, sample=sample,
        epochs=epochs, seed=seed, alpha=alpha, min_alpha=min_alpha, ns_exponent=ns_exponent,
        batch_size=batch_size,
    )  # fmt: skip
    corpus = _prepare_corpus(sentences, min_count, sample, ns_exponent)
    return _train(corpus, settings, threads=threads, progress=progress, desc=desc)


@dataclass
class _Corpus:
    """The text as the trainer sees it (see :func:`encode_corpus`)."""

    vocab: Vocab
    ids: np.ndarray  # (N,) in-vocabulary token ids, every sentence concatenated
    sentence_of: np.ndarray  # (N,) the sentence each token belongs to
    keep: np.ndarray  # (V,) subsampling keep probabilities
    cum_noise: np.ndarray  # (V,) cumulative noise distribution (gensim's cum_table)


def _prepare_corpus(sentences, min_count: int, sample: float, ns_exponent: float) -> _Corpus:
    sentences = _as_sentences(sentences)
    vocab = build_vocab(sentences, min_count)
    ids, sentence_of = encode_corpus(sentences, vocab)
    _check_has_pairs(sentence_of, min_count)
    keep = keep_probabilities(vocab.counts, sample)
    cum_noise = np.cumsum(noise_distribution(vocab.counts, ns_exponent).numpy())
    return _Corpus(vocab, ids, sentence_of, keep, cum_noise)


def _init_vectors(V: int, dim: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """gensim's initialisation: inputs uniform in ``[-0.5, 0.5) / dim``, outputs zero.
    Returns ``W_in (V + 1, d)``, whose last row is the padding row for windows cut by a sentence
    end, and ``W_out (V, d)``."""
    gen = torch.Generator().manual_seed(seed)
    W_in = torch.zeros(V + 1, dim)
    W_in[:V] = (torch.rand(V, dim, generator=gen) - 0.5) / dim
    return W_in, torch.zeros(V, dim)


def _train(c: _Corpus, s: dict, *, threads, progress: bool, desc: str) -> WordVectors:
    """The loop of :func:`train_word2vec` (``s``: its settings): every epoch draws its batches
    with :func:`epoch_groups`, every step applies :func:`sgns_update_` to each group's slice."""
    V, epochs, alpha, min_alpha = len(c.vocab), s["epochs"], s["alpha"], s["min_alpha"]
    rng = np.random.default_rng(s["seed"])
    W_in, W_out = _init_vectors(V, s["dim"], s["seed"])
    expected_centres = float(c.keep[c.ids].sum())  # per epoch, for the learning-rate schedule
    # A step sums the updates of every row it touches. With more centres per step than about a
    # quarter of the vocabulary, rows are hit so often that the sums overshoot and training
    # diverges (measured on this course's corpus: fine up to V / 6, diverged at V / 4 per group).
    batch_size = max(1, min(s["batch_size"], V // 4))
    steps_per_epoch = max(1, math.ceil(expected_centres / batch_size))
    total = expected_centres * epochs
    log = Word2VecLog(settings=s)
    log_every = max(1, steps_per_epoch * epochs // 200)  # about 200 loss points

    bar = progress_bar(total=steps_per_epoch * epochs, desc=desc, disable=not progress)
    done, step, start = 0, 0, time.perf_counter()
    try:
        with torch_threads(threads), torch.no_grad():
            for epoch in range(epochs):
                groups = epoch_groups(
                    c.ids, c.sentence_of, c.keep, c.cum_noise,
                    window=s["window"], negative=s["negative"], rng=rng,
                )  # fmt: skip
                for batch in _step_batches(groups, steps_per_epoch):
                    lr = max(min_alpha, alpha - (alpha - min_alpha) * done / total)
                    centres, pairs, loss = _sgns_step(
                        W_in, W_out, batch, lr, with_loss=step % log_every == 0
                    )
                    done, step = done + centres, step + 1
                    log.pairs += pairs
                    if loss is not None:
                        log.progress.append(step / (steps_per_epoch * epochs))
                        log.loss.append(loss)
                        bar.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.4f}", refresh=False)
                    bar.update(1)
                _check_finite(W_in, epoch, alpha, batch_size)
                log.epochs_done = epoch + 1
                log.tokens += c.vocab.total_tokens
    except KeyboardInterrupt:
        _stopped_early(log, step, steps_per_epoch, epochs, c.vocab.total_tokens)
    finally:
        bar.close()
    log.seconds = time.perf_counter() - start
    wv = WordVectors(c.vocab.words, W_in[:V].clone(), c.vocab.counts)
    wv.training = log
    return wv


def _step_batches(groups: list[WindowGroup], steps: int) -> Iterator[list[tuple]]:
    """Each step's batch: slice ``k`` of every window-size group, as ``(ctx, out_ids, weight)``
    triples. Slicing every group keeps the blocks dense (no padding) and the groups mixed in
    time."""
    per_group = [
        list(
            zip(*(torch.tensor_split(t, steps) for t in (g.ctx, g.out_ids, g.weight)), strict=True)
        )
        for g in groups
    ]
    for k in range(steps):
        yield [slices[k] for slices in per_group]


def _sgns_step(W_in, W_out, batch: list[tuple], lr: float, *, with_loss: bool):
    """One training step: :func:`sgns_update_` on each group's slice, one after another.
    Returns ``(centres, pairs, mean loss per pair or None)``."""
    V = W_out.shape[0]
    centres, pairs, losses = 0, 0, []
    for ctx, out_ids, weight in batch:
        if len(ctx) == 0:
            continue
        loss = sgns_update_(W_in, W_out, ctx, out_ids, weight, lr, with_loss=with_loss)
        n_pairs = int((ctx != V).sum())
        centres, pairs = centres + len(ctx), pairs + n_pairs
        if with_loss:
            losses.append((loss, n_pairs))
    if not losses:
        return centres, pairs, None
    return centres, pairs, sum(v * n for v, n in losses) / max(1, sum(n for _, n in losses))


def _stopped_early(log: Word2VecLog, step: int, steps_per_epoch: int, epochs: int, tokens: int):
    """Ctrl-C: record the fraction of training done (the vectors are kept as they are)."""
    log.interrupted = True
    log.epochs_done += (step - log.epochs_done * steps_per_epoch) / steps_per_epoch
    log.tokens = int(tokens * log.epochs_done)
    print(
        f"Interrupted after {log.epochs_done:.2f} of {epochs} epochs: returning the "
        "vectors trained so far."
    )


# --- checks ----------------------------------------------------------------------------------


def _check_settings(**settings) -> dict:
    for name in ("dim", "window", "negative", "epochs", "batch_size"):
        value = settings[name]
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")
    alpha, min_alpha = settings["alpha"], settings["min_alpha"]
    if not 0 < min_alpha <= alpha:
        raise ValueError(f"need 0 < min_alpha <= alpha, got alpha={alpha}, min_alpha={min_alpha}")
    return settings


def _check_has_pairs(sentence_of: np.ndarray, min_count: int) -> None:
    if not np.any(sentence_of[1:] == sentence_of[:-1]):
        raise ValueError(
            "no training pairs: every sentence has fewer than 2 words that occur at least "
            f"min_count={min_count} times; pass longer sentences or lower min_count"
        )


def _check_finite(W_in: torch.Tensor, epoch: int, alpha: float, batch_size: int) -> None:
    if not torch.isfinite(W_in).all():
        raise FloatingPointError(
            f"training diverged in epoch {epoch + 1} (the vectors hold inf or nan): "
            f"lower alpha (now {alpha}) or batch_size (now {batch_size})"
        )
