"""Lesson 07's learning rates, chosen on the validation split: instruction tuning of the base
model (full fine-tuning and LoRA) at a few learning rates, scored on validation examples only.

    python benchmarks/bench_sft.py                 # 800 steps per run (the lesson's), a table
    python benchmarks/bench_sft.py --json          # one JSON object
    python benchmarks/bench_sft.py --fast          # a smoke run: 5 steps, 6 validation examples
    python benchmarks/bench_sft.py --steps 600 --lr-full 1e-3 3e-3 --lr-lora 3e-3 1e-2

Each run is ``course_lib.sft.instruction_tune`` on the lesson's training examples
(``build_instruction_dataset(seed=0)``, batches of 16, windows of 256 tokens, seed 0) for
``--steps`` steps, then scored on the validation split (never the test split):

* ``val_loss``: the loss on answer tokens (nats per token) over 10 validation batches;
* ``exact_match``: greedy answers (first line, ``evaluate.answer_text``) against the references,
  mean over the families, on up to ``--per-task`` validation examples per family;
* ``by_task``: the exact match per family; ``seconds``: the training time.

The lesson uses, per method, the learning rate with the lowest validation loss.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib import evaluate, instruct, sft  # noqa: E402
from course_lib.train import evaluate as val_loss_of  # noqa: E402


def run(base, tok, data, val, method: str, lr: float, steps: int) -> dict:
    model = copy.deepcopy(base)
    batches = instruct.sft_batches(
        data["train"], data["val"], tok, batch_size=16, block_size=256, seed=0
    )
    t0 = time.perf_counter()
    sft.instruction_tune(model, batches, method=method, steps=steps, lr=lr, progress=False)
    seconds = time.perf_counter() - t0
    answers = evaluate.evaluate_answers(model, tok, val, max_new_tokens=48)
    by_task = {t: s["exact_match"] for t, s in evaluate.score_table(val, answers).items()}
    return {
        "method": method,
        "lr": lr,
        "steps": steps,
        "val_loss": val_loss_of(model, batches, n_batches=10),
        "exact_match": statistics.fmean(by_task.values()),
        "by_task": by_task,
        "seconds": seconds,
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--fast", action="store_true", help="a smoke run: 5 steps")
    p.add_argument("--steps", type=int, default=800)
    p.add_argument("--per-task", type=int, default=50, help="validation examples per family")
    p.add_argument("--lr-full", type=float, nargs="+", default=[1e-3, 2e-3])
    p.add_argument("--lr-lora", type=float, nargs="+", default=[3e-3, 1e-2])
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    steps, per_task = (5, 1) if args.fast else (args.steps, args.per_task)
    log = (lambda *a: None) if args.json else print
    base, tok, _ = instruct.load_base_model()
    data = instruct.build_instruction_dataset(seed=0)
    val = [ex for exs in instruct.by_task(data["val"]).values() for ex in exs[:per_task]]
    rows = []
    log(f"{'method':<6} {'lr':>8} {'steps':>6} {'val loss':>9} {'exact match':>12} {'seconds':>8}")
    for method, lrs in (("full", args.lr_full), ("lora", args.lr_lora)):
        for lr in lrs:
            r = run(base, tok, data, val, method, lr, steps)
            rows.append(r)
            log(
                f"{method:<6} {lr:>8.0e} {steps:>6} {r['val_loss']:>9.3f} "
                f"{100 * r['exact_match']:>11.1f}% {r['seconds']:>8.0f}   "
                + " ".join(f"{t} {100 * v:.0f}" for t, v in r["by_task"].items())
            )
    chosen = {
        m: min((r for r in rows if r["method"] == m), key=lambda r: r["val_loss"])["lr"]
        for m in ("full", "lora")
    }
    log(f"chosen on validation loss: {chosen}")
    out = {"rows": rows, "chosen_lr": chosen, "val_examples": len(val), "steps": steps}
    if args.json:
        print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
