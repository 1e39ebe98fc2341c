"""Figures for lesson 04 (attention), and the one attention heatmap every lesson draws.

The heatmap (:func:`draw_attention`) puts one head's weights ``(T_q, T_k)`` on an axes: rows
are the queries (the tokens that attend), columns the keys (the tokens attended to), each row
sums to 1 (or is 0 where everything is masked), and the chosen query's row is outlined. It is
the picture of :func:`plot_attention`, :func:`plot_attention_grid`, of every head in
``viz.transformer.plot_layer_heads``, and of the attention explorer's image
(``course_lib.widgets.attention``).

The plots take examples, plain data rather than a model, so one picture serves lesson 04's
seq2seq model (target words attending to source words) and lesson 05's transformer (a text
attending to itself). :func:`attention_example` builds and checks one::

    {"source": [...],   # the T_k tokens attended to (keys), as strings
     "target": [...],   # the T_q tokens that attend (queries); for self-attention, = source
     "weights": array of shape (layers, heads, T_q, T_k),
     "title": "..."}    # optional, shown above the heatmap or in the explorer's menu

matplotlib is imported inside each function: importing this module stays headless.
"""

from __future__ import annotations

import numpy as np

from .style import (
    HEATMAP_CMAP,
    QUERY_OUTLINE,
    TEXT_SIZE,
    TITLE_SIZE,
    box,
    colors_for,
    heatmap_tick_size,
    tidy,
    visible,
)

__all__ = [
    "attention_example",
    "example_list",
    "draw_attention",
    "plot_attention",
    "plot_attention_grid",
    "plot_seq2seq_diagram",
    "plot_accuracy_by_length",
]


WEIGHT_LABEL = "attention weight"

# --- examples: what a heatmap shows -----------------------------------------------------------


def attention_example(source, target, weights, title: str | None = None) -> dict:
    """One example for the heatmaps and the explorer, checked: ``weights`` ``(T_q, T_k)``,
    ``(heads, T_q, T_k)`` or ``(layers, heads, T_q, T_k)`` (a tensor or an array);
    ``len(target) == T_q`` and ``len(source) == T_k``."""
    if hasattr(weights, "detach"):
        weights = weights.detach().cpu().numpy()
    w = np.asarray(weights, dtype=float)
    if w.ndim == 2:
        w = w[None, None]
    elif w.ndim == 3:
        w = w[None]
    if w.ndim != 4:
        raise ValueError(
            f"weights must have shape (layers, heads, T_q, T_k) (or (T_q, T_k), "
            f"(heads, T_q, T_k)); got {w.shape}"
        )
    source, target = [str(t) for t in source], [str(t) for t in target]
    if w.shape[2:] != (len(target), len(source)):
        raise ValueError(
            f"weights end in (T_q, T_k) = {w.shape[2:]}, but there are {len(target)} target "
            f"(query) tokens and {len(source)} source (key) tokens"
        )
    if title is None:
        title = " ".join(source) if len(source) < 12 else " ".join(source[:10]) + " ..."
    return {"source": source, "target": target, "weights": w, "title": title}


def example_list(examples) -> list[dict]:
    """``examples`` (one example dict or a list of them) as checked :func:`attention_example`
    dicts, all with the same ``(layers, heads)``."""
    if isinstance(examples, dict):
        examples = [examples]
    out = [
        e
        if isinstance(e.get("weights"), np.ndarray) and e["weights"].ndim == 4
        else attention_example(e["source"], e["target"], e["weights"])
        for e in examples
    ]
    if not out:
        raise ValueError("no examples to show: pass a list of attention_example(...) dicts")
    shapes = {e["weights"].shape[:2] for e in out}
    if len(shapes) != 1:
        raise ValueError(f"all examples need the same (layers, heads); got {sorted(shapes)}")
    return out


# --- the heatmap ------------------------------------------------------------------------------


def draw_attention(
    ax,
    weights,
    keys,
    queries,
    *,
    query: int | None = None,
    max_labels: int | None = None,
    fontsize: float | None = None,
    aspect: str = "auto",
    vmax: float | None = None,
):
    """Draw one head's attention weights on ``ax``; returns the image (for a colorbar).

    Args:
        weights: ``(T_q, T_k)``, row ``i`` is how query ``i`` spreads its attention over keys.
        keys, queries: the ``T_k`` and ``T_q`` tokens; whitespace is drawn visible (``·``, ``↵``).
        query: outline this row.
        max_labels: label at most this many tokens per axis (every k-th, said in the axis
            labels); ``None`` labels every token.
        fontsize: of the tick labels (default: smaller as the tokens get more).
        aspect: ``"auto"`` fills the axes; ``"equal"`` keeps the cells square.
        vmax: the weight drawn brightest (default: this head's largest); give several heads
            the same ``vmax`` to share one colorbar.
    """
    from matplotlib.patches import Rectangle

    w = np.asarray(weights, dtype=float)
    T_q, T_k = w.shape
    top = max(float(w.max()), 1e-9) if vmax is None else vmax
    im = ax.imshow(w, cmap=HEATMAP_CMAP, vmin=0, vmax=top, aspect=aspect)
    longest = max(T_q, T_k)
    step = 1 if max_labels is None else max(1, -(-longest // max_labels))
    fs = fontsize or heatmap_tick_size(-(-longest // step))
    x_labels = [visible(t) for t in keys[::step]]
    upright = all(len(t) == 1 for t in x_labels)  # characters stand; words lie down
    ax.set_xticks(range(0, T_k, step), x_labels, rotation=0 if upright else 90, fontsize=fs)
    ax.set_yticks(range(0, T_q, step), [visible(t) for t in queries[::step]], fontsize=fs)
    every = "" if step == 1 else f"; a label every {step} tokens"
    ax.set_xlabel(f"attended to (keys{every})")
    ax.set_ylabel(f"attending (queries{every})")
    if query is not None:
        ax.add_patch(
            Rectangle((-0.5, query - 0.5), T_k, 1, fill=False, edgecolor=QUERY_OUTLINE, lw=2)
        )
    return im


def plot_attention(
    example, layer: int = 0, head: int = 0, query: int | None = None, ax=None, max_labels=48
):
    """Heatmap of one head's weights ``(T_q, T_k)``, with its colorbar; ``query`` outlines one
    row; at most ``max_labels`` tokens are labelled per axis (the axis labels say which).
    Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    example = example_list([example])[0]
    T_q, T_k = example["weights"].shape[2:]
    if ax is None:
        _, ax = plt.subplots(figsize=(min(2.6 + 0.3 * T_k, 14), min(1.5 + 0.28 * T_q, 12)))
    w = example["weights"][layer, head]
    im = draw_attention(
        ax, w, example["source"], example["target"], query=query, max_labels=max_labels
    )
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.02, label=WEIGHT_LABEL)
    ax.set_title(f"layer {layer}, head {head}")
    tidy(ax.figure)
    return ax.figure


def plot_attention_grid(
    examples, layer: int = 0, head: int = 0, ncols: int = 2, titles=None, max_labels=48
):
    """Static fallback of the explorer: the heatmaps of several examples side by side, each
    with its colorbar (each is scaled to its own largest weight). Returns the figure."""
    import matplotlib.pyplot as plt

    examples = example_list(examples)
    n = len(examples)
    nrows = -(-n // ncols)
    T_k = max(e["weights"].shape[3] for e in examples)
    T_q = max(e["weights"].shape[2] for e in examples)
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(ncols * min(2.6 + 0.3 * T_k, 9.6), nrows * min(1.8 + 0.28 * T_q, 9)),
        squeeze=False,
    )
    for i, ax in enumerate(axes.flat):
        if i >= n:
            ax.axis("off")
            continue
        e = examples[i]
        w = e["weights"][layer, head]
        im = draw_attention(ax, w, e["source"], e["target"], max_labels=max_labels)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02, label=WEIGHT_LABEL)
        ax.set_title(titles[i] if titles else e["title"], fontsize=TEXT_SIZE)
    fig.tight_layout()
    return fig


# --- lesson 04's pictures ---------------------------------------------------------------------


def plot_seq2seq_diagram(source=None, target=None, weights=None):
    """The intuition picture: an encoder-decoder reading the source through one fixed vector
    (left) and through attention, a fresh weighted look at every source word per output word
    (right). ``weights`` ``(len(target), len(source))`` sets the line strengths on the right
    (e.g. a true alignment); by default each output word looks at one source word, diagonally.
    Returns the figure."""
    import matplotlib.pyplot as plt

    source = source or ["the", "black", "cat", "sees", "a", "dog"]
    target = target or ["le", "chat", "noir", "un", "chien", "voit"]
    S, T = len(source), len(target)
    weights = np.asarray(np.eye(T, S) if weights is None else weights, dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.6))
    xs_src = np.linspace(0.08, 0.92, S)
    xs_tgt = np.linspace(0.08, 0.92, T)
    rows = ((xs_src, source, 0.12, "#dbe9f6"), (xs_tgt, target, 0.88, "#fde0c5"))
    for ax in axes:
        ax.set_xlim(-0.12, 1)
        ax.set_ylim(0, 1)
        ax.axis("off")
        for xs, words, y, colour in rows:
            for x, w in zip(xs, words, strict=True):
                box(ax, x, y, 0.13, 0.1, w, colour, 9, rounding=None, pad=0.01, ec="gray", lw=1.0)
        ax.text(0.0, 0.12, "encoder\n(source)", ha="right", va="center", fontsize=8)
        ax.text(0.0, 0.88, "decoder\n(target)", ha="right", va="center", fontsize=8)

    ax = axes[0]  # everything through one vector
    ax.add_patch(plt.Circle((0.5, 0.5), 0.06, fc="#c44e52", ec="black"))
    ax.text(0.59, 0.5, "one fixed vector\nfor the whole sentence", va="center", fontsize=9)
    grey = dict(arrowstyle="->", color="gray")
    for x in xs_src:
        ax.annotate("", (0.5, 0.44), (x, 0.17), arrowprops=grey)
    for x in xs_tgt:
        ax.annotate("", (x, 0.83), (0.5, 0.56), arrowprops=grey)
    ax.set_title("without attention: everything passes through one vector", fontsize=TITLE_SIZE)

    ax = axes[1]  # a line per (target, source) pair, as strong as its weight
    top = weights.max() or 1.0
    for i, xt in enumerate(xs_tgt):
        for j, xsrc in enumerate(xs_src):
            a = weights[i, j] / top
            ax.plot(
                [xsrc, xt], [0.17, 0.83], color="#c44e52", alpha=0.08 + 0.9 * a, lw=0.5 + 2.5 * a
            )
    ax.set_title("with attention: each output word looks back at the source", fontsize=TITLE_SIZE)
    fig.tight_layout()
    return fig


def plot_accuracy_by_length(results: dict, ax=None, title: str | None = None):
    """Exact-match accuracy against source length, one line per model, in the model's course
    colour (``"with attention"``, ``"without attention"``: :data:`~course_lib.viz.style.PALETTE`).

    ``results`` maps a model name to ``(lengths, accuracies)`` (accuracies in 0..1). Returns the
    figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.6))
    colors = colors_for(results, ax)
    for name, (lengths, acc) in results.items():
        ax.plot(lengths, [100 * a for a in acc], "o-", ms=4, label=name, color=colors[name])
    ax.set_xlabel("source sentence length (words)")
    ax.set_ylabel("exact-match accuracy (%)")
    ax.set_ylim(-3, 103)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    ax.set_title(title or "exact-match accuracy against sentence length")
    tidy(ax.figure)
    return ax.figure
