"""Figures for lesson 04 (attention), and the one attention heatmap every lesson draws.

The heatmap (:func:`draw_attention`) puts one head's weights ``(T_q, T_k)`` on an axes: rows
are the queries (the tokens that attend), columns the keys (the tokens attended to), each row
sums to 1 (or is 0 where everything is masked), the chosen query's row is outlined, and future
(masked) positions can be drawn grey rather than as zero weights. It is the picture of
:func:`plot_attention`, :func:`plot_attention_grid`, of every head in
``viz.transformer.plot_layer_heads``, and of :func:`plot_attention_view`, the static fallback of
the attention explorer (``course_lib.widgets.attention``, drawn in the browser), which also
says the explorer's sentence (:func:`describe_query`). :func:`plot_attention_view` uses
matplotlib's ``Figure`` API, not pyplot, so it may be drawn from any thread; :func:`figure_png`
(from ``viz.style``, shared by every widget) renders a figure under the drawing lock.

The plots take examples, plain data rather than a model, so one picture serves lesson 04's
seq2seq model (target words attending to source words) and lesson 05's transformer (a text
attending to itself). :func:`attention_example` builds and checks one::

    {"source": [...],   # the T_k tokens attended to (keys), as strings
     "target": [...],   # the T_q tokens that attend (queries); for self-attention, = source
     "weights": array of shape (layers, heads, T_q, T_k),
     "title": "...",    # optional, shown above the heatmap or in the explorer's menu
     "causal": None,    # True: query i sees keys 0..i only (None: decided from the data)
     "note": ""}        # optional, a line the explorer shows (e.g. what was cut)

matplotlib is imported inside each function: importing this module stays headless.
"""

from __future__ import annotations

import numpy as np

from .style import (
    DRAW_LOCK,  # noqa: F401 (re-exported: the lock every widget draws under)
    HEATMAP_CMAP,
    QUERY_OUTLINE,
    TEXT_SIZE,
    TITLE_SIZE,
    box,
    colors_for,
    figure_png,
    heatmap_tick_size,
    tidy,
    visible,
)

__all__ = [
    "attention_example",
    "example_list",
    "describe_query",
    "draw_attention",
    "plot_attention",
    "plot_attention_grid",
    "plot_attention_view",
    "figure_png",
    "plot_seq2seq_diagram",
    "plot_accuracy_by_length",
]


WEIGHT_LABEL = "attention weight"
MASKED_COLOUR = "#d6d6d6"  # future (masked) positions: grey, never the colour of weight 0

# --- examples: what a heatmap shows -----------------------------------------------------------


def attention_example(
    source, target, weights, title: str | None = None, *, causal: bool | None = None, note=""
) -> dict:
    """One example for the heatmaps and the explorer, checked: ``weights`` ``(T_q, T_k)``,
    ``(heads, T_q, T_k)`` or ``(layers, heads, T_q, T_k)`` (a tensor or an array);
    ``len(target) == T_q`` and ``len(source) == T_k``.

    ``causal``: whether query ``i`` may only see keys ``0..i`` (the explorer greys the rest);
    ``None`` decides from the data (self-attention with exact zeros above the diagonal).
    ``note``: a line the explorer shows under the title (e.g. what was cut from the text)."""
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
    return {
        "source": source,
        "target": target,
        "weights": w,
        "title": title,
        "causal": causal,
        "note": note,
    }


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
    masked=None,
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
        masked: ``(T_q, T_k)`` booleans, True where a query may not look (a future position):
            drawn grey, not as a zero weight.
    """
    import matplotlib
    from matplotlib.patches import Rectangle

    w = np.asarray(weights, dtype=float)
    T_q, T_k = w.shape
    top = max(float(w.max()), 1e-9) if vmax is None else vmax
    cmap = matplotlib.colormaps[HEATMAP_CMAP].with_extremes(bad=MASKED_COLOUR)
    shown = w if masked is None else np.ma.masked_array(w, np.asarray(masked, dtype=bool))
    im = ax.imshow(shown, cmap=cmap, vmin=0, vmax=top, aspect=aspect, interpolation="nearest")
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


# --- the explorer's picture: one query, one head, every head ---------------------------------


def is_causal(example: dict) -> bool:
    """Whether ``example`` is causal self-attention (query ``i`` sees keys ``0..i``): its
    ``"causal"`` key if set, else whether queries and keys are the same tokens and every weight
    above the diagonal is exactly 0."""
    if example.get("causal") is not None:
        return bool(example["causal"])
    w = example["weights"]
    T_q, T_k = w.shape[2:]
    return (
        T_q == T_k
        and T_q > 1
        and example["source"] == example["target"]
        and not np.any(np.triu(w, k=1))
    )


def causal_mask_of(example) -> np.ndarray | None:
    """``(T_q, T_k)`` booleans, True above the diagonal, for a causal example (None if not)."""
    if not is_causal(example):
        return None
    T = example["weights"].shape[-1]
    return np.triu(np.ones((T, T), dtype=bool), k=1)


def describe_query(example, layer: int, head: int, query: int, k: int = 3) -> str:
    """The explorer's sentence for one query: where it attends most, then the next ``k - 1``,
    e.g. ``"position 27 't' attends most to position 26 'h' (1 back, 0.31), then 25 'e' (2
    back, 0.12) and 0 'T' (27 back, 0.05)."``. Self-attention counts positions back; other
    examples name the target (query) and source (key) tokens."""
    w = np.asarray(example["weights"][layer, head, query], dtype=float)
    self_attention = example["source"] == example["target"]
    visible_keys = range(query + 1) if causal_mask_of(example) is not None else range(len(w))
    order = sorted(visible_keys, key=lambda j: (-w[j], j))[:k]
    q_tok = visible(example["target"][query])
    q_name, k_name = ("position", "position") if self_attention else ("target", "source")
    if not order or w[order[0]] <= 0:
        return f"{q_name} {query} '{q_tok}' attends to nothing (every key is masked)"

    def part(j):
        tok = f"{j} '{visible(example['source'][j])}'"
        if not self_attention:
            return f"{tok} ({w[j]:.2f})"
        back = query - j
        where = "itself" if back == 0 else f"{back} back" if back > 0 else f"{-back} ahead"
        return f"{tok} ({where}, {w[j]:.2f})"

    text = f"{q_name} {query} '{q_tok}' attends most to {k_name} {part(order[0])}"
    rest = [j for j in order[1:] if w[j] > 0]
    if len(rest) == 1:
        text += f", then {part(rest[0])}"
    elif len(rest) >= 2:
        text += ", then " + ", ".join(part(j) for j in rest[:-1]) + f" and {part(rest[-1])}"
    return text + "."


def _shared_vmax(example) -> float:
    """The largest weight of any head, leaving out a causal text's first query (it can only
    read itself, always 1.0): one colour scale for every head."""
    w = example["weights"]
    first = 1 if causal_mask_of(example) is not None and w.shape[2] > 1 else 0
    return max(float(w[:, :, first:].max()), 1e-9)


def _draw_strip(ax, tokens, weights, vmax, *, query=None, masked=None, label=""):
    """A row of token boxes coloured by ``weights`` (None: plain), the query outlined."""
    import matplotlib
    from matplotlib.patches import Rectangle

    cmap = matplotlib.colormaps[HEATMAP_CMAP]
    labels = [visible(t) for t in tokens]
    widths = [max(1.0, 0.62 * len(t) + 0.5) for t in labels]
    x = 0.0
    for i, (t, wd) in enumerate(zip(labels, widths, strict=True)):
        if masked is not None and masked[i]:
            face, ink = MASKED_COLOUR, "0.45"
        elif weights is None:
            face, ink = "0.95", "black"
        else:
            face = cmap(min(weights[i] / vmax, 1.0))
            ink = "black" if sum(face[:3]) > 1.6 else "white"
        edge, lw = (QUERY_OUTLINE, 2.5) if i == query else ("white", 0.5)
        ax.add_patch(Rectangle((x, 0), wd - 0.08, 1, facecolor=face, edgecolor=edge, lw=lw))
        ax.text(
            x + wd / 2, 0.5, t, ha="center", va="center", color=ink, fontsize=10, family="monospace"
        )
        x += wd
    ax.set_xlim(-0.2, max(x, 1) + 0.2)
    ax.set_ylim(-0.15, 1.15)
    ax.axis("off")
    if label:
        ax.text(-0.4, 0.5, label, ha="right", va="center", fontsize=TEXT_SIZE)


def plot_attention_view(
    example, layer: int = 0, head: int = 0, query: int | None = None, *, scores=None
):
    """The explorer's view as a static figure (its fallback in rendered notebooks): the text
    coloured by the query's weights with the query outlined and the explorer's sentence on top;
    the chosen head's heatmap with the query's row outlined; and, for several heads, every head
    of every layer as a thumbnail, titled with its ``scores`` (``{"prev": (L, H) array, ...}``).
    One colour scale for all (the largest weight of any head); future positions grey.

    Drawn with matplotlib's ``Figure`` API, not pyplot, so it is safe to call from any thread;
    render it to PNG bytes with :func:`figure_png`. In a notebook, a returned figure that ends a
    cell is shown. Returns the figure."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    example = example_list([example])[0]
    w = example["weights"]
    L, H, T_q, T_k = w.shape
    query = T_q - 1 if query is None else query
    masked = causal_mask_of(example)
    vmax = _shared_vmax(example)
    grid = L * H > 1
    self_attention = example["source"] == example["target"]
    fig = Figure(figsize=(13.5 if grid else 8.5, 7.2 if grid else 7.6), layout="constrained")
    FigureCanvasAgg(fig)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1 if self_attention else 1.6, 6])
    # the text, coloured by the query's weights (the heatmap's row, the same colours)
    row = w[layer, head, query]
    if self_attention:
        _draw_strip(
            top.add_subplot(),
            example["source"],
            row,
            vmax,
            query=query,
            masked=None if masked is None else masked[query],
        )
    else:
        q_ax, k_ax = top.subplots(2, 1)
        _draw_strip(q_ax, example["target"], None, vmax, query=query, label="target")
        _draw_strip(k_ax, example["source"], row, vmax, label="source")
    top.suptitle(describe_query(example, layer, head, query), fontsize=TITLE_SIZE + 1)
    # the chosen head, and every head
    if grid:
        left, right = bottom.subfigures(1, 2, width_ratios=[1.1, 1])
    else:
        left, right = bottom, None
    ax = left.add_subplot()
    im = draw_attention(
        ax,
        w[layer, head],
        example["source"],
        example["target"],
        query=query,
        max_labels=32,
        vmax=vmax,
        masked=masked,
    )
    left.colorbar(im, ax=ax, fraction=0.046, pad=0.02, label=WEIGHT_LABEL)
    # one head: no layer or head to name
    where = f"layer {layer}, head {head}: " if L * H > 1 else ""
    ax.set_title(f"{where}query {query} outlined", fontsize=TITLE_SIZE)
    if right is not None:
        axes = right.subplots(L, H, squeeze=False)
        for (lay, h), a in np.ndenumerate(axes):
            a.imshow(
                np.ma.masked_array(w[lay, h], masked) if masked is not None else w[lay, h],
                cmap=im.get_cmap(),
                vmin=0,
                vmax=vmax,
                interpolation="nearest",
            )
            a.set_xticks([])
            a.set_yticks([])
            shown = [f"{k} {v[lay][h]:.2f}" for k, v in (scores or {}).items()]
            shown = [s for s in shown if not s.endswith("nan")]
            lines = [f"layer {lay}, head {h}"] + ["  ".join(shown[i : i + 2]) for i in (0, 2, 4)]
            a.set_title("\n".join(t for t in lines if t), fontsize=TEXT_SIZE)
            if (lay, h) == (layer, head):
                for spine in a.spines.values():
                    spine.set(edgecolor="black", lw=3)
            if lay == L - 1:
                a.set_xlabel("keys")
            if h == 0:
                a.set_ylabel("queries")
        right.colorbar(
            im,
            ax=axes.ravel().tolist(),
            fraction=0.03,
            pad=0.02,
            label=f"{WEIGHT_LABEL} (one scale)",
        )
        right.suptitle("every head (click a thumbnail in the live explorer)", fontsize=TITLE_SIZE)
    if example.get("title"):
        fig.suptitle(example["title"], fontsize=TITLE_SIZE + 1)
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
