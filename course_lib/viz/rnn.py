"""Figures for lesson 03 (recurrent language models): the unrolled RNN and the LSTM cell, why
n-grams stop improving, vanishing gradients, character heatmaps of what units compute, and the
models' results. matplotlib is imported inside each function, so importing this module stays
headless and cheap. Characters are drawn with their whitespace visible (``·``, ``↵``, ``→``).
"""

from __future__ import annotations

import math

import numpy as np

from .style import ACCENT, TICK_SIZE, arrow, box, colors_for, tidy, visible

LN2 = math.log(2)
QUANTITIES = {
    "h": "hidden state h",
    "c": "cell state c",
    "i": "input gate i",
    "f": "forget gate f",
    "o": "output gate o",
    "g": "candidate g",
}
_GATE_TEXT = {
    "f": ("forget\n$f=\\sigma(\\cdot)$", "#f4cccc"),
    "i": ("input\n$i=\\sigma(\\cdot)$", "#d9ead3"),
    "g": ("candidate\n$g=\\tanh(\\cdot)$", "#fff2cc"),
    "o": ("output\n$o=\\sigma(\\cdot)$", "#cfe2f3"),
}


def plot_unrolled_rnn(text: str = "hello"):
    """An RNN unrolled over ``text``: each step reads one character and the previous hidden
    state, and predicts the next character. Returns the figure."""
    import matplotlib.pyplot as plt

    T = len(text) - 1
    fig, ax = plt.subplots(figsize=(1.9 * T + 1.5, 3.6))
    for t in range(T):
        x = 1.5 + 1.9 * t
        box(ax, x, 0.4, 0.9, 0.55, visible(text[t]), "#dbe9f6", 13)
        box(ax, x, 1.75, 1.1, 0.7, f"$h_{t + 1}$", "#fde2b8", 13)
        box(ax, x, 3.1, 1.2, 0.55, f"P(next)\n→ '{visible(text[t + 1])}'", "#d9f0d3", 9)
        arrow(ax, (x, 0.68), (x, 1.4))
        arrow(ax, (x, 2.1), (x, 2.82))
        ax.text(x + 0.08, 1.0, "$W_{ih}$", fontsize=9, color="0.35")
        ax.text(x + 0.08, 2.42, "head", fontsize=9, color="0.35")
        if t:
            arrow(ax, (x - 1.9 + 0.55, 1.75), (x - 0.55, 1.75), color=ACCENT, lw=1.8)
            ax.text(x - 0.95, 1.88, "$W_{hh}$", fontsize=9, color=ACCENT, ha="center")
    box(ax, 0.25, 1.75, 0.45, 0.5, "$h_0$", "white", 11)
    arrow(ax, (0.48, 1.75), (1.5 - 0.55, 1.75), color=ACCENT, lw=1.8)
    ax.text(0.1, 0.4, "input", fontsize=9, ha="left", va="center", color="0.35")
    ax.set_xlim(-0.1, 1.5 + 1.9 * (T - 1) + 0.8)
    ax.set_ylim(0, 3.5)
    ax.axis("off")
    ax.set_title("An RNN unrolled in time: the same weights at every step, one state carried along")
    fig.tight_layout()
    return fig


def plot_lstm_diagram():
    """The LSTM cell: the cell state c runs along the top, changed only by a multiplication
    (forget gate f) and an addition (input gate i times candidate g); the output gate o decides
    what of tanh(c) becomes the hidden state h. Returns the figure."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4.6))
    gate_x = {"f": 2.2, "i": 3.55, "g": 5.05, "o": 6.6}
    # the cell state highway
    arrow(ax, (0.3, 3.8), (9.2, 3.8), color=ACCENT, lw=2.5)
    ax.text(0.3, 4.05, "$c_{t-1}$", fontsize=13, color=ACCENT)
    ax.text(8.8, 4.05, "$c_t$", fontsize=13, color=ACCENT)
    for x, sym in ((2.2, "×"), (5.0, "+")):
        ax.add_patch(plt.Circle((x, 3.8), 0.22, fc="white", ec=ACCENT, lw=1.8, zorder=3))
        ax.text(x, 3.8, sym, ha="center", va="center", fontsize=14, zorder=4)
    # input: [h_{t-1}, x_t] along the bottom
    ax.plot([0.3, 6.6], [0.6, 0.6], color="0.3", lw=1.5)
    ax.text(
        0.3,
        0.25,
        "$h_{t-1}$ and $x_t$ (each gate: $W_{i\\cdot} x_t + W_{h\\cdot} h_{t-1} + b$)",
        fontsize=10,
    )
    for k, x in gate_x.items():
        box(ax, x, 1.7, 1.25, 0.8, *_GATE_TEXT[k], 9)
        arrow(ax, (x, 0.6), (x, 1.28))
    arrow(ax, (2.2, 2.12), (2.2, 3.56))  # f -> ×
    ax.add_patch(plt.Circle((4.35, 2.8), 0.2, fc="white", ec="0.3", lw=1.4, zorder=3))
    ax.text(4.35, 2.8, "×", ha="center", va="center", fontsize=12, zorder=4)
    arrow(ax, (3.55, 2.12), (4.2, 2.67))
    arrow(ax, (5.05, 2.12), (4.5, 2.67))
    arrow(ax, (4.35, 3.0), (4.85, 3.62))  # i*g -> +
    # output path: tanh(c_t) * o -> h_t
    box(ax, 7.8, 3.0, 0.9, 0.45, "tanh", "#eeeeee", 10)
    arrow(ax, (7.8, 3.8), (7.8, 3.24))
    ax.add_patch(plt.Circle((7.8, 2.1), 0.2, fc="white", ec="0.3", lw=1.4, zorder=3))
    ax.text(7.8, 2.1, "×", ha="center", va="center", fontsize=12, zorder=4)
    arrow(ax, (7.8, 2.77), (7.8, 2.31))
    arrow(ax, (7.25, 1.7), (7.6, 2.0))
    arrow(ax, (8.0, 2.1), (9.2, 2.1), lw=2)
    ax.text(8.55, 1.7, "$h_t$", fontsize=13)
    ax.text(
        0.3,
        4.55,
        "$c_t = f \\odot c_{t-1} + i \\odot g$      $h_t = o \\odot \\tanh(c_t)$",
        fontsize=12,
    )
    ax.set_xlim(0, 9.5)
    ax.set_ylim(0, 4.9)
    ax.axis("off")
    ax.set_title("The LSTM cell: a memory line (red) that is only scaled and added to")
    fig.tight_layout()
    return fig


def plot_ngram_curves(rows: list[dict]):
    """Why n-grams stop improving. ``rows``: one dict per n with ``n``, ``kn_val``, ``kn_train``,
    ``addk_val`` (nats) and ``unseen_val_fraction``, ``singleton_fraction`` (of contexts).
    Left: validation and training bits per character against n. Right: sparsity against n."""
    import matplotlib.pyplot as plt

    n = [r["n"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    kn, addk = colors_for(["n-gram", "add-k"]).values()  # Kneser-Ney: the lesson's n-gram
    a.plot(n, [r["kn_val"] / LN2 for r in rows], "o-", color=kn, label="Kneser-Ney: validation")
    kn_train = [r["kn_train"] / LN2 for r in rows]
    a.plot(n, kn_train, "o--", color=kn, label="Kneser-Ney: training text")
    a.plot(n, [r["addk_val"] / LN2 for r in rows], "s-", color=addk, label="add-k: validation")
    best = min(rows, key=lambda r: r["kn_val"])
    a.annotate(
        f"best: n={best['n']}\n{best['kn_val'] / LN2:.2f} bits",
        (best["n"], best["kn_val"] / LN2),
        textcoords="data",  # between the two Kneser-Ney curves, clear of add-k's
        xytext=(best["n"] + 0.3, (best["kn_val"] + best["kn_train"]) / 2 / LN2),
        ha="left",
        va="center",
        arrowprops=dict(arrowstyle="->", color="0.4"),
    )
    a.set_xlabel("n (the model sees n - 1 characters)")
    a.set_ylabel("bits per character")
    a.set_title("Longer contexts help, then hurt")
    a.grid(alpha=0.3)
    a.legend(fontsize=8, loc="best")
    ns = [r["n"] for r in rows if "unseen_val_fraction" in r]
    b.plot(
        ns,
        [100 * r["unseen_val_fraction"] for r in rows if r["n"] in ns],
        "o-",
        color="0.2",  # greys: these are counts of the data, not one of the methods on the left
        label="validation contexts never seen in training",
    )
    b.plot(
        ns,
        [100 * r["singleton_fraction"] for r in rows if r["n"] in ns],
        "s--",
        color="0.55",
        label="training contexts seen only once",
    )
    b.set_xlabel("n")
    b.set_xticks(ns)
    b.set_ylabel("% of contexts")
    b.set_title("...because long contexts are rare")
    b.grid(alpha=0.3)
    b.legend(fontsize=8, loc="best")
    fig.tight_layout()
    return fig


def plot_gradient_decay(curves: dict, ax=None, *, title: str | None = None, styles=None):
    """``curves``: ``{label: norms}`` with ``norms[k]`` the gradient norm with respect to the
    input k steps back (from :func:`course_lib.rnn.input_gradient_norms`), on a log scale. A
    label of the palette (``"RNN"``, ``"LSTM"``) gets its course colour; ``styles`` (``{label:
    {"color": ..., "ls": ...}}``) overrides it, e.g. to keep a curve's colour from another
    panel, and the other curves keep clear of the colours it names."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    styles = styles or {}
    fixed = {k: s["color"] for k, s in styles.items() if "color" in s}  # the caller's colours
    colors = {**colors_for([k for k in curves if k not in fixed], ax, fixed.values()), **fixed}
    for label, norms in curves.items():
        y = np.asarray(norms, dtype=float)
        kw = {"color": colors[label], **styles.get(label, {})}
        ax.semilogy(np.arange(len(y)), np.where(y > 0, y, np.nan), label=label, **kw)
    ax.set_xlabel("k: how many steps back the input is")
    ax.set_ylabel("‖ d loss / d x$_{t-k}$ ‖")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="best")
    ax.set_title(title or "gradient norm against how far back the input is")
    return ax.figure


def _grid(text: str, width: int):
    """Positions of ``text``'s characters in a grid of lines at most ``width`` wide."""
    rows, cols, r, c = [], [], 0, 0
    for ch in text:
        if c >= width:
            r, c = r + 1, 0
        rows.append(r)
        cols.append(c)
        if ch == "\n":
            r, c = r + 1, 0
        else:
            c += 1
    return rows, cols, r + 1


def char_heatmap_size(text: str, width: int = 64) -> tuple[float, float]:
    """The figure size (inches) of :func:`plot_char_heatmap` for ``text`` in lines of ``width``."""
    _, _, n_rows = _grid(text, width)
    return width * 0.14, n_rows * 0.28 + 0.5


def plot_char_heatmap(
    text: str,
    values,
    ax=None,
    *,
    width: int = 64,
    cmap: str = "RdBu_r",
    vmin: float = -1.0,
    vmax: float = 1.0,
    title: str | None = None,
    label: str = "value",
):
    """``text`` with each character's background coloured by ``values`` (one per character),
    as in Karpathy, Johnson & Fei-Fei (2015), and a colorbar named ``label``. Every character
    is drawn (no axes: a cell's place is its place in the text); whitespace shows as ``·``
    (space), ``↵`` (newline) and ``→`` (tab).

    Given ``ax``, it draws there without touching pyplot (a widget callback passes the axes of
    a ``matplotlib.figure.Figure``); without, it makes a pyplot figure of
    :func:`char_heatmap_size`."""
    values = np.asarray(values, dtype=float)
    if len(values) != len(text):
        raise ValueError(
            f"need one value per character: {len(text)} characters, {len(values)} values"
        )
    rows, cols, n_rows = _grid(text, width)
    grid = np.full((n_rows, width), np.nan)
    grid[rows, cols] = values
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=char_heatmap_size(text, width))
    im = ax.imshow(grid, cmap=cmap, vmin=vmin, vmax=vmax, aspect="auto", interpolation="nearest")
    for ch, r, c, v in zip(text, rows, cols, values, strict=True):
        red, green, blue, _ = im.cmap(im.norm(v))
        dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.45  # perceived brightness of the cell
        ax.text(
            c,
            r,
            visible(ch),
            ha="center",
            va="center",
            fontsize=TICK_SIZE,
            family="monospace",
            color="white" if dark else "black",
        )
    ax.set_axis_off()  # the text is the picture: positions have no scale to read
    cb = ax.figure.colorbar(im, ax=ax, fraction=0.02, pad=0.01, ticks=[vmin, vmax])
    cb.set_label(label, fontsize=TICK_SIZE)
    cb.ax.tick_params(labelsize=TICK_SIZE)
    ax.set_title(title or f"{label} of each character", fontsize=10, loc="left")
    return ax.figure


def plot_lstm_activations(trace: dict, text: str, units: list, *, width: int = 64, gate_units=48):
    """What an LSTM computes over ``text``. ``trace`` is :func:`course_lib.rnn.trace_lstm`'s
    output; ``units`` is a list of ``(title, quantity, unit)`` (quantity one of ``"h"``, ``"c"``,
    ``"i"``, ``"f"``, ``"o"``, ``"g"``), each drawn as a character heatmap. The last panel shows
    the gates of ``gate_units`` units over time: when each unit forgets and writes."""
    import matplotlib.pyplot as plt

    _, _, n_rows = _grid(text, width)
    h_row = n_rows * 0.26 + 0.45
    fig = plt.figure(figsize=(width * 0.145, h_row * len(units) + 3.4))
    gs = fig.add_gridspec(len(units) + 1, 1, height_ratios=[h_row] * len(units) + [3.0])
    for k, (title, q, u) in enumerate(units):
        ax = fig.add_subplot(gs[k])
        v = trace[q][:, u].numpy()
        lo, hi = (0.0, 1.0) if q in "ifo" else (-1.0, 1.0)
        if q == "c":
            lim = float(np.abs(v).max()) or 1.0
            lo, hi = -lim, lim
        plot_char_heatmap(
            text,
            v,
            ax,
            width=width,
            vmin=lo,
            vmax=hi,
            cmap="viridis" if q in "ifo" else "RdBu_r",
            title=f"{title}  ({q}, unit {u})",
            label=QUANTITIES[q],
        )
    sub = gs[len(units)].subgridspec(1, 2, wspace=0.08)
    for j, (q, name) in enumerate((("f", "forget gate f"), ("i", "input gate i"))):
        ax = fig.add_subplot(sub[j])
        m = trace[q][:, :gate_units].numpy().T  # (units, T)
        im = ax.imshow(m, aspect="auto", cmap="viridis", vmin=0, vmax=1, interpolation="nearest")
        ax.set_xlabel("position in the passage (characters)")
        ax.set_ylabel("unit" if j == 0 else "")
        ax.set_title(f"{name}, units 0-{gate_units - 1}", fontsize=9)
        if j:
            ax.set_yticks([])
    fig.colorbar(im, ax=fig.axes[-2:], fraction=0.02, pad=0.01, label="gate (0 closed, 1 open)")
    return fig


def plot_results(rows: list[dict], ax=None):
    """Validation bits per character of each model, best at the top, each bar in its model's
    course colour. ``rows``: dicts with ``model``, ``val_bpc``, ``params`` and ``seconds``."""
    import matplotlib.pyplot as plt

    rows = sorted(rows, key=lambda r: -r["val_bpc"])
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.55 * len(rows) + 1.2))
    y = np.arange(len(rows))
    colors = colors_for([r["model"] for r in rows])
    bars = ax.barh(y, [r["val_bpc"] for r in rows], color=[colors[r["model"]] for r in rows])
    for bar, r in zip(bars, rows, strict=True):
        ax.text(
            bar.get_width() + 0.03,
            bar.get_y() + bar.get_height() / 2,
            f"{r['val_bpc']:.2f} bits  "
            f"({r['params'] / 1e3:,.0f} K params, {_seconds(r['seconds'])})",
            va="center",
            fontsize=9,
        )
    ax.set_yticks(y, [r["model"] for r in rows])
    ax.set_ylabel("model")
    ax.set_xlabel("validation bits per character (lower is better)")
    ax.set_xlim(0, max(r["val_bpc"] for r in rows) * 1.55)
    ax.set_title("The same validation split for every model")
    ax.grid(alpha=0.3, axis="x")
    tidy(ax.figure)
    return ax.figure


def _seconds(t: float) -> str:
    # one decimal under 10 s, so a 0.5 s count does not read "0 s" or "1 s"
    return f"{t:.1f} s" if t < 10 else f"{t:.0f} s"
