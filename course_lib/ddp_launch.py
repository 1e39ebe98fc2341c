"""Starting :mod:`course_lib.train_ddp`'s processes: the command line, and ``torchrun`` from Python.

:func:`main` is the command line of ``python -m course_lib.train_ddp`` (one process) and of
``torchrun ... -m course_lib.train_ddp`` (one call per rank); its flags are the fields of
:class:`~course_lib.train_ddp.DDPOptions` (``--steps``, ``--global-batch-size``, ``--out``, ...).
:func:`launch` runs that command under ``torchrun`` in a subprocess on this machine (every process
on 127.0.0.1) and returns rank 0's result, for a notebook::

    from course_lib import ddp_launch, train_ddp
    ddp = ddp_launch.launch(nproc=2, steps=200, out_dir="runs/ddp2")
    single = train_ddp.train_single(steps=200, out_dir="runs/single")
    train_ddp.loss_difference(single, ddp)

Going to GPUs and many nodes, with the same script. With CUDA, each rank takes the GPU
``cuda:LOCAL_RANK`` and the backend becomes nccl (``--device auto``, the command line's default);
one process per GPU::

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

(``python -m torch.distributed.run`` is ``torchrun`` when the command is not on your PATH.) Every
node needs the repository (code and ``data/``) and the same PyTorch; only global rank 0 writes,
on its own disk. A larger global batch usually wants a larger learning rate (``--lr``); the step
count then counts bigger steps.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch

from .runtime import REPO_ROOT
from .train_ddp import HISTORY_NAME, RECIPES, DDPOptions, check_world, run, torchrun_ranks

__all__ = ["launch", "torchrun_command", "main", "script_main"]


# --- torchrun from Python -------------------------------------------------------------------


def launch(
    nproc: int = 2,
    options: DDPOptions | None = None,
    *,
    timeout: float | None = None,
    echo: bool = False,
    **changes,
) -> dict:
    """Run ``torchrun --nproc_per_node=nproc -m course_lib.train_ddp ...`` in a subprocess and
    return rank 0's result (the dict of :func:`~course_lib.train_ddp.train_single`, with ``log``:
    the processes' output, and ``wall_seconds``: the subprocess's wall time, start-up included).

    ``changes`` are :class:`~course_lib.train_ddp.DDPOptions` fields (``steps=200``,
    ``out_dir=...``; ``out_dir`` is required: rank 0 writes its result there). ``device="cpu"``
    (the default) uses gloo on the CPU, ``torch.get_num_threads`` = cores / ``nproc`` per
    process; ``"auto"`` takes a GPU per process with nccl when there are enough. ``echo=True``
    also prints the output as it comes. Raises ``ValueError`` for a bad ``nproc`` or batch size,
    ``RuntimeError`` when torchrun is missing, the run fails (with the lines that say why) or
    takes longer than ``timeout`` seconds (then torchrun and its processes are stopped)."""
    options = (options or DDPOptions()).replace(**changes)
    check_world(nproc, nproc)
    options.recipe(nproc)  # raises unless nproc divides the batches
    if options.out_dir is None:
        raise ValueError("launch() needs out_dir: rank 0 writes history.json there")
    _require_torchrun()
    out = Path(options.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / HISTORY_NAME).unlink(missing_ok=True)  # never read a previous run's result
    script_args = _cli_args(options.replace(out_dir=str(out.resolve())))
    for _attempt in range(3):  # the free port may be taken between choosing and binding it
        start = time.perf_counter()
        returncode, log = _run_streaming(
            torchrun_command(nproc, script_args), _subprocess_env(), timeout=timeout, echo=echo
        )
        wall = time.perf_counter() - start
        if returncode == 0 or "address already in use" not in log.lower():
            break
    if returncode != 0:
        raise RuntimeError(
            f"the {nproc}-process run failed (torchrun exit code {returncode}); "
            f"{_failure_excerpt(log)}"
        )
    if not (out / HISTORY_NAME).exists():
        raise RuntimeError(
            f"the {nproc}-process run ended without writing {HISTORY_NAME} (rank 0's result); "
            f"its output ends:\n" + "\n".join(log.strip().splitlines()[-10:])
        )
    return {**json.loads((out / HISTORY_NAME).read_text()), "log": log, "wall_seconds": wall}


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


def _cli_args(options: DDPOptions) -> list[str]:
    """The flags of :func:`main` that give ``options`` back (``None``: the flag is left out)."""
    args = []
    for name, value in dataclasses.asdict(options).items():
        flag = "--" + name.replace("_", "-")
        if value is True or value is False:
            args.append(flag if value else "--no-" + flag[2:])
        elif value is not None:
            args += [flag, str(value)]
    return args


def _subprocess_env() -> dict:
    """This process's environment, with this checkout's course_lib first on the path and gloo
    kept on the loopback interface."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    # torchrun would set 1 and warn about it; the script sets the real count per rank
    env.setdefault("OMP_NUM_THREADS", "1")
    if sys.platform.startswith("linux"):
        env.setdefault("GLOO_SOCKET_IFNAME", "lo")
    elif sys.platform == "darwin":
        env.setdefault("GLOO_SOCKET_IFNAME", "lo0")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


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
    p.add_argument(
        "--out",
        "--out-dir",
        dest="out_dir",
        metavar="DIR",
        required=True,
        help="folder for history.json and checkpoint.pt",
    )
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--block-size", type=int, default=None, help="characters per row")
    p.add_argument("--model", choices=sorted(RECIPES), default="lesson05")
    p.add_argument("--eval-every", type=int, default=None, help="0 turns evaluation off")
    p.add_argument("--log-every", type=int, default=None, help="print the loss every N steps")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch threads per process")
    bool_flag = dict(action=argparse.BooleanOptionalAction)
    p.add_argument("--progress", default=False, help="a progress bar on rank 0", **bool_flag)
    p.add_argument("--checkpoint", default=True, help="write checkpoint.pt", **bool_flag)
    p.add_argument("--verbose", default=True, help="print the loss on rank 0", **bool_flag)
    return p


def main(argv: list[str] | None = None) -> int:
    """One rank's command line: parse the flags into :class:`~course_lib.train_ddp.DDPOptions`
    (a usage error, exit code 2, when the world cannot split the batches) and train."""
    parser = _parser()
    env = torchrun_ranks()
    try:
        options = DDPOptions(**vars(parser.parse_args(argv)))
        options.recipe(env[1] if env else 1)
    except ValueError as e:
        parser.error(str(e))
    run(options)
    return 0


def script_main(argv: list[str] | None = None) -> None:
    """``python -m course_lib.train_ddp``: :func:`main`, then leave."""
    code = main(argv)
    if torchrun_ranks() is not None:
        # A torchrun worker leaves without running the interpreter's exit-time destructors:
        # with gloo on torch 2.13 about 1 exit in 40 aborted there ("terminate called without an
        # active exception", SIGABRT) after destroy_process_group() had returned and the results
        # were written, and torchrun then reported the whole run as failed.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    script_main()
