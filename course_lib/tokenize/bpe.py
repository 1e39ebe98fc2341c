"""Byte-level BPE: any text in, ids out, the exact text back.

:class:`BPETokenizer` holds the merges learned by :mod:`.training` (``train``), applies them to
new text (``encode``), turns ids back into text (``decode``), and saves itself as readable JSON.
Ids 0-255 are the bytes, 256 onwards the merges in training order, then the special tokens
(``special_tokens=["<|endoftext|>"]``), which ``encode`` recognises in the text as whole tokens.

``decode(encode(text)) == text`` for every valid Unicode string. Decoding joins the ids' bytes and
decodes them as UTF-8 once; an arbitrary id sequence may cut a character's bytes, which then
become U+FFFD, as in GPT-2 and minbpe.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np

from .pretokenize import _chunks, _compile_pattern, _gpt2_if_built, _utf8
from .training import _check_train_args, _no_gc, _train_fast, _train_naive, merge_pair, pair_counts

BPE_FORMAT = "course_lib.BPETokenizer/1"


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
        if block:  # (an empty last block would add a separator, and a piece that is not there)
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
