"""Lessons 05-06's subword claim, measured: the same GPT on characters and on BPE tokens, trained
for the same wall-clock time, compared in bits per character of the validation split.

    python benchmarks/bench_subword.py                  # 30 s per run, 3 seeds, a table
    python benchmarks/bench_subword.py --json           # one JSON object
    python benchmarks/bench_subword.py --fast           # a smoke run: 2 s, 1 seed, short val text
    python benchmarks/bench_subword.py --budget 90      # seconds of training per run
    python benchmarks/bench_subword.py --seeds 5        # seeds 0..4
    python benchmarks/bench_subword.py --vocab 512 1024 2048
    python benchmarks/bench_subword.py --threads 1      # torch threads (default: PyTorch's)

The runs are ``course_lib.runs.compare_tokenizers``: lesson 05's GPT (``GPTRecipe()``) on the
Shakespeare split's characters and on byte-level BPE tokenizers (GPT-2's pre-split) trained on
the training part only, each for the steps that fit in ``--budget`` seconds on this machine
(timed per tokenizer: a bigger vocabulary costs more per step). The window is ``block_size``
tokens for every tokenizer, so a BPE window covers more characters.

Reported, per tokenizer (mean over seeds, and each run in the JSON's ``rows``):

* ``val_bpc``: bits per character of the whole validation split (111,540 characters), the total
  nats of a sliding-window evaluation (stride ``block_size // 2``) over the split's characters,
  the one number comparable across tokenizers; ``val_nats_per_token`` is not;
* ``chars_per_token`` on the validation split and ``context_chars`` = ``block_size`` x that;
* ``steps``, ``train_seconds`` (the training clock, evaluations left out), ``params``;
* a 200-character sample of the first seed's model (temperature 0.8, after a new line).

``--fast`` scores only the first 10,000 validation characters: its numbers check the code, not
the claim.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib import runs  # noqa: E402
from course_lib.data import shakespeare_split  # noqa: E402

FULL_BUDGET, FAST_BUDGET = 30.0, 2.0  # seconds of training per run (lesson 06 section 2 uses 30 s)
FAST_VAL_CHARS = 10_000


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--fast", action="store_true", help="a smoke run: 2 s, 1 seed, short val")
    p.add_argument("--budget", type=float, default=None, help="training seconds per run")
    p.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 3; fast 1)")
    p.add_argument("--vocab", type=int, nargs="+", default=[512, 1024], help="BPE vocab sizes")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    log = (lambda *a: None) if args.json else print
    budget = args.budget or (FAST_BUDGET if args.fast else FULL_BUDGET)
    seeds = list(range(args.seeds or (1 if args.fast else 3)))
    train_text, val_text = shakespeare_split()
    if args.fast:
        val_text = val_text[:FAST_VAL_CHARS]
    recipe = runs.GPTRecipe()
    log(
        f"threads: {torch.get_num_threads()}  torch {torch.__version__}  budget: {budget:g} s  "
        f"seeds: {seeds}  BPE vocabularies: {args.vocab}"
    )
    rows = runs.compare_tokenizers(
        args.vocab,
        budget,
        seeds,
        recipe,
        texts=(train_text, val_text),
        progress=not args.json,
    )
    result = {
        "mode": "fast" if args.fast else "full",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "budget_seconds": budget,
        "seeds": seeds,
        "vocab_sizes": args.vocab,
        "val_chars": len(val_text),
        "recipe": recipe.to_dict(),
        "summary": runs.summarise_tokenizers(rows),
        "rows": rows,
    }
    if args.json:
        print(json.dumps(result))
        return result

    print(
        f"\nThe same GPT, {budget:g} s of training per run, on {len(val_text):,} validation "
        "characters (bits per character: comparable across tokenizers; nats per token: not)"
    )
    head = ("tokenizer", "vocab", "params", "steps", "train s", "chars/tok", "ctx chars")
    print("{:<11} {:>6} {:>8} {:>6} {:>8} {:>9} {:>9}".format(*head), end="")
    print(f" {'nats/tok':>9} {'val bpc':>16}")
    for name, s in result["summary"].items():
        mine = [r for r in rows if r["tokenizer"] == name]
        nats = sum(r["val_nats_per_token"] for r in mine) / len(mine)
        bpc = f"{s['mean']:.4f} ± {s['std']:.4f}"
        print(
            f"{name:<11} {s['vocab_size']:>6} {s['params']:>8,} {s['steps']:>6} "
            f"{s['train_seconds']:>8.1f} {s['chars_per_token']:>9.3f} {s['context_chars']:>9.0f} "
            f"{nats:>9.4f} {bpc:>16}"
        )
    print(f"(mean ± standard deviation over {len(seeds)} seed(s))")
    for r in rows:
        if r["seed"] == seeds[0]:
            print(f"\n{r['tokenizer']}, seed {r['seed']}:\n{r['sample']}")
    return result


if __name__ == "__main__":
    main()
