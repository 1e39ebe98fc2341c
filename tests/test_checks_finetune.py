"""Lesson 06's exercise checks pass the reference, catch the usual mistakes with the right hint,
and report an answer that only calls the library's version."""

import copy
import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import finetune as ft
from course_lib.checks import finetune as checks


def _verdict(capsys, check, fn):
    ok = check(fn)
    return ok, capsys.readouterr().out


def _stub(*args):
    raise NotImplementedError()


# --- freezing the body --------------------------------------------------------------------------


def freeze_body(model):
    for p in model.gpt.parameters():
        p.requires_grad_(False)
    for p in model.head.parameters():
        p.requires_grad_(True)
    return model


def test_freeze_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_freeze_body, freeze_body)
    assert ok and out.startswith("✅ check_freeze_body: passed on 5 random inputs")


def _freeze_all(model):
    for p in model.parameters():
        p.requires_grad_(False)


def _freeze_blocks_only(model):
    for p in model.gpt.blocks.parameters():
        p.requires_grad_(False)


def _freeze_head(model):
    for p in model.head.parameters():
        p.requires_grad_(False)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_freeze_all, "the head is frozen too"),
        (_freeze_blocks_only, "part of the body is still trainable"),
        (_freeze_head, "the other way round"),
        (lambda model: model, "nothing is frozen"),
    ],
)
def test_freeze_check_catches_the_usual_mistakes(capsys, wrong, hint):
    ok, out = _verdict(capsys, checks.check_freeze_body, wrong)
    assert not ok and out.startswith("❌ check_freeze_body: failed") and hint in out


@pytest.mark.parametrize(
    "library_answer", [ft.freeze_body, lambda model: ft.set_trainable(model, "body")]
)
def test_freeze_check_reports_the_library_version(capsys, library_answer):
    ok, out = _verdict(capsys, checks.check_freeze_body, library_answer)
    assert not ok and out.startswith("⚠️ check_freeze_body: uses the library version")


def test_freeze_check_stops_on_an_unwritten_stub(capsys):
    with pytest.raises(NotImplementedError):
        checks.check_freeze_body(_stub)
    assert "❌ check_freeze_body: not attempted" in capsys.readouterr().out


# --- a LoRA layer -------------------------------------------------------------------------------


class LoRA(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base, self.r, self.alpha = base, r, alpha
        for p in base.parameters():
            p.requires_grad_(False)
        self.A = nn.Parameter(torch.randn(r, base.in_features) / base.in_features**0.5)
        self.B = nn.Parameter(torch.zeros(base.out_features, r))

    def forward(self, x):
        return self.base(x) + (self.alpha / self.r) * (x @ self.A.T @ self.B.T)


def test_lora_layer_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_lora_layer, LoRA)
    assert ok and out.startswith("✅ check_lora_layer: passed on 5 random layers")


def _forward_variant(forward):
    """The solution's class with another forward(self, x)."""
    return type("WrongLoRA", (LoRA,), {"forward": forward})


class _RandomB(LoRA):
    def __init__(self, base, r, alpha):
        super().__init__(base, r, alpha)
        self.B = nn.Parameter(torch.randn(base.out_features, r) * 0.01)


class _ZeroA(LoRA):
    def __init__(self, base, r, alpha):
        super().__init__(base, r, alpha)
        self.A = nn.Parameter(torch.zeros(r, base.in_features))


class _BaseTrains(LoRA):
    def __init__(self, base, r, alpha):
        super().__init__(base, r, alpha)
        base.requires_grad_(True)


class _PlainTensors(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        self.base, self.r, self.alpha = base, r, alpha
        base.requires_grad_(False)
        self.A = torch.randn(r, base.in_features, requires_grad=True)
        self.B = torch.zeros(base.out_features, r, requires_grad=True)


class _SwappedShapes(LoRA):
    def __init__(self, base, r, alpha):
        super().__init__(base, r, alpha)
        self.A = nn.Parameter(torch.randn(base.in_features, r))
        self.B = nn.Parameter(torch.zeros(r, base.out_features))

    def forward(self, x):
        return self.base(x) + (self.alpha / self.r) * (x @ self.A @ self.B)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (
            _forward_variant(lambda s, x: s.base(x) + x @ s.A.T @ s.B.T),
            "multiply B(A x) by alpha / r",
        ),
        (
            _forward_variant(lambda s, x: s.base(x) + s.alpha * (x @ s.A.T @ s.B.T)),
            "the scale is alpha / r",
        ),
        (
            _forward_variant(lambda s, x: s.base(x) + s.r / s.alpha * (x @ s.A.T @ s.B.T)),
            "upside down",
        ),
        (
            _forward_variant(lambda s, x: s.alpha / s.r * (x @ s.A.T @ s.B.T)),
            "frozen layer's output is missing",
        ),
        (
            _forward_variant(
                lambda s, x: x @ s.base.weight.T + s.alpha / s.r * (x @ s.A.T @ s.B.T)
            ),
            "bias b is missing",
        ),
        (_forward_variant(lambda s, x: s.base(x)), "the frozen layer alone"),
        (_RandomB, "B must start at zero"),
        (_ZeroA, "A must start random, not zero"),
        (_BaseTrains, "the frozen layer still trains"),
        (_PlainTensors, "must both be nn.Parameter"),
        (_SwappedShapes, "A reduces the input to r numbers"),
    ],
)
def test_lora_layer_check_catches_the_usual_mistakes(capsys, wrong, hint):
    ok, out = _verdict(capsys, checks.check_lora_layer, wrong)
    assert not ok and out.startswith("❌ check_lora_layer: failed") and hint in out


class _Subclass(ft.LoRALinear):
    pass


class _Wrapper(nn.Module):
    def __init__(self, base, r, alpha):
        super().__init__()
        self.inner = ft.LoRALinear(base, r, alpha)

    def forward(self, x):
        return self.inner(x)


class _BuiltElsewhere(nn.Module):
    """Reaches the library's class through a helper the static reading cannot follow."""

    def __init__(self, base, r, alpha):
        super().__init__()
        self.inner = getattr(ft, "LoRA" + "Linear")(base, r, alpha)

    def forward(self, x):
        return self.inner(x)


@pytest.mark.parametrize("library_answer", [ft.LoRALinear, _Subclass, _Wrapper, _BuiltElsewhere])
def test_lora_layer_check_reports_the_library_version(capsys, library_answer):
    ok, out = _verdict(capsys, checks.check_lora_layer, library_answer)
    assert not ok and out.startswith("⚠️ check_lora_layer: uses the library version")


def test_lora_layer_check_stops_on_an_unwritten_stub(capsys):
    class Stub(nn.Module):
        def __init__(self, base, r, alpha):
            super().__init__()
            raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.check_lora_layer(Stub)
    assert "❌ check_lora_layer: not attempted" in capsys.readouterr().out


def test_lora_sizes_keep_the_usual_mistakes_apart():
    # each wrong scale (none, alpha, r / alpha) must give a different number from the right one
    # and from each other, on every draw, or a wrong answer gets another mistake's hint; and
    # in != out, so that a transposed matrix cannot pass
    for seed in range(3000):
        n_in, n_out, r, alpha = checks._lora_sizes(random.Random(seed))
        assert len({1.0, alpha, alpha / r, r / alpha}) == 4 and n_in != n_out, seed


# --- merging the adapter ------------------------------------------------------------------------


def merge_lora(layer):
    merged = nn.Linear(layer.base.in_features, layer.base.out_features)
    with torch.no_grad():
        merged.weight.copy_(layer.base.weight + (layer.alpha / layer.r) * layer.B @ layer.A)
        merged.bias.copy_(layer.base.bias)
    return merged


def test_merge_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_lora_merge, merge_lora)
    assert ok and out.startswith("✅ check_lora_merge: passed on 10 random layers")


def _merge_with(weight, bias=True):
    """A merge writing ``weight(layer)`` into a copy of the base (and its bias, if ``bias``)."""

    def merge(layer):
        merged = nn.Linear(layer.base.in_features, layer.base.out_features)
        with torch.no_grad():
            merged.weight.copy_(weight(layer))
            if bias:
                merged.bias.copy_(layer.base.bias)
        return merged

    return merge


def _in_place(layer):
    with torch.no_grad():
        layer.base.weight += layer.alpha / layer.r * layer.B @ layer.A
    return layer.base


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_merge_with(lambda m: m.base.weight + m.B @ m.A), "B A is not scaled"),
        (_merge_with(lambda m: m.base.weight + m.alpha * m.B @ m.A), "scaled by alpha"),
        (_merge_with(lambda m: m.base.weight + m.r / m.alpha * m.B @ m.A), "upside down"),
        (_merge_with(lambda m: m.base.weight), "the frozen weight W alone"),
        (_merge_with(lambda m: m.base.weight + m.scaling * m.B @ m.A, bias=False), "bias b"),
        (lambda m: m.base.weight + m.scaling * m.B @ m.A, "it returned a tensor"),
        (lambda m: m, "it returned a LoRA layer again"),
        (_in_place, "the LoRA layer you were given changed too"),
        (_merge_with(lambda m: m.base.weight + m.scaling * m.A.T @ m.B.T), "raised RuntimeError"),
    ],
)
def test_merge_check_catches_the_usual_mistakes(capsys, wrong, hint):
    ok, out = _verdict(capsys, checks.check_lora_merge, wrong)
    assert not ok and out.startswith("❌ check_lora_merge: failed") and hint in out


def _merged_through_the_class(layer):
    return ft.LoRALinear.merged(layer)


@pytest.mark.parametrize(
    "library_answer", [lambda layer: layer.merged(), _merged_through_the_class]
)
def test_merge_check_reports_the_library_version(capsys, library_answer):
    ok, out = _verdict(capsys, checks.check_lora_merge, library_answer)
    assert not ok and out.startswith("⚠️ check_lora_merge: uses the library version")
    assert ft.LoRALinear.merged.__name__ == "merged"  # the library's method is put back


def test_merge_check_stops_on_an_unwritten_stub(capsys):
    with pytest.raises(NotImplementedError):
        checks.check_lora_merge(_stub)
    assert "❌ check_lora_merge: not attempted" in capsys.readouterr().out


# --- a linear probe by gradient descent -------------------------------------------------------


def _fit(feats, labels, n_classes, steps, lr, weight_decay, **mistake):
    """A learner's probe with autograd: right, or with one of the usual ``mistake``s."""
    x = feats
    if not mistake.get("no_standardise"):
        std = feats.std(0) if mistake.get("unbiased_std") else feats.std(0, unbiased=False)
        x = (feats - feats.mean(0)) / std
    W = torch.zeros(n_classes, feats.shape[1], requires_grad=True)
    b = torch.zeros(n_classes, requires_grad=True)
    wd = {"no_decay": 0.0, "half_decay": weight_decay / 2}
    decay = next((v for k, v in wd.items() if mistake.get(k)), weight_decay)
    for _ in range(steps + mistake.get("extra_steps", 0)):
        ce = F.cross_entropy(x @ W.T + b, labels, reduction="sum" if mistake.get("sum") else "mean")
        loss = ce + decay * (W**2).sum() + (weight_decay * (b**2).sum() if mistake.get("b") else 0)
        gW, gb = torch.autograd.grad(loss, (W, b))
        sign = -1 if mistake.get("ascent") else 1
        with torch.no_grad():
            W -= sign * lr * gW
            b -= sign * lr * gb
    W = W.detach()
    return (W.T if mistake.get("transposed") else W), b.detach()


def fit_probe(feats, labels, n_classes, steps, lr, weight_decay):
    return _fit(feats, labels, n_classes, steps, lr, weight_decay)


def test_probe_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_probe, fit_probe)
    assert ok and out.startswith("✅ check_probe: passed on 10 random inputs")


@pytest.mark.parametrize(
    "mistake, hint",
    [
        ({"no_standardise": True}, "standardise the features first"),
        ({"unbiased_std": True}, "unbiased=False"),
        ({"no_decay": True}, "the L2 penalty is missing"),
        ({"half_decay": True}, "2 * weight_decay * W"),
        ({"b": True}, "penalise W only"),
        ({"sum": True}, "the mean, not the sum"),
        ({"ascent": True}, "step AGAINST the gradient"),
        ({"extra_steps": 1}, "one step too many"),
        ({"extra_steps": -1}, "one step too few"),
        ({"transposed": True}, "W is (n_classes, C)"),
    ],
)
def test_probe_check_catches_the_usual_mistakes(capsys, mistake, hint):
    def wrong(feats, labels, n_classes, steps, lr, weight_decay):
        return _fit(feats, labels, n_classes, steps, lr, weight_decay, **mistake)

    ok, out = _verdict(capsys, checks.check_probe, wrong)
    assert not ok and out.startswith("❌ check_probe: failed") and hint in out


def test_probe_inputs_keep_the_usual_mistakes_apart():
    # on every draw, each mistake's result is told apart from the right one and from every
    # earlier mistake's (the hints are tried in PROBE_MISTAKES' order), so it gets its own hint
    assert [h.message for h in checks.PROBE_HINTS[:-1]] == list(checks.PROBE_MISTAKES.values())
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead (conftest restores it)
    rng = random.Random(0)
    for _ in range(50):
        args = checks._probe_inputs(rng)
        kinds = ["right", *checks.PROBE_MISTAKES]
        results = [checks._probe(*args, kind=k) for k in kinds]
        for i, got in enumerate(results):
            for j in range(i):
                assert checks.compare(got, results[j], atol=1e-4, rtol=1e-4), (kinds[i], kinds[j])


def test_probe_check_reports_the_library_version(capsys):
    def library_answer(feats, labels, n_classes, steps, lr, weight_decay):
        probe = ft.linear_probe(feats, labels, n_classes, weight_decay=weight_decay)
        return probe.linear.weight, probe.linear.bias

    ok, out = _verdict(capsys, checks.check_probe, library_answer)
    assert not ok and out.startswith("⚠️ check_probe: uses the library version")


def test_probe_check_stops_on_an_unwritten_stub(capsys):
    with pytest.raises(NotImplementedError):
        checks.check_probe(_stub)
    assert "❌ check_probe: not attempted" in capsys.readouterr().out


# --- predict, then measure: LoRA's rank ----------------------------------------------------------


def test_rank_prediction_passes_any_made_prediction_and_explains(capsys):
    assert checks.check_lora_rank_prediction(4, 4) is True
    out = capsys.readouterr().out
    assert out.startswith("✅ check_lora_rank_prediction: passed (prediction made)")
    assert "you predicted 4; the experiment measured 4: right" in out
    assert "rank at most r" in out
    assert checks.check_lora_rank_prediction(16, 4) is False
    out = capsys.readouterr().out
    assert out.startswith("✅ check_lora_rank_prediction: passed") and "not what happened" in out


def test_rank_prediction_not_made_or_malformed(capsys):
    assert checks.check_lora_rank_prediction(None, 4) is False
    assert "❌ check_lora_rank_prediction: not attempted" in capsys.readouterr().out
    assert checks.check_lora_rank_prediction(3, 4) is False
    assert "❌ check_lora_rank_prediction: failed" in capsys.readouterr().out


def test_rank_experiment_measures_the_rank_of_the_change():
    # the notebook's experiment, in fast mode's size: adapters of rank below the change's rank
    # leave a share of it unexplained, from its rank on they fit it
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead (conftest restores it)
    torch.manual_seed(0)
    base = nn.Linear(32, 32)
    U, V = (torch.linalg.qr(torch.randn(32, 4))[0] for _ in range(2))
    change = 2.0 * U @ V.T
    xs = torch.randn(256, 32)
    with torch.no_grad():
        target = base(xs) + xs @ change.T
    left = {}
    for r in (2, 4, 8):
        adapter = ft.LoRALinear(copy.deepcopy(base), r=r, alpha=r)
        opt = torch.optim.Adam([adapter.A, adapter.B], lr=2e-2)
        for _ in range(60):
            loss = (adapter(xs) - target).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            left[r] = float((adapter(xs) - target).pow(2).sum() / (xs @ change.T).pow(2).sum())
    assert left[2] > 0.3 and left[4] < 0.01 and left[8] < 0.01, left
