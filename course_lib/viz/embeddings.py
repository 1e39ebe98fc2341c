"""Figures for lesson 02 (word embeddings): 2-D maps of word groups, nearest neighbours (the
explorer's static fallback) and projections on a direction. matplotlib and scikit-learn are
imported inside each function, so importing this module stays light.
"""

from __future__ import annotations

import numpy as np

from .style import BAR, colors_for


def project_2d(vectors: np.ndarray, method: str = "pca", seed: int = 0, perplexity=None):
    """``(n, d)`` vectors -> ``(n, 2)`` coordinates, by PCA or t-SNE (cosine distances)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    x = np.asarray(vectors, dtype=np.float64)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)  # direction is what cosine compares
    if method == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(x)
    if method == "tsne":
        from threadpoolctl import threadpool_limits  # installed with scikit-learn

        p = perplexity or max(2.0, min(15.0, (len(x) - 1) / 3))
        tsne = TSNE(n_components=2, perplexity=p, init="pca", metric="cosine", random_state=seed)
        # a few hundred points: one thread is instant, two on a busy machine take seconds
        with threadpool_limits(1):
            return tsne.fit_transform(x)
    raise ValueError(f"method must be 'pca' or 'tsne', got {method!r}")


def plot_word_map(
    wv, groups: dict[str, list[str]], method: str = "pca", ax=None, seed: int = 0, title=None
):
    """A 2-D map of word groups (``{"countries": ["france", ...], ...}``), each group a colour.

    Words missing from ``wv`` are skipped (and named in the title). Returns the figure."""
    import matplotlib.pyplot as plt

    words, labels, missing = [], [], []
    for name, members in groups.items():
        for w in members:
            if w in wv and w not in words:
                words.append(w)
                labels.append(name)
            elif w not in wv:
                missing.append(w)
    if len(words) < 3:
        raise ValueError(f"need at least 3 known words to draw a map, got {words}")
    xy = project_2d(wv.vectors[[wv.id(w) for w in words]].numpy(), method, seed)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 6))
    colours = plt.get_cmap("tab10")
    for k, name in enumerate(groups):
        pts = np.array([p for p, lab in zip(xy, labels, strict=True) if lab == name])
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], color=colours(k % 10), label=name, s=25)
    for (x, y), w in zip(xy, words, strict=True):
        ax.annotate(w, (x, y), fontsize=8, xytext=(3, 2), textcoords="offset points")
    ax.set_xticks([])  # only the distances between words mean something, not the coordinates
    ax.set_yticks([])
    name = {"pca": "PCA", "tsne": "t-SNE"}[method]
    ax.set_title(title or f"{name} map of {len(words)} words")
    skipped = f"\nnot in the vocabulary: {', '.join(missing[:8])}" if missing else ""
    ax.set_xlabel(f"{name} dimension 1{skipped}", fontsize=8)
    ax.set_ylabel(f"{name} dimension 2", fontsize=8)
    ax.legend(fontsize=8, loc="best")
    return ax.figure


def plot_neighbours(wv, words: list[str], topn: int = 8, ncols: int = 3, title=None):
    """Static fallback for the explorer: each word's nearest neighbours as a bar chart of
    cosines. Returns the figure."""
    import matplotlib.pyplot as plt

    words = [w for w in words if w in wv]
    nrows = -(-len(words) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.4 * ncols, 0.28 * topn * nrows + 0.9))
    axes = np.atleast_1d(axes).ravel()
    for ax, w in zip(axes, words, strict=False):
        near = wv.most_similar(w, topn=topn)
        ax.barh(range(len(near))[::-1], [s for _, s in near], color=BAR)
        ax.set_yticks(range(len(near))[::-1], [n for n, _ in near], fontsize=8)
        ax.set_xlim(0, 1)
        ax.set_title(w, fontsize=10)
        ax.set_xlabel("cosine similarity", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    for ax in axes[::ncols]:
        ax.set_ylabel("nearest words", fontsize=8)
    for ax in axes[len(words) :]:
        ax.axis("off")
    fig.suptitle(title or "nearest neighbours (cosine)", fontsize=11)
    fig.tight_layout()
    return fig


def plot_projection(scores: dict[str, dict[str, float]], title=None, xlabel=None):
    """Horizontal bars: for each word, its projection under each model (``{model: {word: x}}``).
    Used for the gender direction. Returns the figure."""
    import matplotlib.pyplot as plt

    models = list(scores)
    words = list(scores[models[0]])
    order = sorted(words, key=lambda w: scores[models[0]][w])
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(words) + 1.2))
    h = 0.8 / len(models)
    colors = colors_for(models)  # "ours (5 epochs)" and "gensim (5 epochs)": course colours
    for k, m in enumerate(models):
        ys = np.arange(len(order)) + (k - (len(models) - 1) / 2) * h
        ax.barh(ys, [scores[m][w] for w in order], height=h, label=m, color=colors[m])
    ax.set_yticks(range(len(order)), order, fontsize=8)
    ax.set_ylabel("word")
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel(xlabel or "projection on the direction")
    ax.set_title(title or "projection of words on a direction")
    ax.legend(fontsize=8, loc="best")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig
