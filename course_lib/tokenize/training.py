"""Training byte-level BPE: learn which adjacent pairs of ids to merge into new ids.

Training repeats: count every adjacent pair of ids, merge the most frequent pair into a new id
(256, 257, ...). Ties go to the pair that occurs first in the current sequence, the rule of
minbpe / GPT-2-style reference code (``max`` over a dict of counts built in sequence order);
``ties="hf"`` follows Hugging Face ``tokenizers`` instead. Pairs never cross a chunk boundary of
the pre-split text (:mod:`.pretokenize`).

Two trainers give exactly the same merges, ties included:

* :func:`train_bpe_naive`, the reference, written to be read: after every merge it recounts every
  pair of the whole text with :func:`pair_counts` and rewrites it with :func:`merge_pair`.
* :func:`train_bpe`, the fast one: it keeps, for every pair, where it occurs, and after a merge
  updates only the pairs next to the merged occurrences (a linked list, a dict of positions and
  a lazy heap).

Both return ``[((left_id, right_id), new_id), ...]`` in training order (and, internally, how
often each merged pair occurred when it was merged).
"""

from __future__ import annotations

import collections
import contextlib
import gc
import heapq
import warnings
from dataclasses import dataclass

import numpy as np

from ..runtime import progress_bar
from .pretokenize import _chunks, _compile_pattern, _utf8

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
    text = _link(vals, weights, ends)
    where, heap = _index_pairs(vals, weights, ends, shift, tie)

    merges, counts_at_merge = [], []
    for new_id in _progress(range(256, 256 + n_merges), progress, "BPE"):
        key, count = _pop_most_frequent(heap, where, rank)
        if key is None:
            _ran_out(len(merges), n_merges, 5)
            break
        a, b = key >> shift, key & mask
        merges.append(((a, b), new_id))
        counts_at_merge.append(count)
        created = _merge_everywhere(text, where, key, (a, b), new_id, shift)
        # Old pairs only lost occurrences: their heap entries stay valid bounds. New pairs get
        # an entry with their exact count and first position.
        for k, f in created:  # f: the first position added, the smallest (left to right)
            c = where[k][0]
            if c:
                heapq.heappush(heap, (-c, tie(k, f), k))
            else:  # created and consumed again within this merge
                del where[k]
    return merges, counts_at_merge


@dataclass
class _LinkedText:
    """The text as a doubly linked list over byte positions: a merge unlinks the right node."""

    val: list[int]  # token id at each node; -1 once merged into its left node
    weight: list[int]  # how many times the node's chunk occurs in the text
    nxt: list[int]  # the next node; -1: none (no links across chunks)
    prv: list[int]  # the previous node; -1: none


def _link(vals: np.ndarray, weights: np.ndarray, ends: np.ndarray) -> _LinkedText:
    """Link the concatenated chunks' bytes ``vals``, cutting the links at the chunk ``ends``."""
    size = len(vals)
    nxt = list(range(1, size + 1))
    prv = list(range(-1, size - 1))
    for e in ends.tolist():
        nxt[e - 1] = -1
        if e < size:
            prv[e] = -1
    return _LinkedText(vals.tolist(), weights.tolist(), nxt, prv)


def _index_pairs(vals: np.ndarray, weights: np.ndarray, ends: np.ndarray, shift: int, tie):
    """Every pair inside a chunk, counted once with NumPy: returns ``where``, ``{pair key:
    [count, set of positions of its left token]}``, and the heap of ``(-count, tie(key,
    first position), key)``."""
    inside = np.ones(max(len(vals) - 1, 0), dtype=bool)  # pairs (i, i + 1) inside a chunk
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
    return where, heap


def _pop_most_frequent(heap: list, where: dict, rank) -> tuple[int | None, int]:
    """Pop the most frequent pair, ties to the first occurrence (or to Hugging Face's rank):
    ``(key, count)``, or ``(None, 0)`` when no pair is left.

    Entries are lazy bounds, refreshed when they reach the top: counts only fall, so a stored
    count is an upper bound; a stored first position is a lower bound, exact if it is still an
    occurrence."""
    while heap:
        negc, lb, key = heap[0]
        entry = where[key]
        c = entry[0]
        if c != -negc:  # out of date: refresh the count (or drop a pair that is gone)
            if c:
                heapq.heapreplace(heap, (-c, lb, key))
            else:
                heapq.heappop(heap)
                del where[key]
            continue
        s = entry[1]
        if rank is None and lb not in s:  # the first occurrence was merged away: refresh it
            heapq.heapreplace(heap, (negc, min(s), key))
            continue
        heapq.heappop(heap)
        return key, -negc
    return None, 0


def _merge_everywhere(text: _LinkedText, where: dict, key: int, pair, new_id: int, shift: int):
    """Merge every occurrence of ``pair`` (its key ``key``) into ``new_id``, left to right as
    the naive merge, updating the counts of the neighbouring pairs in ``where``. Returns the
    new pairs as ``[(key, first position), ...]``."""
    val, weight, nxt, prv = text.val, text.weight, text.nxt, text.prv
    a, b = pair
    created = []  # the pairs with the new id
    X = new_id << shift
    for i in sorted(where.pop(key)[1]):  # left to right, as the naive merge
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
    return created


# --- ties the Hugging Face way ---------------------------------------------------------------


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


# --- helpers and checks ----------------------------------------------------------------------


def _progress(it, show: bool, desc: str):
    if not show:
        return it
    return progress_bar(it, desc=desc, unit="merge")


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
