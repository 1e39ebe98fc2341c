"""Figures of lesson 00's foundation: a computation graph with its gradients, and a classifier's
decision boundary on a 2-D toy problem.

* :func:`plot_graph` draws the graph behind a :class:`course_lib.autograd.Value` with matplotlib
  alone (no graphviz): inputs on the left, the result on the right; a box per value with its
  ``data`` and ``grad``, a circle per operation.
* :func:`plot_decision_boundary` shades where a model says +1 or -1 over the plane, with the
  points on top. It takes a Value ``MLP``, a ``torch.nn.Module`` mapping ``(N, 2)`` to ``(N,)``
  or ``(N, 1)`` scores, or any function of one point ``[x1, x2]`` returning a score.

matplotlib is imported inside each function, so importing this module stays headless.
"""

from __future__ import annotations

from .style import TEXT_SIZE, TICK_SIZE, TITLE_SIZE, arrow, box

__all__ = ["draw_graph", "plot_decision_boundary", "plot_graph"]

VALUE_FILL = "#dbe9f6"  # a value's box
LEAF_FILL = "#fdebd0"  # an input or a weight (a leaf: nothing computed it)
OP_FILL = "0.92"  # an operation's circle
CLASS_COLOURS = {
    1.0: "tab:blue",
    -1.0: "tab:orange",
}  # the two classes of the toy problem (lesson 00: XOR)
CLASS_FILLS = {1.0: "#cfe2f3", -1.0: "#fde0c5"}  # where the model predicts each class


def plot_graph(value, ax=None, *, title: str | None = None):
    """The computation graph of ``value``: every Value it depends on, with ``data`` and ``grad``
    (call ``value.backward()`` first to see gradients), each operation as a circle.

    A value's column is the length of the longest path from an input to it, so every arrow
    points right. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    nodes = value.topological_order()
    column = _columns(nodes)
    rows = _rows(nodes, column)
    n_cols = max(column.values()) + 1
    n_rows = max(len(r) for r in rows.values())
    if ax is None:
        _, ax = plt.subplots(figsize=(2.3 * n_cols + 1, 1.1 * n_rows + 1.2))
    pos = {}
    for col, members in rows.items():
        for i, node in enumerate(members):
            pos[node] = (2.2 * col, (len(members) - 1) / 2 - i)
    for node in nodes:
        x, y = pos[node]
        if node._prev:  # the operation that made it, a circle half-way from its inputs
            ox = x - 1.0
            ax.add_patch(plt.Circle((ox, y), 0.22, fc=OP_FILL, ec="0.25", lw=1.0, zorder=2))
            ax.text(ox, y, node._op, ha="center", va="center", fontsize=TICK_SIZE, zorder=3)
            arrow(ax, (ox + 0.22, y), (x - 0.55, y))
            for child in node._prev:
                cx, cy = pos[child]
                arrow(ax, (cx + 0.55, cy), (ox - 0.22, y), rad=0.0)
        name = f"{node.label}\n" if node.label else ""
        text = f"{name}data {node.data:.4g}\ngrad {node.grad:.4g}"
        fill = VALUE_FILL if node._prev else LEAF_FILL
        box(ax, x, y, 1.1, 0.78, text, fill, fontsize=TICK_SIZE)
    ax.set_xlim(-0.8, 2.2 * (n_cols - 1) + 0.8)
    ax.set_ylim(-n_rows / 2 - 0.1, n_rows / 2 + 0.1)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(
        title or "computation graph: each value's data and d(output)/d(value)",
        fontsize=TITLE_SIZE,
    )
    return ax.figure


draw_graph = plot_graph  # micrograd's name for it


def _columns(nodes) -> dict:
    """Longest path from an input to each node (nodes in topological order)."""
    column = {}
    for node in nodes:
        column[node] = 1 + max((column[c] for c in node._prev), default=-1)
    return column


def _rows(nodes, column) -> dict:
    """The nodes of each column, in the order a walk back from the output meets them."""
    rows: dict[int, list] = {}
    for node in reversed(nodes):
        rows.setdefault(column[node], []).append(node)
    for members in rows.values():
        members.reverse()
    return dict(sorted(rows.items()))


def plot_decision_boundary(
    model,
    X,
    y,
    ax=None,
    *,
    title: str | None = None,
    resolution: int = 120,
    margin: float = 0.5,
    legend: bool = True,
):
    """Shade the plane by the sign of ``model``'s score (positive: class +1), draw the boundary
    (score 0) and the points ``X`` of shape ``(N, 2)`` coloured by their label ``y`` (+1 or -1).

    ``model``: a :class:`course_lib.autograd.MLP` (evaluated with its weights on the whole grid
    at once, the same numbers as calling it point by point), a ``torch.nn.Module``, or a
    function of one point. ``legend=False`` leaves out the legend (the panels of one figure
    need it once); it sits outside the axes, on the right. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt
    import numpy as np
    import torch

    X = torch.as_tensor(X, dtype=torch.float64)
    y = torch.as_tensor(y, dtype=torch.float64)
    lo, hi = X.min(0).values - margin, X.max(0).values + margin
    g0, g1 = torch.meshgrid(
        torch.linspace(float(lo[0]), float(hi[0]), resolution, dtype=torch.float64),
        torch.linspace(float(lo[1]), float(hi[1]), resolution, dtype=torch.float64),
        indexing="xy",
    )
    grid = torch.stack([g0.reshape(-1), g1.reshape(-1)], dim=1)  # (resolution**2, 2)
    scores = grid_scores(model, grid).reshape(resolution, resolution).numpy()
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 3.6))
    ax.contourf(
        g0.numpy(), g1.numpy(), np.sign(scores), levels=[-2, 0, 2], colors=["#fde0c5", "#cfe2f3"]
    )
    ax.contour(g0.numpy(), g1.numpy(), scores, levels=[0], colors="0.3", linewidths=1.0)
    for label, colour in CLASS_COLOURS.items():
        pts = X[y == label]
        ax.scatter(pts[:, 0], pts[:, 1], s=14, color=colour, edgecolor="white", lw=0.5,
                   label=f"class {label:+.0f}")  # fmt: skip
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title or "decision boundary (score = 0)", fontsize=TITLE_SIZE)
    ax.tick_params(labelsize=TICK_SIZE)
    if legend:
        ax.legend(fontsize=TEXT_SIZE, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    return ax.figure


def grid_scores(model, points):
    """``model``'s score at each row of ``points`` (a float64 tensor ``(N, 2)``): a tensor
    ``(N,)``."""
    import torch

    if isinstance(model, torch.nn.Module):
        with torch.no_grad():
            dtype = next(model.parameters(), torch.empty(0)).dtype
            return model(points.to(dtype)).reshape(len(points)).double()
    if hasattr(model, "weights") and hasattr(model, "layers"):  # a course_lib.autograd.MLP
        return _mlp_scores(model, points)
    return torch.tensor([_score(model(p)) for p in points.tolist()], dtype=torch.float64)


def _mlp_scores(mlp, points):
    """The Value MLP's forward pass on tensors: the same weights and the same maths, all points
    at once (a point-by-point pass would take seconds on a fine grid)."""
    import torch

    h = points
    weights = mlp.weights()
    for (W, b), layer in zip(weights, mlp.layers, strict=True):
        h = h @ torch.tensor(W, dtype=torch.float64).T + torch.tensor(b, dtype=torch.float64)
        act = layer.neurons[0].act
        h = torch.tanh(h) if act == "tanh" else torch.relu(h) if act == "relu" else h
    if h.shape[1] != 1:
        raise ValueError(
            f"a decision boundary needs one score per point; this MLP has {h.shape[1]}"
        )
    return h[:, 0]


def _score(out) -> float:
    return float(getattr(out, "data", out))
