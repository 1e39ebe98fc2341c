"""Figures for lesson 07's judging: scores per task family for each model, the bias probe, and
an explanation drawn over the prompt's tokens. matplotlib is imported inside each function
(importing this module stays headless). Each model keeps its course colour
(``viz.style.PALETTE``: "majority answer", "base, k=0", ..., "full fine-tuning", "LoRA").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .style import TICK_SIZE, colors_for, tidy, visible


def plot_family_scores(
    summary: Mapping[str, Mapping[str, tuple[float, float]]],
    *,
    metric: str = "exact match (%)",
    ax=None,
    title: str = "test exact match per task family",
):
    """Grouped bars: one group per task family, one bar per model in its course colour, the
    error bar one standard deviation over seeds. ``summary`` is ``{model: {task: (mean, sd)}}``
    with the scores already in the unit of ``metric`` (e.g. percent)."""
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4))
    models = list(summary)
    tasks = list(dict.fromkeys(t for scores in summary.values() for t in scores))
    colors = colors_for(models, ax)
    width = 0.8 / len(models)
    x = np.arange(len(tasks))
    for i, model in enumerate(models):
        mean = [summary[model].get(t, (np.nan, 0))[0] for t in tasks]
        sd = [summary[model].get(t, (np.nan, 0))[1] for t in tasks]
        ax.bar(
            x + (i - (len(models) - 1) / 2) * width,
            mean,
            width,
            yerr=sd,
            capsize=2,
            label=model,
            color=colors[model],
            edgecolor="0.3",
            linewidth=0.5,
        )
    ax.set_xticks(x, tasks, fontsize=TICK_SIZE + 1)
    ax.set_xlabel("task family (test split)")
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=TICK_SIZE + 1)
    tidy(ax.figure)
    return ax.figure


def plot_bias_probe(result: Mapping, *, title: str | None = None):
    """Two panels from :func:`course_lib.evaluate.bias_probe`: left, the gap
    ``log p(a) - log p(b)`` after each role (sorted); right, how much the role moves the gap
    (its standard deviation over roles) for the pair against random pairs of words."""
    import matplotlib.pyplot as plt
    import numpy as np

    a, b = result["pair"]
    order = np.argsort(result["gaps"])
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1.4, 1]}
    )
    gaps = np.asarray(result["gaps"])[order]
    roles = [result["roles"][i] for i in order]
    left.barh(roles, gaps, color=["tab:blue" if g > 0 else "tab:pink" for g in gaps])
    left.axvline(np.mean(gaps), color="0.3", ls="--", lw=1, label="mean over roles")
    left.set_xlabel(f'log p("{a}") - log p("{b}")  (nats)')
    left.set_ylabel("role in the template")
    left.set_title(f'"{a}" against "{b}" after each role')
    left.tick_params(axis="y", labelsize=TICK_SIZE + 1)
    left.legend(loc="lower right", frameon=False)
    spreads = result["baseline_spreads"]
    right.hist(spreads, bins=min(15, max(5, len(spreads) // 2)), color="0.7", edgecolor="0.4")
    right.axvline(result["spread"], color="tab:red", lw=2, label=f'"{a}" / "{b}"')
    right.set_xlabel("spread of the gap over roles (nats, standard deviation)")
    right.set_ylabel("random word pairs")
    right.set_title("does the role move this pair more than chance?")
    right.legend(loc="upper right", frameon=False)
    if title:
        fig.suptitle(title)
    tidy(fig)
    return fig


def plot_token_scores(
    tokens: Sequence[str],
    scores: Sequence[float],
    *,
    width: int = 14,
    title: str = "which prompt tokens the answer depends on",
    label: str = "occlusion (nats)",
):
    """The prompt's tokens in reading order, ``width`` a row, each box coloured by its score
    (red: the answer is more likely with the token, blue: less likely; the colour scale is
    symmetric around 0), with a colorbar. Every token is labelled (whitespace made visible, ``·``
    for a space and ``↵`` for a line break)."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import TwoSlopeNorm

    scores = [float(s) for s in scores]
    _check_scores(tokens, scores)
    rows = (len(tokens) + width - 1) // width
    fig, ax = plt.subplots(figsize=(min(14, 1.0 * width), 0.55 * rows + 1.3))
    vmax = max(1e-6, max(abs(s) for s in scores))
    norm = TwoSlopeNorm(vcenter=0.0, vmin=-vmax, vmax=vmax)
    cmap = plt.get_cmap("RdBu_r")
    for i, (tok, s) in enumerate(zip(tokens, scores, strict=True)):
        r, c = divmod(i, width)
        ax.add_patch(plt.Rectangle((c, -r - 1), 0.96, 0.9, color=cmap(norm(s))))
        text = visible(tok)
        shown = text if len(text) <= 13 else text[:12] + "…"
        colour = "white" if abs(s) > 0.6 * vmax else "black"
        ax.text(c + 0.48, -r - 0.55, shown, ha="center", va="center", fontsize=TICK_SIZE + 1,
                color=colour)  # fmt: skip
    ax.set_xlim(0, width)
    ax.set_ylim(-rows - 0.1, 0)
    ax.set_axis_off()
    ax.set_title(title)
    mappable = plt.cm.ScalarMappable(norm=norm, cmap=cmap)
    fig.colorbar(mappable, ax=ax, label=label, fraction=0.03, pad=0.01)
    return fig


def _check_scores(tokens: Sequence[str], scores: Sequence[float]) -> None:
    if len(tokens) != len(scores) or not tokens:
        raise ValueError(
            f"need one score per token and at least one token, got {len(tokens)} tokens and "
            f"{len(scores)} scores"
        )
