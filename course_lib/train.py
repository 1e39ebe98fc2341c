"""The one training loop every lesson uses, its history, and checkpoints.

``train(model, batches, config)`` runs AdamW with warmup + cosine learning rate, gradient
clipping, a progress bar with the live loss, and periodic evaluation on validation batches. It
returns a :class:`TrainResult` (unpack it as ``model, history = train(...)``).

Press Ctrl-C (or interrupt the kernel) at any time: training stops cleanly and you get back the
model and its history so far; ``train(..., resume=result)`` goes on from there. With
``config.checkpoint_path`` set, checkpoints are written atomically and ``resume=path`` continues
exactly where the run stopped: the same losses as an uninterrupted run with the same seed.

``evaluate`` measures the loss on fixed batches; ``loss_by_position`` measures it at each position
of a window, to see how far back a model uses its context.

The Muon optimizer and ``orthogonalize`` live in :mod:`course_lib.optim` (an optimizer is its own
idea; the loop only sets each group's rate) and are re-exported here.
"""

from __future__ import annotations

import math
import os
import pickle
import random
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .optim import Muon as Muon  # re-exported: `from course_lib.train import Muon` still works
from .optim import orthogonalize as orthogonalize
from .runtime import progress_bar, relpath

CHECKPOINT_FORMAT = "course_lib.checkpoint/1"


# --- configuration and schedule -------------------------------------------------------------


@dataclass
class TrainConfig:
    """How to train. Only ``max_steps`` usually changes between full and fast mode."""

    max_steps: int = 1000
    lr: float = 3e-3
    min_lr: float | None = None  # end of the cosine; None means lr / 10
    warmup_steps: int = 0
    schedule: str = "cosine"  # "cosine" or "constant" (after warmup)
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float | None = 1.0  # max global gradient norm; None turns clipping off
    eval_every: int = 100  # 0 turns evaluation off
    eval_batches: int = 20
    checkpoint_path: str | None = None
    checkpoint_every: int | None = None  # None means at every evaluation
    progress: bool = True
    desc: str = "training"

    def __post_init__(self):
        if self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule must be 'cosine' or 'constant', got {self.schedule!r}")
        if not 0 <= self.warmup_steps <= self.max_steps:
            raise ValueError(
                f"warmup_steps must be between 0 and max_steps ({self.max_steps}), "
                f"got {self.warmup_steps}"
            )
        self.betas = tuple(self.betas)


def lr_at(step: int, config: TrainConfig) -> float:
    """Learning rate for optimisation step ``step`` (0-based): linear warmup over
    ``warmup_steps``, then cosine decay from ``lr`` to ``min_lr`` at ``max_steps``."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    if config.schedule == "constant":
        return config.lr
    min_lr = config.lr / 10 if config.min_lr is None else config.min_lr
    span = max(1, config.max_steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / span)
    return min_lr + 0.5 * (config.lr - min_lr) * (1 + math.cos(math.pi * progress))


# --- history --------------------------------------------------------------------------------


@dataclass
class History:
    """What happened during training: per step (``step``, wall ``time`` in seconds,
    ``train_loss``, ``lr``, ``grad_norm`` before clipping) and per evaluation (``eval_step``,
    ``eval_time``, ``val_loss``). ``history.plot()`` draws it."""

    step: list[int] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    eval_step: list[int] = field(default_factory=list)
    eval_time: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    interrupted: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> History:
        names = {f.name for f in fields(cls)}
        return cls(
            **{
                k: (list(v) if isinstance(v, list | tuple) else v)
                for k, v in d.items()
                if k in names
            }
        )

    @property
    def steps_done(self) -> int:
        return self.step[-1] if self.step else 0

    @property
    def best_val_loss(self) -> float:
        return min(self.val_loss) if self.val_loss else float("nan")

    @property
    def last_val_loss(self) -> float:
        return self.val_loss[-1] if self.val_loss else float("nan")

    def smoothed_train_loss(self, window: int = 50) -> list[float]:
        """Mean train loss over the last ``window`` steps at each step (what the bar shows)."""
        out, total = [], 0.0
        for i, v in enumerate(self.train_loss):
            total += v
            if i >= window:
                total -= self.train_loss[i - window]
            out.append(total / min(i + 1, window))
        return out

    def eval_curve(self, *, exclude_eval: bool = True) -> list[list[float]]:
        """``[[seconds, val_loss], ...]``, one pair per evaluation.

        ``seconds`` is the training clock: wall time since training started with the time spent
        in the evaluations themselves left out (``exclude_eval=True``), so a curve does not
        depend on how often it was measured. ``exclude_eval=False`` gives plain wall time."""
        out, spent = [], 0.0
        for t, v, d in zip(self.eval_time, self.val_loss, self._eval_durations(), strict=True):
            out.append([t - d - spent if exclude_eval else t, v])
            spent += d
        return out

    def training_seconds(self) -> float:
        """Wall time of the training steps alone: ``time[-1]`` less the evaluations done before
        the last step (the training clock of :meth:`eval_curve`)."""
        if not self.time:
            return 0.0
        last = self.steps_done
        durations = self._eval_durations()
        return self.time[-1] - sum(
            d for s, d in zip(self.eval_step, durations, strict=True) if s < last
        )

    def first_time_below(self, threshold: float, *, exclude_eval: bool = True) -> float | None:
        """The first time on :meth:`eval_curve` with validation loss <= ``threshold``, or None
        if training never got there."""
        curve = self.eval_curve(exclude_eval=exclude_eval)
        return next((t for t, v in curve if v <= threshold), None)

    def _eval_durations(self) -> list[float]:
        """Seconds each evaluation took: it starts when the step before it has been recorded."""
        step_time = dict(zip(self.step, self.time, strict=True))
        # the evaluation before the first step starts at 0
        return [
            t - step_time.get(s, 0.0) for s, t in zip(self.eval_step, self.eval_time, strict=True)
        ]

    def plot(
        self,
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
        """Train loss (raw, faint, and smoothed) and validation loss against steps or seconds,
        drawn by :func:`course_lib.viz.train.plot_history`: in nats per ``unit`` (``"token"``,
        ``"character"``), or bits per ``unit`` with ``bits=True`` (loss / ln 2); ``ylabel``
        names a loss that is not a cross-entropy. Returns the matplotlib figure."""
        from .viz.train import plot_history

        kw = dict(x=x, bits=bits, window=window, title=title, label=label, unit=unit)
        return plot_history(self, ax, ylabel=ylabel, **kw)

    def __repr__(self) -> str:
        if not self.step:
            return "History(empty)"
        parts = [
            f"steps={self.steps_done}",
            f"time={self.time[-1]:.1f}s",
            f"train_loss={self.train_loss[-1]:.4f}",
        ]
        if self.val_loss:
            parts.append(f"val_loss={self.last_val_loss:.4f} (best {self.best_val_loss:.4f})")
        if self.interrupted:
            parts.append("interrupted")
        return "History(" + ", ".join(parts) + ")"


@dataclass
class TrainResult:
    """What :func:`train` returns. Unpacks as ``model, history = train(...)``."""

    model: torch.nn.Module
    history: History
    optimizer: torch.optim.Optimizer
    step: int
    interrupted: bool = False

    def __iter__(self):
        return iter((self.model, self.history))


# --- losses and evaluation ------------------------------------------------------------------


def lm_loss(model: torch.nn.Module, batch) -> torch.Tensor:
    """Cross-entropy of next-token prediction. ``batch`` is ``(x, y)``, both ``(B, T)``; the model
    returns logits ``(B, T, V)`` (or a tuple whose first item is the logits)."""
    x, y = batch
    out = model(x)
    logits = out[0] if isinstance(out, tuple) else out
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1))


def _to_device(batch, device):
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, tuple | list):
        return type(batch)(_to_device(b, device) for b in batch)
    return batch


def _model_device(model: torch.nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    batches: Callable,
    *,
    n_batches: int = 20,
    loss_fn: Callable = lm_loss,
    split: str = "val",
) -> float:
    """Mean loss over the fixed batches ``batches(split, 0..n_batches-1)``, in eval mode."""
    was_training = model.training
    model.eval()
    device = _model_device(model)
    try:
        losses = [
            float(loss_fn(model, _to_device(batches(split, i), device))) for i in range(n_batches)
        ]
    finally:
        model.train(was_training)
    return sum(losses) / len(losses)


@torch.no_grad()
def loss_by_position(
    model: torch.nn.Module, ids, block_size: int, batch_size: int = 64
) -> torch.Tensor:
    """The mean cross-entropy (nats) at each position of a window: how much a model gains from
    each extra token of context.

    ``ids`` ``(N,)`` is cut into consecutive windows ``x = ids[i T : (i + 1) T]``,
    ``y = ids[i T + 1 : (i + 1) T + 1]`` (``T = block_size``; every full window, a shorter tail
    is left out), each read on its own from a fresh state (``model(x)``: a GPT has no state, a
    :class:`~course_lib.rnn.CharRNN` starts from zeros). Position ``p`` predicts ``y[p]`` from
    the ``p + 1`` tokens ``x[0 .. p]``: position 0 from one token, position ``T - 1`` from
    ``T``. The windows are those of ``evaluate_gpt(model, ids)``, so when ``N - 1`` is a
    multiple of ``T`` the curve's mean is that loss.

    Works for any model whose forward returns logits ``(B, T, V)`` or a tuple whose first item
    is the logits. Runs in eval mode without gradients and restores the training mode.

    Returns:
        ``(block_size,)`` float64 on the CPU: entry ``p`` is the mean over all windows of the
        loss at position ``p``.
    """
    ids = torch.as_tensor(ids, dtype=torch.long)
    _check_loss_by_position_args(ids, block_size, batch_size)
    T = block_size
    n = (len(ids) - 1) // T  # full windows
    x, y = ids[: n * T].view(n, T), ids[1 : n * T + 1].view(n, T)
    device = _model_device(model)
    total = torch.zeros(T, dtype=torch.float64)
    was_training = model.training
    model.eval()
    try:
        for i in range(0, n, batch_size):
            out = model(x[i : i + batch_size].to(device))
            logits = out[0] if isinstance(out, tuple) else out  # (b, T, V)
            losses = F.cross_entropy(
                logits.transpose(1, 2), y[i : i + batch_size].to(device), reduction="none"
            )  # (b, T)
            total += losses.sum(0).double().cpu()
    finally:
        model.train(was_training)
    return total / n


# --- the loop -------------------------------------------------------------------------------


def train(
    model: torch.nn.Module,
    batches: Callable,
    config: TrainConfig | None = None,
    *,
    loss_fn: Callable = lm_loss,
    optimizer: torch.optim.Optimizer | None = None,
    resume: TrainResult | str | os.PathLike | None = None,
    model_config=None,
    on_step: Callable[[int, float], None] | None = None,
    on_eval: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train ``model`` for ``config.max_steps`` optimisation steps.

    Args:
        model: any ``nn.Module``; it stays on its device and batches are moved there.
        batches: ``batches(split, step) -> batch``, e.g. an :class:`~course_lib.data.LMBatcher`;
            split is ``"train"`` or ``"val"``.
        config: a :class:`TrainConfig`.
        loss_fn: ``loss_fn(model, batch) -> scalar tensor``; next-token cross-entropy by default.
        optimizer: defaults to AdamW with ``config``'s lr, betas and weight decay. Before each
            step every parameter group's ``lr`` is set to the scheduled rate times the group's
            ``lr_scale`` (1 when absent): e.g. a fresh head learning faster than a pre-trained
            body, or Muon's matrices at ~0.02 where AdamW wants 3e-3.
        resume: a :class:`TrainResult` (continue an interrupted run in memory) or a checkpoint
            path (restores model, optimizer, history, step and random state).
        model_config: saved in checkpoints, so loading into a different model says what differs.
        on_step, on_eval: called as ``on_step(step, loss)`` after each step and
            ``on_eval(step, val_loss)`` after each evaluation (e.g. to print a sample).

    Returns:
        a :class:`TrainResult`; on Ctrl-C it holds the model and history so far.
    """
    config = config or TrainConfig()
    history, step, optimizer = _starting_point(model, config, optimizer, resume, model_config)
    run = _Run(model, batches, config, loss_fn, optimizer, history, step, model_config)
    bar = progress_bar(
        total=config.max_steps, initial=step, desc=config.desc, disable=not config.progress
    )
    model.train()
    try:
        if run.do_eval and run.step == 0 and not history.eval_step:
            run.validate(on_eval)
        while run.step < config.max_steps:
            run.optimisation_step(on_step)
            last = run.step == config.max_steps
            if run.do_eval and (run.step % config.eval_every == 0 or last):
                run.validate(on_eval)
            if config.checkpoint_path and (run.step % run.checkpoint_every == 0 or last):
                run.save()
            _show_progress(bar, history)
    except KeyboardInterrupt:
        run.interrupt()
    finally:
        bar.close()
    _print_summary(config, history, run.step)
    model.eval()
    return TrainResult(model, history, run.optimizer, run.step, run.interrupted)


def _starting_point(
    model: torch.nn.Module,
    config: TrainConfig,
    optimizer: torch.optim.Optimizer | None,
    resume: TrainResult | str | os.PathLike | None,
    model_config,
) -> tuple[History, int, torch.optim.Optimizer]:
    """Where training starts: an empty history at step 0 (AdamW unless ``optimizer`` is given),
    or the history, step and optimizer of ``resume``, a :class:`TrainResult` or a checkpoint path
    (whose random state is restored too)."""
    if optimizer is None:
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=config.lr, betas=config.betas, weight_decay=config.weight_decay
        )
    history, step = History(), 0
    if isinstance(resume, TrainResult):
        _check_same_model(resume, model)
        history, step, optimizer = resume.history, resume.step, resume.optimizer
    elif resume is not None:
        ckpt = load_checkpoint(resume, model, optimizer, config=model_config, restore_rng=True)
        history, step = History.from_dict(ckpt["history"]), ckpt["step"]
    history.interrupted = False
    return history, step, optimizer


@dataclass
class _Run:
    """What the parts of one :func:`train` call share: the model, its optimizer, the history and
    step so far, and the training clock (which goes on from the history's last time on resume)."""

    model: torch.nn.Module
    batches: Callable
    config: TrainConfig
    loss_fn: Callable
    optimizer: torch.optim.Optimizer
    history: History
    step: int
    model_config: object = None
    interrupted: bool = False

    def __post_init__(self):
        config = self.config
        self.device = _model_device(self.model)
        self.do_eval = config.eval_every > 0 and config.eval_batches > 0
        self.checkpoint_every = config.checkpoint_every or config.eval_every
        self.time_offset = self.history.time[-1] if self.history.time else 0.0
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return self.time_offset + time.perf_counter() - self.start

    def optimisation_step(self, on_step: Callable | None) -> None:
        """One step at the scheduled rate, then its record in the history, then ``on_step``."""
        model, optimizer, config = self.model, self.optimizer, self.config
        lr = lr_at(self.step, config)
        for group in optimizer.param_groups:  # a group may scale the schedule's rate
            group["lr"] = lr * group.get("lr_scale", 1.0)
        batch = _to_device(self.batches("train", self.step), self.device)
        loss = self.loss_fn(model, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if config.grad_clip is not None:
            norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip))
        else:
            norm = float("nan")
        optimizer.step()
        self.step += 1
        loss_value = loss.item()
        history = self.history  # `step` first: a record cut off by Ctrl-C is trimmed to it
        history.step.append(self.step)
        history.time.append(self.seconds())
        history.train_loss.append(loss_value)
        history.lr.append(lr)
        history.grad_norm.append(norm)
        if on_step:
            on_step(self.step, loss_value)

    def validate(self, on_eval: Callable | None) -> float:
        """The validation loss now, recorded in the history; then ``on_eval``."""
        config = self.config
        val = evaluate(
            self.model, self.batches, n_batches=config.eval_batches, loss_fn=self.loss_fn
        )
        self.history.eval_step.append(self.step)
        self.history.val_loss.append(val)
        if on_eval:
            on_eval(self.step, val)
        # stamped after the callback (a sample printed during training, say), so that what an
        # evaluation costs, callback included, is never counted as training time
        self.history.eval_time.append(self.seconds())
        return val

    def save(self) -> None:
        if self.config.checkpoint_path:
            save_checkpoint(
                self.config.checkpoint_path,
                self.model,
                self.optimizer,
                step=self.step,
                history=self.history,
                config=self.model_config,
                train_config=self.config,
            )

    def interrupt(self) -> None:
        """After Ctrl-C: drop what a step or an evaluation cut off half way recorded, save a
        checkpoint (if the config names one) and say how to go on."""
        self.interrupted = True
        history = self.history
        history.interrupted = True
        # A step cut off half way has not been counted: trim any record it left.
        for name in ("time", "train_loss", "lr", "grad_norm"):
            del getattr(history, name)[len(history.step) :]
        n_eval = min(map(len, (history.eval_step, history.eval_time, history.val_loss)))
        for name in ("eval_step", "eval_time", "val_loss"):
            del getattr(history, name)[n_eval:]
        self.save()
        path = self.config.checkpoint_path
        where = f"; checkpoint in {relpath(path)}" if path else ""
        print(
            f"Interrupted at step {self.step}/{self.config.max_steps}: returning the model and its "
            f"history so far{where}. Continue with train(model, batches, config, resume=result)."
        )


def _show_progress(bar, history: History) -> None:
    recent = history.train_loss[-50:]  # the bar's smoothed loss, O(1) per step
    postfix = {"loss": f"{sum(recent) / len(recent):.4f}"}
    if history.val_loss:
        postfix["val"] = f"{history.last_val_loss:.4f}"
    bar.set_postfix(postfix, refresh=False)
    bar.update(1)


def _print_summary(config: TrainConfig, history: History, step: int) -> None:
    """A plain line that stays readable where the bar's widget does not (GitHub, HTML, PDF)."""
    if config.progress and history.step:
        print(
            f"{config.desc}: {step}/{config.max_steps} steps in {history.time[-1]:.1f} s, "
            f"train loss {history.smoothed_train_loss(50)[-1]:.4f}"
            + (f", val loss {history.last_val_loss:.4f}" if history.val_loss else "")
        )


# --- checkpoints ----------------------------------------------------------------------------


class CheckpointError(RuntimeError):
    """A checkpoint is missing, corrupt, truncated, or does not fit the model."""


def _config_dict(config) -> dict | None:
    if config is None:
        return None
    if is_dataclass(config):
        return asdict(config)
    if isinstance(config, dict):
        return dict(config)
    raise TypeError(f"config must be a dataclass or dict, got {type(config).__name__}")


def _rng_state() -> dict:
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached),
    }


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))


def save_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    step: int = 0,
    history: History | None = None,
    config=None,
    train_config: TrainConfig | None = None,
    extra: dict | None = None,
) -> Path:
    """Write a checkpoint atomically: to a temporary file in the same folder, then renamed over
    ``path``, so an interrupted save never leaves a half-written checkpoint behind.

    It holds the model's state dict, the optimizer's, the step, the history, the model config
    (a dataclass or dict), the random state and ``extra`` (tensors and plain Python values)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "step": int(step),
        "history": (history or History()).to_dict(),
        "config": _config_dict(config),
        "train_config": _config_dict(train_config),
        "rng": _rng_state(),
        "extra": extra or {},
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def load_checkpoint(
    path: str | os.PathLike,
    model: torch.nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    *,
    config=None,
    map_location: str | torch.device = "cpu",
    restore_rng: bool = False,
) -> dict:
    """Load a checkpoint written by :func:`save_checkpoint`, with ``torch.load(weights_only=True)``.

    With ``model`` (and ``optimizer``), their states are restored. With ``config``, the saved
    model config must match it; otherwise the error lists each field that differs. Returns the
    checkpoint dict. Raises :class:`CheckpointError` naming the problem and what to do."""
    path = Path(path)
    _check_exists(path)
    ckpt = _torch_load(path, map_location)
    _check_format(path, ckpt)
    _check_config(path, ckpt.get("config"), config)
    if model is not None:
        _check_fits(path, model, ckpt["model"])
        model.load_state_dict(ckpt["model"])
    if optimizer is not None:
        _check_has_optimizer(path, ckpt)
        optimizer.load_state_dict(ckpt["optimizer"])
    if restore_rng:
        _set_rng_state(ckpt["rng"])
    return ckpt


def _torch_load(path: Path, map_location) -> dict:
    """``torch.load``, with a file it cannot read (corrupt, truncated, empty) reported as such."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (
        RuntimeError,
        EOFError,
        OSError,
        ValueError,
        pickle.UnpicklingError,
        zipfile.BadZipFile,
    ) as e:
        first_line = (str(e).splitlines() or ["empty file"])[0][:200]
        raise CheckpointError(
            f"{relpath(path)} is corrupt or truncated and cannot be loaded ({type(e).__name__}: "
            f"{first_line}). Delete it and train again, or load an earlier checkpoint."
        ) from e


# --- checks ---------------------------------------------------------------------------------


def _check_same_model(resume: TrainResult, model: torch.nn.Module) -> None:
    if resume.model is not model:
        raise ValueError(
            "resume=result must continue the same model object: pass result.model as the model"
        )


def _check_loss_by_position_args(ids: torch.Tensor, block_size: int, batch_size: int) -> None:
    for name, value in (("block_size", block_size), ("batch_size", batch_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if ids.dim() != 1:
        raise ValueError(f"ids must be 1-D token ids, got shape {tuple(ids.shape)}")
    if len(ids) < block_size + 1:
        raise ValueError(
            f"ids has {len(ids)} tokens, fewer than one window of block_size + 1 = "
            f"{block_size + 1}: pass a longer text or a smaller block_size"
        )


def _check_exists(path: Path) -> None:
    if not path.exists():
        raise CheckpointError(
            f"no checkpoint at {relpath(path)}: train with TrainConfig(checkpoint_path=...) to "
            "write one, or check the path"
        )


def _check_format(path: Path, ckpt) -> None:
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT or "model" not in ckpt:
        raise CheckpointError(
            f"{relpath(path)} is not a course_lib checkpoint (expected format "
            f"{CHECKPOINT_FORMAT!r}); write one with save_checkpoint()"
        )


def _check_config(path: Path, saved: dict | None, config) -> None:
    """The saved model config must equal ``config`` (when both are known)."""
    wanted = _config_dict(config)
    if wanted is not None and isinstance(saved, dict) and is_dataclass(config):
        # a field added to the config class after the checkpoint was written reads as its
        # default (which keeps the old behaviour), not as a difference
        defaults = {f.name: f.default for f in fields(config) if f.default is not MISSING}
        saved = {**{k: v for k, v in defaults.items() if k not in saved}, **saved}
    if wanted is not None and saved is not None and wanted != saved:
        diffs = [
            f"{k}: checkpoint {saved.get(k, '<absent>')!r}, model {wanted.get(k, '<absent>')!r}"
            for k in sorted(set(wanted) | set(saved))
            if wanted.get(k) != saved.get(k)
        ]
        raise CheckpointError(
            f"{relpath(path)} was saved with a different config; fields that "
            f"differ: {'; '.join(diffs)}. Build the model with the "
            "checkpoint's config (ckpt['config']) or train a new one."
        )


def _check_fits(path: Path, model: torch.nn.Module, state: dict) -> None:
    problems = _state_dict_problems(model, state)
    if problems:
        raise CheckpointError(
            f"{relpath(path)} does not fit this model: "
            + "; ".join(problems)
            + ". Build the model with the config the checkpoint was saved with."
        )


def _state_dict_problems(model: torch.nn.Module, state: dict) -> list[str]:
    """Each parameter or buffer missing on one side, and each shape that differs."""
    own = model.state_dict()
    problems = []
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing:
        problems.append(
            f"missing from the checkpoint: {', '.join(missing[:8])}"
            + (" ..." if len(missing) > 8 else "")
        )
    if unexpected:
        problems.append(
            f"not in the model: {', '.join(unexpected[:8])}"
            + (" ..." if len(unexpected) > 8 else "")
        )
    for k in own:
        if (
            k in state
            and hasattr(state[k], "shape")
            and tuple(state[k].shape) != tuple(own[k].shape)
        ):
            problems.append(f"{k}: checkpoint {tuple(state[k].shape)}, model {tuple(own[k].shape)}")
    return problems


def _check_has_optimizer(path: Path, ckpt: dict) -> None:
    if ckpt.get("optimizer") is None:
        raise CheckpointError(
            f"{relpath(path)} holds no optimizer state: it cannot resume training, only load "
            "weights (pass no optimizer)"
        )
