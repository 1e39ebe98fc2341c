"""The corpora the course trains on, and a batcher for language modelling. All offline.

- Shakespeare: ``data/shakespeare.txt`` (every play and poem) and ``data/tiny_shakespeare.txt``
  (its first 1,115,394 characters), built by ``python data/build_shakespeare.py``. Every lesson uses
  the same split of the tiny slice: the first 90% for training, the last 10% for validation.
- Modern English and evaluation sets: the test data that the installed gensim package ships,
  found with ``gensim.test.utils.datapath`` and never copied into the repository.
"""

from __future__ import annotations

import bz2
import os
import re
from collections.abc import Sequence
from pathlib import Path

import torch

from .runtime import CACHE_DIR, data_path, relpath

TRAIN_FRACTION = 0.9
TINY_CHARS = 1_115_394

BUILD_SHAKESPEARE = "python data/build_shakespeare.py"
WIKI_DUMP = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
GENSIM_FILES = {
    "wiki": WIKI_DUMP,
    "analogies": "questions-words.txt",
    "wordsim353": "wordsim353.tsv",
    "simlex999": "simlex999.txt",
    "lee": "lee_background.cor",
    "polarity": "pang_lee_polarity.cor",
}
_WIKI_CACHE_VERSION = 1


class DataNotFoundError(FileNotFoundError):
    """A corpus file is missing; the message names the file and the command that builds it."""


def _read(path: Path, build: str) -> str:
    if not path.exists():
        raise DataNotFoundError(
            f"{relpath(path)} is missing: build it with `{build}` (run from the repository root)"
        )
    return path.read_text(encoding="utf-8")


# --- Shakespeare -----------------------------------------------------------------------------


def load_shakespeare(tiny: bool = True) -> str:
    """The Shakespeare corpus as one string: the 1,115,394-character slice (default) or all of it
    (``tiny=False``, about 5.05 M characters)."""
    name = "tiny_shakespeare.txt" if tiny else "shakespeare.txt"
    return _read(data_path(name), BUILD_SHAKESPEARE)


def split_text(text: Sequence, train_fraction: float = TRAIN_FRACTION) -> tuple:
    """Contiguous split: the first ``train_fraction`` for training, the rest for validation."""
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(
            f"train_fraction must be between 0 and 1 (exclusive), got {train_fraction}"
        )
    n = int(train_fraction * len(text))
    return text[:n], text[n:]


def shakespeare_split() -> tuple[str, str]:
    """The course's fixed split of tiny Shakespeare: ``(train, val)``, 1,003,854 and 111,540
    characters, contiguous, as in the classic benchmark. Every lesson compares on ``val``."""
    return split_text(load_shakespeare(tiny=True))


# --- language-model batches --------------------------------------------------------------------


class LMBatcher:
    """Random windows of ``block_size`` tokens with next-token targets, for language modelling.

    ``get_batch(split, step)`` returns ``(x, y)``, both ``(B, T)`` int64, with ``y[:, t] ==
    x[:, t + 1]`` inside each window. The windows are a pure function of ``(seed, split, step)``,
    so a run resumed at step k sees exactly the batches an uninterrupted run saw.

    Args:
        train: 1-D tensor (or sequence) of token ids for training.
        val: 1-D token ids for validation (optional).
        block_size: T, the window length.
        batch_size: B, windows per batch.
        seed: the seed for the window positions.
    """

    def __init__(self, train, val=None, *, block_size: int, batch_size: int, seed: int = 0):
        if block_size < 1 or batch_size < 1:
            raise ValueError(
                f"block_size and batch_size must be >= 1, got {block_size} and {batch_size}"
            )
        self.data = {"train": self._as_ids(train, "train", block_size)}
        if val is not None:
            self.data["val"] = self._as_ids(val, "val", block_size)
        self.block_size, self.batch_size, self.seed = block_size, batch_size, seed

    @staticmethod
    def _as_ids(ids, name: str, block_size: int) -> torch.Tensor:
        t = torch.as_tensor(ids, dtype=torch.long)
        if t.dim() != 1:
            raise ValueError(f"{name} ids must be 1-D, got shape {tuple(t.shape)}")
        if len(t) < block_size + 1:
            raise ValueError(
                f"{name} has {len(t)} tokens, fewer than block_size + 1 = "
                f"{block_size + 1}: use a smaller block_size or more text"
            )
        return t

    def get_batch(self, split: str = "train", step: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        if split not in self.data:
            raise KeyError(f"no {split!r} data in this batcher: have {sorted(self.data)}")
        data = self.data[split]
        g = torch.Generator().manual_seed(
            (self.seed * 1_000_003 + step * 2 + (split == "val")) % 2**63
        )
        starts = torch.randint(len(data) - self.block_size, (self.batch_size,), generator=g)
        idx = starts[:, None] + torch.arange(self.block_size + 1)
        windows = data[idx]
        return windows[:, :-1], windows[:, 1:]

    __call__ = get_batch

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v):,}" for k, v in self.data.items())
        return (
            f"LMBatcher({sizes} tokens, block_size={self.block_size}, "
            f"batch_size={self.batch_size}, seed={self.seed})"
        )


# --- gensim's test data: modern English and evaluation sets ---------------------------------


def gensim_path(name: str) -> Path:
    """Path of a file in gensim's installed test data (``gensim.test.utils.datapath``)."""
    try:
        from gensim.test.utils import datapath
    except ImportError as e:  # pragma: no cover - gensim is a pinned dependency
        raise DataNotFoundError(
            "gensim is not installed: run `make venv` (or pip install -e .)"
        ) from e
    path = Path(datapath(GENSIM_FILES.get(name, name)))
    if not path.exists():
        raise DataNotFoundError(
            f"{path.name} is not in gensim's test data: reinstall the pinned "
            "gensim with `pip install --force-reinstall gensim==4.4.0`"
        )
    return path


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def tokenize_sentences(text: str, min_len: int = 2, max_len: int = 15) -> list[list[str]]:
    """Split ``text`` into sentences, each a list of lower-case word tokens, with gensim's
    WikiCorpus tokenizer conventions (letters only, tokens of 2 to 15 characters)."""
    from gensim.corpora.wikicorpus import tokenize

    out = []
    for sentence in _SENTENCE_END.split(text):
        tokens = tokenize(sentence, min_len, max_len, True)
        if tokens:
            out.append(tokens)
    return out


def _parse_wiki() -> list[list[str]]:
    """Parse the shortened Wikipedia dump as gensim's WikiCorpus does (article namespace, markup
    removed, articles under 50 tokens dropped), but keep sentence boundaries."""
    from gensim.corpora.wikicorpus import (
        ARTICLE_MIN_WORDS,
        IGNORED_NAMESPACES,
        extract_pages,
        filter_wiki,
    )

    sentences = []
    with bz2.BZ2File(gensim_path("wiki")) as f:
        for title, text, _pageid in extract_pages(f, ("0",)):
            if any(title.startswith(ns + ":") for ns in IGNORED_NAMESPACES):
                continue
            article = tokenize_sentences(filter_wiki(text))
            if sum(map(len, article)) >= ARTICLE_MIN_WORDS:
                sentences.extend(article)
    return sentences


def load_wiki_sentences(cache: bool = True) -> list[list[str]]:
    """Tokenised sentences of gensim's shortened English Wikipedia dump (about 453,000 tokens).

    Parsing takes a while, so the result is cached once in ``data/cache/`` (git-ignored)."""
    path = CACHE_DIR / f"wiki_sentences_v{_WIKI_CACHE_VERSION}.txt"
    if cache and path.exists():
        return [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
    sentences = _parse_wiki()
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text("".join(" ".join(s) + "\n" for s in sentences), encoding="utf-8")
        os.replace(tmp, path)
    return sentences


def load_lee_sentences() -> list[list[str]]:
    """Tokenised sentences of ``lee_background.cor`` (300 Australian news articles)."""
    return tokenize_sentences(gensim_path("lee").read_text(encoding="utf-8"))


def load_english_sentences() -> list[list[str]]:
    """The course's modern English corpus: the Wikipedia sample plus the Lee news corpus
    (about 511,000 tokens)."""
    return load_wiki_sentences() + load_lee_sentences()


def load_analogies(path=None) -> dict[str, list[tuple[str, str, str, str]]]:
    """The Mikolov et al. (2013) analogy set, ``{section: [(a, b, c, d), ...]}``, lower-cased.
    ``a : b :: c : d``; ``path``: another file in its format (default: gensim's copy)."""
    sections: dict[str, list[tuple[str, str, str, str]]] = {}
    current = None
    path = gensim_path("analogies") if path is None else Path(path)
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            current = line[1:].strip()
            sections[current] = []
        elif line.strip():
            a, b, c, d = line.lower().split()
            sections[current].append((a, b, c, d))
    return sections


def load_word_pairs(path) -> list[tuple[str, str, float]]:
    """A ``word1<TAB>word2<TAB>score`` file (``#`` lines are comments), lower-cased."""
    pairs = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        w1, w2, score = line.split("\t")[:3]
        pairs.append((w1.lower(), w2.lower(), float(score)))
    return pairs


def load_wordsim353() -> list[tuple[str, str, float]]:
    """WordSim-353 (Finkelstein et al. 2002): ``[(word1, word2, human score 0-10), ...]``."""
    return load_word_pairs(gensim_path("wordsim353"))


def load_simlex999() -> list[tuple[str, str, float]]:
    """SimLex-999 (Hill et al. 2015): ``[(word1, word2, human score 0-10), ...]``."""
    return load_word_pairs(gensim_path("simlex999"))


def load_polarity() -> list[tuple[str, int]]:
    """The 200 labelled movie-review sentences gensim ships (Pang & Lee): ``[(text, label)]``,
    label 1 for positive and 0 for negative."""
    rows = []
    # The file is Windows-1252 (its dashes are byte 0x97), not UTF-8.
    for line in gensim_path("polarity").read_text(encoding="cp1252").splitlines():
        if line.strip():
            label, text = line.split(" ", 1)
            rows.append((text.strip(), 1 if label == "__label__pos" else 0))
    return rows


# --- Shakespeare's works one by one (lesson 06) ---------------------------------------------

# The 42 works of ``shakespeare.txt`` in file order: (title line, short key, genre). Genres are
# the First Folio's (1623) three groups; Pericles is not in the Folio, the poems are poems.
SHAKESPEARE_WORKS = (
    ("ALL'S WELL THAT ENDS WELL", "alls_well", "comedy"),
    ("ANTONY AND CLEOPATRA", "antony_and_cleopatra", "tragedy"),
    ("AS YOU LIKE IT", "as_you_like_it", "comedy"),
    ("THE COMEDY OF ERRORS", "comedy_of_errors", "comedy"),
    ("THE TRAGEDY OF CORIOLANUS", "coriolanus", "tragedy"),
    ("CYMBELINE", "cymbeline", "tragedy"),
    ("HAMLET, PRINCE OF DENMARK", "hamlet", "tragedy"),
    ("KING HENRY IV, THE FIRST PART", "henry_iv_1", "history"),
    ("KING HENRY IV, SECOND PART", "henry_iv_2", "history"),
    ("THE LIFE OF KING HENRY V", "henry_v", "history"),
    ("KING HENRY VI, FIRST PART", "henry_vi_1", "history"),
    ("HISTORY OF KING HENRY THE SIXTH, SECOND PART", "henry_vi_2", "history"),
    ("THE HISTORY OF KING HENRY THE SIXTH, THIRD PART", "henry_vi_3", "history"),
    ("THE LIFE OF HENRY THE EIGHTH", "henry_viii", "history"),
    ("KING JOHN", "king_john", "history"),
    ("JULIUS CAESAR", "julius_caesar", "tragedy"),
    ("THE TRAGEDY OF KING LEAR", "king_lear", "tragedy"),
    ("A LOVER'S COMPLAINT", "lovers_complaint", "poem"),
    ("LOVE'S LABOUR'S LOST", "loves_labours_lost", "comedy"),
    ("MACBETH", "macbeth", "tragedy"),
    ("MEASURE FOR MEASURE", "measure_for_measure", "comedy"),
    ("THE MERCHANT OF VENICE", "merchant_of_venice", "comedy"),
    ("THE MERRY WIVES OF WINDSOR", "merry_wives", "comedy"),
    ("A MIDSUMMER NIGHT'S DREAM", "midsummer_nights_dream", "comedy"),
    ("MUCH ADO ABOUT NOTHING", "much_ado", "comedy"),
    ("OTHELLO, THE MOOR OF VENICE", "othello", "tragedy"),
    ("THE PASSIONATE PILGRIM", "passionate_pilgrim", "poem"),
    ("PERICLES PRINCE OF TYRE", "pericles", "not in the Folio"),
    ("THE PHOENIX AND THE TURTLE", "phoenix_and_turtle", "poem"),
    ("THE RAPE OF LUCRECE", "rape_of_lucrece", "poem"),
    ("THE TRAGEDY OF KING RICHARD THE SECOND", "richard_ii", "history"),
    ("THE LIFE AND DEATH OF KING RICHARD III", "richard_iii", "history"),
    ("ROMEO AND JULIET", "romeo_and_juliet", "tragedy"),
    ("THE SONNETS", "sonnets", "poem"),
    ("THE TAMING OF THE SHREW", "taming_of_the_shrew", "comedy"),
    ("THE TEMPEST", "tempest", "comedy"),
    ("THE LIFE OF TIMON OF ATHENS", "timon_of_athens", "tragedy"),
    ("THE TRAGEDY OF TITUS ANDRONICUS", "titus_andronicus", "tragedy"),
    ("THE HISTORY OF TROILUS AND CRESSIDA", "troilus_and_cressida", "tragedy"),
    ("TWELFTH NIGHT; OR, WHAT YOU WILL", "twelfth_night", "comedy"),
    ("THE TWO GENTLEMEN OF VERONA", "two_gentlemen", "comedy"),
    ("THE WINTER'S TALE", "winters_tale", "comedy"),
)

_BYLINE = re.compile(r"^by William Shakespeare$", re.M)
_FIRST_ACT = re.compile(r"^\s*(?:ACT|Act|SCENE I|Scene I)\b.*$", re.M)


def shakespeare_works(text: str | None = None) -> list[dict]:
    """The 42 works of ``shakespeare.txt``, in order, as dicts with ``title``, ``key`` (e.g.
    ``"macbeth"``), ``genre`` (``"comedy"``, ``"tragedy"``, ``"history"``, ``"poem"`` or
    ``"not in the Folio"``), ``start`` and ``end`` (character offsets in the corpus, so
    ``corpus[start:end] == text``), ``text`` and ``body_start`` (offset in ``text`` where the play
    itself begins, after the title and the list of persons; 0 is never used for plays).

    Each work starts with its title line and a byline ``by William Shakespeare``; works are
    separated by one blank line (see ``data/README.md``)."""
    corpus = load_shakespeare(tiny=False) if text is None else text
    bylines = [m.start() for m in _BYLINE.finditer(corpus)]
    if len(bylines) != len(SHAKESPEARE_WORKS):
        raise ValueError(
            f"expected {len(SHAKESPEARE_WORKS)} works (one 'by William Shakespeare' line each) "
            f"in the corpus, found {len(bylines)}: rebuild it with `{BUILD_SHAKESPEARE}`"
        )
    # a work starts at its title line: the last non-blank line before the byline
    starts = []
    for b in bylines:
        head = corpus[:b].rstrip("\n")
        starts.append(head.rfind("\n") + 1)
    ends = [s - 1 for s in starts[1:]] + [len(corpus)]  # the newline before a title separates
    works = []
    for (title, key, genre), s, e, b in zip(SHAKESPEARE_WORKS, starts, ends, bylines, strict=True):
        found = corpus[s:b].strip()
        if found != title:
            raise ValueError(
                f"expected the work {title!r} at offset {s}, found {found!r}: rebuild the corpus "
                f"with `{BUILD_SHAKESPEARE}`"
            )
        work = corpus[s:e]
        body = b - s + len("by William Shakespeare\n")
        if genre not in ("poem",):
            m = _FIRST_ACT.search(work, body)
            if m is None:
                raise ValueError(f"no first act or scene found in {title!r}")
            body = m.start() + 1
        works.append(
            {
                "title": title,
                "key": key,
                "genre": genre,
                "start": s,
                "end": e,
                "text": work,
                "body_start": body,
            }
        )
    return works
