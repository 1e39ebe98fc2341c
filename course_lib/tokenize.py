"""Tokenizers: text to a list of integer ids and back.

``CharTokenizer`` gives every distinct character of the training text an id (sorted order).
``BPETokenizer`` (lesson 01) is byte-level byte-pair encoding: it encodes any Unicode text, and its
fast trainer (:func:`train_bpe`) learns exactly the merges of the naive reference
(:func:`train_bpe_naive`), ties included; :func:`gpt2_split_regex` is GPT-2's pre-split pattern
written for Python's ``re``.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import gc
import heapq
import json
import os
import re
import unicodedata
import warnings
from pathlib import Path

import numpy as np

from .runtime import progress_bar

CHAR_FORMAT = "course_lib.CharTokenizer/1"


class CharTokenizer:
    """One id per character seen in training, in sorted order.

    >>> tok = CharTokenizer().train("hello")
    >>> tok.encode("hell"), tok.decode([3, 2])
    ([1, 0, 2, 2], 'lh')
    """

    def __init__(self, chars: list[str] | None = None):
        self.chars: list[str] = []
        self.stoi: dict[str, int] = {}
        if chars is not None:
            self._set(chars)

    def _set(self, chars) -> None:
        chars = list(chars)
        if len(set(chars)) != len(chars) or any(len(c) != 1 for c in chars):
            raise ValueError("chars must be distinct single characters")
        self.chars = chars
        self.stoi = {c: i for i, c in enumerate(chars)}

    def train(self, text: str, vocab_size: int | None = None) -> CharTokenizer:
        """Build the vocabulary from ``text``'s distinct characters. Returns ``self``.

        ``vocab_size``, if given, must equal the number of distinct characters (a character
        vocabulary cannot be made larger or smaller); it is accepted for a common interface."""
        if not text:
            raise ValueError("cannot train a tokenizer on empty text: pass the training corpus")
        chars = sorted(set(text))
        if vocab_size is not None and vocab_size != len(chars):
            raise ValueError(
                f"the text has {len(chars)} distinct characters, so a character "
                f"vocabulary has exactly {len(chars)} entries, not {vocab_size}"
            )
        self._set(chars)
        return self

    @property
    def vocab(self) -> dict[int, str]:
        """``{id: character}``."""
        return dict(enumerate(self.chars))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``'s characters; an unknown character is an error that names it."""
        try:
            return [self.stoi[c] for c in text]
        except KeyError:
            unknown = sorted({c for c in text if c not in self.stoi})
            raise ValueError(
                f"characters not in the vocabulary: {', '.join(map(repr, unknown))}; "
                "the tokenizer only knows the characters of its training text"
            ) from None

    def decode(self, ids) -> str:
        """The text of a sequence of ids; an id outside ``0..vocab_size-1`` is an error."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.chars):
                raise ValueError(
                    f"id {i} is out of range: this vocabulary has ids 0 to {len(self.chars) - 1}"
                )
            out.append(self.chars[i])
        return "".join(out)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the vocabulary as readable JSON."""
        path = Path(path)
        path.write_text(
            json.dumps({"format": CHAR_FORMAT, "chars": self.chars}, ensure_ascii=False, indent=1),
            encoding="utf-8",
        )
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> CharTokenizer:
        path = Path(path)
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path.name} is not a CharTokenizer file (not JSON: {e})") from e
        if not isinstance(obj, dict) or obj.get("format") != CHAR_FORMAT:
            raise ValueError(
                f"{path.name} is not a CharTokenizer file (expected format "
                f"{CHAR_FORMAT!r}); write one with CharTokenizer.save()"
            )
        return cls(obj["chars"])

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={len(self.chars)})"


# =============================================================================================
# Byte-level BPE (lesson 01)
# =============================================================================================
#
# A text is first turned into its UTF-8 bytes, so the 256 byte values are the starting vocabulary
# and any string can be encoded. Training then repeats: count every adjacent pair of ids, merge the
# most frequent pair into a new id (256, 257, ...). Ties go to the pair that occurs first in the
# current sequence, the rule of minbpe / GPT-2-style reference code (`max` over a dict of counts
# built in sequence order). With a pre-split pattern the text is cut into chunks first (words,
# numbers, punctuation runs, whitespace) and pairs never cross a chunk boundary.

BPE_FORMAT = "course_lib.BPETokenizer/1"

GPT2_SPLIT_PATTERN = (
    r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)
"""GPT-2's pre-split pattern as written for the third-party ``regex`` package (``\\p{L}`` is any
letter, ``\\p{N}`` any number). Python's ``re`` has no ``\\p{...}``: :func:`gpt2_split_regex`
builds the same pattern for ``re`` with explicit character classes."""

# Unicode's White_Space property: what \s means in GPT-2's regex (and in HF tokenizers). Python's
# own \s also matches the separators U+001C..U+001F, which GPT-2 treats as punctuation.
_WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def _class_ranges(codepoints: list[int]) -> str:
    """Code points as the inside of a regex character class, e.g. ``\\u0041-\\u005a``."""

    def esc(c: int) -> str:
        return f"\\U{c:08x}"

    out, start, prev = [], None, None
    for c in codepoints:
        if start is None:
            start = prev = c
        elif c == prev + 1:
            prev = c
        else:
            out.append(esc(start) if start == prev else f"{esc(start)}-{esc(prev)}")
            start = prev = c
    if start is not None:
        out.append(esc(start) if start == prev else f"{esc(start)}-{esc(prev)}")
    return "".join(out)


@functools.lru_cache(maxsize=1)
def gpt2_split_regex() -> re.Pattern:
    """GPT-2's pre-split pattern (:data:`GPT2_SPLIT_PATTERN`) compiled with Python's ``re``.

    ``\\p{L}`` (letters) and ``\\p{N}`` (numbers) become explicit classes built from
    ``unicodedata`` (Unicode categories L* and N*), ``\\s`` becomes Unicode's White_Space set, and
    ``(?!\\S)`` becomes ``(?![^\\s])``. Built once per process (about 0.4 s)."""
    cps = range(0x110000)
    letters = [c for c in cps if chr(c).isalpha()]  # isalpha() is exactly categories L*
    numbers = [
        c for c in cps if chr(c).isnumeric() and unicodedata.category(chr(c)).startswith("N")
    ]
    L, N, S = _class_ranges(letters), _class_ranges(numbers), _WHITE_SPACE
    return re.compile(
        rf"'s|'t|'re|'ve|'m|'ll|'d| ?[{L}]+| ?[{N}]+| ?[^{S}{L}{N}]+|[{S}]+(?![^{S}])|[{S}]+"
    )


def _gpt2_if_built() -> re.Pattern | None:
    return gpt2_split_regex() if gpt2_split_regex.cache_info().currsize else None


def _compile_pattern(pattern) -> re.Pattern | None:
    if pattern is None:
        return None
    if pattern == "gpt2":
        return gpt2_split_regex()
    if isinstance(pattern, re.Pattern):
        return pattern
    if isinstance(pattern, str):
        if r"\p{" in pattern:
            raise ValueError(
                "the pattern uses \\p{...} classes, which Python's re module does not support; "
                'use pattern="gpt2" for GPT-2\'s split, or write the classes out for re'
            )
        try:
            return re.compile(pattern)
        except re.error as e:
            raise ValueError(f"invalid split pattern {pattern!r}: {e}") from e
    raise TypeError(f'pattern must be None, "gpt2", a regex string or re.Pattern, got {pattern!r}')


def _utf8(text: str) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"expected a str, got {type(text).__name__}")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"the text contains a lone surrogate {text[e.start]!r} at index {e.start}, which "
            "has no UTF-8 encoding: it is not valid Unicode text"
        ) from None


@contextlib.contextmanager
def _no_gc():
    """Pause Python's cyclic garbage collector: the trainer and encoder allocate millions of small
    objects and free none of them in cycles, so collections only cost time (~25%)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _chunks(text: str, split: re.Pattern | None) -> list[str]:
    """The pre-split chunks of ``text``, in order (the whole text when there is no pattern)."""
    if split is None:
        return [text] if text else []
    chunks = [c for c in split.findall(text) if c]
    if sum(map(len, chunks)) != len(text):
        raise ValueError(
            "the split pattern does not cover the whole text (some characters match no "
            "alternative), so they would be lost: add a catch-all such as |\\s+|. to the pattern"
        )
    return chunks


# --- the naive algorithm: the reference, written to be read ----------------------------------


def pair_counts(ids, counts: dict | None = None) -> dict:
    """How often each adjacent pair occurs in ``ids``, overlapping pairs included
    (``[1, 1, 1]`` holds ``(1, 1)`` twice). The dict lists pairs in order of first occurrence,
    which decides ties. Pass ``counts`` to add to an existing dict (one call per chunk)."""
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:], strict=False):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge_pair(ids, pair: tuple[int, int], new_id: int) -> list[int]:
    """``ids`` with every occurrence of ``pair`` replaced by ``new_id``, scanning left to right
    (so ``[1, 1, 1]`` with pair ``(1, 1)`` becomes ``[new_id, 1]``)."""
    out, i, n = [], 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _check_train_args(text: str, vocab_size: int, n_special: int = 0) -> int:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not text:
        raise ValueError("cannot train a tokenizer on empty text: pass the training corpus")
    if not isinstance(vocab_size, int) or isinstance(vocab_size, bool):
        raise TypeError(f"vocab_size must be an int, got {vocab_size!r}")
    if vocab_size < 256 + n_special:
        extra = f" plus {n_special} special token(s)" if n_special else ""
        raise ValueError(
            f"vocab_size={vocab_size} is too small: a byte-level vocabulary starts with the 256 "
            f"byte values{extra}, so vocab_size must be at least {256 + n_special}"
        )
    return vocab_size - 256 - n_special


def _ran_out(n_done: int, n_asked: int, stacklevel: int) -> None:
    warnings.warn(
        f"the text has no adjacent pairs left after {n_done} merges, fewer than the {n_asked} "
        f"asked for: the vocabulary has {256 + n_done} byte/merge ids. Train on more text or ask "
        "for a smaller vocab_size",
        stacklevel=stacklevel,  # point at the caller's train() line
    )


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's map from each byte value to a printable character (``32 -> 'Ġ'``), which
    Hugging Face's ``ByteLevel`` uses to show bytes as text. Printable Latin-1 bytes map to
    themselves; the other 68 map to U+0100 onwards."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    keep += range(ord("®"), ord("ÿ") + 1)
    extra = [b for b in range(256) if b not in keep]
    return {b: chr(b) for b in keep} | {b: chr(256 + k) for k, b in enumerate(extra)}


def _tie_ranks(ties: str, size: int) -> list[int] | None:
    """``None`` for ties="first"; for ties="hf", each id's rank in Hugging Face's numbering,
    where the 256 bytes are sorted by their :func:`bytes_to_unicode` character."""
    if ties == "first":
        return None
    if ties != "hf":
        raise ValueError(f"ties must be 'first' or 'hf', got {ties!r}")
    b2u = bytes_to_unicode()
    order = sorted(range(256), key=b2u.__getitem__)
    rank = [0] * 256
    for r, b in enumerate(order):
        rank[b] = r
    return rank + list(range(256, size))


def train_bpe_naive(
    text: str, vocab_size: int, pattern=None, *, ties: str = "first", progress: bool = False
) -> list:
    """Learn BPE merges the plain way: after every merge, recount every pair of the whole text.

    Returns ``[((left_id, right_id), new_id), ...]`` in training order, ``new_id`` = 256, 257, ...
    ``pattern`` (None, ``"gpt2"`` or a regex) pre-splits the text; pairs never cross chunks.
    Clear but slow: each of the ``vocab_size - 256`` merges rescans all the text."""
    return _train_naive(text, vocab_size, pattern, ties, progress)[0]


def _train_naive(text, vocab_size, pattern, ties, progress):
    n_merges = _check_train_args(text, vocab_size)
    rank = _tie_ranks(ties, vocab_size)
    chunks = [list(_utf8(c)) for c in _chunks(text, _compile_pattern(pattern))]
    merges, counts_at_merge = [], []
    for new_id in _progress(range(256, 256 + n_merges), progress, "naive BPE"):
        counts: dict = {}
        for ids in chunks:
            pair_counts(ids, counts)
        if not counts:
            _ran_out(len(merges), n_merges, 4)
            break
        if rank is None:
            pair = max(counts, key=counts.get)  # max() keeps the first of equal counts: ties go
        else:  # to the pair that occurs first. Hugging Face's rule: the smaller pair of ids
            pair = min(counts, key=lambda p: (-counts[p], rank[p[0]], rank[p[1]]))
        chunks = [merge_pair(ids, pair, new_id) for ids in chunks]
        merges.append((pair, new_id))
        counts_at_merge.append(counts[pair])
    return merges, counts_at_merge


def _progress(it, show: bool, desc: str):
    if not show:
        return it
    return progress_bar(it, desc=desc, unit="merge")


# --- the fast algorithm: the same merges, with pair counts updated incrementally -------------


def train_bpe(
    text: str, vocab_size: int, pattern=None, *, ties: str = "first", progress: bool = False
) -> list:
    """Learn exactly the merges of :func:`train_bpe_naive`, fast.

    Instead of recounting the text after each merge, it keeps, for every pair, the positions
    where it occurs, and updates only the pairs next to each merged occurrence:

    * the sequence is a doubly linked list over byte positions (a merge unlinks a node);
    * ``where[pair] = [count, set of positions of the pair's left token]``;
    * a heap of ``(-count, first_position, pair)`` finds the most frequent pair, ties to the pair
      whose first occurrence comes first. Entries are lazy: an old pair only loses occurrences,
      so its stored count is an upper bound and its stored first position a lower bound; when
      the entry reaches the top it is refreshed if either is out of date, else it wins.

    With a pre-split pattern the chunks are deduplicated: each distinct chunk appears once, in
    order of first appearance, weighted by how often it occurs. Position order in that layout is
    the order of first occurrences in the text, so ties break exactly as in the naive trainer.
    ``ties="hf"`` breaks ties as Hugging Face ``tokenizers`` does instead (the pair with smaller
    ids in its numbering), which reproduces its merges.
    """
    return _train_fast(text, vocab_size, pattern, ties, progress)[0]


def _train_fast(text, vocab_size, pattern, ties, progress):
    n_merges = _check_train_args(text, vocab_size)
    rank = _tie_ranks(ties, vocab_size)
    chunks = _chunks(text, _compile_pattern(pattern))
    if pattern is None:
        layout = [(_utf8(text), 1)]
    else:
        layout = [(_utf8(c), n) for c, n in collections.Counter(chunks).items()]
    with _no_gc():
        return _train_linked(layout, n_merges, rank, progress)


def _train_linked(layout: list[tuple[bytes, int]], n_merges: int, rank, progress: bool):
    """The fast trainer on ``layout = [(chunk_bytes, times_it_occurs), ...]``: returns
    ``(merges, counts_at_merge)``. ``rank``: None (ties to the first occurrence) or the
    Hugging Face rank of each id (see :func:`_tie_ranks`)."""
    shift = (256 + n_merges).bit_length()  # a pair (a, b) is the int a << shift | b (fast keys)
    mask = (1 << shift) - 1

    def tie(key: int, first: int) -> int:  # the heap's second field: smaller wins a tie
        return first if rank is None else rank[key >> shift] << shift | rank[key & mask]

    lengths = np.array([len(b) for b, _ in layout], dtype=np.int64)
    ends = np.cumsum(lengths)  # chunk boundaries in the concatenation
    vals = np.frombuffer(b"".join(b for b, _ in layout), dtype=np.uint8).astype(np.int64)
    weights = np.repeat(np.array([n for _, n in layout], dtype=np.int64), lengths)
    size = len(vals)
    val: list[int] = vals.tolist()  # token id at each node; -1 once merged into its left node
    weight: list[int] = weights.tolist()  # how many times the node's chunk occurs in the text
    nxt = list(range(1, size + 1))  # the doubly linked list; -1: none (no links across chunks)
    prv = list(range(-1, size - 1))
    for e in ends.tolist():
        nxt[e - 1] = -1
        if e < size:
            prv[e] = -1

    # pair key -> [count, set of positions of its left token], grouped by sorting with NumPy
    inside = np.ones(max(size - 1, 0), dtype=bool)  # pairs (i, i + 1) inside a chunk
    inside[ends[:-1] - 1] = False
    inside = np.flatnonzero(inside)
    keys = vals[inside] << shift | vals[inside + 1]
    perm = np.argsort(keys, kind="stable")
    order, sorted_keys = inside[perm], keys[perm]  # positions grouped by pair, in text order
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])[: len(order)]
    totals = np.add.reduceat(weights[order], starts).tolist()
    order_list, sorted_keys = order.tolist(), sorted_keys.tolist()
    bounds = starts.tolist() + [len(order_list)]
    where: dict[int, list] = {}
    heap = []
    for g, (lo, hi) in enumerate(zip(bounds, bounds[1:], strict=False)):
        key, c, f = sorted_keys[lo], totals[g], order_list[lo]
        where[key] = [c, set(order_list[lo:hi])]
        heap.append((-c, tie(key, f), key))  # f: the first position (the sort is stable)
    heapq.heapify(heap)

    merges, counts_at_merge = [], []
    for new_id in _progress(range(256, 256 + n_merges), progress, "BPE"):
        while heap:  # the most frequent pair, ties to the first occurrence
            negc, lb, key = heap[0]
            entry = where[key]
            c = entry[0]
            if c != -negc:  # counts only fall, so a stored count is an upper bound: refresh it
                if c:
                    heapq.heapreplace(heap, (-c, lb, key))
                else:
                    heapq.heappop(heap)
                    del where[key]
                continue
            s = entry[1]
            if rank is None and lb not in s:  # a lower bound of the first position, exact if
                heapq.heapreplace(heap, (negc, min(s), key))  # it is still an occurrence
                continue
            heapq.heappop(heap)
            break
        else:
            _ran_out(len(merges), n_merges, 5)
            break
        a, b = key >> shift, key & mask
        merges.append(((a, b), new_id))
        counts_at_merge.append(-negc)
        positions = where.pop(key)[1]
        created = []  # the pairs with the new id
        X = new_id << shift
        for i in sorted(positions):  # left to right, as the naive merge
            if val[i] != a:
                continue  # already merged as the right half of an overlapping occurrence
            j = nxt[i]
            if j == -1 or val[j] != b:
                continue
            w = weight[i]
            p = prv[i]
            if p != -1:  # (left, a) becomes (left, new)
                vp = val[p] << shift
                e = where[vp | a]
                e[0] -= w
                e[1].discard(p)
                k = vp | new_id
                e = where.get(k)
                if e is None:
                    where[k] = [w, {p}]
                    created.append((k, p))
                else:
                    e[0] += w
                    e[1].add(p)
            n = nxt[j]
            if n != -1:  # (b, right) becomes (new, right)
                vn = val[n]
                k = b << shift | vn
                if k != key:  # (a, a, a): the second (a, a) vanishes with the first merge
                    e = where[k]
                    e[0] -= w
                    e[1].discard(j)
                k = X | vn
                e = where.get(k)
                if e is None:
                    where[k] = [w, {i}]
                    created.append((k, i))
                else:
                    e[0] += w
                    e[1].add(i)
                prv[n] = i
            val[i] = new_id
            val[j] = -1
            nxt[i] = n
        # Old pairs only lost occurrences: their heap entries stay valid bounds. New pairs get
        # an entry with their exact count and first position.
        for k, f in created:  # f: the first position added, the smallest (left to right)
            c = where[k][0]
            if c:
                heapq.heappush(heap, (-c, tie(k, f), k))
            else:  # created and consumed again within this merge
                del where[k]
    return merges, counts_at_merge


# --- encoding: apply the merges in training order ----------------------------------------------
#
# Encoding replays the merges in the order they were learned: merge r can only apply after the
# tokens it joins exist, and a merge never creates a pair of lower rank, so "repeatedly merge the
# lowest-ranked pair present" (the reference loop, ``method="naive"``) is the same as "for each
# merge in order, merge all its occurrences left to right". The fast encoder writes each token as
# one character, so that a merge is one C-speed ``str.replace`` (left to right, non-overlapping,
# exactly like ``merge_pair``).


def _id_char(i: int) -> str:
    return chr(i if i < 0xD800 else i + 0x800)  # skip the surrogate block, which str rejects


def _chars_to_ids(s: str) -> list[int]:
    ids = np.frombuffer(s.encode("utf-32-le"), dtype=np.uint32)
    return np.where(ids >= 0xE000, ids - 0x800, ids).tolist()


class BPETokenizer:
    """Byte-level byte-pair encoding: any text in, ids out, the exact text back.

    ``BPETokenizer()`` is plain byte-level BPE with no pre-split: before training it is simply
    the UTF-8 byte tokenizer (256 ids). ``pattern="gpt2"`` pre-splits text with GPT-2's regex (or
    pass your own regex); ``special_tokens=["<|endoftext|>"]`` reserves ids after the merges.

    >>> tok = BPETokenizer().train("aaabdaaabac", vocab_size=259)
    >>> tok.merges
    [((97, 97), 256), ((256, 97), 257), ((257, 98), 258)]
    >>> tok.encode("aaabdaaabac"), tok.decode([258, 100])
    ([258, 100, 258, 97, 99], 'aaabd')
    """

    def __init__(self, pattern=None, special_tokens=None):
        self._split = _compile_pattern(pattern)
        self.pattern: str | None = None  # what save() writes: None, "gpt2" or the regex
        if self._split is None:
            pass
        elif pattern == "gpt2" or self._split is _gpt2_if_built():
            self.pattern = "gpt2"
        else:
            self.pattern = self._split.pattern
        if self._split is not None and self._split.groups:
            raise ValueError(
                "the split pattern has capturing groups, which make re.findall return tuples: "
                "write its groups as (?:...)"
            )
        specials = list(special_tokens or [])
        for s in specials:
            if not isinstance(s, str) or not s:
                raise ValueError(f"special tokens must be non-empty strings, got {s!r}")
        if len(set(specials)) != len(specials):
            raise ValueError(f"special tokens must be distinct, got {specials}")
        self._special_names = specials
        self._set_merges([])
        self.merge_counts: list[int] | None = None  # set by train()

    # -- state --------------------------------------------------------------------------------

    def _set_merges(self, merges) -> None:
        """Rebuild every derived table from the merges (and the special-token names)."""
        table = [bytes([i]) for i in range(256)]
        for k, ((a, b), new) in enumerate(merges):
            if new != 256 + k or not (0 <= a < new and 0 <= b < new):
                raise ValueError(
                    f"merge {k} is (({a}, {b}), {new}): merge k must create id 256 + k from "
                    "two existing ids"
                )
            table.append(table[a] + table[b])
        self.merges: list[tuple[tuple[int, int], int]] = [((a, b), n) for (a, b), n in merges]
        self.special_tokens: dict[str, int] = {
            s: len(table) + k for k, s in enumerate(self._special_names)
        }
        self._bytes = table + [s.encode("utf-8") for s in self._special_names]
        self._ranks = {pair: new for pair, new in self.merges}
        self._str_merges = [(_id_char(a) + _id_char(b), _id_char(n)) for (a, b), n in self.merges]
        # joins[x * 256 + y]: do bytes x, y sit side by side inside some token? Where they do not,
        # no merge can ever span them, so the text can be cut there and encoded piece by piece.
        joins = np.zeros(256 * 256, dtype=bool)
        for token in table[256:]:
            t = np.frombuffer(token, dtype=np.uint8).astype(np.int64)
            joins[t[:-1] * 256 + t[1:]] = True
        self._joins = joins
        longest_first = sorted(self._special_names, key=len, reverse=True)
        self._special_split = re.compile("|".join(map(re.escape, longest_first)))

    @classmethod
    def from_merges(cls, merges, pattern=None, special_tokens=None) -> BPETokenizer:
        """A tokenizer from a list of merges ``[((left, right), new_id), ...]``, e.g. the first
        ``k`` merges of a bigger one: ``BPETokenizer.from_merges(tok.merges[:k])`` is exactly
        the tokenizer that training with ``vocab_size = 256 + k`` gives."""
        tok = cls(pattern, special_tokens)
        tok._set_merges(merges)
        return tok

    @property
    def vocab(self) -> dict[int, bytes]:
        """``{id: bytes}`` for every id: the 256 bytes, the merges, the special tokens."""
        return dict(enumerate(self._bytes))

    @property
    def vocab_size(self) -> int:
        return len(self._bytes)

    def __len__(self) -> int:
        return len(self._bytes)

    def __repr__(self) -> str:
        return (
            f"BPETokenizer(vocab_size={self.vocab_size}, merges={len(self.merges)}, "
            f"pattern={self.pattern!r}, special_tokens={list(self.special_tokens)})"
        )

    # -- training -----------------------------------------------------------------------------

    def train(
        self,
        text: str,
        vocab_size: int,
        *,
        method: str = "fast",
        ties: str = "first",
        progress: bool = False,
    ) -> BPETokenizer:
        """Learn ``vocab_size - 256 - len(special_tokens)`` merges from ``text``. Returns self.

        ``method="fast"`` (incremental pair counts, :func:`train_bpe`) and ``method="naive"``
        (recount everything after each merge, :func:`train_bpe_naive`) give the same merges.
        ``ties="first"``: ties go to the pair that occurs first (minbpe's rule); ``"hf"``: to
        the pair Hugging Face ``tokenizers`` picks. ``merge_counts`` then holds how often each
        merged pair occurred when it was merged."""
        _check_train_args(text, vocab_size, len(self._special_names))
        trainers = {"fast": _train_fast, "naive": _train_naive}
        if method not in trainers:
            raise ValueError(f"method must be 'fast' or 'naive', got {method!r}")
        n = vocab_size - len(self._special_names)
        merges, counts = trainers[method](text, n, self._split, ties, progress)
        self._set_merges(merges)
        self.merge_counts = counts
        return self

    # -- encoding -----------------------------------------------------------------------------

    def _allowed(self, allowed_special) -> set[str]:
        if allowed_special == "all":
            return set(self._special_names)
        if allowed_special == "none" or allowed_special is None:
            return set()
        if isinstance(allowed_special, str):
            allowed_special = {allowed_special}
        unknown = sorted(set(allowed_special) - set(self._special_names))
        if unknown:
            have = ", ".join(map(repr, self._special_names)) or "none"
            raise ValueError(
                f"unknown special token(s) {', '.join(map(repr, unknown))}: this tokenizer's "
                f"special tokens are {have}; register them with BPETokenizer(special_tokens=[...])"
            )
        return set(allowed_special)

    def special_id(self, name: str) -> int:
        """The id of a special token; an unknown name is an error that lists the known ones."""
        self._allowed({name})
        return self.special_tokens[name]

    def encode(self, text: str, allowed_special="all", *, method: str = "fast") -> list[int]:
        """Ids of ``text``. ``decode(encode(text)) == text`` for every valid Unicode string.

        ``allowed_special``: ``"all"`` (default) turns registered special-token strings found in
        the text into their ids; ``"none"`` encodes them as ordinary text; or a set of names.
        ``method="naive"`` runs the reference loop (merge the lowest-ranked pair present, repeat);
        both methods give the same ids."""
        _utf8(text)  # type and lone-surrogate check with a clear message
        if method not in ("fast", "naive"):
            raise ValueError(f"method must be 'fast' or 'naive', got {method!r}")
        allowed = self._allowed(allowed_special)
        if not allowed:
            return self._encode_ordinary(text, method)
        out, start = [], 0
        for m in self._special_split.finditer(text):
            if m.group() in allowed:
                out += self._encode_ordinary(text[start : m.start()], method)
                out.append(self.special_tokens[m.group()])
                start = m.end()
        return out + self._encode_ordinary(text[start:], method)

    def _encode_ordinary(self, text: str, method: str) -> list[int]:
        if not text:
            return []
        chunks = _chunks(text, self._split)
        if method == "naive":
            return [i for c in chunks for i in self._encode_chunk_naive(_utf8(c))]
        if self._split is None:  # cut where no token joins the two bytes (see _set_merges)
            raw = _utf8(text)
            b = np.frombuffer(raw, dtype=np.uint8).astype(np.int64)
            cuts = (np.flatnonzero(~self._joins[b[:-1] * 256 + b[1:]]) + 1).tolist()
            s = raw.decode("latin-1")  # one character per byte
            chunks = [s[i:j] for i, j in zip([0, *cuts], [*cuts, len(s)], strict=True)]
        else:
            chunks = [c.encode("utf-8").decode("latin-1") for c in chunks]
        with _no_gc():
            return self._encode_pieces(chunks)

    def _encode_pieces(self, pieces: list[str]) -> list[int]:
        """Encode independent pieces (one character per byte), each distinct piece once: join
        them with a separator that no merge contains, apply the merges, split again."""
        distinct = list(dict.fromkeys(pieces))
        sep = _id_char(self.vocab_size)
        merged, block, size = [], [], 0
        for piece in distinct:  # blocks of a few thousand characters stay in the CPU's cache
            block.append(piece)
            size += len(piece)
            if size > 4096:
                merged.append(self._apply_merges(sep.join(block)))
                block, size = [], 0
        merged.append(self._apply_merges(sep.join(block)))
        ids = _chars_to_ids(sep.join(merged))
        ends = [i for i, t in enumerate(ids) if t == self.vocab_size] + [len(ids)]
        starts = [0] + [e + 1 for e in ends[:-1]]
        table = {p: ids[i:j] for p, i, j in zip(distinct, starts, ends, strict=True)}
        return [i for p in pieces for i in table[p]]

    def _apply_merges(self, s: str) -> str:
        for pair, new in self._str_merges:
            s = s.replace(pair, new)
        return s

    def _encode_chunk_naive(self, ids) -> list[int]:
        ids = list(ids)
        while len(ids) >= 2:
            counts = pair_counts(ids)
            pair = min(counts, key=lambda p: self._ranks.get(p, float("inf")))
            if pair not in self._ranks:
                break  # nothing left to merge
            ids = merge_pair(ids, pair, self._ranks[pair])
        return ids

    # -- decoding -----------------------------------------------------------------------------

    def decode_bytes(self, ids) -> bytes:
        """The bytes of a sequence of ids (a list, an array or a 1-D tensor)."""
        if hasattr(ids, "tolist"):
            ids = ids.tolist()
        table, n = self._bytes, len(self._bytes)
        try:
            return b"".join([table[i] if 0 <= i else table[n] for i in ids])
        except (IndexError, TypeError):
            for i in ids:
                if not isinstance(i, int) or isinstance(i, bool):
                    raise TypeError(f"ids must be integers, got {i!r}") from None
                if not 0 <= i < n:
                    raise ValueError(
                        f"id {i} is out of range: this vocabulary has ids 0 to {n - 1}"
                    ) from None
            raise

    def decode(self, ids) -> str:
        """The text of a sequence of ids.

        The ids' bytes are joined, then decoded as UTF-8 once. The output of ``encode`` always
        decodes back exactly. An arbitrary id sequence may cut a character's bytes (a token can
        hold half of an emoji): such invalid bytes become U+FFFD, as in GPT-2 and minbpe
        (``errors="replace"``); :meth:`decode_bytes` gives the raw bytes."""
        return self.decode_bytes(ids).decode("utf-8", errors="replace")

    # -- files --------------------------------------------------------------------------------

    def save(self, path: str | os.PathLike) -> Path:
        """Write the tokenizer as readable JSON: the pattern, the merges in training order, the
        special tokens, and each merged token's text for people to read."""
        path = Path(path)

        def dump(x) -> str:
            return json.dumps(x, ensure_ascii=False)

        # One merge per line, "[left, right, new_id]", and one token per line: easy to read/diff.
        merges = ",\n".join(f"  [{a}, {b}, {n}]" for (a, b), n in self.merges)
        tokens = ",\n".join(
            f"  {dump(str(n))}: {dump(self._bytes[n].decode('utf-8', errors='backslashreplace'))}"
            for _, n in self.merges
        )
        merges, tokens = (f"[\n{merges}\n ]", f"{{\n{tokens}\n }}") if self.merges else ("[]", "{}")
        path.write_text(
            f'{{\n "format": {dump(BPE_FORMAT)},\n "pattern": {dump(self.pattern)},\n'
            f' "special_tokens": {dump(self.special_tokens)},\n "merges": {merges},\n'
            f' "tokens (for reading only)": {tokens}\n}}\n',
            encoding="utf-8",
        )
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> BPETokenizer:
        path = Path(path)
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ValueError(f"{path.name} is not a BPETokenizer file (not JSON: {e})") from e
        fmt = obj.get("format") if isinstance(obj, dict) else None
        if fmt != BPE_FORMAT:
            found = f"its format is {fmt!r}" if fmt else "it has no format tag"
            raise ValueError(
                f"{path.name} is not a BPETokenizer file ({found}, expected {BPE_FORMAT!r}); "
                "write one with BPETokenizer.save()"
            )
        try:
            specials = obj["special_tokens"]
            tok = cls(obj["pattern"], special_tokens=sorted(specials, key=specials.get))
            tok._set_merges([((a, b), n) for a, b, n in obj["merges"]])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path.name} is a damaged BPETokenizer file: {e}") from e
        if tok.special_tokens != specials:
            raise ValueError(
                f"{path.name} is a damaged BPETokenizer file: special token ids {specials} do not "
                f"follow the merges (expected {tok.special_tokens})"
            )
        return tok
