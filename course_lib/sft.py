"""Supervised fine-tuning of a base GPT into an assistant (lesson 07).

Shapes: B batch, T positions, V vocabulary size.

:func:`instruction_tune` trains a :class:`~course_lib.transformer.GPT` on the template's examples
(:class:`~course_lib.instruct.SFTBatches`: the prompt's targets are ``-100``, so the loss counts
the answer's tokens only) with the course's shared loop (:func:`course_lib.train.train`: AdamW,
warmup and cosine decay, gradient clipping, Ctrl-C keeps the model and its history). Two ways:

* ``method="full"``: every weight trains (full fine-tuning).
* ``method="lora"``: the GPT is frozen and low-rank adapters train on its attention
  projections (:func:`course_lib.finetune.apply_lora`, lesson 06): ``r (in + out)`` numbers per
  projection. The template's special tokens were never read in pre-training, so their
  embeddings are whatever the initialisation made them; with LoRA they stay so (the adapters
  learn to read them as they are), with full fine-tuning they train.

The model is changed in place (``copy.deepcopy`` the base model first to keep it) and returned
in eval mode inside the :class:`~course_lib.train.TrainResult`.
"""

from __future__ import annotations

import torch

from .finetune import apply_lora, count_trainable
from .instruct import SFTBatches
from .train import TrainConfig, TrainResult, train
from .transformer import GPT

__all__ = ["SFT_METHODS", "instruction_tune"]

SFT_METHODS = ("full", "lora")


def instruction_tune(
    model: GPT,
    batches: SFTBatches,
    *,
    method: str = "full",
    steps: int = 1000,
    lr: float = 1e-3,
    warmup_steps: int = 50,
    weight_decay: float = 0.0,
    r: int = 8,
    alpha: float = 16.0,
    eval_every: int = 0,
    progress: bool = True,
    desc: str | None = None,
) -> TrainResult:
    """Fine-tune ``model`` on ``batches`` for ``steps`` steps with the shared loop.

    ``method`` is ``"full"`` or ``"lora"`` (rank ``r``, scale ``alpha / r``; only the adapters
    are given to the optimizer, so the frozen weights stay bit-identical). The batches decide
    the data order (their ``seed``); ``eval_every`` > 0 measures the validation loss (answer
    tokens only) that often. Returns the :class:`~course_lib.train.TrainResult`; its
    ``model`` is ``model``, in eval mode."""
    _check_method(method)
    if method == "lora":
        apply_lora(model, r=r, alpha=alpha)
    else:
        model.requires_grad_(True)
    params = [p for p in model.parameters() if p.requires_grad]
    config = TrainConfig(
        max_steps=steps,
        lr=lr,
        warmup_steps=min(warmup_steps, steps),
        weight_decay=weight_decay,
        eval_every=eval_every,
        eval_batches=10,
        progress=progress,
        desc=desc or f"instruction tuning ({method}, {count_trainable(model):,} weights)",
    )
    optimizer = torch.optim.AdamW(params, lr=lr, betas=config.betas, weight_decay=weight_decay)
    return train(model, batches, config, optimizer=optimizer)


def _check_method(method: str) -> None:
    if method not in SFT_METHODS:
        raise ValueError(f"method must be one of {SFT_METHODS}, got {method!r}")
