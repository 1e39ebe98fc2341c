"""Checks for lesson 06's exercises: freezing a classifier's body, the LoRA forward pass, and the
confusion matrix.

Each check runs the learner's function and the reference on fresh random inputs, prints a
one-line verdict, and on failure a hint aimed at the usual mistake (never the solution).
"""

from __future__ import annotations

import random

import torch
from torch import nn

from ..finetune import GPTClassifier, confusion_matrix, freeze_body
from ..transformer import GPT, GPTConfig
from . import Hint, check_function

# --- freezing the body ----------------------------------------------------------------------


def _classifier_inputs(rng: random.Random):
    C = rng.choice([8, 16])
    torch.manual_seed(rng.randrange(2**31))
    gpt = GPT(GPTConfig(vocab_size=7, block_size=8, n_layer=rng.randint(1, 3), n_head=2, n_embd=C))
    return (GPTClassifier(gpt, rng.randint(2, 4)),)


def _trainable_flags(fn):
    """Run ``fn(model)`` and report ``{parameter name: requires_grad}`` of the model after it
    (``fn`` may change the model in place or return it)."""

    def run(model):
        out = fn(model)
        m = out if isinstance(out, nn.Module) else model
        return {name: p.requires_grad for name, p in m.named_parameters()}

    return run


def _flags_where(pred):
    def applies(args, got, expected):
        if not isinstance(got, dict):
            return False
        body = [v for k, v in got.items() if k.startswith("gpt.")]
        head = [v for k, v in got.items() if k.startswith("head.")]
        return bool(body) and bool(head) and pred(body, head, got)

    return applies


FREEZE_HINTS = [
    Hint(
        _flags_where(lambda body, head, got: not any(body) and not any(head)),
        "the head is frozen too: nothing would train. Freeze model.gpt's parameters only and "
        "leave model.head's trainable",
    ),
    Hint(
        _flags_where(lambda body, head, got: all(body) and not any(head)),
        "it is the other way round: you froze the head and left the body trainable",
    ),
    Hint(
        _flags_where(lambda body, head, got: all(body) and all(head)),
        "nothing is frozen: set requires_grad to False on every parameter of model.gpt "
        "(p.requires_grad_(False))",
    ),
    Hint(
        _flags_where(lambda body, head, got: any(body)),
        "part of the body is still trainable: freeze every parameter of model.gpt (token and "
        "position embeddings, every block, the final LayerNorm), e.g. by looping over "
        "model.gpt.parameters()",
    ),
]


def check_freeze_body(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(model)``: it freezes every parameter of a :class:`GPTClassifier`'s GPT body
    (``requires_grad=False``) and leaves the head trainable (in place; it may return the model)."""
    return check_function(
        _trainable_flags(fn),
        _trainable_flags(freeze_body),
        _classifier_inputs,
        name="check_freeze_body",
        trials=5,
        hints=FREEZE_HINTS,
        verbose=verbose,
    )


# --- the LoRA forward pass --------------------------------------------------------------------


def _lora_reference(x, W, b, A, B, alpha, r):
    return x @ W.T + b + (alpha / r) * (x @ A.T @ B.T)


def _lora_variant(x, W, b, A, B, alpha, r, kind):
    base = x @ W.T + b
    delta = x @ A.T @ B.T
    return {
        "no_scaling": base + delta,
        "alpha_only": base + alpha * delta,
        "inverted": base + (r / alpha) * delta,
        "no_base": (alpha / r) * delta,
        "no_bias": x @ W.T + (alpha / r) * delta,
        "no_adapter": base,
    }[kind]


def _lora_is(kind):
    def applies(args, got, expected):
        want = _lora_variant(*args, kind)
        return (
            isinstance(got, torch.Tensor)
            and got.shape == want.shape
            and torch.allclose(got.to(want.dtype), want, atol=1e-8)
        )

    return applies


LORA_HINTS = [
    Hint(
        _lora_is("no_scaling"),
        "the low-rank update is not scaled: multiply B(A x) by alpha / r",
    ),
    Hint(_lora_is("alpha_only"), "the update is scaled by alpha: the scale is alpha / r"),
    Hint(_lora_is("inverted"), "the scale is upside down: it is alpha / r, not r / alpha"),
    Hint(
        _lora_is("no_base"),
        "the frozen layer's output is missing: LoRA ADDS the low-rank update to W x + b",
    ),
    Hint(_lora_is("no_bias"), "the frozen layer's bias b is missing"),
    Hint(
        _lora_is("no_adapter"),
        "this is the frozen layer alone: add the low-rank update (alpha / r) * B (A x)",
    ),
]


def _lora_inputs(rng: random.Random):
    n_in, n_out, r = rng.randint(3, 12), rng.randint(3, 12), rng.choice([2, 4])
    g = torch.Generator().manual_seed(rng.randrange(2**31))

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    lead = (rng.randint(1, 3), rng.randint(1, 4))  # (B, T)
    # scales 1, alpha, alpha / r and r / alpha all differ, so each usual mistake shows and gets
    # its own hint (alpha = 2, r = 4 made "scaled by alpha" and "upside down" the same number;
    # r = 1 or alpha = 1 make two of them equal too)
    alpha = float(rng.choice([a for a in (2, 8, 16, 32) if a != r and a * a != r]))
    x, W, b = randn(*lead, n_in), randn(n_out, n_in), randn(n_out)
    A, B = randn(r, n_in), randn(n_out, r)
    return x, W, b, A, B, alpha, r


def check_lora_forward(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(x, W, b, A, B, alpha, r) -> y``: a LoRA layer's output for ``x`` ``(..., in)``,
    frozen weight ``W`` ``(out, in)`` and bias ``b`` ``(out,)``, adapter ``A`` ``(r, in)`` and
    ``B`` ``(out, r)`` (non-zero here, as after some training), float64."""
    return check_function(
        fn,
        _lora_reference,
        _lora_inputs,
        name="check_lora_forward",
        trials=15,
        hints=LORA_HINTS,
        verbose=verbose,
    )


# --- the confusion matrix ---------------------------------------------------------------------


def _confusion_reference(labels, pred, n_classes):
    return confusion_matrix(labels, pred, n_classes)


def _conf_is(transform):
    def applies(args, got, expected):
        if not isinstance(got, torch.Tensor) or got.shape != expected.shape:
            return False
        want = transform(expected)
        return torch.allclose(got.double(), want.double(), atol=1e-6)

    return applies


CONFUSION_HINTS = [
    Hint(
        _conf_is(lambda e: e.T),
        "rows and columns are swapped: row i is the TRUE class, column j the PREDICTED one",
    ),
    Hint(
        _conf_is(lambda e: e / e.sum().clamp_min(1)),
        "the matrix is normalised: return counts (integers), not fractions",
    ),
    Hint(
        _conf_is(lambda e: e / e.sum(1, keepdim=True).clamp_min(1)),
        "the rows are normalised: return counts (integers), not fractions",
    ),
    Hint(
        lambda args, got, expected: isinstance(got, torch.Tensor) and got.shape != expected.shape,
        "the matrix must be n_classes x n_classes, even when a class never occurs in labels or "
        "pred",
    ),
]


def _confusion_inputs(rng: random.Random):
    K = rng.randint(2, 5)
    N = rng.randint(1, 30)
    labels = torch.tensor([rng.randrange(K - 1 if rng.random() < 0.3 else K) for _ in range(N)])
    pred = torch.tensor([rng.randrange(K) for _ in range(N)])
    return labels, pred, K


def check_confusion_matrix(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(labels, pred, n_classes) -> (K, K)`` counts: entry ``[i, j]`` is how many
    examples of true class ``i`` were predicted as ``j``."""
    return check_function(
        fn,
        _confusion_reference,
        [(torch.tensor([0, 1, 1]), torch.tensor([1, 1, 0]), 3)]
        + [_confusion_inputs(random.Random(i)) for i in range(20)],
        name="check_confusion_matrix",
        hints=CONFUSION_HINTS,
        verbose=verbose,
    )
