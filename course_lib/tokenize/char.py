"""Character tokenization: one id per distinct character, the simplest tokenizer there is.

``CharTokenizer().train(text)`` gives every distinct character of ``text`` an id, in sorted
order; ``encode`` maps characters to ids, ``decode`` maps back. It cannot encode a character it
never saw (the error names it), which is the limitation byte-level BPE removes. Lessons 03 to 06
train their models on Shakespeare with it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

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
