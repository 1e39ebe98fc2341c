"""Scaling out: lesson 05's training run with data parallelism (DistributedDataParallel).

The same script runs as one process or as many; ``torchrun`` starts the copies and tells each its
rank. Every process (rank) builds the same model from the same seed, draws the same *global*
batch for each step and keeps only its rows ``rank::world_size``; DDP averages the gradients
across ranks during ``backward()``, so every rank takes exactly the step one process would take
on the whole global batch (up to float rounding). The training loop is the course's one loop,
:func:`course_lib.train.train`, unchanged.

One process, then two on this machine's CPU cores (backend gloo)::

    python -m course_lib.train_ddp --steps 200 --global-batch-size 16 --out runs/single
    torchrun --nproc_per_node=2 -m course_lib.train_ddp --steps 200 --global-batch-size 16 \\
        --out runs/ddp2

(``python -m torch.distributed.run`` is ``torchrun`` when the command is not on your PATH.) From
Python or a notebook, :func:`launch` runs the ``torchrun`` command in a subprocess and
:func:`train_single` runs the same training in the calling process::

    from course_lib import train_ddp
    ddp = train_ddp.launch(nproc=2, steps=200, out_dir="runs/ddp2")
    single = train_ddp.train_single(steps=200, out_dir="runs/single")
    train_ddp.plot_overlay(single, ddp)

Going to GPUs and many nodes, with the same script. With CUDA, each rank takes the GPU
``cuda:LOCAL_RANK`` and the backend becomes nccl (``--device auto``, the default); one process
per GPU::

    # one machine with 8 GPUs: global batch 256 = 8 ranks x 32 rows
    torchrun --nproc_per_node=8 -m course_lib.train_ddp --steps 5000 --global-batch-size 256 \\
        --out runs/gpu8

    # two machines with 8 GPUs each; run on both, --node_rank 0 on the one at 10.0.0.1
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=8 \\
        --master_addr=10.0.0.1 --master_port=29500 -m course_lib.train_ddp ...
    torchrun --nnodes=2 --node_rank=1 --nproc_per_node=8 \\
        --master_addr=10.0.0.1 --master_port=29500 -m course_lib.train_ddp ...

    # or elastic rendezvous (node ranks assigned on arrival, restarts survive a lost node)
    torchrun --nnodes=2 --nproc_per_node=8 --rdzv_backend=c10d \\
        --rdzv_endpoint=10.0.0.1:29500 --rdzv_id=shakespeare1 -m course_lib.train_ddp ...

Every node needs the repository (code and ``data/``) and the same PyTorch; only global rank 0
writes ``history.json`` and the checkpoint, on its own disk. A larger global batch usually wants
a larger learning rate (``--lr``); the step count then counts bigger steps.

What ``--out DIR`` receives (rank 0 only): ``history.json`` (the per-step global-mean loss,
learning rate, timings and the run's settings) and ``checkpoint.pt`` (the unwrapped model, the
optimizer and the history, via :func:`course_lib.train.save_checkpoint`; load it with
:func:`course_lib.train.load_checkpoint`).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch

from .data import shakespeare_char_data
from .runs import GPTRecipe
from .runtime import REPO_ROOT, by_mode, get_device, relpath, seed_everything
from .train import History, lm_loss, save_checkpoint, train

__all__ = [
    "RECIPES",
    "ShardedBatches",
    "shard",
    "check_world",
    "recipe_for",
    "run",
    "train_single",
    "launch",
    "torchrun_command",
    "loss_difference",
    "plot_overlay",
    "main",
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
"""The runs ``--model`` can name: the recipe fixes the model and schedule; the command line may
change the global batch size, learning rate, block size, seed and step count."""

CHECKPOINT_NAME = "checkpoint.pt"
HISTORY_NAME = "history.json"


# --- the data: one global batch per step, a shard per rank ----------------------------------


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


def shard(batch, rank: int, world_size: int):
    """Rank ``rank``'s rows of a global batch: rows ``rank, rank + world_size, ...`` of every
    tensor in ``batch`` (a tensor, or a tuple/list of tensors ``(B, ...)``). The shards of ranks
    ``0 .. world_size - 1`` together hold each row of the batch exactly once."""
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
        check_world(world_size, world_size)
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank}")
        self.global_batches, self.rank, self.world_size = global_batches, rank, world_size

    def __call__(self, split: str, step: int):
        return shard(self.global_batches(split, step), self.rank, self.world_size)

    def __repr__(self) -> str:
        return (
            f"ShardedBatches(rank {self.rank} of {self.world_size}, global={self.global_batches!r})"
        )


def recipe_for(
    model: str = "lesson05",
    *,
    global_batch_size: int | None = None,
    lr: float | None = None,
    block_size: int | None = None,
    seed: int | None = None,
) -> GPTRecipe:
    """The recipe ``RECIPES[model]`` with the command line's changes; its ``batch_size`` is the
    global batch size (all ranks together)."""
    if model not in RECIPES:
        raise ValueError(f"unknown model {model!r}: use one of {', '.join(RECIPES)}")
    changes = {
        "batch_size": global_batch_size,
        "lr": lr,
        "block_size": block_size,
        "seed": seed,
    }
    recipe = RECIPES[model].replace(**{k: v for k, v in changes.items() if v is not None})
    if recipe.lr <= 0:
        raise ValueError(f"lr must be > 0, got {recipe.lr}")
    if recipe.min_lr > recipe.lr:  # the cosine ends at a tenth of a smaller lr
        recipe = recipe.replace(min_lr=recipe.lr / 10)
    return recipe


# --- one rank's training --------------------------------------------------------------------


def _dist_env() -> tuple[int, int, int, int] | None:
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
    """``auto``: a GPU per rank when there are enough of them, else the CPU (DDP does not run on
    mps)."""
    if device == "auto":
        if torch.cuda.is_available() and torch.cuda.device_count() >= local_world:
            return torch.device("cuda", local_rank)
        return torch.device("cpu")
    if device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda was asked for but CUDA is not available here")
        if torch.cuda.device_count() < local_world:
            raise RuntimeError(
                f"{local_world} processes on this node but {torch.cuda.device_count()} GPU(s): "
                "nccl needs one GPU per process; start fewer (--nproc_per_node)"
            )
        return torch.device("cuda", local_rank)
    return get_device(device)


def _global_mean_loss(world_size: int):
    """``loss_fn`` whose *value* is the mean loss over all ranks (what the history logs, so the
    curves of any number of processes compare directly) and whose *gradient* is this rank's own
    loss's: DDP's gradient averaging then gives the gradient of the global mean."""
    import torch.distributed as dist

    def loss_fn(model, batch):
        local = lm_loss(model, batch)
        total = local.detach().clone()
        dist.all_reduce(total)
        return local + (total / world_size - local.detach())

    return loss_fn


def _history_dict(h: History) -> dict:
    return {
        "step": h.step,
        "loss": h.train_loss,
        "lr": h.lr,
        "time": h.time,
        "grad_norm": h.grad_norm,
        "val_step": h.eval_step,
        "val_loss": h.val_loss,
    }


def run(
    *,
    steps: int | None = None,
    out_dir: str | os.PathLike | None = None,
    model: str = "lesson05",
    global_batch_size: int | None = None,
    lr: float | None = None,
    block_size: int | None = None,
    seed: int | None = None,
    eval_every: int | None = None,
    log_every: int | None = None,
    device: str = "auto",
    threads: int | None = None,
    progress: bool = False,
    checkpoint: bool = True,
    verbose: bool = True,
) -> dict:
    """Train as this process's rank: one of torchrun's processes (``RANK``, ``WORLD_SIZE`` in
    the environment) or, without them, the only one. Returns the result dict of
    :func:`train_single` on every rank; rank 0 also writes it to ``out_dir/history.json``."""
    env = _dist_env()
    rank, world, local_rank, local_world = env or (0, 1, 0, 1)
    recipe = recipe_for(
        model, global_batch_size=global_batch_size, lr=lr, block_size=block_size, seed=seed
    )
    check_world(recipe.batch_size, world)
    check_world(recipe.eval_batch_size, world, what="validation batch size")
    steps = steps or by_mode(full=recipe.steps, fast=recipe.fast_steps)
    dev = _pick_device(device, local_rank, local_world)
    if threads is None and env is not None and dev.type == "cpu":
        threads = max(1, _cpu_cores() // local_world)  # 1 per rank on 2 cores
    if threads is not None:
        torch.set_num_threads(threads)

    distributed = env is not None
    backend = None
    if distributed:
        import torch.distributed as dist

        backend = "nccl" if dev.type == "cuda" else "gloo"
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    try:
        tok, train_ids, val_ids = shakespeare_char_data()
        seed_everything(recipe.seed)
        net = recipe.build_model(len(tok)).to(dev)
        optimizer = recipe.optimizer(net)
        config = recipe.train_config(
            steps,
            progress=progress and rank == 0,
            desc=f"GPT, {world} process{'es' if world > 1 else ''}",
            **({"eval_every": eval_every} if eval_every is not None else {}),
        )
        batches = ShardedBatches(recipe.batcher(train_ids, val_ids), rank, world)
        loss_fn = lm_loss
        wrapped = net
        if distributed:
            from torch.nn.parallel import DistributedDataParallel as DDP

            # DDP broadcasts rank 0's weights at construction (they are equal anyway: same
            # seed) and averages the gradients during backward()
            wrapped = DDP(net, device_ids=[dev.index] if dev.type == "cuda" else None)
            loss_fn = _global_mean_loss(world)
        every = log_every if log_every is not None else max(1, steps // 10)

        def on_step(step: int, loss: float) -> None:
            if verbose and rank == 0 and every and (step % every == 0 or step == steps):
                print(f"step {step:>5}/{steps}: loss {loss:.4f}", flush=True)

        if verbose and rank == 0:
            per_rank = recipe.batch_size // world
            print(
                f"{world} process{'es' if world > 1 else ''} ({backend or 'no backend'}, "
                f"{dev}, {torch.get_num_threads()} thread(s) each): global batch "
                f"{recipe.batch_size} = {world} x {per_rank} rows of {recipe.block_size} "
                f"characters, {steps} steps, model {model!r} "
                f"({net.num_parameters():,} parameters)",
                flush=True,
            )
        start = time.perf_counter()
        result = train(
            wrapped,
            batches,
            config,
            loss_fn=loss_fn,
            optimizer=optimizer,
            model_config=net.config,
            on_step=on_step,
        )
        seconds = time.perf_counter() - start
        history = result.history

        ckpt = None
        out = Path(out_dir) if out_dir is not None else None
        if rank == 0 and out is not None:
            out.mkdir(parents=True, exist_ok=True)
            if checkpoint:
                path = save_checkpoint(
                    out / CHECKPOINT_NAME,
                    net,  # the unwrapped model: its state dict has no "module." prefix
                    optimizer,
                    step=result.step,
                    history=history,
                    config=net.config,
                    train_config=config,
                    extra={"recipe": recipe.to_dict(), "world_size": world},
                )
                ckpt = relpath(path)
        summary = {
            "history": _history_dict(history),
            "seconds": seconds,
            "world_size": world,
            "checkpoint": ckpt,
            "steps": result.step,
            "model": model,
            "global_batch_size": recipe.batch_size,
            "per_rank_batch_size": recipe.batch_size // world,
            "block_size": recipe.block_size,
            "lr": recipe.lr,
            "seed": recipe.seed,
            "backend": backend,
            "device": str(dev),
            "threads": torch.get_num_threads(),
            "params": net.num_parameters(),
            "final_loss": history.train_loss[-1] if history.train_loss else math.nan,
            "torch": torch.__version__,
        }
        if verbose and rank == 0:
            print(
                f"done: {result.step} steps in {seconds:.1f} s, final loss "
                f"{summary['final_loss']:.4f}"
                + (f", val loss {history.last_val_loss:.4f}" if history.val_loss else ""),
                flush=True,
            )
        if rank == 0 and out is not None:
            tmp = out / f".{HISTORY_NAME}.tmp"
            tmp.write_text(json.dumps(summary, indent=1))
            os.replace(tmp, out / HISTORY_NAME)
        summary["trained_model"] = net
        if distributed:
            dist.barrier()  # every rank leaves once rank 0 has written its result
        return summary
    finally:
        if distributed:
            import torch.distributed as dist

            dist.destroy_process_group()


def train_single(
    steps: int | None = None,
    out_dir: str | os.PathLike | None = None,
    *,
    model: str = "lesson05",
    global_batch_size: int | None = None,
    lr: float | None = None,
    block_size: int | None = None,
    seed: int | None = None,
    eval_every: int | None = None,
    log_every: int | None = 0,
    device: str = "cpu",
    threads: int | None = None,
    progress: bool = True,
    checkpoint: bool = True,
    verbose: bool = True,
) -> dict:
    """The same run as :func:`launch`, in this process alone: the whole global batch each step.

    Returns ``{"history": {"step", "loss", "lr", "time", "grad_norm", "val_step", "val_loss"},
    "seconds", "world_size", "log", "checkpoint", ...}``: ``seconds`` is the wall time of the
    training loop (evaluations included, start-up and data loading left out), ``checkpoint``
    the checkpoint's path (relative to the repository when inside it) or None without
    ``out_dir``, and ``model_object`` the trained model. Uses this process's torch threads, or
    ``threads`` for this run only (one thread is the steadier choice on a busy machine)."""
    if _dist_env() is not None:
        raise RuntimeError(
            "train_single() runs one process, but this one was started by torchrun "
            "(RANK/WORLD_SIZE are set): call run() instead"
        )
    before = torch.get_num_threads()
    start = time.perf_counter()
    try:
        result = run(
            steps=steps,
            out_dir=out_dir,
            model=model,
            global_batch_size=global_batch_size,
            lr=lr,
            block_size=block_size,
            seed=seed,
            eval_every=eval_every,
            log_every=log_every,
            device=device,
            threads=threads,
            progress=progress,
            checkpoint=checkpoint,
            verbose=verbose,
        )
    finally:
        torch.set_num_threads(before)
    result["model_object"] = result.pop("trained_model")
    result["wall_seconds"] = time.perf_counter() - start
    result["log"] = ""
    return result


# --- launching torchrun from Python ---------------------------------------------------------


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _require_torchrun() -> None:
    import torch.distributed as dist

    if not dist.is_available():
        raise RuntimeError(
            f"this PyTorch build ({torch.__version__}) has no torch.distributed, so torchrun "
            "cannot start: install the standard torch wheel, or use train_single()"
        )
    if importlib.util.find_spec("torch.distributed.run") is None:
        raise RuntimeError(
            "torchrun (the module torch.distributed.run) is missing from this PyTorch "
            f"({torch.__version__}): reinstall torch, or use train_single()"
        )
    if not dist.is_gloo_available() and not torch.cuda.is_available():
        raise RuntimeError(
            "this PyTorch build has neither the gloo backend (CPU) nor CUDA (nccl): "
            "multi-process training cannot run here; use train_single()"
        )


def _cli_args(**kw) -> list[str]:
    args = []
    for name, value in kw.items():
        if value is None:
            continue
        flag = "--" + name.replace("_", "-")
        if value is True:
            args.append(flag)
        elif value is False:
            args.append("--no-" + name.replace("_", "-"))
        else:
            args += [flag, str(value)]
    return args


def torchrun_command(nproc: int, script_args: list[str], *, port: int | None = None) -> list[str]:
    """The command :func:`launch` runs: ``python -m torch.distributed.run`` (``torchrun``, with
    this interpreter, so the same environment's torch) on one node, everything on 127.0.0.1."""
    check_world(nproc, nproc)
    port = port or _free_port()
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        f"--nproc_per_node={nproc}",
        "--master_addr=127.0.0.1",
        f"--master_port={port}",
        "--local_addr=127.0.0.1",
        "--max_restarts=0",
        "-m",
        "course_lib.train_ddp",
        *script_args,
    ]


def _run_streaming(cmd: list[str], env: dict, *, timeout: float | None, echo: bool):
    """Run ``cmd`` in its own process group, collecting (and with ``echo`` printing) its output;
    ``(returncode, output)``. On a timeout or an interrupt (Ctrl-C, a notebook's stop button)
    the whole group, torchrun and its workers, is stopped before the exception goes on."""
    import threading

    popen_kw = {"start_new_session": True} if os.name == "posix" else {}
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=str(REPO_ROOT) if REPO_ROOT.is_dir() else None,
        **popen_kw,
    )
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)
            if echo:
                print(line, end="", flush=True)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=timeout)
    except BaseException as e:
        if os.name == "posix":
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
        else:
            proc.kill()
        proc.wait()
        reader.join(timeout=5)
        if isinstance(e, subprocess.TimeoutExpired):
            raise RuntimeError(
                f"torchrun did not finish within {timeout} s and was stopped; its output "
                "ends:\n" + "".join(lines[-10:])
            ) from None
        raise
    reader.join()
    return proc.returncode, "".join(lines)


_ERROR_MARKERS = ("error", "terminate called", "what()", "exception", "abort", "traceback")


def _failure_excerpt(log: str, tail: int = 25) -> str:
    """The lines of a failed run's output that say why (a worker's own error, which torchrun's
    summary at the end does not repeat), then the end of the output."""
    lines = log.strip().splitlines()
    head = lines[:-tail] if len(lines) > tail else []
    causes = [ln for ln in head if any(m in ln.lower() for m in _ERROR_MARKERS)][:20]
    text = ""
    if causes:
        text += "the workers' error lines:\n" + "\n".join(causes) + "\n"
    return text + "the end of its output:\n" + "\n".join(lines[-tail:])


def launch(
    nproc: int = 2,
    steps: int | None = None,
    out_dir: str | os.PathLike | None = None,
    *,
    model: str = "lesson05",
    global_batch_size: int | None = None,
    lr: float | None = None,
    block_size: int | None = None,
    seed: int | None = None,
    eval_every: int | None = None,
    log_every: int | None = None,
    device: str = "cpu",
    threads: int | None = None,
    checkpoint: bool = True,
    timeout: float | None = None,
    echo: bool = False,
) -> dict:
    """Run ``torchrun --nproc_per_node=nproc -m course_lib.train_ddp ...`` in a subprocess and
    return rank 0's result (the same dict as :func:`train_single`, with ``log``: the processes'
    output, and ``wall_seconds``: the subprocess's wall time, start-up included).

    ``device="cpu"`` (the default) uses gloo on the CPU, ``torch.get_num_threads`` = cores /
    ``nproc`` per process; ``"auto"`` takes a GPU per process with nccl when there are enough.
    ``out_dir`` is required: rank 0 writes its result there. ``echo=True`` also prints the output
    as it comes. Raises ``ValueError`` for a bad ``nproc`` or batch size, ``RuntimeError`` when
    torchrun is missing, the run fails (with the end of its output) or takes longer than
    ``timeout`` seconds (then torchrun and its processes are stopped)."""
    check_world(nproc, nproc)
    recipe = recipe_for(
        model, global_batch_size=global_batch_size, lr=lr, block_size=block_size, seed=seed
    )
    check_world(recipe.batch_size, nproc)
    check_world(recipe.eval_batch_size, nproc, what="validation batch size")
    if out_dir is None:
        raise ValueError("launch() needs out_dir: rank 0 writes history.json there")
    _require_torchrun()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / HISTORY_NAME).unlink(missing_ok=True)  # never read a previous run's result
    script_args = ["--out", str(out.resolve())] + _cli_args(
        steps=steps,
        model=model,
        global_batch_size=global_batch_size,
        lr=lr,
        block_size=block_size,
        seed=seed,
        eval_every=eval_every,
        log_every=log_every,
        device=device,
        threads=threads,
        checkpoint=None if checkpoint else False,
    )
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    # torchrun would set 1 and warn about it; the script sets the real count per rank
    env.setdefault("OMP_NUM_THREADS", "1")
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")  # gloo talks over the loopback only
    elif sys.platform == "darwin":
        env.setdefault("GLOO_SOCKET_IFNAME", "lo0")
    env.setdefault("PYTHONUNBUFFERED", "1")

    for _attempt in range(3):  # the free port may be taken between choosing and binding it
        cmd = torchrun_command(nproc, script_args)
        start = time.perf_counter()
        returncode, log = _run_streaming(cmd, env, timeout=timeout, echo=echo)
        wall = time.perf_counter() - start
        if returncode == 0 or "address already in use" not in log.lower():
            break
    if returncode != 0:
        raise RuntimeError(
            f"the {nproc}-process run failed (torchrun exit code {returncode}); "
            f"{_failure_excerpt(log)}"
        )
    path = out / HISTORY_NAME
    if not path.exists():
        raise RuntimeError(
            f"the {nproc}-process run ended without writing {HISTORY_NAME} (rank 0's result); "
            f"its output ends:\n" + "\n".join(log.strip().splitlines()[-10:])
        )
    result = json.loads(path.read_text())
    result["log"] = log
    result["wall_seconds"] = wall
    return result


# --- comparing runs -------------------------------------------------------------------------


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


def plot_overlay(single: dict, ddp: dict, ax=None, *, title: str | None = None):
    """The two runs' loss curves on one plot, per step (the one-process run solid, the
    multi-process run dashed on top of it), with the largest difference in the title. Returns
    the matplotlib figure."""
    import matplotlib.pyplot as plt

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
    ax.legend()
    return fig


# --- the command line -----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m course_lib.train_ddp",
        description="Lesson 05's GPT on Shakespeare, on one process or many under torchrun "
        "(torchrun --nproc_per_node=2 -m course_lib.train_ddp ...).",
    )
    p.add_argument("--steps", type=int, default=None, help="optimisation steps (default: recipe)")
    p.add_argument(
        "--global-batch-size",
        type=int,
        default=None,
        help="rows per step over all processes; must divide by their number (default: recipe)",
    )
    p.add_argument("--out", required=True, help="folder for history.json and checkpoint.pt")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--block-size", type=int, default=None, help="characters per row")
    p.add_argument("--model", choices=sorted(RECIPES), default="lesson05")
    p.add_argument("--eval-every", type=int, default=None, help="0 turns evaluation off")
    p.add_argument("--log-every", type=int, default=None, help="print the loss every N steps")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch threads per process")
    p.add_argument("--progress", action="store_true", help="a progress bar on rank 0")
    p.add_argument("--no-checkpoint", dest="checkpoint", action="store_false")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    a = parser.parse_args(argv)
    env = _dist_env()
    world = env[1] if env else 1
    try:
        recipe = recipe_for(
            a.model, global_batch_size=a.global_batch_size, lr=a.lr, block_size=a.block_size
        )
        check_world(recipe.batch_size, world)
        check_world(recipe.eval_batch_size, world, what="validation batch size")
        if a.steps is not None and a.steps < 1:
            raise ValueError(f"--steps must be >= 1, got {a.steps}")
    except ValueError as e:
        parser.error(str(e))
    run(
        steps=a.steps,
        out_dir=a.out,
        model=a.model,
        global_batch_size=a.global_batch_size,
        lr=a.lr,
        block_size=a.block_size,
        seed=a.seed,
        eval_every=a.eval_every,
        log_every=a.log_every,
        device=a.device,
        threads=a.threads,
        progress=a.progress,
        checkpoint=a.checkpoint,
    )
    return 0


if __name__ == "__main__":
    code = main()
    if _dist_env() is not None:
        # A torchrun worker leaves without running the interpreter's exit-time destructors:
        # with gloo on torch 2.13 about 1 exit in 40 aborted there ("terminate called without an
        # active exception", SIGABRT) after destroy_process_group() had returned and the results
        # were written, and torchrun then reported the whole run as failed.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
