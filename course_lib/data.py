"""The corpora the course trains on, a batcher for language modelling, and lesson 06's
classification tasks. All offline.

- Shakespeare: ``data/shakespeare.txt`` (every play and poem) and ``data/tiny_shakespeare.txt``
  (its first 1,115,394 characters), built by ``python data/build_shakespeare.py``. Every lesson uses
  the same split of the tiny slice: the first 90% for training, the last 10% for validation
  (:func:`shakespeare_split`; as character ids, :func:`shakespeare_char_data`; as the ids of any
  tokenizer, e.g. a BPE, :func:`shakespeare_token_data`).
- :class:`LMBatcher`: random windows with next-token targets, a pure function of
  ``(seed, split, step)``.
- Modern English and evaluation sets: the test data that the installed gensim package ships,
  found with ``gensim.test.utils.datapath`` and never copied into the repository.
- Shakespeare's works one by one (:func:`shakespeare_works`) and the tasks lesson 06 builds from
  them: :func:`genre_task`, :func:`play_task` (passages held out by whole play or by position),
  :func:`sentiment_task` (movie reviews), and :func:`pretraining_text`, which never holds a
  test passage.
"""

from __future__ import annotations

import bz2
import importlib.util
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
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


def shakespeare_char_data() -> tuple:
    """``(tokenizer, train_ids, val_ids)``: the course's Shakespeare split as character ids, with
    the :class:`~course_lib.tokenize.CharTokenizer` of the whole slice (77 characters), the ids
    lessons 03 and 05 train on."""
    from .tokenize import CharTokenizer  # tokenize builds on data, not the other way round

    tok = CharTokenizer().train(load_shakespeare())
    train_text, val_text = shakespeare_split()
    return tok, torch.tensor(tok.encode(train_text)), torch.tensor(tok.encode(val_text))


def shakespeare_tokenizer():
    """The character tokenizer of the whole corpus (84 characters; the tiny slice has only 77),
    the one lesson 06's pre-trained GPT reads."""
    from .tokenize import CharTokenizer

    return CharTokenizer().train(load_shakespeare(tiny=False))


def shakespeare_token_data(tokenizer) -> tuple:
    """``(tokenizer, train_ids, val_ids)``: the course's Shakespeare split
    (:func:`shakespeare_split`) encoded with ``tokenizer``, any object with ``encode(text) ->
    ids``, ``decode(ids) -> text`` and ``len(tokenizer)`` (the course's tokenizer interface: a
    :class:`~course_lib.tokenize.CharTokenizer`, a :class:`~course_lib.tokenize.BPETokenizer`).
    :func:`shakespeare_char_data` with a tokenizer of your choice: the text is the same whatever
    the tokenizer, so a loss per *character* of it compares tokenizers fairly.

    A tokenizer learned from text (BPE) should be trained on the training part only
    (:func:`course_lib.runs.train_shakespeare_bpe`), never on the validation text."""
    return encode_split(tokenizer, *shakespeare_split())


def encode_split(tokenizer, train_text: str, val_text: str) -> tuple:
    """``(tokenizer, train_ids, val_ids)``: ``train_text`` and ``val_text`` encoded with
    ``tokenizer`` as 1-D int64 tensors, the ``data`` that :func:`course_lib.runs.train_gpt`
    takes."""
    _check_tokenizer(tokenizer)
    return (
        tokenizer,
        torch.tensor(tokenizer.encode(train_text), dtype=torch.long),
        torch.tensor(tokenizer.encode(val_text), dtype=torch.long),
    )


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
        batch_size: B, windows per training batch.
        seed: the seed for the window positions.
        val_batch_size: windows per validation batch (default ``batch_size``): a validation
            sample that stays the same whatever the training batch size.
        val_seed: draw the validation windows as the training windows of a batcher with this
            seed would be drawn (default: a stream of their own, derived from ``seed``).
    """

    def __init__(
        self,
        train,
        val=None,
        *,
        block_size: int,
        batch_size: int,
        seed: int = 0,
        val_batch_size: int | None = None,
        val_seed: int | None = None,
    ):
        sizes = dict(block_size=block_size, batch_size=batch_size, val_batch_size=val_batch_size)
        bad = [f"{k}={v}" for k, v in sizes.items() if v is not None and v < 1]
        if bad:
            raise ValueError(f"window and batch sizes must be >= 1, got {', '.join(bad)}")
        self.data = {"train": self._as_ids(train, "train", block_size)}
        if val is not None:
            self.data["val"] = self._as_ids(val, "val", block_size)
        self.block_size, self.batch_size, self.seed = block_size, batch_size, seed
        self.val_batch_size, self.val_seed = val_batch_size, val_seed

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
        data, B = self.data[split], self.batch_size
        stream = self.seed * 1_000_003 + (split == "val")  # train and val: streams of their own
        if split == "val":
            B = self.val_batch_size or B
            if self.val_seed is not None:
                stream = self.val_seed * 1_000_003
        g = torch.Generator().manual_seed((stream + step * 2) % 2**63)
        starts = torch.randint(len(data) - self.block_size, (B,), generator=g)
        idx = starts[:, None] + torch.arange(self.block_size + 1)
        windows = data[idx]
        return windows[:, :-1], windows[:, 1:]

    __call__ = get_batch

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v):,}" for k, v in self.data.items())
        val = "".join(
            f", {k}={v}"
            for k, v in (("val_batch_size", self.val_batch_size), ("val_seed", self.val_seed))
            if v is not None
        )
        return (
            f"LMBatcher({sizes} tokens, block_size={self.block_size}, "
            f"batch_size={self.batch_size}, seed={self.seed}{val})"
        )


# --- gensim's test data: modern English and evaluation sets ---------------------------------


def gensim_path(name: str) -> Path:
    """Path of a file in gensim's installed test data (where ``gensim.test.utils.datapath``
    points), found without importing gensim, which takes a second or two."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:  # pragma: no cover - pinned
        raise DataNotFoundError("gensim is not installed: run `make venv` (or pip install -e .)")
    folder = Path(spec.submodule_search_locations[0]) / "test" / "test_data"
    path = folder / GENSIM_FILES.get(name, name)
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


# --- classification tasks from the works (lesson 06) ------------------------------------

GENRES = ("comedy", "tragedy", "history")
"""The First Folio's (1623) three groups, the classes of the lesson's task."""

GENRE_TEST_PLAYS = (
    "twelfth_night",
    "midsummer_nights_dream",
    "macbeth",
    "othello",
    "richard_iii",
    "henry_v",
)
"""Two comedies, two tragedies, two histories: the test set's plays. No passage of them is in
the classification training pool or in the pre-training text."""

STYLE_WORK = "sonnets"
"""The work the lesson's style fine-tuning continues pre-training on; left out of pre-training so
that "before" really has never seen it."""

PASSAGE_CHARS = 256
"""Characters per passage: a few lines of dialogue (about 45 words)."""


@dataclass
class TextTask:
    """A text classification task: ``classes`` (K names) and a train pool and a test set, each
    as texts, integer labels in ``0..K-1`` and groups (the work each passage comes from)."""

    name: str
    classes: tuple[str, ...]
    train_texts: list[str]
    train_labels: list[int]
    test_texts: list[str]
    test_labels: list[int]
    train_groups: list[str] = field(default_factory=list)
    test_groups: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        def counts(labels):
            return ", ".join(f"{c} {labels.count(i)}" for i, c in enumerate(self.classes))

        return (
            f"TextTask({self.name!r}: train pool {len(self.train_texts)} "
            f"({counts(self.train_labels)}); test {len(self.test_texts)} "
            f"({counts(self.test_labels)}))"
        )


def validation_split(task: TextTask, per_class: int) -> tuple[TextTask, TextTask]:
    """Carve a validation set out of ``task``'s train pool: the last ``per_class`` passages of
    each class (the pool is in reading order, so for :func:`play_task` they come after the
    passages kept for training). Returns ``(train, val)``: ``train`` is ``task`` with the smaller
    pool and the same test set; ``val`` has the same smaller pool and the validation passages in
    place of the test set. Model choices are made on ``val``; the test set is read once, at the
    end."""
    keep, held = [], []
    for c in range(len(task.classes)):
        mine = [i for i, label in enumerate(task.train_labels) if label == c]
        if len(mine) <= per_class:
            raise ValueError(
                f"class {task.classes[c]!r} has {len(mine)} training passages: too few to hold "
                f"out {per_class} for validation; use a smaller per_class"
            )
        keep += mine[:-per_class]
        held += mine[-per_class:]
    keep.sort()
    held.sort()

    def pick(idx, values):
        return [values[i] for i in idx] if values else []

    pool = dict(
        train_texts=pick(keep, task.train_texts),
        train_labels=pick(keep, task.train_labels),
        train_groups=pick(keep, task.train_groups),
    )
    train = TextTask(
        task.name,
        task.classes,
        test_texts=task.test_texts,
        test_labels=task.test_labels,
        test_groups=task.test_groups,
        **pool,
    )
    val = TextTask(
        f"{task.name} (validation)",
        task.classes,
        test_texts=pick(held, task.train_texts),
        test_labels=pick(held, task.train_labels),
        test_groups=pick(held, task.train_groups),
        **pool,
    )
    return train, val


_HEADING = re.compile(r"^(?!ACT\b|SCENE\b)([A-Z][A-Z' ]{1,30})\.?$", re.M)


def speaker_names(text: str) -> set[str]:
    """The names in ``text``'s speaker headings: words of a line that is only a name in capitals
    (``MACBETH.``, ``FIRST WITCH.``, ``THESEUS``; not ``ACT II.`` or ``SCENE I.``) that are never
    written in lower case in ``text`` (so ``Macbeth`` and ``Banquo`` are names, ``witch`` and
    ``all`` are not). Returned in title case."""
    lower = set(re.findall(r"\b[a-z]+\b", text))
    words = {w for h in _HEADING.findall(text) for w in re.findall(r"[A-Za-z]+", h)}
    return {w.title() for w in words if len(w) > 1 and w.lower() not in lower}


def mask_names(text: str, names: set[str], mask: str = "X") -> str:
    """``text`` with every heading line's letters and every whole-word occurrence of ``names``
    (any case) replaced letter for letter by ``mask`` (``MACBETH.`` -> ``XXXXXXX.``, ``Macbeth``
    -> ``Xxxxxxx``): the same length and layout, without the names."""

    def hide(m: re.Match) -> str:
        return "".join(
            (mask.upper() if c.isupper() else mask.lower()) if c.isalpha() else c
            for c in m.group(0)
        )

    text = _HEADING.sub(hide, text)
    if not names:
        return text
    pattern = r"\b(?:" + "|".join(sorted(map(re.escape, names), key=len, reverse=True)) + r")\b"
    return re.sub(pattern, hide, text, flags=re.I)


def play_passages(
    work: dict, length: int = PASSAGE_CHARS, gap: int = PASSAGE_CHARS, limit: int | None = None
) -> list[str]:
    """Non-overlapping passages of ``length`` characters from the body of ``work`` (a dict of
    :func:`~course_lib.data.shakespeare_works`), each starting at the beginning of a line and at
    least ``gap`` characters after the previous one ends, so no two passages share a sentence.
    ``limit`` keeps that many, spread evenly over the play."""
    text, pos, out = work["text"], work["body_start"], []
    while pos < len(text):
        if pos > 0 and text[pos - 1] != "\n":
            nl = text.find("\n", pos)
            if nl < 0:
                break
            pos = nl + 1
        if pos + length > len(text):
            break
        out.append(text[pos : pos + length])
        pos += length + gap
    if limit is not None and len(out) > limit:
        step = len(out) / limit
        out = [out[int(i * step)] for i in range(limit)]
    return out


def genre_task(
    per_play_train: int = 60,
    per_play_test: int = 40,
    length: int = PASSAGE_CHARS,
    test_plays: Sequence[str] = GENRE_TEST_PLAYS,
) -> TextTask:
    """Comedy, tragedy or history: which kind of play does a passage come from?

    The train pool holds up to ``per_play_train`` passages from each of the other 30 Folio plays;
    the test set ``per_play_test`` from each held-out play (whole plays: a play's own characters
    do not help, though the histories share kings and lords across plays). Pericles (not in the
    Folio) and the poems are left out."""
    works = [w for w in shakespeare_works() if w["genre"] in GENRES]
    keys = {w["key"] for w in works}
    unknown = [k for k in test_plays if k not in keys]
    if unknown:
        raise ValueError(f"unknown test plays {unknown}: use keys of shakespeare_works()")
    task = TextTask("genre", GENRES, [], [], [], [])
    for w in works:
        held_out = w["key"] in test_plays
        passages = play_passages(w, length, limit=per_play_test if held_out else per_play_train)
        label = GENRES.index(w["genre"])
        texts, labels, groups = (
            (task.test_texts, task.test_labels, task.test_groups)
            if held_out
            else (task.train_texts, task.train_labels, task.train_groups)
        )
        texts.extend(passages)
        labels.extend([label] * len(passages))
        groups.extend([w["key"]] * len(passages))
    return task


def play_task(
    plays: Sequence[str] = GENRE_TEST_PLAYS,
    per_play_train: int = 60,
    per_play_test: int = 40,
    train_fraction: float = 0.6,
    length: int = PASSAGE_CHARS,
) -> TextTask:
    """Which play is a passage from? Passages of each play's first ``train_fraction`` (of its
    passages, in order) form the train pool, the rest the test set, so train and test never
    share a scene's neighbourhood. By default the plays are the genre task's test plays, which the
    pre-trained GPT has never read (so neither part was seen in pre-training)."""
    by_key = {w["key"]: w for w in shakespeare_works()}
    unknown = [k for k in plays if k not in by_key]
    if unknown:
        raise ValueError(f"unknown plays {unknown}: use keys of shakespeare_works()")
    task = TextTask("play", tuple(plays), [], [], [], [])
    for label, key in enumerate(plays):
        passages = play_passages(by_key[key], length)
        cut = int(train_fraction * len(passages))
        train_part, test_part = passages[:cut], passages[cut + 1 :]  # one passage left as a gap
        for part, n, texts, labels, groups in (
            (train_part, per_play_train, task.train_texts, task.train_labels, task.train_groups),
            (test_part, per_play_test, task.test_texts, task.test_labels, task.test_groups),
        ):
            if len(part) > n:
                step = len(part) / n
                part = [part[int(i * step)] for i in range(n)]
            texts.extend(part)
            labels.extend([label] * len(part))
            groups.extend([key] * len(part))
    return task


def sentiment_task(n_test: int = 100, seed: int = 0) -> TextTask:
    """The 200 labelled movie-review sentences gensim ships (Pang & Lee), split into a train pool
    and ``n_test`` test sentences, balanced (half positive), by a seeded shuffle."""
    rows = load_polarity()
    rng = random.Random(seed)
    by_label = {0: [r for r in rows if r[1] == 0], 1: [r for r in rows if r[1] == 1]}
    task = TextTask("sentiment", ("negative", "positive"), [], [], [], [])
    for label, items in by_label.items():
        items = items[:]
        rng.shuffle(items)
        k = n_test // 2
        for i, (text, _) in enumerate(items):
            test = i < k
            (task.test_texts if test else task.train_texts).append(text)
            (task.test_labels if test else task.train_labels).append(label)
    task.train_groups = ["reviews"] * len(task.train_texts)
    task.test_groups = ["reviews"] * len(task.test_texts)
    return task


def pretraining_text() -> str:
    """The text the committed GPT is pre-trained on: every work of ``shakespeare.txt`` except the
    genre task's test plays (:data:`GENRE_TEST_PLAYS`) and the style work (:data:`STYLE_WORK`),
    joined by blank lines as in the corpus. No test passage is in it (``tests/test_data.py``
    checks)."""
    left_out = set(GENRE_TEST_PLAYS) | {STYLE_WORK}
    return "\n".join(w["text"] for w in shakespeare_works() if w["key"] not in left_out)


# --- checks -------------------------------------------------------------------------------------


def _check_tokenizer(tokenizer) -> None:
    missing = [name for name in ("encode", "decode", "__len__") if not hasattr(tokenizer, name)]
    if missing:
        raise TypeError(
            f"{type(tokenizer).__name__} is not a tokenizer: it lacks {', '.join(missing)}; pass "
            "an object with encode(text), decode(ids) and len(), e.g. a CharTokenizer or a "
            "BPETokenizer from course_lib.tokenize"
        )
