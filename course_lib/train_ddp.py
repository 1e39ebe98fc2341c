"""Scaling out: lesson 05's training run with data parallelism (DistributedDataParallel).

The same script runs as one process or as many; ``torchrun`` starts the copies and tells each its
rank. The idea in four moves:

1. **shard**: every rank builds the same model from the same seed, draws the same *global* batch
   for each step and keeps only its rows ``rank::world_size`` (:func:`shard`);
2. **wrap**: ``DistributedDataParallel`` averages the gradients across ranks during
   ``backward()``, so every rank takes the step one process would take on the whole global
   batch (up to float rounding);
3. **all-reduce the loss**: the logged loss is the mean over all ranks, so the curves of any
   number of processes compare directly (:func:`_global_mean_loss`);
4. **rank 0 writes**: only global rank 0 saves ``history.json`` (the per-step loss, learning rate,
   timings and the run's settings) and ``checkpoint.pt`` (the unwrapped model, via
   :func:`course_lib.train.save_checkpoint`) into ``out_dir``.

The training loop is the course's one loop, :func:`course_lib.train.train`, unchanged. One
:class:`DDPOptions` holds a run's settings; :func:`run` trains as this process's rank,
:func:`train_single` runs the same training alone in the calling process. One process, then two
on this machine's CPU cores (backend gloo; on GPUs each rank takes ``cuda:LOCAL_RANK`` and the
backend is nccl)::

    python -m course_lib.train_ddp --steps 200 --global-batch-size 16 --out runs/single
    torchrun --nproc_per_node=2 -m course_lib.train_ddp --steps 200 --global-batch-size 16 \\
        --out runs/ddp2

The command line, the commands for many GPUs and nodes, and :func:`course_lib.ddp_launch.launch`
(torchrun in a subprocess, for a notebook) live in :mod:`course_lib.ddp_launch`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from .data import shakespeare_char_data
from .runs import GPTRecipe
from .runtime import by_mode, get_device, relpath, seed_everything
from .train import lm_loss, save_checkpoint, train

__all__ = [
    "RECIPES",
    "DDPOptions",
    "ShardedBatches",
    "shard",
    "check_world",
    "run",
    "run_ranks",
    "wrap_for_ranks",
    "train_single",
    "loss_difference",
]

RECIPES: dict[str, GPTRecipe] = {
    # lesson 05's GPT (2 layers, width 128) with AdamW alone, global batch 16 x 64 characters:
    # the recipe lesson 06's overlay was measured with (lesson 05 itself now trains the blocks'
    # matrices with Muon; an optimizer that only sums averaged gradients keeps the comparison
    # with one process to rounding)
    "lesson05": GPTRecipe(optim="adamw", batch_size=16, steps=4000),
    # a model small enough that a two-process run starts, trains and stops in a few seconds
    "tiny": GPTRecipe(
        n_layer=1,
        n_head=2,
        n_embd=32,
        block_size=32,
        batch_size=8,
        warmup_steps=5,
        eval_batch_size=16,
        eval_batches=2,
        optim="adamw",
    ),
}
"""The runs ``model`` can name: the recipe fixes the model and schedule; :class:`DDPOptions`
may change the global batch size, learning rate, block size, seed and step count."""

CHECKPOINT_NAME = "checkpoint.pt"
HISTORY_NAME = "history.json"


@dataclass(frozen=True)
class DDPOptions:
    """One run's settings, the same for every rank (and for the command line's flags: ``--steps``,
    ``--global-batch-size``, ``--out``, ...). ``None`` means "the recipe's"."""

    steps: int | None = None  # optimisation steps (None: the recipe's, in fast mode its fast_steps)
    out_dir: str | os.PathLike | None = None  # rank 0 writes history.json and checkpoint.pt here
    model: str = "lesson05"  # a name in RECIPES
    global_batch_size: int | None = None  # rows per step over all ranks; divisible by their number
    lr: float | None = None  # peak learning rate
    block_size: int | None = None  # characters per row
    seed: int | None = None
    eval_every: int | None = None  # 0 turns evaluation off
    log_every: int | None = None  # print the loss every N steps (None: 10 times a run; 0: never)
    device: str = "cpu"  # "cpu", "cuda" or "auto" (a GPU per rank when there are enough, else cpu)
    threads: int | None = None  # torch threads per rank (None: under torchrun, cores / ranks)
    progress: bool = False  # a progress bar on rank 0
    checkpoint: bool = True  # rank 0 also writes checkpoint.pt
    verbose: bool = True  # rank 0 prints the set-up, the loss every log_every steps and the end

    def __post_init__(self):
        _check_options(self)

    def replace(self, **changes) -> DDPOptions:
        return dataclasses.replace(self, **changes)

    def recipe(self, world_size: int = 1) -> GPTRecipe:
        """``RECIPES[model]`` with these changes; its ``batch_size`` is the global batch size (all
        ranks together). Raises ``ValueError`` unless ``world_size`` divides its batches."""
        changes = dict(
            batch_size=self.global_batch_size,
            lr=self.lr,
            block_size=self.block_size,
            seed=self.seed,
        )
        recipe = RECIPES[self.model].replace(**{k: v for k, v in changes.items() if v is not None})
        if recipe.min_lr > recipe.lr:  # the cosine ends at a tenth of a smaller lr
            recipe = recipe.replace(min_lr=recipe.lr / 10)
        check_world(recipe.batch_size, world_size)
        check_world(recipe.eval_batch_size, world_size, what="validation batch size")
        return recipe


# --- the data: one global batch per step, a shard per rank ----------------------------------


def shard(batch, rank: int, world_size: int):
    """Rank ``rank``'s rows of a global batch: rows ``rank, rank + world_size, ...`` of every
    tensor in ``batch`` (a tensor ``(B, ...)``, or a tuple/list of them), so ``(B / world_size,
    ...)`` each. The shards of ranks ``0 .. world_size - 1`` hold each row exactly once."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank}")
    if isinstance(batch, torch.Tensor):
        check_world(batch.size(0), world_size, what="batch size")
        return batch[rank::world_size]
    if isinstance(batch, tuple | list):
        return type(batch)(shard(b, rank, world_size) for b in batch)
    raise TypeError(f"a batch must be a tensor or a tuple of tensors, got {type(batch).__name__}")


class ShardedBatches:
    """``batches(split, step)`` for :func:`course_lib.train.train` that returns this rank's shard
    of the global batch ``global_batches(split, step)``.

    The global batch is a pure function of ``(seed, split, step)``
    (:class:`~course_lib.data.LMBatcher`), so every rank draws the same one and keeps its own
    rows; with ``world_size=1`` this is the global batch itself."""

    def __init__(self, global_batches, rank: int = 0, world_size: int = 1):
        self.global_batches, self.rank, self.world_size = global_batches, rank, world_size

    def __call__(self, split: str, step: int):
        return shard(self.global_batches(split, step), self.rank, self.world_size)

    def __repr__(self) -> str:
        return f"ShardedBatches(rank {self.rank} of {self.world_size}, {self.global_batches!r})"


# --- one rank's training --------------------------------------------------------------------


def run(options: DDPOptions) -> dict:
    """Train as this process's rank: one of torchrun's processes (``RANK``, ``WORLD_SIZE`` in the
    environment) or, without them, the only one. Returns the result dict of
    :func:`train_single` on every rank; rank 0 also writes it to ``out_dir/history.json``."""
    env = torchrun_ranks()
    options.recipe(env[1] if env else 1)  # a bad world fails before any process group starts

    def work(dev, *, rank, world, backend):
        return _train_rank(
            options, options.recipe(world), dev, rank=rank, world=world, backend=backend
        )

    return run_ranks(work, device=options.device, threads=options.threads)


def run_ranks(work, *, device: str = "auto", threads: int | None = None):
    """Call ``work(dev, rank=..., world=..., backend=...)`` as this process's rank and return what
    it returns: under torchrun (``RANK``, ``WORLD_SIZE`` ... in the environment) inside a process
    group (gloo on CPUs, nccl on GPUs; every rank waits at a barrier until all are done, so rank
    0 can write first), alone without one (``rank=0, world=1, backend=None``).

    ``device``: ``"cpu"``, ``"cuda"`` or ``"auto"`` (a GPU per local rank when there are GPUs).
    ``threads``: torch threads per process; ``None``: the cores shared out between the ranks
    under torchrun on CPUs, torch's own default alone."""
    env = torchrun_ranks()
    rank, world, local_rank, local_world = env or (0, 1, 0, 1)
    dev = _pick_device(device, local_rank, local_world)
    if threads is None and env is not None and dev.type == "cpu":
        threads = max(1, _cpu_cores() // local_world)  # 1 per rank on 2 cores
    if threads is not None:
        torch.set_num_threads(threads)
    if env is None:
        return work(dev, rank=0, world=1, backend=None)

    import torch.distributed as dist

    backend = "nccl" if dev.type == "cuda" else "gloo"
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dist.init_process_group(backend=backend, rank=rank, world_size=world)
    try:
        result = work(dev, rank=rank, world=world, backend=backend)
        dist.barrier()  # every rank leaves once rank 0 has written its result
        return result
    finally:
        dist.destroy_process_group()


def wrap_for_ranks(net: torch.nn.Module, dev, world: int, backend: str | None):
    """``(model to train, loss function)`` for this rank: alone, ``net`` and ``lm_loss``; in a
    process group, ``net`` wrapped in ``DistributedDataParallel`` (it broadcasts rank 0's weights
    at construction, equal anyway with the same seed, and averages the gradients during
    ``backward()``) and a loss that is the mean over the *global* batch."""
    if backend is None:
        return net, lm_loss
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(net, device_ids=[dev.index] if dev.type == "cuda" else None), _global_mean_loss(
        world
    )


def _train_rank(options, recipe, dev, *, rank: int, world: int, backend: str | None) -> dict:
    """Build, wrap and train this rank's copy of the model on its shards; rank 0 writes."""
    steps = options.steps or by_mode(full=recipe.steps, fast=recipe.fast_steps)
    tok, train_ids, val_ids = shakespeare_char_data()
    seed_everything(recipe.seed)  # the same initial weights on every rank
    net = recipe.build_model(len(tok)).to(dev)
    optimizer = recipe.optimizer(net)
    evals = {"eval_every": options.eval_every} if options.eval_every is not None else {}
    config = recipe.train_config(
        steps, progress=options.progress and rank == 0, desc=f"GPT, {_processes(world)}", **evals
    )
    batches = ShardedBatches(recipe.batcher(train_ids, val_ids), rank, world)
    wrapped, loss_fn = wrap_for_ranks(net, dev, world, backend)
    say = options.verbose and rank == 0
    if say:
        print(
            f"{_processes(world)} ({backend or 'no backend'}, {dev}, {torch.get_num_threads()} "
            f"thread(s) each): global batch {recipe.batch_size} = {world} x "
            f"{recipe.batch_size // world} rows of {recipe.block_size} characters, {steps} "
            f"steps, model {options.model!r} ({net.num_parameters():,} parameters)",
            flush=True,
        )
    every = options.log_every if options.log_every is not None else max(1, steps // 10)
    start = time.perf_counter()
    result = train(
        wrapped,
        batches,
        config,
        loss_fn=loss_fn,
        optimizer=optimizer,
        model_config=net.config,
        on_step=_loss_printer(every if say else 0, steps),
    )
    seconds = time.perf_counter() - start
    summary = _summary(options, recipe, net, result, seconds, world=world, backend=backend, dev=dev)
    if rank == 0 and options.out_dir is not None:
        _write_results(Path(options.out_dir), summary, net, result, config, recipe, options)
    if say:
        h = result.history
        val = f", val loss {h.last_val_loss:.4f}" if h.val_loss else ""
        print(
            f"done: {result.step} steps in {seconds:.1f} s, final loss "
            f"{summary['final_loss']:.4f}{val}",
            flush=True,
        )
    return {**summary, "model_object": net}


def _global_mean_loss(world_size: int):
    """``loss_fn`` whose *value* is the mean loss over all ranks (what the history logs, so the
    curves of any number of processes compare directly) and whose *gradient* is this rank's own
    loss's: DDP's gradient averaging then gives the gradient of the global mean."""
    import torch.distributed as dist

    def loss_fn(model, batch):
        local = lm_loss(model, batch)
        total = local.detach().clone()
        dist.all_reduce(total)  # the sum over ranks, on every rank
        return local + (total / world_size - local.detach())

    return loss_fn


def _write_results(out: Path, summary: dict, net, result, config, recipe, options) -> None:
    """Rank 0's files: the checkpoint (of the unwrapped model), then ``history.json`` with its
    path, written whole and renamed so that a reader never sees half a file."""
    out.mkdir(parents=True, exist_ok=True)
    if options.checkpoint:
        path = save_checkpoint(
            out / CHECKPOINT_NAME,
            net,  # not the DDP wrapper: its state dict has no "module." prefix
            result.optimizer,
            step=result.step,
            history=result.history,
            config=net.config,
            train_config=config,
            extra={"recipe": recipe.to_dict(), "world_size": summary["world_size"]},
        )
        summary["checkpoint"] = relpath(path)
    tmp = out / f".{HISTORY_NAME}.tmp"
    tmp.write_text(json.dumps(summary, indent=1))
    os.replace(tmp, out / HISTORY_NAME)


def train_single(options: DDPOptions | None = None, **changes) -> dict:
    """The same run as :func:`course_lib.ddp_launch.launch`, in this process alone: the whole
    global batch each step. ``changes`` are :class:`DDPOptions` fields (``steps=200``,
    ``out_dir=...``); without ``options`` the run shows a progress bar instead of loss lines.

    Returns ``{"history": {"step", "loss", "lr", "time", "grad_norm", "val_step", "val_loss"},
    "seconds", "world_size", "log", "checkpoint", ...}``: ``seconds`` is the wall time of the
    training loop (evaluations included, start-up and data loading left out), ``checkpoint``
    the checkpoint's path (relative to the repository when inside it) or None without
    ``out_dir``, and ``model_object`` the trained model. Uses this process's torch threads, or
    ``threads`` for this run only (one thread is the steadier choice on a busy machine)."""
    options = (options or DDPOptions(log_every=0, progress=True)).replace(**changes)
    if torchrun_ranks() is not None:
        raise RuntimeError(
            "train_single() runs one process, but this one was started by torchrun "
            "(RANK/WORLD_SIZE are set): call run() instead"
        )
    before = torch.get_num_threads()
    start = time.perf_counter()
    try:
        result = run(options)
    finally:
        torch.set_num_threads(before)
    return {**result, "wall_seconds": time.perf_counter() - start, "log": ""}


def loss_difference(a: dict, b: dict) -> dict:
    """How far two runs' per-step losses are apart: ``max_abs`` and ``max_rel`` (relative to
    ``a``'s loss) over the steps both logged, the ``step`` where the absolute difference is
    largest, and both runs' final losses and ``seconds``."""
    la, lb = a["history"]["loss"], b["history"]["loss"]
    n = min(len(la), len(lb))
    if n == 0:
        raise ValueError("the runs logged no common steps")
    diffs = [abs(x - y) for x, y in zip(la[:n], lb[:n], strict=True)]
    rels = [d / max(abs(x), 1e-12) for d, x in zip(diffs, la, strict=False)]
    i = max(range(n), key=diffs.__getitem__)
    return {
        "steps": n,
        "max_abs": max(diffs),
        "max_rel": max(rels),
        "step": a["history"]["step"][i],
        "final_a": la[n - 1],
        "final_b": lb[n - 1],
        "seconds_a": a.get("seconds"),
        "seconds_b": b.get("seconds"),
    }


# --- the run's record, the rank's environment -----------------------------------------------


def _summary(options, recipe, net, result, seconds, *, world, backend, dev) -> dict:
    """What ``history.json`` holds: the per-step history and the run's settings."""
    h = result.history
    return {
        "history": {
            "step": h.step,
            "loss": h.train_loss,
            "lr": h.lr,
            "time": h.time,
            "grad_norm": h.grad_norm,
            "val_step": h.eval_step,
            "val_loss": h.val_loss,
        },
        "seconds": seconds,
        "world_size": world,
        "checkpoint": None,  # rank 0 fills it in when it writes one
        "steps": result.step,
        "model": options.model,
        "global_batch_size": recipe.batch_size,
        "per_rank_batch_size": recipe.batch_size // world,
        "block_size": recipe.block_size,
        "lr": recipe.lr,
        "seed": recipe.seed,
        "backend": backend,
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "params": net.num_parameters(),
        "final_loss": h.train_loss[-1] if h.train_loss else math.nan,
        "torch": torch.__version__,
    }


def _loss_printer(every: int, steps: int):
    """``on_step`` for :func:`~course_lib.train.train`: the loss every ``every`` steps and at the
    last one (never when ``every`` is 0)."""

    def on_step(step: int, loss: float) -> None:
        if every and (step % every == 0 or step == steps):
            print(f"step {step:>5}/{steps}: loss {loss:.4f}", flush=True)

    return on_step


def _processes(world: int) -> str:
    return f"{world} process{'es' if world > 1 else ''}"


def torchrun_ranks() -> tuple[int, int, int, int] | None:
    """``(rank, world_size, local_rank, local_world_size)`` when started by torchrun, else None."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return None
    world = int(os.environ["WORLD_SIZE"])
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", world))
    return int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", 0)), local_world


def _cpu_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _pick_device(device: str, local_rank: int, local_world: int) -> torch.device:
    """The rank's device: ``cuda:LOCAL_RANK`` for ``"cuda"``, and for ``"auto"`` when this node
    has a GPU per rank; else ``device`` itself (``"auto"``: the CPU, as DDP does not run on mps)."""
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device == "auto":
        device = "cuda" if gpus >= local_world else "cpu"
    if device != "cuda":
        return get_device(device)
    get_device("cuda")  # says what is available when CUDA is not
    if gpus < local_world:
        raise RuntimeError(
            f"{local_world} processes on this node but {gpus} GPU(s): nccl needs one GPU per "
            "process; start fewer (--nproc_per_node)"
        )
    return torch.device("cuda", local_rank)


# --- checks ---------------------------------------------------------------------------------


def check_world(global_batch_size: int, world_size: int, *, what: str = "global batch size"):
    """Raise ``ValueError`` unless ``world_size >= 1`` and divides ``global_batch_size``."""
    if not isinstance(world_size, int) or isinstance(world_size, bool) or world_size < 1:
        raise ValueError(
            f"the number of processes must be an int >= 1, got {world_size!r} "
            "(nproc=1 is one process; use nproc=2 for two)"
        )
    if global_batch_size < 1:
        raise ValueError(f"the {what} must be >= 1, got {global_batch_size}")
    if global_batch_size % world_size:
        lower = global_batch_size - global_batch_size % world_size
        upper = lower + world_size
        nearest = f"{lower} or {upper}" if lower >= world_size else f"{upper}"
        raise ValueError(
            f"the {what} ({global_batch_size}) is not divisible by the number of processes "
            f"({world_size}): each process takes {what} / {world_size} rows of every batch. "
            f"Use a {what} of {nearest}, or another number of processes"
        )


def _check_options(o: DDPOptions) -> None:
    if o.model not in RECIPES:
        raise ValueError(f"unknown model {o.model!r}: use one of {', '.join(RECIPES)}")
    if o.steps is not None and o.steps < 1:
        raise ValueError(f"steps must be >= 1, got {o.steps}")
    if o.lr is not None and o.lr <= 0:
        raise ValueError(f"lr must be > 0, got {o.lr}")


if __name__ == "__main__":  # torchrun ... -m course_lib.train_ddp: the command line's own module
    from course_lib.ddp_launch import script_main

    script_main()
