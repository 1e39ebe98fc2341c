"""Lesson 01's tokenizer playground: type text, see its tokens coloured, with their ids.

* :func:`TokenizerPlayground` is the interactive widget (ipywidgets);
* :func:`render_tokens_html` is the same picture as an HTML string (what the widget shows);
* :func:`plot_tokens` is the static fallback figure (matplotlib), for readers of a rendered or
  exported notebook, where widgets do not run.

ipywidgets and matplotlib are imported inside the functions, so importing this module is light.
"""

from __future__ import annotations

import html

# Pastel colours, chosen by token id: the same token always has the same colour.
PALETTE = [
    "#ffd6a5", "#caffbf", "#9bf6ff", "#bdb2ff", "#ffc6ff", "#fdffb6", "#a0c4ff", "#ffadad",
    "#d0f4de", "#e4c1f9", "#fcf6bd", "#a9def9",
]  # fmt: skip

WHITESPACE_SIGNS = {" ": "\u00b7", "\n": "\u21b5", "\t": "\u2192", "\r": "\u240d"}


def colour_of(token_id: int) -> str:
    return PALETTE[(token_id * 7) % len(PALETTE)]  # *7: neighbouring ids get distant colours


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
    return "".join(WHITESPACE_SIGNS.get(c, c) for c in text)


def tokens_of(tokenizer, text: str) -> list[tuple[int, str]]:
    """``[(id, label), ...]`` for ``text``."""
    return [(i, token_label(tokenizer, i)) for i in tokenizer.encode(text)]


def summary(tokenizer, text: str, ids) -> str:
    n_bytes = len(text.encode("utf-8"))
    ratio = f"{n_bytes / len(ids):.2f} bytes per token" if ids else "no tokens"
    return f"{len(text)} characters, {n_bytes} bytes, {len(ids)} tokens: {ratio}"


def render_tokens_html(tokenizer, text: str, max_tokens: int = 2000) -> str:
    """The tokens of ``text`` as coloured boxes with their ids underneath, as an HTML string."""
    try:
        pieces = tokens_of(tokenizer, text)
    except ValueError as e:  # e.g. a character tokenizer meeting an unknown character
        return f'<div class="tokenizer-error" style="color:#b00">{html.escape(str(e))}</div>'
    shown = pieces[:max_tokens]
    spans = []
    for i, label in shown:
        newline = "<br>" if label.endswith(WHITESPACE_SIGNS["\n"]) else ""
        spans.append(
            f'<span class="token" title="id {i}" style="display:inline-block;'
            f"background:{colour_of(i)};margin:1px;padding:0 2px;border-radius:3px;"
            f'font-family:monospace;text-align:center;line-height:1.1">'
            f"{html.escape(label)}<br><sub style='color:#555'>{i}</sub></span>{newline}"
        )
    more = f"<i> ... {len(pieces) - len(shown)} more tokens</i>" if len(pieces) > len(shown) else ""
    return f'<div class="tokens" style="line-height:2">{"".join(spans)}{more}</div>'


def TokenizerPlayground(tokenizers, text: str = "Hello, world! Tokenizers see bytes: é 🙂"):
    """A text box and its tokens, coloured, with their ids, updated as you type.

    Args:
        tokenizers: one tokenizer (anything with ``encode``/``decode``) or a dict
            ``{name: tokenizer}`` to compare several (a drop-down picks one).
        text: the starting text.

    The widget's root has the CSS class ``tokenizer-playground``; its parts are reachable as
    attributes ``text_box``, ``choice``, ``stats`` and ``tokens`` (for tests and notebooks)."""
    import ipywidgets as widgets

    if not isinstance(tokenizers, dict):
        tokenizers = {type(tokenizers).__name__: tokenizers}
    if not tokenizers:
        raise ValueError("pass at least one tokenizer")
    text_box = widgets.Textarea(
        value=text,
        description="text",
        continuous_update=True,
        layout=widgets.Layout(width="98%", height="80px"),
    )
    choice = widgets.Dropdown(options=list(tokenizers), description="tokenizer")
    stats = widgets.HTML()
    tokens = widgets.HTML()

    def update(_=None):
        tok = tokenizers[choice.value]
        try:
            ids = tok.encode(text_box.value)
            stats.value = f"<b>{html.escape(summary(tok, text_box.value, ids))}</b>"
        except ValueError:
            stats.value = "<b>this tokenizer cannot encode the text</b>"
        tokens.value = render_tokens_html(tok, text_box.value)

    text_box.observe(update, names="value")
    choice.observe(update, names="value")
    update()
    box = widgets.VBox([text_box, choice, stats, tokens])
    box.add_class("tokenizer-playground")
    box.text_box, box.choice, box.stats, box.tokens = text_box, choice, stats, tokens
    return box


def _renderable(ch: str, font) -> bool:
    return ch.isprintable() and font.get_char_index(ord(ch)) != 0


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

    panels = []
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
        panels.append((name, tok, rows))

    heights = [len(rows) + 1 for _, _, rows in panels]
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(width * 0.14, 0.55 * sum(heights) + 0.3),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, (name, _, rows) in zip(axes[:, 0], panels, strict=True):
        n = sum(len(r) for r in rows)
        ax.set_title(f"{name}: {n} tokens", loc="left", fontsize=10)
        for r, row in enumerate(rows):
            for i, label, x, w in row:
                ax.add_patch(plt.Rectangle((x, -r - 0.9), w - 0.2, 0.85, color=colour_of(i), lw=0))
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
