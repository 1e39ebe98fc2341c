import math

import pytest
import torch

from course_lib.autograd import Neuron, Value, gradient_descent_step
from course_lib.checks import USES_LIBRARY
from course_lib.checks.basics import (
    check_backward_rule,
    check_bits_per_char,
    check_gd_step,
    check_neuron_forward,
    check_perplexity,
)


def test_pass_on_reference(capsys):
    assert check_bits_per_char(lambda loss: loss / math.log(2))
    assert check_perplexity(math.exp)
    out = capsys.readouterr().out
    assert "\u2705 check_bits_per_char: passed" in out and "\u2705 check_perplexity: passed" in out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda loss: math.log2(loss) if loss > 0 else 0.0, "the loss is already a log"),
        (lambda loss: loss * math.log(2), "you multiplied by ln 2"),
        (lambda loss: loss / math.log(10), "you divided by ln 10"),
    ],
)
def test_bits_hints(capsys, wrong, hint):
    assert not check_bits_per_char(wrong)
    assert hint in capsys.readouterr().out


def test_perplexity_hint(capsys):
    assert not check_perplexity(lambda loss: 2**loss)
    assert "use e**loss" in capsys.readouterr().out


# --- the foundation: neuron, backward rule, gradient-descent step ----------------------------


def _neuron(x, w, b):
    return math.tanh(sum(wi * xi for wi, xi in zip(w, x, strict=True)) + b)


def test_foundation_checks_pass_their_references(capsys):
    assert check_neuron_forward(_neuron)
    assert check_backward_rule(lambda x, g: (1 - math.tanh(x) ** 2) * g)
    assert check_gd_step(lambda ps, gs, lr: [p - lr * g for p, g in zip(ps, gs, strict=True)])
    out = capsys.readouterr().out
    for name in ("check_neuron_forward", "check_backward_rule", "check_gd_step"):
        assert f"\u2705 {name}: passed on 20 random inputs" in out
    assert out.count("\n") == 3  # one line each


def test_backward_rule_reference_equals_torch_autograd():
    for x in (-2.0, -0.3, 0.0, 0.7, 2.4):
        for g in (1.0, -1.7):
            t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
            (torch.tanh(t) * g).backward()
            assert (1 - math.tanh(x) ** 2) * g == pytest.approx(t.grad.item(), rel=1e-12)


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (
            lambda x, w, b: sum(wi * xi for wi, xi in zip(w, x, strict=True)) + b,
            "non-linearity is math.tanh",
        ),
        (
            lambda x, w, b: math.tanh(sum(wi * xi for wi, xi in zip(w, x, strict=True))),
            "the bias is missing",
        ),
        (
            lambda x, w, b: math.tanh(sum(wi * xi for wi, xi in zip(w, x, strict=True))) + b,
            "inside: tanh",
        ),
        (
            lambda x, w, b: max(0.0, sum(wi * xi for wi, xi in zip(w, x, strict=True)) + b),
            "non-linearity is math.tanh",
        ),
        (lambda x, w, b: math.tanh(sum(x) * sum(w) + b), "each input by its own weight"),
    ],
)
def test_neuron_forward_hints(capsys, wrong, hint):
    assert not check_neuron_forward(wrong)
    out = capsys.readouterr().out
    assert "\u274c check_neuron_forward: failed" in out
    assert "input:" in out and "expected:" in out and "got:" in out and hint in out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda x, g: (1 - x**2) * g, "you squared the input x"),
        (lambda x, g: 1 - math.tanh(x) ** 2, "multiplies it by out_grad"),
        (lambda x, g: (1 - math.tanh(x)) * g, "not 1 - tanh(x)"),
        (lambda x, g: -(1 - math.tanh(x) ** 2) * g, "the sign is flipped"),
        (lambda x, g: math.tanh(x) * g, "you passed tanh(x) itself back"),
    ],
)
def test_backward_rule_hints(capsys, wrong, hint):
    assert not check_backward_rule(wrong)
    out = capsys.readouterr().out
    assert "\u274c check_backward_rule: failed" in out and "expected:" in out and hint in out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda ps, gs, lr: [p + lr * g for p, g in zip(ps, gs, strict=True)], "you stepped *up*"),
        (
            lambda ps, gs, lr: [p - g for p, g in zip(ps, gs, strict=True)],
            "the learning rate is missing",
        ),
        (lambda ps, gs, lr: [-lr * g for g in gs], "that is the step alone"),
        (lambda ps, gs, lr: [p - lr * p for p in ps], "you multiplied lr by the parameter"),
        (lambda ps, gs, lr: None, "returned None"),
    ],
)
def test_gd_step_hints(capsys, wrong, hint):
    assert not check_gd_step(wrong)
    out = capsys.readouterr().out
    assert "\u274c check_gd_step: failed" in out and "got:" in out and hint in out


def test_foundation_checks_flag_the_library_version(capsys):
    def neuron(x, w, b):
        n = Neuron(len(x))
        for wi, v in zip(n.w, w, strict=True):
            wi.data = v
        n.b.data = b
        return n([float(v) for v in x]).data

    def tanh_backward(x, out_grad):
        v = Value(x)
        v.tanh().backward()
        return v.grad * out_grad

    def gd_step(params, grads, lr):
        values = [Value(p) for p in params]
        for v, g in zip(values, grads, strict=True):
            v.grad = g
        gradient_descent_step(values, lr)
        return [v.data for v in values]

    assert not check_neuron_forward(neuron)
    assert not check_backward_rule(tanh_backward)
    assert not check_gd_step(gd_step)
    out = capsys.readouterr().out
    assert out.count(USES_LIBRARY) == 3
    assert "course_lib.autograd.gradient_descent_step" in out


def test_not_written_stub_stops_the_run(capsys):
    def neuron(x, w, b):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check_neuron_forward(neuron)
    assert "not attempted" in capsys.readouterr().out
