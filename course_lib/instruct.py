"""From a language model to an assistant (lesson 07): the instruction dataset, its prompt
template, the batches for supervised fine-tuning, and the base model's text and tokenizer.

Shapes: B batch, T positions, V vocabulary size, L the tokens of one example.

**The template.** One example is a user turn and an assistant turn, marked by three special
tokens that plain text never produces (:data:`SPECIAL_TOKENS`)::

    <|user|>{instruction}\\n{input}<|assistant|>{answer}<|end|>

:func:`format_example` writes it as a string (for reading; :func:`parse_example` reads it back);
:func:`encode_example` turns it into ids. The markers become their special ids and the text
between them is encoded as plain text (``allowed_special="none"``), so a learner who types
``<|end|>`` into an instruction gets the characters, never the marker.

**The loss mask.** ``encode_example`` returns ``(ids, targets)``, both ``(L,)``: ``targets[t]``
is the token the model should predict at position ``t`` (``ids[t + 1]``) where that token is
part of the answer (its ``<|end|>`` included), and :data:`IGNORE_INDEX` (-100) elsewhere: on the
prompt and at the last position. ``F.cross_entropy`` skips -100, so the model is trained to
answer, not to predict the instruction it was given, and changing the logits at prompt
positions leaves the loss unchanged (``tests/test_instruct.py`` checks). :class:`SFTBatches`
pads a batch with ``<|end|>`` ids whose targets are -100 too, so the shared loop's
:func:`~course_lib.train.lm_loss` is the fine-tuning loss as it stands.

**Task families** (:data:`TASKS`), built offline from the course's corpora:

* ``speaker``: who speaks these lines (in a named play)? The answer is the speech heading as the
  text writes it (``Helena``, ``First Lord``, ``Hor``).
* ``play``: which play are these four lines from? (:data:`PLAY_NAMES`)
* ``continue``: two lines of verse; the answer is the next line (scored with chrF).
* ``fill_mask``: a Wikipedia sentence (lower case, as gensim tokenises it) with one word
  replaced by ``___``; the answer is the word.
* ``sentiment``: is this movie-review sentence (Pang & Lee) positive or negative?
* ``translate``: lesson 04's toy English-to-French grammar (adjectives after the noun, the verb
  at the end of its clause).

**The fixed split, by source.** Which split an example belongs to depends only on where its
text comes from, never on the seed (the seed only picks which examples of each split are kept):

* a play is cut into scenes (at its ``SCENE`` headings; the text before the first one is scene
  0): scene ``j`` goes to ``test`` when ``j % 10 == 9``, to ``val`` when ``j % 10 == 4``, else
  to ``train``. The poems are training text only.
* Wikipedia's sentences (in reading order) are cut into blocks of :data:`WIKI_BLOCK`; block
  ``b`` goes to ``test`` when ``b % 10 == 9``, to ``val`` when ``b % 10 == 4``, else ``train``.
* the review sentences of each polarity, in file order: sentence ``j`` to ``test`` when
  ``j % 10 == 9``, to ``val`` when ``j % 10 == 4``, else ``train``.
* the toy translations: the validation and test sentences are drawn once with a fixed seed;
  training sentences are drawn with the seed and never equal one of them.

The base model is pre-trained on the ``train`` sources only (:func:`pretraining_documents`), and
its tokenizer learned from them too, so neither it nor the fine-tuned model has read a
validation or test passage. On top of the split by source, a validation or test example whose
input text occurs anywhere in the training text (a line that Shakespeare repeats, a sentence
Wikipedia repeats) is dropped. ``tests/test_instruct.py`` checks that no input or answer of one
split appears in another.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from . import data
from .runtime import data_path, relpath
from .tokenize import BPETokenizer
from .train import load_checkpoint
from .transformer import GPT, GPTConfig

__all__ = [
    "SPECIAL_TOKENS",
    "USER",
    "ASSISTANT",
    "END",
    "IGNORE_INDEX",
    "TASKS",
    "SPLITS",
    "PLAY_NAMES",
    "INSTRUCTIONS",
    "DEFAULT_SIZES",
    "TOKENIZER_PATH",
    "TOKENIZER_VOCAB",
    "Example",
    "toy_translate",
    "split_of",
    "play_scenes",
    "pretraining_documents",
    "encode_documents",
    "train_assistant_tokenizer",
    "build_assistant_tokenizer",
    "load_assistant_tokenizer",
    "build_instruction_dataset",
    "by_task",
    "format_prompt",
    "format_example",
    "parse_example",
    "prompt_ids",
    "encode_example",
    "few_shot_prompt",
    "few_shot_ids",
    "plain_few_shot_prompt",
    "SFTBatches",
    "sft_batches",
    "BASE_MODEL_PATH",
    "load_base_model",
]

USER, ASSISTANT, END = "<|user|>", "<|assistant|>", "<|end|>"
SPECIAL_TOKENS = (USER, ASSISTANT, END)
"""The template's markers, the last ids of the assistant's tokenizer. ``<|end|>`` also separates
documents in pre-training, so the base model has seen it mark the end of a text."""

IGNORE_INDEX = -100
"""The target that ``F.cross_entropy`` skips (its default ``ignore_index``)."""

TASKS = ("speaker", "play", "continue", "fill_mask", "sentiment", "translate")
SPLITS = ("train", "val", "test")

INSTRUCTIONS = {
    "speaker": "Who speaks these lines in {play}?",
    "play": "Which play are these lines from?",
    "continue": "Continue the verse.",
    "fill_mask": "Fill in the missing word.",
    "sentiment": "Is this movie review positive or negative?",
    "translate": "Translate into French.",
}

WIKI_BLOCK = 100
"""Sentences per Wikipedia block, the unit that goes to one split."""

TOKENIZER_PATH = data_path("assistant_bpe.json")
TOKENIZER_VOCAB = 1024
"""Ids of the assistant's tokenizer: 256 bytes, 765 merges, 3 special tokens."""
BUILD_TOKENIZER = "python data/pretrain_assistant.py --tokenizer-only"

BASE_MODEL_PATH = data_path("pretrained", "gpt_assistant_base.pt")
"""The committed base model, written by ``python data/pretrain_assistant.py``."""

PLAY_NAMES = {
    "alls_well": "All's Well That Ends Well",
    "antony_and_cleopatra": "Antony and Cleopatra",
    "as_you_like_it": "As You Like It",
    "comedy_of_errors": "The Comedy of Errors",
    "coriolanus": "Coriolanus",
    "cymbeline": "Cymbeline",
    "hamlet": "Hamlet",
    "henry_iv_1": "Henry IV, Part 1",
    "henry_iv_2": "Henry IV, Part 2",
    "henry_v": "Henry V",
    "henry_vi_1": "Henry VI, Part 1",
    "henry_vi_2": "Henry VI, Part 2",
    "henry_vi_3": "Henry VI, Part 3",
    "henry_viii": "Henry VIII",
    "king_john": "King John",
    "julius_caesar": "Julius Caesar",
    "king_lear": "King Lear",
    "loves_labours_lost": "Love's Labour's Lost",
    "macbeth": "Macbeth",
    "measure_for_measure": "Measure for Measure",
    "merchant_of_venice": "The Merchant of Venice",
    "merry_wives": "The Merry Wives of Windsor",
    "midsummer_nights_dream": "A Midsummer Night's Dream",
    "much_ado": "Much Ado About Nothing",
    "othello": "Othello",
    "pericles": "Pericles",
    "richard_ii": "Richard II",
    "richard_iii": "Richard III",
    "romeo_and_juliet": "Romeo and Juliet",
    "taming_of_the_shrew": "The Taming of the Shrew",
    "tempest": "The Tempest",
    "timon_of_athens": "Timon of Athens",
    "titus_andronicus": "Titus Andronicus",
    "troilus_and_cressida": "Troilus and Cressida",
    "twelfth_night": "Twelfth Night",
    "two_gentlemen": "The Two Gentlemen of Verona",
    "winters_tale": "The Winter's Tale",
}
"""The 37 plays by short name: the answers of the ``play`` task."""


@dataclass(frozen=True)
class Example:
    """One instruction example. ``source`` names the unit its text comes from (``"macbeth/scene
    9"``, ``"wiki/block 12"``), the unit that decides its ``split``."""

    task: str
    instruction: str
    input: str
    answer: str
    source: str
    split: str

    def to_dict(self) -> dict:
        return asdict(self)


# --- the fixed split, by source ---------------------------------------------------------------


def split_of(index: int) -> str:
    """The split of unit number ``index`` (a scene of a play, a Wikipedia block, a review
    sentence): ``"test"`` when ``index % 10 == 9``, ``"val"`` when ``index % 10 == 4``, else
    ``"train"``. Eight tenths for training, a tenth each to choose and to judge."""
    return {9: "test", 4: "val"}.get(index % 10, "train")


_SCENE = re.compile(r"^[ \t]*(?:SCENE|Scene)\b.*$", re.M)


def play_scenes(work: dict) -> list[str]:
    """The scenes of a play (a dict of :func:`~course_lib.data.shakespeare_works`), cut at its
    ``SCENE`` headings; scene 0 is the text before the first heading (title, persons, the first
    act's heading, a prologue). Joined, they are the work's text."""
    text = work["text"]
    cuts = [m.start() for m in _SCENE.finditer(text, work["body_start"])]
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]


@functools.cache
def _shakespeare_units() -> tuple[tuple[str, str, str, str], ...]:
    """``(work key, source, split, text)`` for every scene of every play and every poem (parsed
    once per process)."""
    units = []
    for work in data.shakespeare_works():
        if work["key"] not in PLAY_NAMES:  # a poem: training text only
            units.append((work["key"], work["key"], "train", work["text"]))
            continue
        for j, scene in enumerate(play_scenes(work)):
            units.append((work["key"], f"{work['key']}/scene {j}", split_of(j), scene))
    return tuple(units)


@functools.cache
def _wiki_units() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """``(source, split, sentences)`` for each block of :data:`WIKI_BLOCK` Wikipedia sentences,
    each sentence its gensim tokens joined by spaces (read once per process)."""
    sentences = tuple(" ".join(s) for s in data.load_wiki_sentences())
    return tuple(
        (f"wiki/block {b}", split_of(b), sentences[i : i + WIKI_BLOCK])
        for b, i in enumerate(range(0, len(sentences), WIKI_BLOCK))
    )


def pretraining_documents(split: str = "train") -> list[str]:
    """The base model's text: one document per work of Shakespeare (its scenes of ``split``,
    joined; a poem is one training document) and one per Wikipedia block of ``split`` (a sentence
    a line). ``"train"`` is what the base model and its tokenizer learn from, ``"val"`` what its
    validation loss is measured on; the test sources are in neither."""
    _check_split(split)
    by_work: dict[str, list[str]] = {}
    for key, _source, s, text in _shakespeare_units():
        if s == split:
            by_work.setdefault(key, []).append(text)
    docs = ["".join(parts) for parts in by_work.values()]
    return docs + ["\n".join(sents) + "\n" for _, s, sents in _wiki_units() if s == split]


def encode_documents(documents: Sequence[str], tokenizer: BPETokenizer) -> torch.Tensor:
    """The documents' ids, each followed by ``<|end|>``, as one 1-D int64 tensor (what a
    :class:`~course_lib.data.LMBatcher` takes). The text is encoded as plain text: a marker
    written in it would stay characters."""
    end = tokenizer.special_id(END)
    ids: list[int] = []
    for doc in documents:
        ids += tokenizer.encode(doc, allowed_special="none")
        ids.append(end)
    return torch.tensor(ids, dtype=torch.long)


# --- the tokenizer ----------------------------------------------------------------------------


def train_assistant_tokenizer(vocab_size: int = TOKENIZER_VOCAB) -> BPETokenizer:
    """Lesson 01's byte-level BPE (GPT-2's pre-split) with the template's special tokens,
    learned from the base model's training documents only (about 10 s)."""
    text = "\n".join(pretraining_documents("train"))
    return BPETokenizer("gpt2", special_tokens=list(SPECIAL_TOKENS)).train(text, vocab_size)


def build_assistant_tokenizer(
    path: str | Path = TOKENIZER_PATH, vocab_size: int = TOKENIZER_VOCAB
) -> Path:
    """Train the assistant's tokenizer and save it as JSON at ``path`` (``data/assistant_bpe.json``
    by default, the committed one)."""
    return train_assistant_tokenizer(vocab_size).save(path)


def load_assistant_tokenizer(path: str | Path = TOKENIZER_PATH) -> BPETokenizer:
    """The committed tokenizer of the assistant (:func:`build_assistant_tokenizer`)."""
    path = Path(path)
    if not path.exists():
        raise data.DataNotFoundError(
            f"{relpath(path)} is missing: build it with `{BUILD_TOKENIZER}` (from the repository "
            "root)"
        )
    tok = BPETokenizer.load(path)
    _check_specials(tok, path)
    return tok


# --- the task families ------------------------------------------------------------------------

_HEADING = re.compile(r"^(?:[A-Z][A-Z' ]{1,30}|[A-Z][a-z']+(?: [A-Z][a-z']+)?)\.?$")
_NOT_SPEAKERS = {"Enter", "Exit", "Exeunt", "Flourish", "Alarum", "Alarums", "Sennet", "Song"}
_NOT_SPEAKERS |= {"Music", "Act", "Scene", "Finis", "The End", "Epilogue", "Prologue", "Dramatis"}
_STOPWORDS = set(
    "also about after because been before being between both could during each from have here "
    "into more most much only other over same some such than that their them then there these "
    "they this those through under very were what when where which while will with would".split()
)


def _speeches(scene: str) -> list[tuple[str, list[str]]]:
    """``(speaker, lines)`` for each speech of a scene: a paragraph whose first line is a speech
    heading (``HELENA.``, ``Hor.``, ``THESEUS``) followed by at least one line."""
    out = []
    for para in scene.split("\n\n"):
        lines = [line.strip() for line in para.strip("\n").split("\n")]
        if len(lines) < 2 or not _HEADING.match(lines[0]):
            continue
        name = lines[0].rstrip(".").strip()
        if name.split()[0] in _NOT_SPEAKERS or name in _NOT_SPEAKERS:
            continue
        out.append((" ".join(w.capitalize() for w in name.split()), lines[1:]))
    return out


def _is_verse(line: str) -> bool:
    return 20 <= len(line) <= 60 and line[:1].isupper() and not line.startswith("[")


def _shakespeare_candidates(units) -> dict[str, dict[str, list[Example]]]:
    """Every candidate example of the three Shakespeare families, by family and split."""
    out: dict[str, dict[str, list[Example]]] = {t: {s: [] for s in SPLITS} for t in TASKS[:3]}
    for key, source, split, text in units:
        if key not in PLAY_NAMES:
            continue
        play = PLAY_NAMES[key]
        who = INSTRUCTIONS["speaker"].format(play=play)
        for name, lines in _speeches(text):
            said = "\n".join(lines[:4])
            if 40 <= len(said) <= 240:
                out["speaker"][split].append(Example("speaker", who, said, name, source, split))
            for i in range(0, len(lines) - 2, 3):  # non-overlapping triples of verse lines
                a, b, c = lines[i : i + 3]
                if all(map(_is_verse, (a, b, c))):
                    out["continue"][split].append(
                        Example("continue", INSTRUCTIONS["continue"], f"{a}\n{b}", c, source, split)
                    )
        body = [line for line in text.split("\n") if line.strip()]
        for i in range(0, len(body) - 3, 12):  # four lines every twelve
            passage = "\n".join(body[i : i + 4])
            if 80 <= len(passage) <= 240 and not _SCENE.match(body[i]):
                out["play"][split].append(
                    Example("play", INSTRUCTIONS["play"], passage, play, source, split)
                )
    return out


def _fill_mask_candidates(rng: random.Random) -> dict[str, list[Example]]:
    out: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for source, split, sentences in _wiki_units():
        for sentence in sentences:
            words = sentence.split()
            if not 8 <= len(words) <= 30:
                continue
            choices = [i for i, w in enumerate(words) if len(w) >= 4 and w not in _STOPWORDS]
            if not choices:
                continue
            i = rng.choice(choices)
            masked = " ".join(words[:i] + ["___"] + words[i + 1 :])
            out[split].append(
                Example("fill_mask", INSTRUCTIONS["fill_mask"], masked, words[i], source, split)
            )
    return out


def _sentiment_candidates() -> dict[str, list[Example]]:
    out: dict[str, list[Example]] = {s: [] for s in SPLITS}
    count = {0: 0, 1: 0}  # sentences of each polarity so far: j, the unit's number
    for text, label in data.load_polarity():
        j, count[label] = count[label], count[label] + 1
        answer, question = ("negative", "positive")[label], INSTRUCTIONS["sentiment"]
        source, split = f"reviews/{answer} {j}", split_of(j)
        out[split].append(Example("sentiment", question, text.strip(), answer, source, split))
    return out


# lesson 04's toy grammar (its section 2): English to French word by word, with two reorderings
_NOUNS = {"cat": "chat", "dog": "chien", "bird": "oiseau", "fish": "poisson", "horse": "cheval",
          "mouse": "souris", "child": "enfant", "teacher": "maître", "farmer": "fermier",
          "king": "roi"}  # fmt: skip
_ADJECTIVES = {"big": "grand", "small": "petit", "red": "rouge", "black": "noir", "old": "vieux",
               "young": "jeune", "happy": "heureux", "tired": "fatigué", "clever": "malin",
               "green": "vert"}  # fmt: skip
_VERBS = {"sees": "voit", "likes": "aime", "follows": "suit", "finds": "trouve",
          "feeds": "nourrit", "calls": "appelle", "watches": "regarde",
          "helps": "aide"}  # fmt: skip
_LEXICON = {**_NOUNS, **_ADJECTIVES, **_VERBS, "the": "le", "a": "un", "and": "et"}
TRANSLATION_SEED = 2015
"""The seed of the toy translation task's validation and test sentences (fixed)."""


def _noun_phrase(rng: random.Random) -> list[str]:
    adjectives = rng.sample(sorted(_ADJECTIVES), rng.randint(0, 2))
    return [rng.choice(["the", "a"]), *adjectives, rng.choice(sorted(_NOUNS))]


def _toy_sentence(rng: random.Random) -> list[str]:
    words = []
    for i in range(rng.randint(1, 2)):  # one or two clauses "NOUN-PHRASE VERB NOUN-PHRASE"
        words += (["and"] if i else []) + _noun_phrase(rng) + [rng.choice(sorted(_VERBS))]
        words += _noun_phrase(rng)
    return words


def toy_translate(words: Sequence[str]) -> list[str]:
    """Lesson 04's toy French: each clause's noun phrases as "determiner noun adjectives", then
    its verb; clauses joined by "et"."""
    out, clause = [], []
    for w in [*words, "and"]:
        if w != "and":
            clause.append(w)
            continue
        verb = next(i for i, x in enumerate(clause) if x in _VERBS)
        for det, *adjectives, noun in (clause[:verb], clause[verb + 1 :]):
            out += [det, noun, *adjectives]
        out.append(clause[verb])
        out.append("and")
        clause = []
    return [_LEXICON[w] for w in out[:-1]]


def _translation_examples(seed: int, sizes: dict[str, int]) -> dict[str, list[Example]]:
    fixed, held = random.Random(TRANSLATION_SEED), {}
    for split in ("test", "val"):
        held[split] = []
        while len(held[split]) < sizes[split]:
            s = " ".join(_toy_sentence(fixed))
            if s not in held.get("test", []) and s not in held[split]:
                held[split].append(s)
    taken = set(held["test"]) | set(held["val"])
    rng, train = random.Random(seed), []
    while len(train) < sizes["train"]:
        s = " ".join(_toy_sentence(rng))
        if s not in taken:
            taken.add(s)
            train.append(s)

    def example(s: str, split: str) -> Example:
        french = " ".join(toy_translate(s.split()))
        return Example("translate", INSTRUCTIONS["translate"], s, french, "toy grammar", split)

    chosen = {"train": train, **held}
    return {split: [example(s, split) for s in ss] for split, ss in chosen.items()}


DEFAULT_SIZES = {"train": 1500, "val": 100, "test": 200}
"""Examples kept per task family and split (fewer where a family has fewer: the reviews)."""


def build_instruction_dataset(
    seed: int = 0, sizes: dict[str, int] | None = None
) -> dict[str, list[Example]]:
    """The instruction dataset: ``{"train": [...], "val": [...], "test": [...]}`` of
    :class:`Example`, each split holding up to ``sizes[split]`` examples of every family in
    :data:`TASKS` (:data:`DEFAULT_SIZES`: 1,500 / 100 / 200), shuffled with ``seed``.

    The split of each source is fixed (see the module's docstring); ``seed`` picks which
    candidates are kept, the masked word of each sentence and the training translations. The same
    seed gives the same dataset. Takes a few seconds (the corpora are parsed once more)."""
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    _check_sizes(sizes)
    rng = random.Random(seed)
    units = _shakespeare_units()
    train_text = "\n".join(text for _, _, s, text in units if s == "train")
    wiki_train = "\n".join(
        sent for _, s, sentences in _wiki_units() if s == "train" for sent in sentences
    )
    families = {
        **_shakespeare_candidates(units),
        "fill_mask": _fill_mask_candidates(rng),
        "sentiment": _sentiment_candidates(),
    }
    seen_in = {"speaker": train_text, "play": train_text, "continue": train_text}
    seen_in["fill_mask"] = wiki_train
    out: dict[str, list[Example]] = {s: [] for s in SPLITS}
    for task in TASKS[:-1]:
        for split in SPLITS:
            seen = seen_in.get(task, "") if split != "train" else ""
            out[split] += _pick(_distinct(families[task][split]), sizes[split], rng, seen)
    for split, examples in _translation_examples(seed, sizes).items():
        out[split] += examples
    for split in SPLITS:
        rng.shuffle(out[split])
    return out


def by_task(examples: Sequence[Example]) -> dict[str, list[Example]]:
    """``{task: [examples of that family, in order]}``, the families in :data:`TASKS`' order:
    e.g. the pool a k-shot prompt draws its shots from."""
    groups: dict[str, list[Example]] = {t: [] for t in TASKS}
    for ex in examples:
        groups[ex.task].append(ex)
    return {t: exs for t, exs in groups.items() if exs}


def _distinct(pool: list[Example]) -> list[Example]:
    """The pool without repeated inputs (the first of each kept)."""
    seen, out = set(), []
    for ex in pool:
        if ex.input not in seen:
            seen.add(ex.input)
            out.append(ex)
    return out


def _pick(pool: list[Example], n: int, rng: random.Random, seen: str = "") -> list[Example]:
    """Up to ``n`` examples of ``pool`` in a random order, leaving out any whose text occurs in
    the text ``seen`` (a line that the training text repeats)."""
    out = []
    for ex in rng.sample(pool, len(pool)):
        if len(out) == n:
            break
        if not (seen and any(part in seen for part in _revealed(ex))):
            out.append(ex)
    return out


def _revealed(ex: Example) -> list[str]:
    """The corpus text an example holds: its input, the masked sentence whole, the next line."""
    if ex.task == "fill_mask":
        return [ex.input.replace("___", ex.answer, 1)]
    if ex.task == "continue":
        return [ex.input, ex.answer]
    return [ex.input]


# --- the template -----------------------------------------------------------------------------


def format_prompt(example: Example) -> str:
    """The prompt of ``example``: ``<|user|>{instruction}\\n{input}<|assistant|>``."""
    return f"{USER}{example.instruction}\n{example.input}{ASSISTANT}"


def format_example(example: Example) -> str:
    """``example`` in the template: its prompt, its answer and ``<|end|>``."""
    return f"{format_prompt(example)}{example.answer}{END}"


_TEMPLATE = re.compile(
    f"{re.escape(USER)}(?P<instruction>[^\n]*)\n(?P<input>.*?)"
    f"{re.escape(ASSISTANT)}(?P<answer>.*?){re.escape(END)}$",
    re.S,
)


def parse_example(text: str) -> dict[str, str]:
    """``{"instruction", "input", "answer"}`` of a string written by :func:`format_example`."""
    m = _TEMPLATE.match(text)
    if m is None:
        raise ValueError(
            f"not an example in the template {USER}instruction\\ninput{ASSISTANT}answer{END}: "
            f"{text[:80]!r}"
        )
    return m.groupdict()


def prompt_ids(example: Example, tokenizer: BPETokenizer) -> list[int]:
    """The ids of :func:`format_prompt`: the markers as special ids, the text between them as
    plain text."""
    _check_specials(tokenizer)
    plain = f"{example.instruction}\n{example.input}"
    return [
        tokenizer.special_id(USER),
        *tokenizer.encode(plain, allowed_special="none"),
        tokenizer.special_id(ASSISTANT),
    ]


def encode_example(example: Example, tokenizer: BPETokenizer) -> tuple[list[int], list[int]]:
    """``(ids, targets)``, both of length L: the ids of :func:`format_example` and the target of
    each position, ``ids[t + 1]`` where that token belongs to the answer (``<|end|>`` included),
    :data:`IGNORE_INDEX` on the prompt and at the last position."""
    prompt = prompt_ids(example, tokenizer)
    answer = tokenizer.encode(example.answer, allowed_special="none") + [tokenizer.special_id(END)]
    ids = prompt + answer
    targets = [IGNORE_INDEX] * (len(prompt) - 1) + answer + [IGNORE_INDEX]
    return ids, targets


def few_shot_prompt(
    examples: Sequence[Example], query: Example, k: int, *, seed: int | None = None
) -> str:
    """A k-shot prompt: ``k`` of ``examples`` (the first k, or k drawn with ``seed``) written in
    full with their answers, then ``query``'s prompt, which ends at ``<|assistant|>``: the model
    is to write the answer. ``k = 0`` is the query's prompt alone."""
    return "".join(map(format_example, _shots(examples, query, k, seed))) + format_prompt(query)


def few_shot_ids(
    examples: Sequence[Example],
    query: Example,
    k: int,
    tokenizer: BPETokenizer,
    *,
    seed: int | None = None,
) -> list[int]:
    """The ids of :func:`few_shot_prompt` (the same shots), built from the parts as
    :func:`encode_example` builds them."""
    ids = [i for ex in _shots(examples, query, k, seed) for i in encode_example(ex, tokenizer)[0]]
    return ids + prompt_ids(query, tokenizer)


def plain_few_shot_prompt(
    examples: Sequence[Example], query: Example, k: int, *, seed: int | None = None
) -> str:
    """The same k-shot prompt as :func:`few_shot_prompt` (the same shots) written as plain text,
    with no special token: ``{instruction}\\n{input}\\nAnswer: {answer}\\n\\n`` per shot, then
    the query up to ``Answer:``. A base model never saw the template's markers in pre-training;
    this is the format it has a chance to follow (GPT-2 and GPT-3 were prompted this way)."""

    def block(ex: Example) -> str:
        return f"{ex.instruction}\n{ex.input}\nAnswer:"

    shots = _shots(examples, query, k, seed)
    return "".join(f"{block(ex)} {ex.answer}\n\n" for ex in shots) + block(query)


def _shots(examples: Sequence[Example], query: Example, k: int, seed: int | None) -> list:
    _check_k(k, len(examples))
    if seed is None:
        return list(examples[:k])
    return random.Random(seed).sample(list(examples), k)


# --- batches for the shared loop --------------------------------------------------------------


class SFTBatches:
    """``batches(split, step) -> (x, y)`` for :func:`course_lib.train.train`: ``batch_size``
    examples of ``split``, encoded with :func:`encode_example`, padded to the longest in the batch.

    ``x`` ``(B, T)`` holds the ids, padded with ``<|end|>``; ``y`` ``(B, T)`` the targets, -100 on
    the prompt and on the padding, so :func:`~course_lib.train.lm_loss` averages over answer
    tokens only. An example longer than ``block_size`` loses the start of its prompt (the answer
    is always kept). Training batches are a pure function of ``(seed, step)``: a shuffle of the
    examples, epoch after epoch; validation batches go through the validation examples in order.
    """

    def __init__(
        self,
        examples: dict[str, Sequence[Example]],
        tokenizer: BPETokenizer,
        *,
        batch_size: int = 16,
        block_size: int = 128,
        seed: int = 0,
    ):
        _check_batch_args(examples, batch_size, block_size)
        self.encoded = {
            split: [encode_example(ex, tokenizer) for ex in exs] for split, exs in examples.items()
        }
        self.pad = tokenizer.special_id(END)
        self.batch_size, self.block_size, self.seed = batch_size, block_size, seed

    def _indices(self, split: str, step: int) -> list[int]:
        n, B = len(self.encoded[split]), self.batch_size
        if split != "train":
            return [(step * B + i) % n for i in range(B)]
        per_epoch = max(1, n // B)
        epoch, k = divmod(step, per_epoch)
        order = list(range(n))
        random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
        return order[k * B : (k + 1) * B]

    def __call__(self, split: str, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        if split not in self.encoded:
            raise KeyError(f"no {split!r} examples in these batches: have {sorted(self.encoded)}")
        rows = [self._crop(*self.encoded[split][i]) for i in self._indices(split, step)]
        T = max(len(ids) for ids, _ in rows)
        x = torch.full((len(rows), T), self.pad, dtype=torch.long)
        y = torch.full((len(rows), T), IGNORE_INDEX, dtype=torch.long)
        for b, (ids, targets) in enumerate(rows):
            x[b, : len(ids)] = torch.tensor(ids)
            y[b, : len(ids)] = torch.tensor(targets)
        return x, y

    def _crop(self, ids: list[int], targets: list[int]) -> tuple[list[int], list[int]]:
        return ids[-self.block_size :], targets[-self.block_size :]

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v):,}" for k, v in self.encoded.items())
        return (
            f"SFTBatches({sizes} examples, batch_size={self.batch_size}, "
            f"block_size={self.block_size}, seed={self.seed})"
        )


def sft_batches(
    train: Sequence[Example],
    val: Sequence[Example] | None,
    tokenizer: BPETokenizer,
    **options,
) -> SFTBatches:
    """:class:`SFTBatches` of ``train`` (and ``val``) examples; ``options``: ``batch_size``,
    ``block_size``, ``seed``."""
    examples = {"train": train} if val is None else {"train": train, "val": val}
    return SFTBatches(examples, tokenizer, **options)


# --- the base model ---------------------------------------------------------------------------


def load_base_model(
    path: str | Path = BASE_MODEL_PATH, config: GPTConfig | None = None
) -> tuple[GPT, BPETokenizer, dict]:
    """The assistant's pre-trained base model, its tokenizer and the checkpoint dict, loaded with
    ``torch.load(weights_only=True)``. With ``config``, the checkpoint must have been saved with
    it: otherwise a :class:`~course_lib.train.CheckpointError` names each field that differs."""
    ckpt = load_checkpoint(path, config=config)
    config = GPTConfig(**ckpt["config"])
    model = GPT(config)
    load_checkpoint(path, model, config=config)
    tok = load_assistant_tokenizer()
    if len(tok) != config.vocab_size:
        raise ValueError(
            f"{relpath(path)} has a vocabulary of {config.vocab_size} ids but "
            f"{relpath(TOKENIZER_PATH)} has {len(tok)}: rebuild both with "
            "`python data/pretrain_assistant.py`"
        )
    model.eval()
    return model, tok, ckpt


# --- checks -----------------------------------------------------------------------------------


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _check_specials(tokenizer: BPETokenizer, path: Path | None = None) -> None:
    missing = [s for s in SPECIAL_TOKENS if s not in getattr(tokenizer, "special_tokens", {})]
    if missing:
        where = f"{relpath(path)} " if path else "this tokenizer "
        raise ValueError(
            f"{where}lacks the template's special tokens {missing}: use "
            "load_assistant_tokenizer(), or BPETokenizer(special_tokens=list(SPECIAL_TOKENS))"
        )


def _check_sizes(sizes: dict) -> None:
    bad = {k: v for k, v in sizes.items() if k not in SPLITS or not isinstance(v, int) or v < 1}
    if bad:
        raise ValueError(f"sizes must map {SPLITS} to positive ints, got {bad}")


def _check_k(k: int, n: int) -> None:
    if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= n:
        raise ValueError(f"k must be an int from 0 to the {n} examples given, got {k!r}")


def _check_batch_args(examples: dict, batch_size: int, block_size: int) -> None:
    for name, v in (("batch_size", batch_size), ("block_size", block_size)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")
    empty = [split for split, exs in examples.items() if not exs]
    if empty:
        raise ValueError(f"no examples for split(s) {empty}: pass at least one example each")
