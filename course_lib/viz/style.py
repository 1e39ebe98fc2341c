"""The course's look, in one place: colours, font sizes, and how whitespace is shown.

* One colour per method or model name through the course (``PALETTE``, :func:`color_of`): the
  fine-tuned model is the same blue in every figure that names it, and ``"LSTM (256 units)"`` is
  the LSTM's purple. A name the palette lacks gets ``None`` from :func:`color_of`, which
  matplotlib reads as "the next colour of the axes' cycle"; :func:`colors_for` gives a figure's
  unknown names cycle colours that no known name of the figure uses.
* Token colours (:func:`token_colour`): pastel, chosen by token id, so the same token always has
  the same colour, in the tokenizer playground and in its static figure.
* Whitespace in a character or token label (:func:`visible`): a space is ``·``, a newline ``↵``,
  a tab ``→``, so a label never shows as blank or breaks a line. Figures and the widgets' HTML
  both use it.
* Diagram parts (:func:`box`, :func:`arrow`): the rounded boxes and arrows of the RNN, LSTM,
  seq2seq and GPT pictures.
* Drawing from any thread (:func:`figure_png`, :data:`DRAW_LOCK`): widget callbacks run on a
  kernel thread while a cell may be drawing with pyplot, which keeps global state and is not
  thread-safe. A callback that draws builds a ``matplotlib.figure.Figure`` (no pyplot) and renders
  it with :func:`figure_png`, under the one lock every widget shares; a blank picture is an error
  (:class:`BlankFigureError`), never something to show or keep.

Importing this module does not import matplotlib (the diagram parts import it when called).
"""

from __future__ import annotations

import io
import re
import threading

# --- colours --------------------------------------------------------------------------------

PALETTE: dict[str, str] = {
    # lesson 02: our word2vec against gensim's (and lesson 04: our attention against PyTorch's)
    "ours": "tab:red",
    "gensim": "tab:gray",
    "PyTorch": "tab:gray",
    # lessons 03 and 05: the language models, from counting to the transformer
    "bigram": "tab:brown",
    "n-gram": "tab:olive",  # any order: "6-gram (Kneser-Ney)" is an n-gram (see color_of)
    "MLP": "tab:green",  # the fixed-window neural model of lesson 03 (Bengio et al. 2003)
    "RNN": "tab:red",
    "LSTM": "tab:purple",
    "GPT": "tab:blue",
    # lesson 04: the same translator without and with attention
    "without attention": "tab:orange",
    "with attention": "tab:blue",
    # lesson 06's learning curve: training from scratch is the grey baseline
    "scratch": "0.45",
    "linear probe": "tab:green",
    "fine-tune": "tab:blue",
    "LoRA": "tab:orange",
    "TF-IDF + logistic regression": "tab:purple",  # the non-neural baseline
    # lesson 07: the base model prompted with k examples against the instruction-tuned models
    "majority answer": "0.6",  # the baseline that never reads the input
    "base, k=0": "#c7e9c0",
    "base, k=1": "#74c476",
    "base, k=4": "#238b45",
    "base, plain text, k=4": "#bf9b30",
    "full fine-tuning": "tab:blue",
    "greedy": "tab:cyan",
    "sampled": "tab:pink",
}
"""Method or model name -> matplotlib colour. Add a name here, not in a figure. Within one
lesson no two names share a colour (a test checks it, lesson by lesson)."""

ALIASES = {
    "with additive attention": "with attention",
    "from scratch": "scratch",
}
"""Other spellings of a palette name (compared without case)."""

ACCENT = "#c0392b"  # the carried state in diagrams: the RNN's hidden state, the residual stream
BAR = "#4c72b0"  # single-series bars (cosine similarity in the embedding explorer and figure)
QUERY_OUTLINE = "#d62728"  # the outline of the chosen query's row in an attention heatmap
HEATMAP_CMAP = "viridis"  # weights in 0..1 (attention, gates)

TOKEN_COLOURS = [
    "#ffd6a5", "#caffbf", "#9bf6ff", "#bdb2ff", "#ffc6ff", "#fdffb6", "#a0c4ff", "#ffadad",
    "#d0f4de", "#e4c1f9", "#fcf6bd", "#a9def9",
]  # fmt: skip

_NGRAM = re.compile(r"(\d+|n)-gram\b")


def palette_name(name: str) -> str | None:
    """The palette name that ``name`` stands for, or ``None``. Case is ignored, and so are
    details after the name in brackets or after a colon: ``"RNN (256 units, 2700 steps)"`` and
    ``"LSTM: whole split"`` are the RNN and the LSTM (``"RNN, radius 3"`` is not: a variant
    named so is told apart from the RNN). ``"bigram"`` and ``"2-gram"`` are the bigram; any
    other ``"N-gram"`` (``"6-gram (Kneser-Ney)"``) is the ``"n-gram"``."""
    folded = {k.casefold(): k for k in PALETTE}
    for candidate in (name, re.split(r" \(|:", name, maxsplit=1)[0]):
        key = candidate.strip().casefold()
        key = ALIASES.get(key, key)
        if key in folded:
            return folded[key]
        m = _NGRAM.match(key)
        if m:
            return "bigram" if m.group(1) == "2" else "n-gram"
    return None


def color_of(name, default: str | None = None) -> str | None:
    """The course colour of a method or model ``name`` (``default`` when it has none); names
    are matched by :func:`palette_name` (``"6-gram (Kneser-Ney)"`` gets the n-gram colour)."""
    key = palette_name(str(name)) if name is not None else None
    return PALETTE[key] if key is not None else default


def colors_for(names, ax=None, taken=()) -> dict:
    """``{name: colour}`` for the series of one figure. A palette name gets its course colour;
    any other name, or names that would share one palette colour (``"GPT (2 layers)"`` and
    ``"GPT (4 layers)"``), the next colours of matplotlib's cycle that no other series uses:
    not a palette colour of ``names``, not a line's on ``ax``, not one of ``taken``."""
    import matplotlib as mpl
    from matplotlib.colors import to_hex

    names = list(names)
    keys = {n: palette_name(str(n)) if n is not None else None for n in names}
    repeated = {k for k in keys.values() if k and list(keys.values()).count(k) > 1}
    out = {n: PALETTE[k] if k and k not in repeated else None for n, k in keys.items()}
    used = {to_hex(c) for c in [*out.values(), *taken] if c is not None}
    if ax is not None:
        used |= {to_hex(line.get_color()) for line in ax.lines}
    free = [c for c in mpl.rcParams["axes.prop_cycle"].by_key()["color"] if to_hex(c) not in used]
    for n in names:
        if out[n] is None:
            out[n] = free.pop(0) if free else None
    return out


def token_colour(token_id: int) -> str:
    """The background colour of token ``token_id`` (the same id, the same colour)."""
    return TOKEN_COLOURS[(token_id * 7) % len(TOKEN_COLOURS)]  # *7: neighbours get distant colours


# --- font sizes (points) --------------------------------------------------------------------

TITLE_SIZE = 10  # an axes title in a figure of several panels
TEXT_SIZE = 9  # annotations, legends
TICK_SIZE = 8  # tick labels, labels inside cells
SMALL_SIZE = 6  # crowded tick labels (every head of a layer)


def heatmap_tick_size(n_labels: int) -> int:
    """Tick-label size for a heatmap with ``n_labels`` labels along its longer side."""
    return 9 if n_labels <= 30 else 7 if n_labels <= 60 else SMALL_SIZE


# --- whitespace -----------------------------------------------------------------------------

WHITESPACE_SIGNS = {" ": "\u00b7", "\n": "\u21b5", "\t": "\u2192", "\r": "\u240d"}
"""Space ``·``, newline ``↵``, tab ``→``, carriage return ``␍``."""

EMPTY_SIGN = "\u2205"  # ∅: an empty token


def visible(token) -> str:
    """``token`` as a label with its whitespace made visible (``"a b\\n"`` -> ``"a·b↵"``); the
    empty string shows as ``∅``."""
    s = str(token)
    return "".join(WHITESPACE_SIGNS.get(c, c) for c in s) if s else EMPTY_SIGN


# --- diagram parts ----------------------------------------------------------------------------


def box(ax, x, y, w, h, text, color, fontsize=10, *, rounding=0.08, pad=0.02, ec="0.25", lw=1.2):
    """A rounded box of ``w`` x ``h`` data units centred on ``(x, y)``, ``text`` in its middle."""
    from matplotlib.patches import FancyBboxPatch

    style = f"round,pad={pad}" + (f",rounding_size={rounding}" if rounding is not None else "")
    ax.add_patch(
        FancyBboxPatch((x - w / 2, y - h / 2), w, h, boxstyle=style, fc=color, ec=ec, lw=lw)
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize)


def arrow(ax, start, end, *, color="0.25", lw=1.3, rad=0.0, shrink=0.0):
    """An arrow from ``start`` to ``end`` (data units), bent by ``rad`` (0: straight), stopping
    ``shrink`` points short of both ends."""
    from matplotlib.patches import FancyArrowPatch

    ax.add_patch(
        FancyArrowPatch(
            start,
            end,
            arrowstyle="-|>",
            mutation_scale=12,
            color=color,
            lw=lw,
            connectionstyle=f"arc3,rad={rad}",
            shrinkA=shrink,
            shrinkB=shrink,
        )
    )


def tidy(fig) -> None:
    """``fig.tight_layout()`` unless the figure already has a layout engine (one made with
    ``layout="constrained"``, which arranges itself; tight_layout on it would only warn)."""
    if fig.get_layout_engine() is None:
        fig.tight_layout()


# --- drawing from any thread ----------------------------------------------------------------

DRAW_LOCK = threading.Lock()
"""Held while a figure is rendered to pixels (:func:`figure_png`): one lock for every widget."""


class BlankFigureError(RuntimeError):
    """A figure rendered to a picture of one colour: nothing was drawn."""


def figure_png(fig, dpi: int = 100) -> bytes:
    """``fig`` rendered to PNG bytes, under :data:`DRAW_LOCK`, so that widget callbacks (kernel
    threads) and cells can draw at the same time. A figure made with pyplot is closed.

    Raises :class:`BlankFigureError` if every pixel has the same colour, so a caller never shows
    or caches a blank picture."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buf = io.BytesIO()
    with DRAW_LOCK:
        if not isinstance(fig.canvas, FigureCanvasAgg):
            FigureCanvasAgg(fig)
        fig.savefig(buf, format="png", dpi=dpi)
        pixels = np.asarray(fig.canvas.buffer_rgba())  # what savefig just drew
        blank = bool((pixels == pixels[0, 0]).all())
    if getattr(fig, "number", None) is not None:
        import matplotlib.pyplot as plt

        plt.close(fig)
    if blank:
        raise BlankFigureError(
            f"the figure rendered blank ({pixels.shape[1]}x{pixels.shape[0]} pixels of one "
            "colour): nothing was drawn on it"
        )
    return buf.getvalue()
