"""Lesson 06's scaling-out claim, measured: one process against N under torchrun (DDP, gloo).

    python benchmarks/bench_ddp.py                 # lesson 05's model, 200 steps, a table
    python benchmarks/bench_ddp.py --json          # one JSON object
    python benchmarks/bench_ddp.py --fast          # a smoke run: the tiny model, 20 steps
    python benchmarks/bench_ddp.py --nproc 2 --steps 200 --global-batch-size 16

Both runs train ``course_lib.train_ddp`` with the same model, seed and global batch (each of
the N processes takes ``global batch / N`` rows of every step's batch), so their per-step losses
should agree up to float rounding. The one-process run uses PyTorch's default threads (all
cores, or ``--single-threads``); each of the N processes uses cores / N threads.

Reported, per run: ``seconds`` (the training loop, evaluations included), ``wall_seconds``
(start-up and data loading included: for N processes, the whole torchrun command),
``steps_per_second``, ``final_loss``, ``final_val_loss``; and ``max_abs_diff`` /
``max_rel_diff``, the largest difference between the two runs' per-step training losses.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib import ddp_launch, train_ddp  # noqa: E402


def _row(r: dict) -> dict:
    h = r["history"]
    return {
        "processes": r["world_size"],
        "threads_each": r["threads"],
        "rows_each": r["per_rank_batch_size"],
        "seconds": r["seconds"],
        "wall_seconds": r["wall_seconds"],
        "steps_per_second": r["steps"] / r["seconds"] if r["seconds"] > 0 else float("nan"),
        "final_loss": h["loss"][-1],
        "final_val_loss": h["val_loss"][-1] if h["val_loss"] else None,
    }


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    out = measure(args)
    if args.json:
        print(json.dumps(out))
    else:
        _print_table(out)
    return 0


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nproc", type=int, default=2, help="processes for the DDP run")
    ap.add_argument("--steps", type=int, default=None, help="default 200 (fast: 20)")
    ap.add_argument("--global-batch-size", type=int, default=None, help="default: the recipe's")
    ap.add_argument("--model", choices=sorted(train_ddp.RECIPES), default=None)
    ap.add_argument("--eval-every", type=int, default=None, help="0 turns evaluation off")
    ap.add_argument(
        "--single-threads", type=int, default=None, help="torch threads of the 1-process run"
    )
    ap.add_argument("--fast", action="store_true", help="the tiny model, 20 steps")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    return ap


def measure(args) -> dict:
    """One process, then ``args.nproc`` under torchrun, on the same options; the JSON object."""
    model = args.model or ("tiny" if args.fast else "lesson05")
    steps = args.steps or (20 if args.fast else 200)
    options = train_ddp.DDPOptions(
        steps=steps,
        model=model,
        global_batch_size=args.global_batch_size,
        eval_every=args.eval_every,
        checkpoint=False,
    )
    with tempfile.TemporaryDirectory(prefix="bench_ddp_") as tmp:
        single = train_ddp.train_single(
            options.replace(out_dir=Path(tmp, "single"), threads=args.single_threads, verbose=False)
        )
        ddp = ddp_launch.launch(args.nproc, options.replace(out_dir=Path(tmp, "ddp"), log_every=0))
    d = train_ddp.loss_difference(single, ddp)
    return {
        "benchmark": "ddp",
        "config": {
            "model": model,
            "params": single["params"],
            "steps": steps,
            "global_batch_size": single["global_batch_size"],
            "block_size": single["block_size"],
            "nproc": args.nproc,
            "backend": ddp["backend"],
            "cpu_cores": os.cpu_count(),
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "single": _row(single),
        "ddp": _row(ddp),
        "speedup": single["seconds"] / ddp["seconds"] if ddp["seconds"] > 0 else float("nan"),
        "max_abs_diff": d["max_abs"],
        "max_rel_diff": d["max_rel"],
        "max_diff_step": d["step"],
    }


def _print_table(out: dict) -> None:
    c = out["config"]
    print(
        f"DDP: model {c['model']} ({c['params']:,} parameters), {c['steps']} steps, global batch "
        f"{c['global_batch_size']} x {c['block_size']} characters, {c['backend']}, "
        f"{c['cpu_cores']} cores, torch {c['torch']}"
    )
    head = (
        f"{'run':<16} {'threads':>7} {'rows':>5} {'train s':>8} {'wall s':>7} {'steps/s':>8} "
        f"{'loss':>7} {'val':>7}"
    )
    print(head)
    print("-" * len(head))
    for name, r in (("1 process", out["single"]), (f"{c['nproc']} processes", out["ddp"])):
        val = f"{r['final_val_loss']:>7.4f}" if r["final_val_loss"] is not None else f"{'-':>7}"
        print(
            f"{name:<16} {r['threads_each']:>7} {r['rows_each']:>5} {r['seconds']:>8.1f} "
            f"{r['wall_seconds']:>7.1f} {r['steps_per_second']:>8.1f} {r['final_loss']:>7.4f} "
            f"{val}"
        )
    print(
        f"speed-up of the training loop: {out['speedup']:.2f}x; largest per-step loss difference "
        f"{out['max_abs_diff']:.1e} nats (relative {out['max_rel_diff']:.1e}, step "
        f"{out['max_diff_step']})"
    )


if __name__ == "__main__":
    sys.exit(main())
