"""Figures for lesson 05 (the transformer): the GPT diagram, position embeddings, loss curves,
sampling settings, the KV cache's timing, every head of a layer, and scaling. matplotlib is
imported inside each function, so importing this module stays headless. Arrays may be tensors
or numpy arrays; characters are drawn with their whitespace visible (``·``, ``↵``, ``→``).
"""

from __future__ import annotations

import math

import numpy as np

from . import style
from .attention import WEIGHT_LABEL, draw_attention
from .style import ACCENT, SMALL_SIZE, color_of, colors_for, tidy, visible

__all__ = [
    "plot_gpt_diagram",
    "plot_positions",
    "plot_curves",
    "plot_sampling",
    "plot_kv_cache_timing",
    "plot_layer_heads",
    "plot_scaling",
]


def _np(x):
    return x.detach().cpu().float().numpy() if hasattr(x, "detach") else np.asarray(x)


_GPT_NOTES = """Each position reads only itself and the
positions before it (the causal mask), so
one forward pass trains T predictions.

Pre-norm: the LayerNorm sits on the branch;
the residual stream is a straight road from
the embeddings to the output layer.

Tied weights: the output layer is the
token embedding matrix, transposed."""


def plot_gpt_diagram():
    """The picture of a GPT: token + position embeddings, L pre-norm blocks (attention and MLP,
    each in a residual branch), a final LayerNorm and the output layer. Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    fig, ax = plt.subplots(figsize=(9, 6.2))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 13.2)
    ax.axis("off")

    def box(x, y, w, h, text, color, fs=10):
        style.box(ax, x, y, w, h, text, color, fs, rounding=0.15, pad=0.05)

    def arrow(x0, y0, x1, y1, rad=0.0):
        style.arrow(ax, (x0, y0), (x1, y1), color=None, lw=1.2, rad=rad, shrink=2)

    x = 3.2
    box(x, 0.6, 3.4, 0.7, 'ids  "T o   b e"  (B, T)', "#eeeeee")
    box(x - 0.95, 1.9, 1.7, 0.8, "token\nembedding", "#cfe2f3", 9)
    box(x + 0.95, 1.9, 1.7, 0.8, "position\nembedding", "#cfe2f3", 9)
    arrow(x, 0.95, x - 0.95, 1.5)
    arrow(x, 0.95, x + 0.95, 1.5)
    ax.text(x, 2.75, "+", ha="center", va="center", fontsize=16)
    arrow(x, 2.3, x, 3.05)
    # the block
    ax.add_patch(
        FancyBboxPatch(
            (x - 2.2, 3.2), 4.4, 6.0, boxstyle="round,pad=0.1", fc="#fff8e1", ec="0.4", ls="--"
        )
    )
    ax.text(x + 2.35, 9.0, "× L blocks", fontsize=11, ha="left", va="center")
    rx = x - 1.75  # the residual stream
    ax.plot([rx, rx], [3.2, 9.2], color=ACCENT, lw=2.5, alpha=0.6)
    ax.text(rx - 0.15, 6.2, "residual stream", rotation=90, ha="right", va="center", fontsize=8)
    for y0, name, color in (
        (3.7, "causal multi-head\nself-attention", "#d9ead3"),
        (6.5, "MLP\nC → 4C → C", "#f4cccc"),
    ):
        box(x + 0.3, y0 + 0.15, 2.2, 0.55, "LayerNorm", "#ead1dc", 9)
        box(x + 0.3, y0 + 1.25, 2.6, 0.95, name, color, 9)
        arrow(rx, y0 - 0.3, x + 0.3, y0 - 0.15, rad=-0.25)
        arrow(x + 0.3, y0 + 0.45, x + 0.3, y0 + 0.75)
        arrow(x + 0.3, y0 + 1.75, rx + 0.1, y0 + 2.25, rad=-0.25)
        ax.text(rx + 0.25, y0 + 2.3, "+", fontsize=14, ha="left", va="center", color=ACCENT)
    arrow(x, 9.3, x, 9.9)
    box(x, 10.3, 2.6, 0.6, "final LayerNorm", "#ead1dc", 9)
    box(x, 11.35, 3.2, 0.7, "linear C → V (tied)", "#cfe2f3", 9)
    arrow(x, 10.6, x, 11.0)
    box(x, 12.55, 3.6, 0.7, "softmax: next-token probabilities", "#eeeeee", 9)
    arrow(x, 11.7, x, 12.2)
    ax.text(6.2, 8.3, _GPT_NOTES, fontsize=9.5, va="top", family="sans-serif")
    ax.set_title("A GPT, bottom to top", fontsize=12)
    fig.tight_layout()
    return fig


def plot_positions(learned, sinusoidal, n_show: int = 64, n_channels: int = 32):
    """Learned and sinusoidal position embeddings ``(T, C)`` side by side: the first
    ``n_channels`` channels of the vectors (top) and the cosine similarity between every pair of
    positions, over all channels (bottom). Returns the figure."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 6.5))
    for col, (name, pe) in enumerate((("learned", learned), ("sinusoidal", sinusoidal))):
        pe = _np(pe)[:n_show]
        ax = axes[0, col]
        shown = pe[:, :n_channels].T  # (channels, positions)
        lim = np.abs(shown).max()
        im = ax.imshow(
            shown, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest"
        )
        ax.set_title(f"{name} position vectors (first {len(shown)} channels)", fontsize=10)
        ax.set_xlabel("position")
        ax.set_ylabel("channel")
        fig.colorbar(im, ax=ax, fraction=0.04)
        unit = pe / (np.linalg.norm(pe, axis=1, keepdims=True) + 1e-9)
        ax = axes[1, col]
        im = ax.imshow(unit @ unit.T, cmap="viridis", vmin=-1, vmax=1, interpolation="nearest")
        ax.set_title(f"{name}: cosine similarity of positions", fontsize=10)
        ax.set_xlabel("position")
        ax.set_ylabel("position")
        fig.colorbar(im, ax=ax, fraction=0.04)
    fig.tight_layout()
    return fig


def plot_curves(
    curves: dict,
    *,
    ax=None,
    x: str = "training time (s)",
    title: str | None = None,
    target: float | None = None,
    bits: bool = False,
    logx: bool = False,
):
    """Validation loss curves ``{name: [[x, loss], ...]}`` (loss in nats per character) on one
    plot, each model in its course colour (``"RNN"``, ``"LSTM"``, ``"GPT"``). ``x`` names the
    axis, with its unit (``"training time (s)"``, ``"training step"``, ``"FLOPs"``); ``bits``
    shows bits per character; ``target`` (nats) draws a horizontal line. Returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4))
    k = 1 / math.log(2) if bits else 1.0
    colors = colors_for(curves, ax)
    for name, curve in curves.items():
        c = np.asarray(curve, dtype=float)
        if len(c):
            ax.plot(c[:, 0], c[:, 1] * k, "o-", ms=2.5, label=name, color=colors[name])
    if target is not None:
        ax.axhline(target * k, color="0.4", ls="--", lw=1)
        ax.text(
            ax.get_xlim()[1], target * k, f" {target * k:.2f}", va="center", ha="left", fontsize=8
        )
    if logx:
        ax.set_xscale("log")
    ax.set_xlabel(x)
    ax.set_ylabel("validation " + ("bits per character" if bits else "loss (nats per character)"))
    ax.set_title(title or f"validation loss against {x}")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    tidy(ax.figure)
    return ax.figure


def plot_sampling(logits, chars, settings: dict, top: int = 15):
    """The next-token distribution under several sampling settings.

    Args:
        logits: ``(V,)`` the model's scores for the next character.
        chars: the vocabulary, ``chars[i]`` is token ``i``.
        settings: ``{title: probs (V,)}``, e.g. from ``next_token_probs`` with different
            temperature, top_k, top_p.
        top: how many of the most likely characters (by the model's own probabilities) to show.
    """
    import matplotlib.pyplot as plt

    order = np.argsort(-_np(logits))[:top]
    n = len(settings)
    fig, axes = plt.subplots(1, n, figsize=(3.1 * n, 2.9), sharey=True, squeeze=False)
    for ax, (name, probs) in zip(axes[0], settings.items(), strict=True):
        p = _np(probs)[order]
        ax.bar(range(top), p, color=["#1f77b4" if v > 0 else "#dddddd" for v in p])
        ax.set_xticks(range(top), [visible(chars[i]) for i in order], fontsize=8)
        ax.set_xlabel(f"next character (the {top} most likely)", fontsize=8)
        ax.set_title(name, fontsize=9)
        kept = int((_np(probs) > 0).sum())
        ax.text(
            0.98, 0.95, f"{kept} kept", transform=ax.transAxes, ha="right", va="top", fontsize=8
        )
    axes[0, 0].set_ylabel("probability")
    fig.tight_layout()
    return fig


def plot_kv_cache_timing(positions, with_cache, without_cache, ax=None):
    """Milliseconds per generated token against the context length, with and without the KV
    cache. Returns the figure."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    ax.plot(positions, without_cache, label="without cache: re-read the whole context")
    ax.plot(positions, with_cache, label="with KV cache: one new position")
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("ms per new token")
    ax.set_ylim(bottom=0)
    ax.set_title("time per generated token, with and without the KV cache")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    tidy(ax.figure)
    return ax.figure


def plot_layer_heads(weights, tokens, layer: int = 0, *, query: int | None = None, ncols: int = 4):
    """All heads of one layer at a glance, each drawn by :func:`viz.attention.draw_attention`.

    Args:
        weights: ``(L, H, T, T)`` (or ``(H, T, T)``) attention weights of one text, e.g. from
            :func:`course_lib.transformer.attention_maps`.
        tokens: the ``T`` tokens (characters) of the text.
        layer: which layer to show.
        query: outline this position's row in every head.
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    w = _np(weights)
    if w.ndim == 3:
        w = w[None]
    if w.ndim != 4 or w.shape[2] != w.shape[3] or w.shape[3] != len(tokens):
        raise ValueError(
            f"weights must be (L, H, T, T) with T = len(tokens) = {len(tokens)}, got {w.shape}"
        )
    H, T = w.shape[1], w.shape[2]
    top = max(float(w[layer].max()), 1e-9)  # one scale for every head: one colorbar
    ncols = min(ncols, H)
    nrows = -(-H // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 3.3 * nrows + 0.7), squeeze=False)
    for h, ax in enumerate(axes.flat):
        if h >= H:
            ax.axis("off")
            continue
        im = draw_attention(
            ax,
            w[layer, h],
            tokens,
            tokens,
            query=query,
            max_labels=24,
            fontsize=SMALL_SIZE,
            aspect="equal",
            vmax=top,
        )
        if h % ncols:  # the keys/queries names once per row of panels is enough
            ax.set_ylabel("")
        if h + ncols < H:
            ax.set_xlabel("")
        # what the head does on average: how far back it looks
        dist = (w[layer, h] * (np.arange(T)[:, None] - np.arange(T)[None, :])).sum(-1).mean()
        ax.set_title(f"head {h}: looks back {dist:.1f} on average", fontsize=8)
    fig.suptitle(f"layer {layer}: every head at a glance (rows: queries, columns: keys)")
    fig.tight_layout()
    fig.colorbar(im, ax=axes.ravel().tolist(), fraction=0.02, pad=0.02, label=WEIGHT_LABEL)
    return fig


def plot_scaling(
    runs: dict, ax=None, title: str = "Validation loss against training compute, by model size"
):
    """Validation loss against training compute (FLOPs) for several model sizes.

    Args:
        runs: ``{name: {"flops": [...], "val_loss": [...]}}``, one curve per model size.
        title: the axes title (say what the runs show; a short budget may not show a crossover).
    Model sizes in the order given get the shades of one sequential map (light to dark); a
    name of the course palette keeps its colour. Returns the figure; the lower envelope is the
    compute-efficient frontier."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 4.2))
    shades = plt.get_cmap("viridis")(np.linspace(0.75, 0.05, max(len(runs), 2)))
    for (name, r), shade in zip(runs.items(), shades, strict=False):
        f, v = np.asarray(r["flops"], dtype=float), np.asarray(r["val_loss"], dtype=float)
        keep = f > 0
        ax.plot(f[keep], v[keep], "o-", ms=3, label=name, color=color_of(name) or shade)
    ax.set_xscale("log")
    ax.set_xlabel("training compute (FLOPs, log scale)")
    ax.set_ylabel("validation loss (nats per character)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="best", fontsize=8)
    ax.set_title(title)
    tidy(ax.figure)
    return ax.figure
