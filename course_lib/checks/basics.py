"""Checks for lesson 00's exercises: loss units (nats, bits, perplexity), and the foundation of
deep learning (a neuron's forward pass, the backward rule of tanh, one gradient-descent step)."""

from __future__ import annotations

import math

from . import Hint, check_function


def _losses(rng):
    return (
        rng.choice([math.log(8), math.log(77), 0.0])
        if rng.random() < 0.3
        else rng.uniform(0.01, 6.0),
    )


def _reference_bits(loss):
    return loss / math.log(2)


def _reference_perplexity(loss):
    return math.exp(loss)


def _close(a, b):
    return isinstance(a, int | float) and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)


def check_bits_per_char(fn) -> bool:
    """``fn(loss_in_nats) -> bits``: nats divided by ln 2."""
    hints = [
        Hint(
            lambda a, got, exp: _close(got, math.log2(a[0])) if a[0] > 0 else False,
            "you took the logarithm of the loss; the loss is already a log: just change its "
            "base by dividing by ln 2",
        ),
        Hint(
            lambda a, got, exp: _close(got, a[0] * math.log(2)),
            "you multiplied by ln 2; one bit is ln 2 nats, so divide by it",
        ),
        Hint(
            lambda a, got, exp: _close(got, a[0] / math.log(10)),
            "you divided by ln 10 (that gives digits, 'bans'); bits need ln 2",
        ),
    ]
    return check_function(fn, _reference_bits, _losses, name="check_bits_per_char", hints=hints)


def check_perplexity(fn) -> bool:
    """``fn(loss_in_nats) -> perplexity``: e to the loss."""
    hints = [
        Hint(
            lambda a, got, exp: _close(got, 2 ** a[0]),
            "you computed 2**loss; that is right for a loss in bits, but this loss is in nats, "
            "so use e**loss (math.exp)",
        ),
        Hint(
            lambda a, got, exp: a[0] > 0 and _close(got, math.log(a[0])),
            "you took the log of the loss; perplexity undoes the log: exponentiate",
        ),
    ]
    return check_function(fn, _reference_perplexity, _losses, name="check_perplexity", hints=hints)


# --- the foundation: a neuron, a backward rule, a gradient-descent step ----------------------
#
# The learner's functions work on plain numbers (lists of floats), so that each exercise is the
# idea itself; course_lib.autograd has the same rules inside Value, Neuron and
# gradient_descent_step, and an answer that calls those gets "uses the library version".


def _neuron_inputs(rng):
    n = rng.randint(1, 6)
    x = [rng.uniform(-2, 2) for _ in range(n)]
    w = [rng.uniform(-1.5, 1.5) for _ in range(n)]
    return x, w, rng.uniform(-1, 1)


def _reference_neuron(x, w, b):
    return math.tanh(sum(wi * xi for wi, xi in zip(w, x, strict=True)) + b)


def _weighted_sum(x, w):
    return sum(wi * xi for wi, xi in zip(w, x, strict=True))


def check_neuron_forward(fn) -> bool:
    """``fn(x, w, b) -> tanh(w · x + b)`` for lists ``x`` and ``w`` of the same length and a
    number ``b``: one neuron's output."""
    from course_lib.autograd import MLP, Layer, Neuron, Value

    hints = [
        Hint(
            lambda a, got, exp: (
                _close(got, _weighted_sum(a[0], a[1]) + a[2])
                or _close(got, max(0.0, _weighted_sum(a[0], a[1]) + a[2]))
            ),
            "that is the weighted sum plus bias without tanh (or through a ReLU): this "
            "neuron's non-linearity is math.tanh",
        ),
        Hint(
            lambda a, got, exp: _close(got, math.tanh(_weighted_sum(a[0], a[1]))),
            "the bias is missing: add b to the weighted sum before tanh",
        ),
        Hint(
            lambda a, got, exp: _close(got, math.tanh(_weighted_sum(a[0], a[1])) + a[2]),
            "you added the bias after tanh; it belongs inside: tanh(w · x + b)",
        ),
        Hint(
            lambda a, got, exp: _close(got, math.tanh(sum(a[0]) * sum(a[1]) + a[2])),
            "multiply each input by its own weight and then add them up "
            "(sum of w[i] * x[i]), not the sum of the inputs times the sum of the weights",
        ),
    ]
    return check_function(
        fn,
        _reference_neuron,
        _neuron_inputs,
        name="check_neuron_forward",
        hints=hints,
        library=[Neuron, Layer, MLP, Value],
    )


def _tanh_backward_inputs(rng):
    return rng.uniform(-2.5, 2.5), rng.choice([1.0, rng.uniform(-3, 3)])


def _reference_tanh_backward(x, out_grad):
    return (1 - math.tanh(x) ** 2) * out_grad


def check_backward_rule(fn) -> bool:
    """``fn(x, out_grad) -> x_grad`` for ``out = tanh(x)``: the chain rule's local step,
    ``(1 - tanh(x)**2) * out_grad``."""
    from course_lib.autograd import Value

    hints = [
        Hint(
            lambda a, got, exp: _close(got, (1 - a[0] ** 2) * a[1]),
            "you squared the input x; tanh's derivative is 1 - tanh(x)**2: square the output",
        ),
        Hint(
            lambda a, got, exp: a[1] != 1.0 and _close(got, 1 - math.tanh(a[0]) ** 2),
            "that is tanh's local derivative; the chain rule multiplies it by out_grad, the "
            "gradient arriving from above",
        ),
        Hint(
            lambda a, got, exp: _close(got, (1 - math.tanh(a[0])) * a[1]),
            "square tanh(x): the derivative is 1 - tanh(x)**2, not 1 - tanh(x)",
        ),
        Hint(
            lambda a, got, exp: _close(got, -exp),
            "the sign is flipped: the derivative of tanh is positive everywhere",
        ),
        Hint(
            lambda a, got, exp: _close(got, math.tanh(a[0]) * a[1]),
            "you passed tanh(x) itself back; the backward rule needs its derivative, "
            "1 - tanh(x)**2",
        ),
    ]
    return check_function(
        fn,
        _reference_tanh_backward,
        _tanh_backward_inputs,
        name="check_backward_rule",
        hints=hints,
        library=[Value],
    )


def _gd_inputs(rng):
    n = rng.randint(1, 6)
    params = [rng.uniform(-2, 2) for _ in range(n)]
    grads = [rng.uniform(-2, 2) for _ in range(n)]
    return params, grads, rng.choice([0.1, 0.01, rng.uniform(0.001, 1.0)])


def _reference_gd(params, grads, lr):
    return [p - lr * g for p, g in zip(params, grads, strict=True)]


def _all_close(got, expected) -> bool:
    return (
        isinstance(got, list | tuple)
        and len(got) == len(expected)
        and all(_close(g, e) for g, e in zip(got, expected, strict=True))
    )


def check_gd_step(fn) -> bool:
    """``fn(params, grads, lr) -> new_params``: one gradient-descent step on lists of numbers,
    ``p - lr * g`` for each parameter ``p`` and its gradient ``g``."""
    from course_lib.autograd import gradient_descent_step

    hints = [
        Hint(
            lambda a, got, exp: got is None,
            "your function returned None: return the list of new parameters",
        ),
        Hint(
            lambda a, got, exp: _all_close(
                got, [p + a[2] * g for p, g in zip(a[0], a[1], strict=True)]
            ),
            "you stepped *up* the gradient (p + lr * g); to lower the loss, step against it",
        ),
        Hint(
            lambda a, got, exp: _all_close(got, [p - g for p, g in zip(a[0], a[1], strict=True)]),
            "the learning rate is missing: scale each gradient by lr before subtracting",
        ),
        Hint(
            lambda a, got, exp: _all_close(got, [-a[2] * g for g in a[1]]),
            "that is the step alone; add it to the current parameters: p - lr * g",
        ),
        Hint(
            lambda a, got, exp: _all_close(got, [p - a[2] * p for p in a[0]]),
            "you multiplied lr by the parameter; the step follows the gradient g",
        ),
    ]
    return check_function(
        fn,
        _reference_gd,
        _gd_inputs,
        name="check_gd_step",
        hints=hints,
        library=gradient_descent_step,
    )
