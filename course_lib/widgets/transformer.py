"""The attention explorer over a trained GPT (lessons 05 and 06).

:class:`GPTAttentionExplorer` runs the model on a few texts, collects every layer's and head's
attention weights with :func:`course_lib.transformer.attention_maps`, scores every head
(:mod:`course_lib.heads`: previous-token, first-token and line-start on each text, induction on
a repeated random sequence) and shows it all in lesson 04's
:class:`~course_lib.widgets.attention.AttentionExplorer`, drawn in the browser: choose the text,
hover a character, click a head's thumbnail. Its text box takes a new text: :func:`check_text`
makes it safe first (typographic quotes and dashes become the ASCII ones the vocabulary has,
characters the model never saw are listed and left out, and what is cut at the block size is
said). :meth:`~course_lib.widgets.attention.AttentionExplorer.static_figure` is the fallback
for static copies of the notebook.

ipywidgets, anywidget and matplotlib are imported inside functions: importing this module stays
headless.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .attention import AttentionExplorer

__all__ = ["FIXES", "TextCheck", "check_text", "gpt_attention_examples", "GPTAttentionExplorer"]

FIXES = {
    "\u2019": "'",  # ’ right single quote (the apostrophe of word processors)
    "\u2018": "'",  # ‘
    "\u201c": '"',  # “
    "\u201d": '"',  # ”
    "\u2014": "-",  # — em dash
    "\u2013": "-",  # – en dash
    "\u2026": "...",  # … ellipsis
    "\u00a0": " ",  # no-break space
    "\t": " ",
    "\r\n": "\n",
    "\r": "\n",
}
"""Typed characters a Shakespeare vocabulary lacks -> the plain ones it has. A fix is applied
only when the vocabulary lacks the character and has its replacement."""


@dataclass
class TextCheck:
    """What :func:`check_text` did to a text before the model reads it."""

    text: str  # what the model reads
    fixed: dict[str, int] = field(default_factory=dict)  # replaced character -> how many
    unknown: list[str] = field(default_factory=list)  # characters left out (no fix)
    cut: str = ""  # what was cut at the block size
    block_size: int = 0

    @property
    def message(self) -> str:
        """One line saying every change, or ``""`` when the text was read as typed."""
        parts = [
            f"replaced {old!r} with {FIXES[old]!r}" + (f" ({n} times)" if n > 1 else "")
            for old, n in self.fixed.items()
        ]
        if self.unknown:
            chars = ", ".join(repr(c) for c in self.unknown)
            parts.append(f"left out characters the model never saw: {chars}")
        if self.cut:
            shown = self.cut if len(self.cut) <= 24 else self.cut[:24] + "…"
            parts.append(
                f"cut at the block size ({self.block_size} tokens): left out {shown!r} "
                f"({len(self.cut)} characters)"
            )
        return "; ".join(parts)


def _known(tokenizer):
    """``char -> bool``: whether the tokenizer can encode the character."""
    stoi = getattr(tokenizer, "stoi", None)
    if stoi is not None:
        return lambda c: c in stoi

    def known(c):
        try:
            return len(tokenizer.encode(c)) > 0
        except (ValueError, KeyError):
            return False

    return known


def check_text(text: str, tokenizer, block_size: int) -> TextCheck:
    """Make a typed text safe for the model: apply :data:`FIXES` where the vocabulary lacks the
    character (``’`` -> ``'``), leave out the characters it still cannot encode (listed), and
    cut the tokens beyond ``block_size`` (saying what was cut). Returns a :class:`TextCheck`."""
    known = _known(tokenizer)
    fixed: dict[str, int] = {}
    for old, new in FIXES.items():
        if old in text and not (len(old) == 1 and known(old)) and all(map(known, new)):
            fixed[old] = text.count(old)
            text = text.replace(old, new)
    unknown = sorted({c for c in text if not known(c)})
    text = "".join(c for c in text if known(c))
    ids = tokenizer.encode(text)
    cut = ""
    if len(ids) > block_size:
        kept = tokenizer.decode(ids[:block_size])
        cut = text[len(kept) :] if text.startswith(kept) else tokenizer.decode(ids[block_size:])
        text = kept
    return TextCheck(text=text, fixed=fixed, unknown=unknown, cut=cut, block_size=block_size)


def gpt_attention_example(model, tokenizer, text: str, title: str | None = None) -> dict:
    """One :func:`~course_lib.viz.attention.attention_example` for ``text``: its tokens (as
    keys and queries) and the model's weights ``(L, H, T, T)``, causal. The text goes through
    :func:`check_text` first; what it changed is the example's ``note``."""
    from ..transformer import attention_maps
    from ..viz.attention import attention_example

    check = check_text(text, tokenizer, model.config.block_size)
    _check_not_empty(check, text)
    ids = tokenizer.encode(check.text)
    weights = attention_maps(model, ids)  # (L, H, T, T)
    tokens = [tokenizer.decode([i]) for i in ids]
    if title is None:
        title = check.text[:40].replace("\n", " / ") + (" ..." if len(check.text) > 40 else "")
    return attention_example(tokens, tokens, weights, title=title, causal=True, note=check.message)


def gpt_attention_examples(model, tokenizer, texts, titles=None) -> list[dict]:
    """:func:`gpt_attention_example` for each text (with its title from ``titles``)."""
    titles = [None] * len(texts) if titles is None else list(titles)
    return [
        gpt_attention_example(model, tokenizer, t, title)
        for t, title in zip(texts, titles, strict=True)
    ]


class GPTAttentionExplorer(AttentionExplorer):
    """Explore a trained GPT's attention on a few texts, drawn in the browser (works offline).

    Args:
        model: a :class:`~course_lib.transformer.GPT`.
        tokenizer: its tokenizer.
        texts: the texts to look at (each checked by :func:`check_text`: cut to
            ``block_size`` tokens, and the explorer says so).
        title: a line above the view.
        titles: one title per text (lesson 06: the true and the predicted play).
        text_box: show a box to type a new text (it asks the kernel once per text).
        induction: score every head's induction on repeated random sequences
            (:func:`course_lib.heads.induction_scores`) and show it on the thumbnails.

    Everything of :class:`~course_lib.widgets.attention.AttentionExplorer` applies: the
    selection properties ``example``, ``layer``, ``head``, ``query``; :meth:`static_figure`;
    :meth:`describe`.
    """

    def __init__(
        self,
        model,
        tokenizer,
        texts,
        *,
        title: str = "",
        titles=None,
        text_box: bool = True,
        induction: bool = True,
    ):
        from .. import heads

        self.model, self.tokenizer = model, tokenizer
        if titles is not None and len(titles) != len(texts):
            raise ValueError(
                f"titles= needs one title per text: {len(texts)} texts, {len(titles)} titles"
            )
        examples = gpt_attention_examples(model, tokenizer, texts, titles)
        scores = chance = None
        if induction:
            scores = heads.induction_scores(model)
            n = model.config.block_size // 2
            ids = heads.repeated_random_tokens(n, model.config.vocab_size)
            chance = heads.chance_scores(ids)["induction"]
        super().__init__(
            examples,
            title=title,
            induction=scores,
            induction_chance=chance,
            text_callback=self.example_for if text_box else None,
        )

    def example_for(self, text: str):
        """The text box's callback: ``(example, message)`` for a typed text, or ``(None,
        message)`` when nothing is left to show."""
        check = check_text(text, self.tokenizer, self.model.config.block_size)
        if not check.text:
            return None, "nothing to show: " + (check.message or "the text is empty")
        short = check.text[:30].replace("\n", " / ") + ("…" if len(check.text) > 30 else "")
        example = gpt_attention_example(self.model, self.tokenizer, text, title=f"typed: {short}")
        n = len(example["source"])
        return example, check.message or f"showing your text ({n} tokens)"


# --- checks -----------------------------------------------------------------------------------


def _check_not_empty(check: TextCheck, text: str) -> None:
    if not check.text:
        raise ValueError(
            f"nothing left of the text {text!r} for the model to read"
            + (f" ({check.message})" if check.message else "")
            + ": give a text in the model's vocabulary"
        )
