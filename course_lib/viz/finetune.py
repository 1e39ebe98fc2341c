"""Figures for lesson 06: the learning curve with error bars, confusion matrices, accuracy by
group. matplotlib is imported inside each function (importing this module stays headless).
Each method keeps its course colour (``viz.style.PALETTE``) and its marker below.
"""

from __future__ import annotations

from collections.abc import Sequence

from .style import BAR, TICK_SIZE, color_of, colors_for, palette_name, tidy

METHOD_STYLE = {
    "scratch": dict(marker="s", ls="--"),
    "linear probe": dict(marker="^"),
    "fine-tune": dict(marker="o"),
    "LoRA": dict(marker="D"),
    "TF-IDF + logistic regression": dict(marker="x", ls=":"),
}
"""Method -> marker and line style (the colour comes from the palette)."""


def plot_learning_curve(
    summary: dict,
    *,
    chance: float | None = None,
    ax=None,
    title: str = "accuracy against the number of labelled examples",
):
    """Test accuracy against labelled examples (log axis), one line per method in its course
    colour and marker, error bars of one standard deviation over seeds; the legend sits to the
    right of the axes, off the error bars. ``summary`` is
    :func:`course_lib.runs.summarise_curve`'s ``{method: {n: (mean, sd, seeds)}}``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8.5, 4))
    colors = colors_for(summary, ax)
    for method, by_n in summary.items():
        ns = sorted(by_n)
        mean = [100 * by_n[n][0] for n in ns]
        sd = [100 * by_n[n][1] for n in ns]
        seeds = by_n[ns[0]][2]
        style = {"color": colors[method], **METHOD_STYLE.get(palette_name(method), {})}
        ax.errorbar(ns, mean, yerr=sd, capsize=4, label=f"{method} ({seeds} seeds)", **style)
    ns_all = sorted({n for by_n in summary.values() for n in by_n})
    if chance is not None:
        ax.axhline(100 * chance, color="0.7", lw=1, ls=":", label="chance")
    ax.set_xscale("log")
    ax.minorticks_off()  # plain labels at the sizes measured, no 10^k ticks
    ax.set_xticks(ns_all, [str(n) for n in ns_all])
    ax.set_xlabel("labelled training examples")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    tidy(ax.figure)
    return ax.figure


def plot_confusion_matrix(cm, classes: Sequence[str], *, ax=None, title: str = ""):
    """A ``(K, K)`` confusion matrix (rows true, columns predicted) as a heatmap of each row's
    share, with a colorbar; up to 12 classes, each cell also shows its count and share."""
    import matplotlib.pyplot as plt
    import numpy as np

    cm = np.asarray(cm)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3.8))
    share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label="share of the true class")
    for i in range(cm.shape[0] if len(cm) <= 12 else 0):  # more cells: numbers unreadable
        for j in range(cm.shape[1]):
            ax.text(
                j,
                i,
                f"{cm[i, j]}\n{share[i, j]:.0%}",
                ha="center",
                va="center",
                color="white" if share[i, j] > 0.6 else "black",
                fontsize=9,
            )
    long = max(len(str(c)) for c in classes) > 4  # long names lie at a slant, not on each other
    ax.set_xticks(
        range(len(classes)), classes, rotation=30 if long else 0, ha="right" if long else "center"
    )
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or "confusion matrix (rows: true class)")
    return ax.figure


def plot_group_accuracy(
    groups: dict,
    *,
    ax=None,
    title: str = "",
    chance: float | None = None,
    method: str = "fine-tune",
):
    """Horizontal bars of one method's accuracy per group, in the method's course colour:
    ``groups`` is ``{name: (accuracy, count)}``; ``chance`` (0..1) draws a dotted line."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.4 * len(groups) + 1.3))
    names = list(groups)
    acc = [100 * groups[n][0] for n in names]
    ax.barh(range(len(names)), acc, color=color_of(method, BAR), alpha=0.8)
    for i, n in enumerate(names):
        ax.text(acc[i] + 1, i, f"{acc[i]:.0f}% (n={groups[n][1]})", va="center", fontsize=9)
    if chance is not None:
        ax.axvline(100 * chance, color="0.5", ls=":", lw=1)
        ax.text(100 * chance, 1.0, " chance", transform=ax.get_xaxis_transform(),
                va="bottom", ha="center", fontsize=TICK_SIZE, color="0.4")  # fmt: skip
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 110)
    ax.set_xlabel("test accuracy (%)")
    ax.set_ylabel("group")
    ax.set_title(
        title or f"test accuracy of {method}, by group", pad=12 if chance is not None else None
    )
    return ax.figure
