"""Lesson 03's question, measured: does a larger LSTM, trained longer, keep improving?

    python benchmarks/bench_lstm_scale.py           # the full runs, a table
    python benchmarks/bench_lstm_scale.py --json    # one JSON object
    python benchmarks/bench_lstm_scale.py --fast    # a smoke run: a few steps, same code
    python benchmarks/bench_lstm_scale.py --write   # also write the results file lesson 03 reads

Lesson 03 trains its LSTM (``course_lib.runs.RECIPES["lstm"]``: 256 units, 2700 steps) in
under 3 minutes and ends a quarter of a nat above its own training loss. Whether more capacity
and more steps still help is a run too long for the lesson (see the times in the table), so it
is measured here, and the lesson reads the results file this script writes (``--write``; full
mode only).

Runs, on the course's Shakespeare split with the shared loop (``runs.train_char_model``):

* ``larger, longer``: ``LARGER`` below: 1.5 times the units (384) and 1.5 times the steps (4050),
  everything else as the lesson's recipe;
* with ``--with-lesson``, also ``lesson``: the lesson's recipe as it is (the lesson compares the
  larger run with its own run of that recipe, so the results file does not need it).

Reported per run, as lesson 03 measures its own runs: ``val_loss`` (the whole validation split read
as a stream, nats per character), ``val_loss_windows``, ``train_loss`` (the mean training loss of
the last 50 batches) and ``gap`` (the last validation estimate minus ``train_loss``), the
validation curve by step, ``params``, ``steps`` and ``seconds`` (wall time).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from course_lib import runs  # noqa: E402
from course_lib.data import shakespeare_char_data  # noqa: E402

RESULTS = ROOT / "notebooks" / "results" / "03_lstm_scale.json"
LESSON = runs.RECIPES["lstm"]
LARGER = LESSON.replace(hidden_size=384, steps=LESSON.steps * 3 // 2)


def run(name: str, recipe, data, fast: bool) -> dict:
    start = time.perf_counter()
    out = runs.train_char_model(
        recipe, data=data, steps=recipe.fast_steps if fast else recipe.steps, progress=False
    )
    history = out["history"]
    train_loss = history.smoothed_train_loss(50)[-1]
    return {
        "run": name,
        "hidden_size": recipe.hidden_size,
        "dropout": recipe.dropout,
        "steps": out["steps"],
        "params": out["params"],
        "seconds": time.perf_counter() - start,
        "val_loss": out["val_loss"],
        "val_loss_windows": out["val_loss_windows"],
        "train_loss": train_loss,
        "gap": history.last_val_loss - train_loss,
        "val_curve": [
            [s, round(v, 5)] for s, v in zip(history.eval_step, history.val_loss, strict=True)
        ],
        "recipe": recipe.to_dict(),
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--fast", action="store_true", help="a few steps (a smoke run)")
    p.add_argument("--write", action="store_true", help=f"write {RESULTS.relative_to(ROOT)}")
    p.add_argument("--with-lesson", action="store_true", help="also train the lesson's recipe")
    args = p.parse_args(argv)
    data = shakespeare_char_data()
    plan = [("larger, longer", LARGER)] + ([("lesson", LESSON)] if args.with_lesson else [])
    rows = [run(name, r, data, args.fast) for name, r in plan]
    result = {"mode": "fast" if args.fast else "full", "units": "nats per character", "runs": rows}
    if args.write and not args.fast:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        tmp = RESULTS.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
        tmp.replace(RESULTS)  # atomic: a reader never sees half a file
    if args.json:
        print(json.dumps(result))
        return result
    print(f"{'run':16s} {'units':>6s} {'dropout':>8s} {'steps':>6s} {'params':>9s} {'seconds':>8s} "
          f"{'train':>7s} {'val':>7s} {'gap':>6s}")  # fmt: skip
    for r in rows:
        print(
            f"{r['run']:16s} {r['hidden_size']:>6d} {r['dropout']:>8.2f} {r['steps']:>6d} "
            f"{r['params']:>9,} {r['seconds']:>8.0f} {r['train_loss']:>7.4f} {r['val_loss']:>7.4f} "
            f"{r['gap']:>6.3f}"
        )
    return result


if __name__ == "__main__":
    main()
