"""Evaluating word vectors the way the papers, and gensim, measure them.

* :func:`evaluate_analogies`: accuracy on Mikolov et al.'s analogy questions
  (``a : b :: c : d``, 3CosAdd), as gensim's ``KeyedVectors.evaluate_word_analogies``.
* :func:`evaluate_similarity`: Spearman correlation between cosines and human similarity
  scores (WordSim-353, SimLex-999), as gensim's ``KeyedVectors.evaluate_word_pairs``.
* :func:`evaluate`: the lesson's three numbers in one dict.

The files are read by ``course_lib.data`` (:func:`~course_lib.data.load_analogies`,
:func:`~course_lib.data.load_word_pairs`), lower-cased. The rules are gensim's, so the numbers
compare with gensim's and with the papers': only the first ``restrict_vocab`` words (300,000)
count as known; words are matched case-insensitively (both sides upper-cased, the most frequent
spelling of a word wins); a question or pair with an unknown word is skipped *and counted* in
``oov`` (``dummy4unknown=True`` scores it as wrong, or as similarity 0, instead).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data import GENSIM_FILES, gensim_path, load_analogies, load_word_pairs
from .vectors import WordVectors, _as_word_vectors

RESTRICT_VOCAB = 300_000  # gensim's default for evaluate_word_analogies / evaluate_word_pairs

# --- analogies -------------------------------------------------------------------------------


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
    vectors, path=None, *, restrict_vocab: int = RESTRICT_VOCAB, dummy4unknown: bool = False
) -> AnalogyResult:
    """Accuracy on an analogy file (default: Mikolov et al.'s ``questions-words.txt``).

    Same rules as gensim's ``KeyedVectors.evaluate_word_analogies`` (see the module's
    docstring); the answer is the known word nearest to ``b - a + c`` (3CosAdd, unit vectors)
    other than ``a``, ``b``, ``c``.

    ``vectors``: :class:`WordVectors` or a gensim ``KeyedVectors``. ``path``: a file in
    ``questions-words.txt``'s format, or the name ``"analogies"``.
    """
    wv = _as_word_vectors(vectors)
    known = _known_words(wv, restrict_vocab)
    sections, asked, oov = _ask(load_analogies(_resolve(path, "analogies")), known)
    if dummy4unknown:  # gensim counts a skipped question as asked and answered wrong
        for s in sections.values():
            s["evaluated"] += s["oov"]
    questions = _answer_3cosadd(wv, known, asked, restrict_vocab)
    for sec, _, _, _, expected, predicted in questions:
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
        total=sum(s["total"] for s in sections.values()),
        sections=sections,
        questions=questions,
    )


def _ask(questions: dict[str, list[tuple]], known: dict[str, int]):
    """Sort the questions into those that can be asked (all four words known) and the rest.
    Returns ``(sections, asked, oov)``: per-section counts, ``[(section, A, B, C, D), ...]``
    upper-cased, and how many questions were skipped."""
    sections: dict[str, dict] = {}
    asked: list[tuple] = []
    for section, quads in questions.items():
        sections[section] = {"correct": 0, "evaluated": 0, "oov": 0, "total": len(quads)}
        for quad in quads:
            words = [w.upper() for w in quad]
            if any(w not in known for w in words):
                sections[section]["oov"] += 1
            else:
                asked.append((section, *words))
    return sections, asked, sum(s["oov"] for s in sections.values())


def _answer_3cosadd(wv: WordVectors, known: dict[str, int], asked: list[tuple], restrict_vocab):
    """Answer every asked question, 512 at a time: ``[(section, A, B, C, expected, predicted)]``.

    The arithmetic follows gensim's, in float32: the mean of the unit vectors of b, c and -a,
    made unit length, against every known vector divided by its norm; the best of the five
    nearest that is a known word other than a, b, c."""
    vecs = wv.vectors[: min(restrict_vocab, len(wv))].numpy()
    norms = np.linalg.norm(vecs, axis=1)
    unit = vecs / norms[:, None]
    answers = []
    for start in range(0, len(asked), 512):
        part = asked[start : start + 512]
        ia, ib, ic = (np.array([known[q[k]] for q in part]) for k in (1, 2, 3))
        mean = ((unit[ib] + unit[ic]) - unit[ia]) / np.float32(3.0)
        mean = mean / np.linalg.norm(mean, axis=1, keepdims=True)
        dists = (mean @ vecs.T) / norms  # (chunk, n_known)
        rows = np.arange(len(part))
        for idx in (ia, ib, ic):
            dists[rows, idx] = -np.inf
        top5 = np.argpartition(-dists, 4, axis=1)[:, :5]  # gensim looks at the best five
        order = np.argsort(-np.take_along_axis(dists, top5, axis=1), axis=1, kind="stable")
        for q, candidates in zip(part, np.take_along_axis(top5, order, axis=1), strict=True):
            predicted = None
            for i in candidates:
                predicted = wv.words[i].upper()
                if predicted in known and predicted not in q[1:4]:
                    break
            answers.append((*q, predicted))
    return answers


# --- word similarity -------------------------------------------------------------------------


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
    vectors, path=None, *, restrict_vocab: int = RESTRICT_VOCAB, dummy4unknown: bool = False
) -> SimilarityResult:
    """Spearman (and Pearson) correlation between cosine similarities and human judgements.

    ``path``: a ``word1<TAB>word2<TAB>score`` file, default WordSim-353; ``"simlex999"`` for
    SimLex-999. Same rules as gensim's ``KeyedVectors.evaluate_word_pairs`` (see the module's
    docstring): pairs with an unknown word are skipped and counted (or scored 0 with
    ``dummy4unknown=True``).
    """
    from scipy import stats

    wv = _as_word_vectors(vectors)
    path = _resolve(path, "wordsim353")
    known = _known_words(wv, restrict_vocab)
    vecs = wv.vectors.numpy()
    gold, model, oov = [], [], 0
    for a, b, score in load_word_pairs(path):
        a, b = a.upper(), b.upper()
        if a not in known or b not in known:
            oov += 1
            if dummy4unknown:
                gold.append(score)
                model.append(0.0)
            continue
        va, vb = vecs[known[a]], vecs[known[b]]
        gold.append(score)
        model.append(float(np.dot(va / np.linalg.norm(va), vb / np.linalg.norm(vb))))
    if not gold:
        raise ValueError(f"no pair of {path.name} has both words in the vocabulary")
    return SimilarityResult(
        name=path.stem,
        spearman=float(stats.spearmanr(gold, model).statistic),
        pearson=float(stats.pearsonr(gold, model).statistic),
        evaluated=len(gold) - (oov if dummy4unknown else 0),
        oov=oov,
        total=len(gold) + (0 if dummy4unknown else oov),
    )


# --- the lesson's numbers --------------------------------------------------------------------


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


# --- shared by both --------------------------------------------------------------------------


def _known_words(wv: WordVectors, restrict_vocab: int) -> dict[str, int]:
    """gensim's known words: the first ``restrict_vocab``, upper-cased, each mapped to its row;
    where case folding merges spellings, the most frequent (the earliest row) wins."""
    keys = wv.words[:restrict_vocab]
    return {k.upper(): i for i, k in reversed(list(enumerate(keys)))}


def _resolve(path, default: str) -> Path:
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
