"""Pre-train lesson 07's base model and write ``data/pretrained/gpt_assistant_base.pt``.

The model is a GPT (:data:`RECIPE`: 4 blocks of width 128, windows of 512 tokens, about 1.0 M
parameters, a 4 MB checkpoint) that reads the ids of ``data/assistant_bpe.json``, lesson 01's
byte-level BPE with 1,024 ids, three of them the assistant template's special tokens. Both
learn from ``course_lib.instruct.pretraining_documents("train")``: Shakespeare's works and the
gensim Wikipedia sample, without the scenes and Wikipedia blocks that the instruction dataset
holds out for validation and testing (a tenth each), so no test passage is ever read. Documents
are separated by ``<|end|>``. The validation loss is measured on the held-out validation
documents (``pretraining_documents("val")``).

Training is the course's shared loop (:func:`course_lib.train.train`); the checkpoint holds the
weights only (no optimizer state), is written atomically by
:func:`course_lib.train.save_checkpoint`, and loads with
``course_lib.instruct.load_base_model()`` (``torch.load(weights_only=True)``; a different
config fails naming the fields).

Usage, from the repository root::

    python data/pretrain_assistant.py                          # the committed checkpoint
    python data/pretrain_assistant.py --steps 200 --out checkpoints/try.pt
    python data/pretrain_assistant.py --tokenizer-only         # (re)build the tokenizer only

The same script runs data-parallel under ``torchrun``, with :mod:`course_lib.train_ddp`'s
pieces: every rank draws the same global batch and keeps its rows (``ShardedBatches``),
``DistributedDataParallel`` averages the gradients, the logged loss is the mean over ranks, and
only rank 0 writes. ``--batch-size`` is the global batch (divisible by the number of
processes); with CUDA each rank takes ``cuda:LOCAL_RANK`` and the backend is nccl::

    torchrun --nproc_per_node=2 data/pretrain_assistant.py --steps 200 --out checkpoints/ddp.pt
    torchrun --nproc_per_node=2 -m data.pretrain_assistant --steps 200   # the same, as a module

Measured before the committed run: one process on one thread of a shared 2-core CPU took 0.50 s a
step (median of 20 steps; two threads were slower there, 1.1 s), so the default 1,500 steps
(6.1 M tokens, about 2.3 passes over the text) take about 13 minutes; 2 processes on the 2 cores
(6 steps) gave per-step losses equal to one process's to 1e-6.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from course_lib import instruct  # noqa: E402
from course_lib.runs import GPTRecipe  # noqa: E402
from course_lib.runtime import by_mode, relpath, seed_everything  # noqa: E402
from course_lib.train import save_checkpoint, train  # noqa: E402
from course_lib.train_ddp import (  # noqa: E402
    ShardedBatches,
    check_world,
    run_ranks,
    torchrun_ranks,
    wrap_for_ranks,
)
from course_lib.transformer import evaluate_gpt  # noqa: E402

RECIPE = GPTRecipe(
    n_layer=4,
    n_head=4,
    n_embd=128,
    block_size=512,
    batch_size=8,
    lr=3e-3,
    min_lr=3e-5,
    warmup_steps=100,
    steps=1500,
    fast_steps=20,
    eval_every=250,
    eval_batches=4,
    eval_batch_size=8,
    seed=1337,
    optim="muon",
)
"""The base model's run: lesson 05's GPT, deeper (4 blocks) and with windows of 512 tokens, room
for a 4-shot prompt (an example is 67 tokens on average, 142 at most); batches of 8 windows
(4,096 tokens a step); Muon for the blocks' matrices, AdamW for the rest."""

MAX_MB = 10.0
"""The committed checkpoint's size limit."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    recipe = RECIPE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"optimisation steps (default {recipe.steps}; {recipe.fast_steps} with COURSE_FAST=1)",
    )
    parser.add_argument(
        "--out", type=Path, default=instruct.BASE_MODEL_PATH, help="checkpoint path"
    )
    parser.add_argument(
        "--batch-size", type=int, default=recipe.batch_size, help="global batch (windows a step)"
    )
    parser.add_argument("--lr", type=float, default=recipe.lr, help="peak learning rate (AdamW)")
    parser.add_argument("--seed", type=int, default=recipe.seed)
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads per process (default: 1 alone, "
        "cores / processes under torchrun)"
    )  # fmt: skip
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto (a GPU per rank)")
    parser.add_argument(
        "--val-tokens",
        type=int,
        default=None,
        help="score only the first N validation tokens at the end (default: all)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--tokenizer-only", action="store_true", help="(re)build data/assistant_bpe.json and stop"
    )
    parser.add_argument(
        "--rebuild-tokenizer", action="store_true", help="retrain the tokenizer before training"
    )
    return parser.parse_args(argv)


def tokenizer(rebuild: bool, rank: int):
    """The committed tokenizer; trained (the same merges on every rank) when missing or asked
    for, and then written by rank 0."""
    path = instruct.TOKENIZER_PATH
    if path.exists() and not rebuild:
        return instruct.load_assistant_tokenizer()
    tok = instruct.train_assistant_tokenizer()
    if rank == 0:
        tok.save(path)
        print(f"wrote {relpath(path)} ({len(tok)} ids)", flush=True)
    return tok


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.tokenizer_only:
        tokenizer(True, 0)
        return 0
    recipe = RECIPE.replace(batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    env = torchrun_ranks()
    world = env[1] if env else 1
    check_world(recipe.batch_size, world)
    check_world(recipe.eval_batch_size, world, what="validation batch size")
    # alone: one thread unless asked (measured faster on a shared 2-core machine); under torchrun
    # run_ranks shares the cores out between the ranks
    threads = args.threads or (None if env else 1)

    def work(dev, *, rank, world, backend):
        return pretrain(args, recipe, dev, rank=rank, world=world, backend=backend)

    return run_ranks(work, device=args.device, threads=threads)


def pretrain(args, recipe: GPTRecipe, dev, *, rank: int, world: int, backend: str | None) -> int:
    say = print if rank == 0 else (lambda *a, **k: None)
    tok = tokenizer(args.rebuild_tokenizer, rank)
    start = time.perf_counter()
    train_ids = instruct.encode_documents(instruct.pretraining_documents("train"), tok)
    val_ids = instruct.encode_documents(instruct.pretraining_documents("val"), tok)
    say(
        f"pre-training text: {len(train_ids):,} tokens ({len(val_ids):,} for validation), "
        f"vocabulary {len(tok)}; encoded in {time.perf_counter() - start:.0f} s",
        flush=True,
    )
    steps = args.steps or by_mode(full=recipe.steps, fast=recipe.fast_steps)
    seed_everything(recipe.seed)  # the same initial weights on every rank
    net = recipe.build_model(len(tok)).to(dev)
    config = recipe.train_config(
        steps, desc="pre-training", progress=not args.no_progress and rank == 0
    )
    batches = ShardedBatches(recipe.batcher(train_ids, val_ids), rank, world)
    wrapped, loss_fn = wrap_for_ranks(net, dev, world, backend)
    say(
        f"{world} process(es) ({backend or 'no backend'}, {dev}, {torch.get_num_threads()} "
        f"thread(s) each), {net.num_parameters():,} parameters, {steps} steps of "
        f"{recipe.batch_size} x {recipe.block_size} tokens",
        flush=True,
    )
    start = time.perf_counter()
    result = train(
        wrapped,
        batches,
        config,
        loss_fn=loss_fn,
        optimizer=recipe.optimizer(net),
        model_config=net.config,
    )
    seconds = time.perf_counter() - start
    if rank != 0:
        return 0
    val = evaluate_gpt(net, val_ids[: args.val_tokens] if args.val_tokens else val_ids)
    scored = min(len(val_ids), args.val_tokens or len(val_ids))
    say(
        f"{result.step} steps in {seconds:.0f} s ({seconds / max(1, result.step):.2f} s a step); "
        f"validation loss {val:.3f} nats per token ({val / math.log(2):.3f} bits) on "
        f"{scored:,} tokens"
    )
    path = save_checkpoint(
        args.out,
        net,
        None,  # weights only
        step=result.step,
        history=result.history,
        config=net.config,
        train_config=config,
        extra={
            "recipe": recipe.to_dict(),
            "tokenizer": relpath(instruct.TOKENIZER_PATH),
            "text": 'course_lib.instruct.pretraining_documents("train"); validation on '
            'pretraining_documents("val")',
            "train_tokens": len(train_ids),
            "val_tokens": scored,
            "val_loss": val,
            "seconds": seconds,
            "world_size": world,
            "device": str(dev),
            "threads": torch.get_num_threads(),
            "torch": str(torch.__version__),
        },
    )
    mb = path.stat().st_size / 1e6
    say(f"wrote {relpath(path)} ({mb:.1f} MB)")
    if mb > MAX_MB:
        say(f"warning: the checkpoint is over {MAX_MB} MB, too large to commit")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
