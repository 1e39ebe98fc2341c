"""Pre-tokenization: the text as UTF-8 bytes, cut into chunks before any merge.

Byte-level BPE starts from the UTF-8 bytes of the text (:func:`_utf8`), so the 256 byte values
are the starting vocabulary and any string can be encoded. With a pre-split pattern the text is
first cut into chunks (words, numbers, punctuation runs, whitespace: :func:`_chunks`) and pairs
never cross a chunk boundary, so no token glues a word to the space after it.

:data:`GPT2_SPLIT_PATTERN` is GPT-2's pattern as OpenAI wrote it, for the third-party ``regex``
package; :func:`gpt2_split_regex` builds the same pattern for Python's own ``re``. A pattern is
given as ``None`` (no split), ``"gpt2"``, a regex string or a compiled ``re.Pattern``.
"""

from __future__ import annotations

import functools
import re
import unicodedata

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
