"""Checks for lesson 01's exercises: count pairs, merge a pair, one training step, decode.

Each check runs the learner's function and the reference (``course_lib.tokenize``) on the same
inputs, edge cases first, then random ones, and prints a one-line verdict with a hint aimed at
the usual mistake.
"""

from __future__ import annotations

import functools
import random

from ..tokenize import BPETokenizer, merge_pair, pair_counts
from . import Hint, check_function


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
    return check_function(merge, merge_pair, cases, name="check_merge", hints=_MERGE_HINTS)


# --- one training step --------------------------------------------------------------------------


def _reference_step(ids, new_id):
    counts = pair_counts(ids)
    pair = max(counts, key=counts.get)
    return pair, merge_pair(ids, pair, new_id)


def _tied_later(args, got, exp) -> bool:
    counts = pair_counts(args[0])
    return got[0] in counts and counts[got[0]] == counts[exp[0]]


_STEP_HINTS = [
    Hint(
        lambda args, got, exp: not (isinstance(got, tuple) and len(got) == 2),
        "return a tuple (pair, new_ids)",
    ),
    Hint(
        lambda args, got, exp: got[0] == exp[0],
        "the right pair, but the merged ids are wrong: reuse your merge function",
    ),
    Hint(
        lambda args, got, exp: got[0] == max(pair_counts(args[0])),
        "max(counts) compares the pairs themselves, not their counts: use "
        "max(counts, key=counts.get)",
    ),
    Hint(
        _tied_later,
        "the right count, but the wrong pair among equally frequent ones: on a tie keep the pair "
        "that occurs first (max() over the dict does this; a loop with >= keeps the last one)",
    ),
]


def check_train_step(train_step, trials: int = 30) -> bool:
    """Check ``train_step(ids, new_id) -> (pair, new_ids)``: one BPE training step."""
    edge = [([1, 2, 3, 1, 2], 99), ([3, 4, 1, 2], 99), ([5, 5, 5, 1, 5], 99), ([2, 1, 1, 2], 99)]
    rng = random.Random(3)
    cases = edge + [(_random_ids(rng, 3, 14) + [0, 1], 99) for _ in range(trials)]
    return check_function(
        train_step, _reference_step, cases, name="check_train_step", hints=_STEP_HINTS
    )


# --- decode ---------------------------------------------------------------------------------


class _Raised:
    """What a wrapped function returned instead of raising (so a hint can name the error)."""

    def __init__(self, error: Exception):
        self.error = error

    def __repr__(self) -> str:
        return f"<raised {type(self.error).__name__}: {self.error}>"


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


@functools.lru_cache(maxsize=1)
def _decode_tokenizer() -> BPETokenizer:
    # Trained on text full of multi-byte characters, so tokens split characters.
    text = "naïve café 🙂🙂 日本語 über 🙂 café naïve 日本 " * 3
    return BPETokenizer().train(text, 290)


def check_decode(decode, trials: int = 20) -> bool:
    """Check ``decode(ids, vocab) -> str`` with ``vocab = {id: bytes}``."""
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
