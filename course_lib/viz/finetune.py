"""Figures for lesson 06: the learning curve with error bars, confusion matrices, accuracy by
group. matplotlib is imported inside each function (importing this module stays headless).
Each method keeps its course colour (``viz.style.PALETTE``) and its marker below.
"""

from __future__ import annotations

from collections.abc import Sequence

from .style import color_of

METHOD_STYLE = {
    "scratch": dict(marker="s", ls="--"),
    "linear probe": dict(marker="^"),
    "fine-tune": dict(marker="o"),
    "LoRA": dict(marker="D"),
}
"""Method -> marker and line style (the colour comes from the palette)."""


def plot_learning_curve(
    summary: dict,
    *,
    chance: float | None = None,
    ax=None,
    title: str = "accuracy against the number of labelled examples",
):
    """Test accuracy against labelled examples (log axis), one line per method, error bars of
    one standard deviation over seeds. ``summary`` is
    :func:`course_lib.runs.summarise_curve`'s ``{method: {n: (mean, sd, seeds)}}``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    for method, by_n in summary.items():
        ns = sorted(by_n)
        mean = [100 * by_n[n][0] for n in ns]
        sd = [100 * by_n[n][1] for n in ns]
        seeds = by_n[ns[0]][2]
        style = {"color": color_of(method), **METHOD_STYLE.get(method, {})}
        ax.errorbar(ns, mean, yerr=sd, capsize=4, label=f"{method} ({seeds} seeds)", **style)
        ns_all = ns
    if chance is not None:
        ax.axhline(100 * chance, color="0.7", lw=1, ls=":", label="chance")
    ax.set_xscale("log")
    ax.minorticks_off()  # plain labels at the sizes measured, no 10^k ticks
    ax.set_xticks(ns_all, [str(n) for n in ns_all])
    ax.set_xlabel("labelled training examples")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9)
    return ax.figure


def plot_confusion_matrix(cm, classes: Sequence[str], *, ax=None, title: str = ""):
    """A ``(K, K)`` confusion matrix (rows true, columns predicted) as a heatmap with counts and
    each row's share."""
    import matplotlib.pyplot as plt
    import numpy as np

    cm = np.asarray(cm)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.6))
    share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
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
    ax.set_xticks(range(len(classes)), classes)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    return ax.figure


def plot_group_accuracy(groups: dict, *, ax=None, title: str = "", chance: float | None = None):
    """Horizontal bars of accuracy per group: ``groups`` is ``{name: (accuracy, count)}``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 0.4 * len(groups) + 1))
    names = list(groups)
    acc = [100 * groups[n][0] for n in names]
    ax.barh(range(len(names)), acc, color="tab:blue", alpha=0.8)
    for i, n in enumerate(names):
        ax.text(acc[i] + 1, i, f"{acc[i]:.0f}% (n={groups[n][1]})", va="center", fontsize=9)
    if chance is not None:
        ax.axvline(100 * chance, color="0.5", ls=":", lw=1)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 110)
    ax.set_xlabel("accuracy (%)")
    if title:
        ax.set_title(title)
    return ax.figure
