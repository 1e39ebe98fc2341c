"""Figures for lesson 01 (tokenization): a text's tokens as coloured boxes with their ids.

A token's label is its text with whitespace made visible (``·`` space, ``↵`` newline, ``→``
tab); a byte-level token holding only part of a character shows its bytes (``\\xf0``). Each
token id has its own colour (``viz.style.token_colour``), the same as in the tokenizer
playground (``course_lib.widgets.tokenize``), whose static fallback :func:`plot_tokens` is.

matplotlib is imported inside the function, so importing this module is light.
"""

from __future__ import annotations

from .style import TITLE_SIZE, token_colour, visible

__all__ = ["token_label", "tokens_of", "plot_tokens"]


def token_label(tokenizer, token_id: int) -> str:
    """How one token looks: its text, with whitespace made visible (``·`` for a space, ``↵`` for
    a newline); a byte-level token holding part of a character shows its bytes (``\\xf0\\x9f``)."""
    vocab_bytes = getattr(tokenizer, "_bytes", None)  # BPETokenizer: every id's bytes
    if vocab_bytes is not None:
        raw = vocab_bytes[token_id]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return "".join(f"\\x{b:02x}" for b in raw)
    else:
        text = tokenizer.decode([token_id])
    return visible(text)


def tokens_of(tokenizer, text: str) -> list[tuple[int, str]]:
    """``[(id, label), ...]`` for ``text``."""
    return [(i, token_label(tokenizer, i)) for i in tokenizer.encode(text)]


def plot_tokens(tokenizers, text: str, width: int = 60, title: str | None = None):
    """Static fallback: the tokens of ``text`` as coloured boxes with their ids, one panel per
    tokenizer (``tokenizers``: one or a ``{name: tokenizer}`` dict). Returns the figure.

    Characters the plotting font lacks (emoji, for instance) are shown as ``U+1F642``."""
    import matplotlib.pyplot as plt
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    if not isinstance(tokenizers, dict):
        tokenizers = {type(tokenizers).__name__: tokenizers}
    font = FT2Font(font_manager.findfont("DejaVu Sans Mono"))

    def clean(label: str) -> str:
        return "".join(c if _renderable(c, font) else f"U+{ord(c):04X}" for c in label)

    panels = []  # (name, rows), each row a list of (id, label, x, width) in character cells
    for name, tok in tokenizers.items():
        rows, row, used = [], [], 0
        for i, label in tokens_of(tok, text):
            label = clean(label)
            w = max(len(label), len(str(i))) + 1
            if row and used + w > width:
                rows.append(row)
                row, used = [], 0
            row.append((i, label, used, w))
            used += w
        rows.append(row)
        panels.append((name, rows))

    heights = [len(rows) + 1 for _, rows in panels]
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(width * 0.14, 0.55 * sum(heights) + 0.3),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, (name, rows) in zip(axes[:, 0], panels, strict=True):
        n = sum(len(r) for r in rows)
        ax.set_title(f"{name}: {n} tokens", loc="left", fontsize=TITLE_SIZE)
        for r, row in enumerate(rows):
            for i, label, x, w in row:
                ax.add_patch(
                    plt.Rectangle((x, -r - 0.9), w - 0.2, 0.85, color=token_colour(i), lw=0)
                )
                ax.text(x + (w - 0.2) / 2, -r - 0.35, label, ha="center", va="center",
                        family="DejaVu Sans Mono", fontsize=9)  # fmt: skip
                ax.text(x + (w - 0.2) / 2, -r - 0.75, str(i), ha="center", va="center",
                        fontsize=6, color="#555")  # fmt: skip
        ax.set_xlim(0, width)
        ax.set_ylim(-len(rows) - 0.1, 0.1)
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _renderable(ch: str, font) -> bool:
    return ch.isprintable() and font.get_char_index(ord(ch)) != 0
