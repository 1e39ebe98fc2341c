"""Word vectors: ``words[i]`` has vector ``vectors[i]``, and the questions people ask of them.

:class:`WordVectors` holds ``words`` (a list, most frequent first for vectors trained here) and
``vectors`` (a ``(V, d)`` float32 tensor, same order); it answers ``most_similar``, ``analogy``
and ``similarity`` by cosine, round-trips through ``save``/``load`` (a ``.pt`` file) and through
gensim's ``KeyedVectors`` (``to_gensim``/``from_gensim``). :func:`analogy_search` is the
analogy arithmetic on a bare matrix, the piece the lesson writes.

Conventions: similarities are cosines, so every query works on unit vectors (length 1); an
analogy ``a : b :: c : ?`` is 3CosAdd, the word nearest to ``unit(b) - unit(a) + unit(c)`` other
than ``a``, ``b``, ``c``; a missing word raises :class:`WordNotFoundError` (a ``KeyError``)
that suggests close spellings.
"""

from __future__ import annotations

import difflib
import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..runtime import relpath

if TYPE_CHECKING:
    from .word2vec import Word2VecLog

WORDVECTORS_FORMAT = "course_lib.wordvectors/1"


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
