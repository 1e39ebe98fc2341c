"""Checks for lesson 01's exercises: count pairs, merge a pair, train (the merge loop), encode
(the merges in training order), decode, train on pre-split chunks, and the "predict, then
measure" question on compression.

Each check runs the learner's function and a reference on the same inputs, edge cases first,
then random ones, and prints a one-line verdict with a hint aimed at the usual mistake. A
function that only calls the library's version (``course_lib.tokenize``) gets "uses the library
version" instead of a pass.
"""

from __future__ import annotations

import functools
import random

from ..tokenize import BPETokenizer, merge_pair, pair_counts, train_bpe, train_bpe_naive
from . import Hint, check_function, check_prediction, library_verdict


def _random_ids(rng: random.Random, alphabet: int = 4, max_len: int = 16) -> list[int]:
    # Few distinct ids, so pairs repeat, overlap ([5, 5, 5]) and tie.
    return [rng.randrange(alphabet) for _ in range(rng.randint(0, max_len))]


# --- count pairs --------------------------------------------------------------------------------


def _pairs_as_list(fn):
    # Compare dicts as item lists, so the order of first occurrence is checked too.
    @functools.wraps(fn)
    def wrapped(ids):
        out = fn(ids)
        return list(out.items()) if isinstance(out, dict) else out

    return wrapped


_COUNT_HINTS = [
    Hint(
        lambda args, got, exp: not isinstance(got, list),
        "return a dict {(left_id, right_id): count}",
    ),
    Hint(
        lambda args, got, exp: sorted(got) == sorted(exp),
        "right counts, wrong order: add each pair to the dict the first time you meet it "
        "(scan left to right, do not sort); the order decides ties later",
    ),
    Hint(
        lambda args, got, exp: any(a == b and dict(got).get((a, b), 0) < c for (a, b), c in exp),
        "count every adjacent position, overlapping ones too: [5, 5, 5] holds the pair (5, 5) "
        "twice (positions 0 and 1)",
    ),
    Hint(
        lambda args, got, exp: got == list(pair_counts(args[0][:-1]).items()),
        "the last pair is missing: a list of n ids has n - 1 adjacent pairs, the last one "
        "is (ids[n-2], ids[n-1])",
    ),
]


def check_count_pairs(count_pairs, trials: int = 30) -> bool:
    """Check ``count_pairs(ids) -> {(a, b): count}`` (pairs in order of first occurrence)."""
    if library_verdict(count_pairs, pair_counts, "check_count_pairs") is False:
        return False
    edge = [([],), ([7],), ([1, 2, 1, 2, 1],), ([3, 1, 2, 1, 2],), ([5, 5, 5],)]
    rng = random.Random(1)
    cases = edge + [(_random_ids(rng),) for _ in range(trials)]
    return check_function(
        _pairs_as_list(count_pairs),
        _pairs_as_list(pair_counts),
        cases,
        name="check_count_pairs",
        hints=_COUNT_HINTS,
    )


# --- merge a pair -------------------------------------------------------------------------------


def _has_pair(ids, pair) -> bool:
    return any(tuple(ids[i : i + 2]) == tuple(pair) for i in range(len(ids) - 1))


_MERGE_HINTS = [
    Hint(lambda args, got, exp: not isinstance(got, list), "return a new list of ids"),
    Hint(
        lambda args, got, exp: len(got) == len(exp) - 1 and got == exp[:-1],
        "the last id is lost: when the loop reaches the final id there is no pair left, but "
        "the id must still be copied to the output",
    ),
    Hint(
        lambda args, got, exp: _has_pair(got, args[1]) and args[2] in got,
        "some occurrences are left: replace every occurrence of the pair, scanning left to "
        "right, not just the first one",
    ),
    Hint(
        lambda args, got, exp: len(got) > len(exp) and args[2] in got,
        "after writing new_id, skip both ids of the pair (i += 2), else the pair's second id "
        "is copied again",
    ),
    Hint(
        lambda args, got, exp: len(got) < len(exp),
        "too many ids were merged: an id can take part in only one merge. In [5, 5, 5] with "
        "pair (5, 5) only the first two merge, giving [new_id, 5]",
    ),
]


def _merge_inputs(rng: random.Random) -> tuple:
    ids = _random_ids(rng)
    pair = (rng.randrange(4), rng.randrange(4))
    if len(ids) >= 2 and rng.random() < 0.7:  # usually a pair that occurs
        i = rng.randrange(len(ids) - 1)
        pair = (ids[i], ids[i + 1])
    return ids, pair, 99


def check_merge(merge, trials: int = 30) -> bool:
    """Check ``merge(ids, pair, new_id) -> list`` (every occurrence, left to right)."""
    edge = [
        ([], (1, 2), 99),
        ([1], (1, 2), 99),
        ([1, 2], (1, 2), 99),
        ([3, 1, 2], (1, 2), 99),
        ([1, 2, 3, 1, 2], (1, 2), 99),
        ([5, 5, 5], (5, 5), 99),
        ([5, 5, 5, 5], (5, 5), 99),
    ]
    rng = random.Random(2)
    cases = edge + [_merge_inputs(rng) for _ in range(trials)]
    return check_function(
        merge, merge_pair, cases, name="check_merge", hints=_MERGE_HINTS, library=merge_pair
    )


# --- train: the merge loop ------------------------------------------------------------------


class _Raised:
    """What a wrapped function returned instead of raising (so a hint can name the error)."""

    def __init__(self, error: Exception):
        self.error = error

    def __repr__(self) -> str:
        return f"<raised {type(self.error).__name__}: {self.error}>"


def _catch_empty_max(fn):
    # max() of an empty dict: the loop went on after the last pair was merged.
    @functools.wraps(fn)
    def wrapped(*args):
        try:
            return fn(*args)
        except ValueError as e:
            if "empty" not in str(e):
                raise
            return _Raised(e)

    return wrapped


def _learn(chunks: list[list[int]], vocab_size: int) -> list:
    """BPE training on chunks of ids: count the pairs inside every chunk, merge the most frequent
    (ties to the first met) into the next id, repeat up to ``vocab_size`` or no pair left."""
    merges = []
    for new_id in range(256, vocab_size):
        counts: dict = {}
        for ids in chunks:
            pair_counts(ids, counts)
        if not counts:
            break
        pair = max(counts, key=counts.get)
        chunks = [merge_pair(ids, pair, new_id) for ids in chunks]
        merges.append((pair, new_id))
    return merges


def _reference_train(text, vocab_size):
    return _learn([list(text.encode("utf-8"))], vocab_size)


def _reference_train_chunks(chunks, vocab_size):
    return _learn([list(c.encode("utf-8")) for c in chunks], vocab_size)


def _texts(args) -> list[str]:
    return [args[0]] if isinstance(args[0], str) else list(args[0])


def _as_merges(got) -> list | None:
    """``got`` as ``[((left, right), new_id), ...]``, or None when it does not have that form."""
    if not isinstance(got, list | tuple):
        return None
    try:
        out = [((p[0], p[1]), n) for p, n in got if len(p) == 2]
    except (TypeError, ValueError, IndexError):
        return None
    return out if len(out) == len(got) else None


def _step_at_difference(args, got):
    """``(counts, got_pair, expected_pair)`` at the first step where ``got`` merges another pair
    than the reference (the counts of that step), or None."""
    chunks = [list(t.encode("utf-8")) for t in _texts(args)]
    for (pair, _), (expected, new_id) in zip(
        _as_merges(got), _learn(chunks, args[1]), strict=False
    ):
        counts: dict = {}
        for ids in chunks:
            pair_counts(ids, counts)
        if tuple(pair) != expected:
            return counts, tuple(pair), expected
        chunks = [merge_pair(ids, expected, new_id) for ids in chunks]
    return None


def _numbered_wrong(got) -> bool:
    return [n for _, n in _as_merges(got)] != list(range(256, 256 + len(got)))


def _counted_once(args) -> list:
    """The merges of a loop that counts the pairs once, before merging anything."""
    counts: dict = {}
    for t in _texts(args):
        pair_counts(list(t.encode("utf-8")), counts)
    ranked = sorted(counts, key=counts.get, reverse=True)[: args[1] - 256]  # stable: ties first
    return [(pair, 256 + k) for k, pair in enumerate(ranked)]


def _prefix_agrees(got, exp) -> bool:
    got = _as_merges(got)
    return abs(len(got) - len(exp)) == 1 and all(g == e for g, e in zip(got, exp, strict=False))


def _at_difference(test):
    """A hint condition on ``test(counts, got_pair, expected_pair)`` at the first wrong merge."""
    return lambda args, got, exp: (d := _step_at_difference(args, got)) is not None and test(*d)


_TRAIN_FIRST_HINTS = [
    Hint(
        lambda args, got, exp: _as_merges(got) is None and not isinstance(got, _Raised),
        "return a list of ((left_id, right_id), new_id), one per merge, in training order",
    ),
    Hint(
        lambda args, got, exp: isinstance(got, _Raised),
        "stop when no pair is left: a short text runs out of pairs before vocab_size, and "
        "max() of an empty dict raises ValueError",
    ),
    Hint(
        lambda args, got, exp: got == _learn([[ord(c) for c in t] for t in _texts(args)], args[1]),
        "start from the UTF-8 bytes, list(text.encode('utf-8')), not ord() of each "
        "character: a character outside ASCII (é, 日) is 2 to 4 bytes",
    ),
]
_CROSSING_HINT = Hint(
    lambda args, got, exp: got == _reference_train("".join(args[0]), args[1]),
    "pairs never cross chunks: count the pairs inside each chunk and add the counts up; "
    "joining the chunks first also counts the pair (last byte of a chunk, first byte of the "
    "next)",
)
_TRAIN_STEP_HINTS = [
    Hint(
        lambda args, got, exp: _numbered_wrong(got),
        "wrong new ids: number the new tokens 256, 257, ... in training order (ids 0 to 255 "
        "are the bytes)",
    ),
    Hint(
        lambda args, got, exp: _prefix_agrees(got, exp),
        "one merge too many or too few: vocab_size counts the 256 bytes too, so learn "
        "vocab_size - 256 merges (new ids 256 to vocab_size - 1)",
    ),
    Hint(
        lambda args, got, exp: len({p for p, _ in _as_merges(got)}) < len(got),
        "the same pair is merged twice: after each merge, carry on from the merged ids "
        "(assign the result of merge back)",
    ),
    Hint(
        lambda args, got, exp: _as_merges(got) == _counted_once(args),
        "you counted the pairs once, before the loop: count them again after every merge "
        "(a merge removes pairs and makes new ones, such as (new_id, next id))",
    ),
    Hint(
        _at_difference(lambda counts, pair, expected: pair == max(counts)),
        "max(counts) compares the pairs themselves (their ids), not their counts: give max a "
        "key that looks up each pair's count",
    ),
    Hint(
        _at_difference(lambda counts, pair, expected: counts.get(pair) == counts[expected]),
        "the right count, but the wrong pair among equally frequent ones: on a tie keep the "
        "pair met first (max() over a dict filled left to right does; a loop that updates on "
        ">= keeps the last)",
    ),
]
_NOT_MOST_FREQUENT = {
    False: "at some step your pair is not the most frequent: count the pairs of the ids as the "
    "merges so far left them, and pick the pair with the highest count",
    True: "at some step your pair is not the most frequent over all the chunks: add the counts "
    "of every chunk into one dict, counted on the chunks as the merges so far left them, and "
    "pick the pair with the highest count",
}


def _train_hints(chunked: bool) -> list[Hint]:
    last = Hint(_at_difference(lambda *step: True), _NOT_MOST_FREQUENT[chunked])
    return [*_TRAIN_FIRST_HINTS, *([_CROSSING_HINT] if chunked else []), *_TRAIN_STEP_HINTS, last]


_TRAIN_LIBRARY = (train_bpe_naive, train_bpe, BPETokenizer.train)
_ALPHABET = "aab b c"


def _random_text(rng: random.Random, max_len: int = 24) -> str:
    # Few distinct characters, so pairs repeat and tie; sometimes a two-byte character.
    text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(2, max_len)))
    return text + "é" if rng.random() < 0.2 else text


def check_train_merges(train_merges, trials: int = 30) -> bool:
    """Check ``train_merges(text, vocab_size) -> [((left, right), new_id), ...]``."""
    name = "check_train_merges"
    if library_verdict(train_merges, _TRAIN_LIBRARY, name) is False:
        return False
    edge = [
        ("aaabdaaabac", 259),
        ("aaabdaaabac", 256),
        ("abcabcab", 258),
        ("baaab ab", 260),
        ("a", 258),  # no pair at all
        ("aaaa", 262),  # runs out of pairs after 2 merges
        ("café café naïve", 262),
        ("abab cdcd", 259),  # ties
    ]
    rng = random.Random(5)
    cases = edge + [(_random_text(rng), 256 + rng.randint(1, 8)) for _ in range(trials)]
    return check_function(
        _catch_empty_max(train_merges),
        _reference_train,
        cases,
        name=name,
        hints=_train_hints(chunked=False),
    )


def _random_chunks(rng: random.Random) -> list[str]:
    # Words with their leading space and punctuation, as the GPT-2 split cuts them.
    words = ["".join(rng.choice("ab") for _ in range(rng.randint(1, 4))) for _ in range(6)]
    chunks = [w if i == 0 else " " + w for i, w in enumerate(words[: rng.randint(1, 6)])]
    return chunks + ([rng.choice([",", "!!", " é"])] if rng.random() < 0.4 else [])


def check_train_chunks(train_chunks, trials: int = 30) -> bool:
    """Check ``train_chunks(chunks, vocab_size) -> merges``: pairs never cross chunks."""
    name = "check_train_chunks"
    if library_verdict(train_chunks, _TRAIN_LIBRARY, name) is False:
        return False
    edge = [
        (["aaab", "daaab", "ac"], 259),
        (["ab", " ab", " ab", "!"], 258),
        (["a", "b", "a", "b"], 258),  # every pair would cross a chunk: none to merge
        (["ba", "ab", "ba"], 260),
        (["café", " naïve", " café"], 262),
    ]
    rng = random.Random(6)
    cases = edge + [(_random_chunks(rng), 256 + rng.randint(1, 8)) for _ in range(trials)]
    return check_function(
        _catch_empty_max(train_chunks),
        _reference_train_chunks,
        cases,
        name=name,
        hints=_train_hints(chunked=True),
    )


# --- encode ---------------------------------------------------------------------------------


def _apply_merges(ids: list[int], merges) -> list[int]:
    for pair, new_id in merges:
        ids = merge_pair(ids, pair, new_id)
    return ids


def _reference_encode(text, merges):
    return _apply_merges(list(text.encode("utf-8")), merges)


_ENCODE_HINTS = [
    Hint(lambda args, got, exp: not isinstance(got, list), "return a list of ids"),
    Hint(
        lambda args, got, exp: got == _apply_merges([ord(c) for c in args[0]], args[1]),
        "start from the UTF-8 bytes, list(text.encode('utf-8')), not ord() of each character: "
        "a character outside ASCII (é, 日) is 2 to 4 bytes",
    ),
    Hint(
        lambda args, got, exp: len(got) > len(exp),
        "some merges were not made: apply every merge, in training order (the first learned "
        "first), to all of the ids. A later merge joins tokens that earlier merges made, so "
        "applied before them it finds nothing to join",
    ),
    Hint(
        lambda args, got, exp: _spelled(got, args[1]) == args[0].encode("utf-8"),
        "your ids spell the text, but with other tokens: apply the merges in training order "
        "(the first learned first). When two merges compete for the same bytes (bb and ba in "
        "'bba'), the one learned first wins",
    ),
]


def _spelled(ids, merges) -> bytes:
    vocab = {i: bytes([i]) for i in range(256)}
    for (a, b), new_id in merges:
        vocab[new_id] = vocab[a] + vocab[b]
    return b"".join(vocab[i] for i in ids)


_ENCODE_LIBRARY = (BPETokenizer.encode, BPETokenizer.from_merges)


def _encode_inputs(rng: random.Random) -> tuple:
    trained_on = _random_text(rng, 30)
    merges = _reference_train(trained_on, 256 + rng.randint(1, 10))
    return (trained_on if rng.random() < 0.5 else _random_text(rng, 30)), merges


def check_encode(encode, trials: int = 30) -> bool:
    """Check ``encode(text, merges) -> ids``: the merges applied in training order."""
    name = "check_encode"
    if library_verdict(encode, _ENCODE_LIBRARY, name) is False:
        return False
    example = _reference_train("aaabdaaabac", 259)
    accents = _reference_train("café café naïve", 262)
    edge = [
        ("aaabdaaabac", example),
        ("", example),
        ("bdcd", example),  # nothing to merge
        ("aaaaaaab", example),
        ("naïve café", accents),
        ("aaabdaaabac", []),
    ]
    rng = random.Random(7)
    cases = edge + [_encode_inputs(rng) for _ in range(trials)]
    return check_function(encode, _reference_encode, cases, name=name, hints=_ENCODE_HINTS)


# --- decode ---------------------------------------------------------------------------------


def _catch_unicode_errors(fn):
    @functools.wraps(fn)
    def wrapped(*args):
        try:
            return fn(*args)
        except UnicodeDecodeError as e:
            return _Raised(e)

    return wrapped


def _reference_decode(ids, vocab):
    return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")


_DECODE_HINTS = [
    Hint(
        lambda args, got, exp: isinstance(got, _Raised),
        "decoding raised UnicodeDecodeError: ids can cut a character's bytes, so decode with "
        "errors='replace' (invalid bytes become '\ufffd', as in GPT-2)",
    ),
    Hint(
        lambda args, got, exp: isinstance(got, str) and got.startswith(("b'", 'b"')),
        "str(some_bytes) gives \"b'...'\": turn bytes into text with .decode('utf-8', ...)",
    ),
    Hint(
        lambda args, got, exp: isinstance(got, str) and got.count("\ufffd") > exp.count("\ufffd"),
        "join all the tokens' bytes first, then decode once: a character's bytes can be split "
        "across two tokens, and each half alone is not valid UTF-8",
    ),
]


_DECODE_LIBRARY = (BPETokenizer.decode, BPETokenizer.decode_bytes)


@functools.lru_cache(maxsize=1)
def _decode_tokenizer() -> BPETokenizer:
    # Trained on text full of multi-byte characters, so tokens split characters.
    text = "naïve café 🙂🙂 日本語 über 🙂 café naïve 日本 " * 3
    return BPETokenizer().train(text, 290)


def check_decode(decode, trials: int = 20) -> bool:
    """Check ``decode(ids, vocab) -> str`` with ``vocab = {id: bytes}``."""
    if library_verdict(decode, _DECODE_LIBRARY, "check_decode") is False:
        return False
    tok = _decode_tokenizer()
    vocab = tok.vocab
    texts = ["", "hello", "café", "🙂", "naïve 日本語 🙂 über"]
    cases = [(tok.encode(t), vocab) for t in texts]
    cases.append(([240, 159], vocab))  # half an emoji: invalid UTF-8 on its own
    rng = random.Random(4)
    for _ in range(trials):
        cases.append(([rng.randrange(len(vocab)) for _ in range(rng.randint(1, 8))], vocab))
    return check_function(
        _catch_unicode_errors(decode),
        _reference_decode,
        cases,
        name="check_decode",
        hints=_DECODE_HINTS,
    )


# --- predict, then measure: compression off the training domain ----------------------------

_NEWS_WHY = (
    "the merges were learned from Shakespeare. The early ones are plain English (' th', 'ou', "
    "'ing' are among the first 40) and shorten news almost as well (with 1024 tokens, compare "
    "news with Shakespeare in the first row above). The later ones spend the "
    "vocabulary on Shakespeare's own words and names (in the 4096-token BPE ' thou', ' thee' "
    "and 'CLEOPATRA' are one token each, while the news word ' government' is 5). So going from "
    "1024 to 4096 tokens gains less on news than on Shakespeare (compare the two rows above): a "
    "tokenizer compresses best the kind of text it was trained on, which is why a model's "
    "tokenizer is trained on the same mix of text as the model"
)


def check_news_prediction(prediction, measured: float) -> bool:
    """Lesson 01's "predict, then measure": the bytes per token of the largest Shakespeare BPE
    of the lesson on modern news English. Within 0.15 byte per token counts as right."""
    return check_prediction(
        prediction, measured, name="check_news_prediction", tolerance=0.15, explain=_NEWS_WHY
    )
