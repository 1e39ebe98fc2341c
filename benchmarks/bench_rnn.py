"""Lesson 03's claims, measured: our LSTM (a Python loop over time) against PyTorch's fused
``nn.LSTM``, and the validation loss of every baseline at the lesson's full-mode budget.

    python benchmarks/bench_rnn.py            # full budget (the lesson's full mode), a table
    python benchmarks/bench_rnn.py --fast     # a quick run: few steps, same code
    python benchmarks/bench_rnn.py --json     # one JSON object

Reported: forward+backward time of ours vs fused at two sizes (median of repeats, measured in
the same run) and their ratio; validation loss (nats per character, and bits) on the whole
validation split for the bigram, the Kneser-Ney n-gram, the RNN and the LSTM (recurrent models
read the split as a stream, carrying their state: ``*_val_loss``; and from a fresh state every
128 characters: ``*_val_loss_windows``); training time and steps per second of the recurrent
models.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib import ngram, rnn  # noqa: E402
from course_lib.data import shakespeare_char_data  # noqa: E402
from course_lib.runs import RECIPES, train_char_model  # noqa: E402
from course_lib.runtime import seed_everything  # noqa: E402

NGRAM_N = 6  # the lesson's n-gram: the best order on the validation split (lesson 03, section 2)
SPEED_SIZES = [(32, 128, 64), (32, 128, 256)]  # (batch, time steps, hidden = input size)


def time_fwd_bwd(module, x, repeats: int) -> float:
    """Median seconds of one forward + backward pass (after one warm-up)."""
    times = []
    for i in range(repeats + 1):
        start = time.perf_counter()
        out, _ = module(x)
        out.sum().backward()
        if i:
            times.append(time.perf_counter() - start)
        module.zero_grad(set_to_none=True)
        x.grad = None
    return statistics.median(times)


def speed(repeats: int) -> list[dict]:
    rows = []
    for B, T, H in SPEED_SIZES:
        seed_everything(0)
        fused = torch.nn.LSTM(H, H, batch_first=True)
        ours = rnn.LSTM(H, H, batch_first=True)
        ours.load_state_dict(fused.state_dict())
        x = torch.randn(B, T, H, requires_grad=True)
        t_ours, t_fused = time_fwd_bwd(ours, x, repeats), time_fwd_bwd(fused, x, repeats)
        rows.append(
            {
                "batch": B,
                "steps": T,
                "hidden": H,
                "ours_ms": 1e3 * t_ours,
                "fused_ms": 1e3 * t_fused,
                "ratio": t_ours / t_fused,
            }
        )
    return rows


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--fast", action="store_true", help="few training steps (a smoke run)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--repeats", type=int, default=None, help="timing repeats (default 10, fast 3)")
    args = p.parse_args(argv)
    start = time.perf_counter()
    repeats = args.repeats or (3 if args.fast else 10)
    log = (lambda *a: None) if args.json else print

    log(f"threads: {torch.get_num_threads()}  mode: {'fast' if args.fast else 'full'}")
    speed_rows = speed(repeats)

    bigram = ngram.shakespeare_ngram_loss(2)
    ng = ngram.shakespeare_ngram_loss(NGRAM_N)
    data = shakespeare_char_data()
    runs = {}
    for name, recipe in RECIPES.items():
        steps = recipe.fast_steps if args.fast else recipe.steps
        out = train_char_model(recipe, data=data, steps=steps, progress=False)
        runs[name] = out
        log(f"trained {name}: {steps} steps in {out['seconds']:.0f} s")

    result = {
        "mode": "fast" if args.fast else "full",
        "threads": torch.get_num_threads(),
        "bigram_val_loss": bigram["val_loss"],
        "ngram_n": NGRAM_N,
        "ngram_val_loss": ng["val_loss"],
        "ngram_params": ng["params"],
    }
    for name, out in runs.items():
        recipe = RECIPES[name]
        result.update(
            {
                f"{name}_val_loss": out["val_loss"],
                f"{name}_val_loss_windows": out["val_loss_windows"],
                f"{name}_steps": out["steps"],
                f"{name}_train_seconds": out["seconds"],
                f"{name}_steps_per_second": out["steps"] / out["seconds"],
                f"{name}_params": out["params"],
                f"{name}_recipe": recipe.to_dict(),
            }
        )
    for key in ("bigram", "ngram", "rnn", "lstm"):
        result[f"{key}_val_bpc"] = result[f"{key}_val_loss"] / math.log(2)
    result["speed"] = speed_rows
    result["seconds"] = time.perf_counter() - start

    if args.json:
        print(json.dumps(result))
        return result
    print("\nOur LSTM (Python loop over time) vs fused nn.LSTM, forward + backward:")
    print(f"{'B':>4} {'T':>4} {'H':>5} {'ours ms':>9} {'fused ms':>9} {'ratio':>6}")
    for r in speed_rows:
        print(
            f"{r['batch']:>4} {r['steps']:>4} {r['hidden']:>5} {r['ours_ms']:>9.1f} "
            f"{r['fused_ms']:>9.1f} {r['ratio']:>6.2f}"
        )
    print("\nValidation split (all 111,540 characters), nats and bits per character:")
    head = ("model", "val nats", "val bits", "windows", "params", "train s", "steps/s")
    print("{:<16} {:>9} {:>9} {:>9} {:>10} {:>8} {:>8}".format(*head))
    rows = [
        ("bigram (KN)", "bigram", bigram["params"]),
        (f"{NGRAM_N}-gram (KN)", "ngram", ng["params"]),
    ]
    rows += [(name.upper(), name, runs[name]["params"]) for name in runs]
    for label, key, params in rows:
        run = runs.get(key)
        extra = (
            f"{run['val_loss_windows']:>9.4f} {params:>10,} {run['seconds']:>8.1f} "
            f"{run['steps'] / run['seconds']:>8.2f}"
            if run
            else f"{'':>9} {params:>10,}"
        )
        nats, bits = result[key + "_val_loss"], result[key + "_val_bpc"]
        print(f"{label:<16} {nats:>9.4f} {bits:>9.4f} {extra}")
    print("(recurrent models: val read as a stream carrying the state; 'windows': from a fresh")
    print(" state every 128 characters, as in training)")
    print(f"\ntotal: {result['seconds']:.0f} s")
    return result


if __name__ == "__main__":
    main()
