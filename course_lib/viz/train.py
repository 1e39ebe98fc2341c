"""Figures of training runs: a run's loss curves (what ``History.plot()`` draws), and two runs'
per-step losses overlaid (one process against DistributedDataParallel, lesson 06).

Losses are in nats per token (or per character: ``unit=``); ``bits=True`` divides by ln 2.
matplotlib is imported inside each function, so importing this module stays headless.
"""

from __future__ import annotations

import math

from .style import colors_for

__all__ = ["plot_history", "plot_overlay"]


def plot_history(
    history,
    ax=None,
    *,
    x: str = "step",
    bits: bool = False,
    window: int = 50,
    title: str | None = None,
    label: str | None = None,
    unit: str = "token",
    ylabel: str | None = None,
):
    """Train loss (raw, faint, and smoothed over ``window`` steps) and validation loss of a
    :class:`course_lib.train.History`, against steps (``x="step"``) or seconds (``x="time"``).

    The loss is in nats per ``unit`` (``"token"``, ``"character"``, ...); ``bits=True`` shows
    bits per ``unit`` (loss / ln 2). ``label`` prefixes the legend entries and picks the course
    colour of that name (:func:`~course_lib.viz.style.color_of`; another name, or none, gets a
    colour no line on ``ax`` has yet). A run's training and validation curves share its colour
    (validation: dashed, with dots). ``ylabel`` replaces the y label, for a loss that is not
    a cross-entropy (GloVe's weighted squared error). Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    if x not in ("step", "time"):
        raise ValueError(f"x must be 'step' or 'time', got {x!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    k = 1 / math.log(2) if bits else 1.0
    xs = history.step if x == "step" else history.time
    exs = history.eval_step if x == "step" else history.eval_time
    name = f"{label}: " if label else ""
    color = colors_for([label], ax)[label]  # a known name's colour; else one not yet on ax
    if history.train_loss:
        raw = [v * k for v in history.train_loss]
        ax.plot(xs, raw, alpha=0.2, lw=0.8, color=color)
        smooth = [v * k for v in history.smoothed_train_loss(window)]
        ax.plot(xs, smooth, color=color, label=f"{name}train (mean of {window} steps)")
    if history.val_loss:
        val = [v * k for v in history.val_loss]
        ax.plot(exs, val, "o--", ms=3, color=color, label=f"{name}validation")
    ax.set_xlabel("step" if x == "step" else "training time (s)")
    ax.set_ylabel(ylabel or (f"bits per {unit}" if bits else f"loss (nats per {unit})"))
    ax.set_title(title or "training and validation loss")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return ax.figure


def plot_overlay(single: dict, ddp: dict, ax=None, *, title: str | None = None):
    """Two runs' loss curves on one plot, per step (the one-process run solid, the
    multi-process run dashed on top of it), with the largest difference in the title.

    ``single`` and ``ddp`` are what :func:`course_lib.train_ddp.train_single` and
    :func:`course_lib.train_ddp.launch` return. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    from ..train_ddp import loss_difference

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3.5))
    fig = ax.figure
    for run_, style in ((single, dict(lw=2.5, alpha=0.6)), (ddp, dict(lw=1.2, ls="--"))):
        h, w = run_["history"], run_["world_size"]
        per = run_.get("per_rank_batch_size", run_.get("global_batch_size"))
        who = "1 process" if w == 1 else f"{w} processes x {per} rows (DDP)"
        secs = run_.get("seconds")
        label = who + (f", {secs:.1f} s" if secs is not None else "")
        ax.plot(h["step"], h["loss"], label=label, **style)
    d = loss_difference(single, ddp)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (nats per character)")
    ax.set_title(
        title
        or f"same global batch: largest difference {d['max_abs']:.1e} nats "
        f"(relative {d['max_rel']:.1e})"
    )
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    return fig
