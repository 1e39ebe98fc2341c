"""Checks for lesson 06's exercises: freezing a classifier's body, a LoRA layer, merging a LoRA
adapter into one matrix, a linear probe fitted by gradient descent, and the "predict, then
measure" experiment on LoRA's rank.

Each check runs the learner's code and the reference on fresh random inputs, prints a one-line
verdict, and on failure a hint aimed at the usual mistake (never the solution). An answer that
only calls the library's version (``ft.freeze_body``, ``ft.LoRALinear``, ``layer.merged()``,
``ft.linear_probe``) gets "uses the library version", not a pass.
"""

from __future__ import annotations

import random
from contextlib import contextmanager

import torch
import torch.nn.functional as F
from torch import nn

from ..finetune import (
    GPTClassifier,
    LinearProbe,
    LoRALinear,
    freeze_body,
    linear_probe,
    set_trainable,
)
from ..transformer import GPT, GPTConfig
from . import (
    _NOT_WRITTEN,
    Hint,
    _fail,
    _pass,
    _qualified,
    _short,
    check_function,
    check_prediction,
    check_rng,
    compare,
    library_verdict,
    report_library_use,
    uses_library,
)

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
    name = "check_freeze_body"
    if library_verdict(fn, [freeze_body, set_trainable], name, verbose) is False:
        return False
    return check_function(
        _trainable_flags(fn),
        _trainable_flags(freeze_body),
        _classifier_inputs,
        name=name,
        trials=5,
        hints=FREEZE_HINTS,
        verbose=verbose,
    )


# --- what the LoRA checks share ---------------------------------------------------------------


def _lora_sizes(rng: random.Random):
    """``(in, out, r, alpha)`` with in != out, so that a transposed matrix cannot fit by chance,
    and the scales 1, alpha, alpha / r and r / alpha all different, so that each wrong scaling
    shows and gets its own hint (alpha = 2, r = 4 would make "scaled by alpha" and "upside
    down" the same number)."""
    n_in = rng.randint(3, 12)
    n_out = rng.choice([n for n in range(3, 13) if n != n_in])
    r = rng.choice([2, 4])
    alpha = float(rng.choice([a for a in (2, 8, 16, 32) if a != r and a * a != r]))
    return n_in, n_out, r, alpha


def _lora_variant(x, W, b, A, B, alpha, r, kind):
    """The LoRA output, right (``"right"``) or with one usual mistake."""
    base = x @ W.T + b
    delta = x @ A.T @ B.T
    return {
        "right": base + (alpha / r) * delta,
        "no_scaling": base + delta,
        "alpha_only": base + alpha * delta,
        "inverted": base + (r / alpha) * delta,
        "no_base": (alpha / r) * delta,
        "no_bias": x @ W.T + (alpha / r) * delta,
        "no_adapter": base,
    }[kind]


LORA_MISTAKES = {
    "no_scaling": "the low-rank update is not scaled: multiply B(A x) by alpha / r",
    "alpha_only": "the update is scaled by alpha: the scale is alpha / r",
    "inverted": "the scale is upside down: it is alpha / r, not r / alpha",
    "no_base": "the frozen layer's output is missing: LoRA ADDS the low-rank update to W x + b",
    "no_bias": "the frozen layer's bias b is missing",
    "no_adapter": "this is the frozen layer alone: add the low-rank update (alpha / r) * B (A x)",
}


def _lora_hint(got, x, W, b, A, B, alpha, r) -> str | None:
    """The hint of the first usual mistake that ``got`` matches, if any."""
    if not isinstance(got, torch.Tensor):
        return None
    for kind, message in LORA_MISTAKES.items():
        want = _lora_variant(x, W, b, A, B, alpha, r, kind)
        if got.shape == want.shape and torch.allclose(got.detach().double(), want, atol=1e-4):
            return message
    return None


def _wrong(reason: str, setting: str, expected, got, hint: str | None) -> str:
    lines = [
        f"wrong result: {reason}",
        f"input:    {setting}",
        f"expected: {_short(expected)}",
        f"got:      {_short(got)}",
    ]
    return "\n".join(lines + ([f"hint:     {hint}"] if hint else []))


# --- a LoRA layer ----------------------------------------------------------------------------


def _on_random_layers(problem_of, trials: int, name: str, verbose: bool) -> bool:
    """Run ``problem_of(rng)`` on ``trials`` random layers: ``None`` is a pass, ``False`` a verdict
    already printed, a string the problem to report. An unwritten answer stops "Run All"."""
    rng = check_rng(name)
    for _ in range(trials):
        try:
            problem = problem_of(rng)
        except NotImplementedError:
            _fail(name, _NOT_WRITTEN, verbose, verdict="not attempted", strict=False)
            raise
        if problem is False:
            return False
        if problem:
            return _fail(name, problem, verbose)
    return _pass(name, f"passed on {trials} random layers", verbose)


def _class_uses_library(cls) -> str | None:
    """The library LoRA that the learner's class is, subclasses or builds in a method."""
    if cls is LoRALinear or (isinstance(cls, type) and issubclass(cls, LoRALinear)):
        return _qualified(LoRALinear)
    for attr in vars(cls).values() if isinstance(cls, type) else ():
        fn = getattr(attr, "__func__", attr)
        if callable(fn) and (used := uses_library(fn, [LoRALinear])):
            return used
    return None


def _structure_problem(layer, base, n_in, n_out, r) -> str | None:
    """What is wrong with a freshly built LoRA layer's parameters, if anything."""
    A, B = getattr(layer, "A", None), getattr(layer, "B", None)
    if not isinstance(A, nn.Parameter) or not isinstance(B, nn.Parameter):
        return (
            "self.A and self.B must both be nn.Parameter (a plain tensor is not registered as a "
            "parameter, so no optimizer would ever train it)"
        )
    if tuple(A.shape) != (r, n_in) or tuple(B.shape) != (n_out, r):
        return (
            f"with in = {n_in}, out = {n_out}, r = {r}: A should be ({r}, {n_in}) and B "
            f"({n_out}, {r}), got A {tuple(A.shape)} and B {tuple(B.shape)}. A reduces the input "
            "to r numbers, B brings them back to the output's size"
        )
    if any(p.requires_grad for p in base.parameters()):
        return (
            "the frozen layer still trains: set requires_grad to False on base's parameters "
            "(its weight W and its bias b)"
        )
    trainable = [p for p in layer.parameters() if p.requires_grad]
    if not (A.requires_grad and B.requires_grad):
        return "A and B must train: leave requires_grad True on them"
    if len(trainable) != 2:
        return f"only A and B may train; {len(trainable)} parameters of your layer train"
    if torch.count_nonzero(B.detach()):
        return "B must start at zero: then the new layer starts as exactly the frozen one"
    if not torch.count_nonzero(A.detach()):
        return (
            "A must start random, not zero: with A and B both zero, neither gets a gradient, "
            "and the adapter never trains"
        )
    return None


def _lora_layer_problem(cls, rng: random.Random, name: str, verbose: bool) -> str | bool | None:
    """Build the learner's layer on a random ``nn.Linear`` and compare it with the reference:
    a message saying what is wrong, False after a library verdict, or None when right."""
    n_in, n_out, r, alpha = _lora_sizes(rng)
    torch.manual_seed(rng.randrange(2**31))
    base = nn.Linear(n_in, n_out)
    W, b = base.weight.detach().double().clone(), base.bias.detach().double().clone()
    setting = f"LoRA(nn.Linear({n_in}, {n_out}), r={r}, alpha={alpha:g})"
    try:
        layer = cls(base, r, alpha)
    except NotImplementedError:
        raise
    except Exception as e:
        return f"building {setting} raised {type(e).__name__}: {e}"
    if any(isinstance(m, LoRALinear) for m in layer.modules()):
        return report_library_use(_qualified(LoRALinear), name, verbose)
    problem = _structure_problem(layer, base, n_in, n_out, r)
    if problem:
        return f"{setting}: {problem}"
    x = torch.randn(2, 3, n_in)
    for when in ("at the start", "after training"):
        if when == "after training":  # as if trained: A and B random
            with torch.no_grad():
                layer.A.copy_(torch.randn(r, n_in))
                layer.B.copy_(torch.randn(n_out, r))
        A, B = layer.A.detach().double(), layer.B.detach().double()
        expected = _lora_variant(x.double(), W, b, A, B, alpha, r, "right").float()
        try:
            got = layer(x)
        except Exception as e:
            return f"{setting}, layer(x) {when} raised {type(e).__name__}: {e}"
        reason = compare(got, expected, atol=1e-4, rtol=1e-4)
        if reason:
            hint = _lora_hint(got, x.double(), W, b, A, B, alpha, r)
            return _wrong(reason, f"{setting} {when}, x {tuple(x.shape)}", expected, got, hint)
    return None


def check_lora_layer(cls, *, trials: int = 5, verbose: bool = True) -> bool:
    """Check the learner's class ``cls(base, r, alpha)``: a LoRA layer on the frozen
    ``nn.Linear`` ``base``, with ``A`` ``(r, in)`` random and ``B`` ``(out, r)`` zero, both
    ``nn.Parameter`` and the only parameters that train, and ``forward(x)`` equal to
    ``W x + b + (alpha / r) B A x`` (at the start, and with A and B set to random values)."""
    name = "check_lora_layer"
    used = _class_uses_library(cls)
    if used:
        return report_library_use(used, name, verbose)
    return _on_random_layers(
        lambda rng: _lora_layer_problem(cls, rng, name, verbose), trials, name, verbose
    )


# --- merging the adapter ----------------------------------------------------------------------


@contextmanager
def _watch_merged(calls: list):
    """Note in ``calls`` every call of the library's ``LoRALinear.merged`` (the answer), however
    it is reached (``layer.merged()``, ``ft.LoRALinear.merged(layer)``), while the block runs."""
    original = LoRALinear.merged

    def watched(self):
        calls.append(self)
        return original(self)

    LoRALinear.merged = watched
    try:
        yield calls
    finally:
        LoRALinear.merged = original


def _trained_lora(rng: random.Random) -> LoRALinear:
    n_in, n_out, r, alpha = _lora_sizes(rng)
    torch.manual_seed(rng.randrange(2**31))
    layer = LoRALinear(nn.Linear(n_in, n_out), r=r, alpha=alpha)
    with torch.no_grad():
        layer.B.normal_()  # as if trained
    return layer


MERGE_MISTAKES = {
    "no_scaling": (1.0, "B A is not scaled: the merged weight is W + (alpha / r) B A"),
    "alpha_only": ("alpha", "B A is scaled by alpha: the scale is alpha / r"),
    "inverted": ("r/alpha", "the scale is upside down: it is alpha / r, not r / alpha"),
    "no_adapter": (0.0, "this is the frozen weight W alone: add (alpha / r) B A"),
}


def _merge_hint(got, layer) -> str | None:
    W, BA = layer.base.weight.detach().double(), (layer.B @ layer.A).detach().double()
    scales = {"alpha": layer.alpha, "r/alpha": layer.r / layer.alpha}
    for scale, message in MERGE_MISTAKES.values():
        want = W + scales.get(scale, scale) * BA
        if got.shape == want.shape and torch.allclose(got.detach().double(), want, atol=1e-4):
            return message
    if got.shape == W.shape[::-1]:
        return "the weight is transposed: nn.Linear's weight is (out, in), as W is"
    return None


def _merge_problem(fn, layer, name: str, verbose: bool) -> str | bool | None:
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    n_in, n_out = layer.base.in_features, layer.base.out_features
    setting = f"a LoRA layer on nn.Linear({n_in}, {n_out}), r={layer.r}, alpha={layer.alpha:g}"
    want_w = (layer.base.weight + layer.scaling * layer.B @ layer.A).detach()
    want_b = layer.base.bias.detach().clone()
    try:
        with _watch_merged([]) as calls:
            out = fn(layer)
    except NotImplementedError:
        raise
    except Exception as e:
        return f"calling it on {setting} raised {type(e).__name__}: {e}"
    if calls:
        return report_library_use(_qualified(LoRALinear.merged), name, verbose)
    if isinstance(out, torch.Tensor):
        return (
            f"on {setting} it returned a tensor: return a layer, an nn.Linear, whose weight is "
            "the merged matrix and whose bias is b"
        )
    if isinstance(out, LoRALinear):
        return f"on {setting} it returned a LoRA layer again: return a plain nn.Linear"
    if not isinstance(out, nn.Module) or not isinstance(getattr(out, "weight", None), torch.Tensor):
        return f"on {setting} it returned {type(out).__name__}: return an nn.Linear"
    reason = compare(out.weight, want_w, atol=1e-4, rtol=1e-4)
    if reason:
        hint = _merge_hint(out.weight, layer)
        return _wrong(f"the weight: {reason}", setting, want_w, out.weight.detach(), hint)
    if not isinstance(out.bias, torch.Tensor) or compare(out.bias, want_b, atol=1e-6):
        return (
            f"on {setting} the weight is right, but the bias is not the frozen layer's bias b "
            "(a new nn.Linear starts with a random bias: copy b into it)"
        )
    if any(not torch.equal(v, layer.state_dict()[k]) for k, v in before.items()):
        return (
            f"on {setting} the merged layer is right, but the LoRA layer you were given changed "
            "too (its base weight now holds the merge, so the adapter counts twice): build a new "
            "nn.Linear, or copy the base first (copy.deepcopy)"
        )
    return None


def check_lora_merge(fn, *, trials: int = 10, verbose: bool = True) -> bool:
    """Check ``fn(layer) -> nn.Linear``: for a trained :class:`LoRALinear` ``layer``, a plain
    linear layer with weight ``W + (alpha / r) B A`` and the frozen bias ``b``, leaving ``layer``
    itself unchanged; ``layer.merged()`` (the library's answer) is not allowed."""
    name = "check_lora_merge"
    if library_verdict(fn, [LoRALinear.merged], name, verbose) is False:
        return False
    return _on_random_layers(
        lambda rng: _merge_problem(fn, _trained_lora(rng), name, verbose), trials, name, verbose
    )


# --- a linear probe by gradient descent --------------------------------------------------------


def _probe(feats, labels, n_classes, steps, lr, weight_decay, kind: str = "right"):
    """The probe of the exercise (float64, hand-written gradients), right or with one usual
    mistake ``kind``: ``W`` ``(K, C)`` and ``b`` ``(K,)`` after ``steps`` steps of full-batch
    gradient descent on standardised features."""
    x = feats.double()
    N, C = x.shape
    if kind != "no_standardise":
        x = (x - x.mean(0)) / x.std(0, unbiased=kind == "unbiased_std")
    Y = F.one_hot(torch.as_tensor(labels), n_classes).double()
    W, b = torch.zeros(n_classes, C, dtype=x.dtype), torch.zeros(n_classes, dtype=x.dtype)
    decay = {"no_decay": 0.0, "half_decay": weight_decay}.get(kind, 2 * weight_decay)
    sign = -1.0 if kind == "ascent" else 1.0
    for _ in range(steps + {"one_more": 1, "one_less": -1}.get(kind, 0)):
        G = (torch.softmax(x @ W.T + b, -1) - Y) / (1 if kind == "sum_loss" else N)  # dloss/dlogits
        gW = G.T @ x + decay * W
        gb = G.sum(0) + (2 * weight_decay * b if kind == "decay_bias" else 0)
        W, b = W - sign * lr * gW, b - sign * lr * gb
    return W.to(feats.dtype), b.to(feats.dtype)


PROBE_MISTAKES = {
    "no_standardise": "standardise the features first: subtract each feature's mean over the "
    "examples and divide by its standard deviation",
    "unbiased_std": "close: divide by the standard deviation with unbiased=False "
    "(feats.std(0, unbiased=False)), as the statement says",
    "no_decay": "the L2 penalty is missing: add weight_decay * (W ** 2).sum() to the loss",
    "half_decay": "the penalty's gradient is 2 * weight_decay * W (the derivative of "
    "weight_decay * (W ** 2).sum())",
    "decay_bias": "penalise W only, not the bias b",
    "sum_loss": "average the cross-entropy over the examples (the mean, not the sum)",
    "ascent": "step AGAINST the gradient (W - lr * grad): your loss goes up",
    "one_more": "you took one step too many: exactly `steps` steps",
    "one_less": "you took one step too few: exactly `steps` steps",
}


def _probe_is(kind):
    def applies(args, got, expected):
        want = _probe(*args, kind=kind)
        return compare(got, want, atol=1e-4, rtol=1e-4) is None

    return applies


def _probe_transposed(args, got, expected):
    return isinstance(got, tuple | list) and tuple(got[0].shape) == tuple(expected[0].shape)[::-1]


PROBE_HINTS = [Hint(_probe_is(k), m) for k, m in PROBE_MISTAKES.items()] + [
    Hint(_probe_transposed, "W is (n_classes, C): one row of weights per class"),
]


def _probe_inputs(rng: random.Random):
    C, K = rng.randint(3, 8), rng.randint(2, 4)
    # classes of clearly unequal sizes, so that the bias moves (and penalising it shows)
    labels = [k for k in range(K) for _ in range(rng.randint(3, 6) + 4 * k)]
    rng.shuffle(labels)
    g = torch.Generator().manual_seed(rng.randrange(2**31))
    scale = torch.rand(C, generator=g) * 4 + 0.5  # features on different scales and offsets,
    offset = torch.rand(C, generator=g) * 6 - 3  # as a network's hidden units are
    feats = torch.randn(len(labels), C, generator=g) * scale + offset
    steps, lr = rng.randint(5, 15), rng.choice([0.2, 0.5])
    return feats, torch.tensor(labels), K, steps, lr, rng.choice([0.1, 0.2, 0.4])


def check_probe(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(feats, labels, n_classes, steps, lr, weight_decay) -> (W, b)``: a linear probe
    on standardised features, fitted by ``steps`` steps of full-batch gradient descent from
    zeros on the mean cross-entropy plus ``weight_decay * (W ** 2).sum()``."""
    return check_function(
        fn,
        _probe,
        _probe_inputs,
        name="check_probe",
        trials=10,
        hints=PROBE_HINTS,
        atol=1e-4,
        rtol=1e-4,
        verbose=verbose,
        library=[linear_probe, LinearProbe],
    )


# --- predict, then measure: LoRA's rank ------------------------------------------------------

RANKS = (1, 2, 4, 8, 16)

RANK_EXPLAIN = (
    "the adapter adds (alpha / r) B A to W, and B A x passes through the r numbers of A x: "
    "B A has rank at most r, so a rank-r adapter can change the layer in at most r directions. "
    "The change the task needs has rank 4, four equally strong directions: r = 1 and r = 2 fit "
    "one and two of them (a little under three quarters and a little under half of the change "
    "is left: on random inputs some of the four weigh a little more, and the adapter fits "
    "those first), r = 4 fits all "
    "of it, and r = 8 or 16 fit it no better while training 2 and 4 times as many numbers. "
    "Choosing r is guessing how many directions a task needs. LoRA's bet is that fine-tuning "
    "changes a pre-trained matrix in few directions: Hu et al. (2021) found r = 1 to 8 about as "
    "good as r = 64 on GPT-3's attention matrices."
)


def check_lora_rank_prediction(prediction, measured, *, verbose: bool = True) -> bool:
    """The "predict, then measure" exercise on LoRA's rank: ``prediction`` is the smallest of
    :data:`RANKS` that the learner expects to fit a rank-4 change, ``measured`` the smallest that
    did (None if none did). Passed when a prediction is made; says whether it was right, and
    why."""
    return check_prediction(
        prediction,
        measured,
        name="check_lora_rank_prediction",
        choices=RANKS,
        explain=RANK_EXPLAIN,
        verbose=verbose,
    )
