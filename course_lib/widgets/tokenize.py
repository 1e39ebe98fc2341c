"""Lesson 01's tokenizer playground: type text, see its tokens coloured, with their ids.

* :func:`TokenizerPlayground` is the interactive widget (ipywidgets);
* :func:`render_tokens_html` is the same picture as an HTML string (what the widget shows);
* :func:`course_lib.viz.tokenize.plot_tokens` is the static fallback figure, for readers of a
  rendered or exported notebook, where widgets do not run. Both draw each token with its
  colour and label from ``course_lib.viz`` (whitespace as ``·``, ``↵``, ``→``).

ipywidgets is imported inside the function, so importing this module is light.
"""

from __future__ import annotations

import html

from ..viz.style import WHITESPACE_SIGNS, token_colour
from ..viz.tokenize import tokens_of

__all__ = ["TokenizerPlayground", "render_tokens_html", "summary"]


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
            f"background:{token_colour(i)};margin:1px;padding:0 2px;border-radius:3px;"
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
