"""Pre-train the GPT that lesson 06 fine-tunes, and write ``data/pretrained/gpt_shakespeare.pt``.

The model is lesson 05's GPT (``course_lib.runs.PRETRAIN_RECIPE``: 2 layers of width 128,
windows of 64 characters) trained longer with the course's shared loop on
``course_lib.data.pretraining_text()``: every work of Shakespeare except the six plays of the
genre task's test set and the sonnets (the style fine-tuning's text), so the lesson's test
passages are never seen in pre-training. The tokenizer is the whole corpus's 84 characters.
The last 5% of the text is held out to measure the validation loss.

Usage (from the repository root; about 10 minutes on 2 CPU cores)::

    python data/pretrain_gpt.py                   # the committed checkpoint
    python data/pretrain_gpt.py --steps 200 --out checkpoints/try.pt

The checkpoint holds the weights (no optimizer state), the ``GPTConfig``, the pre-training
history, and in ``extra`` the tokenizer's characters and how it was made. Load it with
``course_lib.finetune.load_pretrained()`` (``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib import data  # noqa: E402
from course_lib.finetune import PRETRAINED_PATH  # noqa: E402
from course_lib.runs import PRETRAIN_RECIPE  # noqa: E402
from course_lib.runtime import by_mode, relpath, seed_everything  # noqa: E402
from course_lib.train import save_checkpoint, train  # noqa: E402
from course_lib.transformer import evaluate_gpt  # noqa: E402

VAL_FRACTION = 0.05


def main(argv: list[str] | None = None) -> int:
    recipe = PRETRAIN_RECIPE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps",
        type=int,
        default=by_mode(full=recipe.steps, fast=recipe.fast_steps),
        help=f"optimisation steps (default {recipe.steps}; {recipe.fast_steps} with COURSE_FAST=1)",
    )
    parser.add_argument("--out", type=Path, default=PRETRAINED_PATH, help="checkpoint path")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (default 1, as the committed run)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--val-chars",
        type=int,
        default=None,
        help="score only the first N validation characters at the end (default: all)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    tok = data.shakespeare_tokenizer()
    text = data.pretraining_text()
    train_text, val_text = data.split_text(text, 1 - VAL_FRACTION)
    train_ids, val_ids = torch.tensor(tok.encode(train_text)), torch.tensor(tok.encode(val_text))
    print(
        f"pre-training text: {len(text):,} characters ({len(train_ids):,} train, "
        f"{len(val_ids):,} validation), vocabulary {len(tok)}"
    )
    seed_everything(recipe.seed)
    model = recipe.build_model(len(tok))
    config = recipe.train_config(args.steps, desc="pre-training", progress=not args.no_progress)
    start = time.perf_counter()
    result = train(
        model,
        recipe.batcher(train_ids, val_ids),
        config,
        optimizer=recipe.optimizer(model),
        model_config=model.config,
    )
    seconds = time.perf_counter() - start
    val = evaluate_gpt(model, val_ids[: args.val_chars] if args.val_chars else val_ids)
    print(
        f"{result.step} steps in {seconds:.0f} s; validation loss {val:.3f} nats per character "
        f"({val / math.log(2):.3f} bits), {model.num_parameters():,} parameters"
    )
    path = save_checkpoint(
        args.out,
        model,
        None,
        step=result.step,
        history=result.history,
        config=model.config,
        train_config=config,
        extra={
            "chars": "".join(tok.chars),
            "recipe": recipe.to_dict(),
            "text": "course_lib.data.pretraining_text(): shakespeare.txt without "
            f"{', '.join(data.GENRE_TEST_PLAYS)} and {data.STYLE_WORK}; last "
            f"{VAL_FRACTION:.0%} held out for validation",
            "train_chars": len(train_ids),
            "val_loss": val,
            "seconds": seconds,
            "torch": str(torch.__version__),
            "threads": torch.get_num_threads(),
        },
    )
    print(f"wrote {relpath(path)} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
