"""Figures for lesson 04 (attention). matplotlib is imported inside each function."""

from __future__ import annotations

import numpy as np


def plot_seq2seq_diagram(source=None, target=None, weights=None):
    """The intuition picture: an encoder-decoder reading the source through one fixed vector
    (left) and through attention, a fresh weighted look at every source word per output word
    (right). ``weights`` ``(len(target), len(source))`` sets the line strengths on the right
    (e.g. a true alignment); by default each output word looks at one source word, diagonally.
    Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    source = source or ["the", "black", "cat", "sees", "a", "dog"]
    target = target or ["le", "chat", "noir", "un", "chien", "voit"]
    S, T = len(source), len(target)
    if weights is None:
        weights = np.eye(T, S)
    weights = np.asarray(weights, dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
    xs_src = np.linspace(0.08, 0.92, S)
    xs_tgt = np.linspace(0.08, 0.92, T)

    def boxes(ax, xs, words, y, colour):
        for x, w in zip(xs, words, strict=True):
            ax.add_patch(
                FancyBboxPatch(
                    (x - 0.065, y - 0.05),
                    0.13,
                    0.1,
                    boxstyle="round,pad=0.01",
                    fc=colour,
                    ec="gray",
                )
            )
            ax.text(x, y, w, ha="center", va="center", fontsize=9)

    for ax, attention in zip(axes, (False, True), strict=True):
        ax.set_xlim(-0.12, 1)
        ax.set_ylim(0, 1)
        ax.axis("off")
        boxes(ax, xs_src, source, 0.12, "#dbe9f6")
        boxes(ax, xs_tgt, target, 0.88, "#fde0c5")
        ax.text(0.0, 0.12, "encoder\n(source)", ha="right", va="center", fontsize=8)
        ax.text(0.0, 0.88, "decoder\n(target)", ha="right", va="center", fontsize=8)
        if not attention:
            ax.add_patch(plt.Circle((0.5, 0.5), 0.06, fc="#c44e52", ec="black"))
            ax.text(0.59, 0.5, "one fixed vector\nfor the whole sentence", va="center", fontsize=9)
            for x in xs_src:
                ax.annotate(
                    "", (0.5, 0.44), (x, 0.17), arrowprops=dict(arrowstyle="->", color="gray")
                )
            for x in xs_tgt:
                ax.annotate(
                    "", (x, 0.83), (0.5, 0.56), arrowprops=dict(arrowstyle="->", color="gray")
                )
            ax.set_title("without attention: everything passes through one vector", fontsize=10)
        else:
            top = weights.max() or 1.0
            for i, xt in enumerate(xs_tgt):
                for j, xsrc in enumerate(xs_src):
                    a = weights[i, j] / top
                    ax.plot(
                        [xsrc, xt],
                        [0.17, 0.83],
                        color="#c44e52",
                        alpha=0.08 + 0.9 * a,
                        lw=0.5 + 2.5 * a,
                    )
            ax.set_title("with attention: each output word looks back at the source", fontsize=10)
    fig.tight_layout()
    return fig


def plot_accuracy_by_length(results: dict, ax=None, title: str | None = None):
    """Exact-match accuracy against source length, one line per model.

    ``results`` maps a model name to ``(lengths, accuracies)`` (accuracies in 0..1). Returns the
    figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.6))
    for name, (lengths, acc) in results.items():
        ax.plot(lengths, [100 * a for a in acc], "o-", ms=4, label=name)
    ax.set_xlabel("source sentence length (words)")
    ax.set_ylabel("exact-match accuracy (%)")
    ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    if title:
        ax.set_title(title)
    ax.figure.tight_layout()
    return ax.figure
