"""Backpropagation by hand: a scalar autograd engine and a small neural network on top of it.

Lesson 00 builds the foundation of deep learning here, after Karpathy's *micrograd* (2020): a
``Value`` is one number that remembers how it was computed, so that ``backward()`` can send the
gradient of a final result back to every number it came from. ``Neuron``, ``Layer`` and ``MLP``
are a neural network written with nothing but ``Value``; PyTorch's ``torch.autograd`` does the
same thing on whole tensors at once (the tests check that both give the same gradients).

Conventions:

* ``v.data`` is the number (a Python float, so float64); ``v.grad`` is d(output)/d(v), the
  gradient of the value ``backward()`` was called on, 0.0 until then.
* Every operation returns a new ``Value`` that keeps its inputs (``_prev``) and a ``_backward``
  function: the local derivative rule of that operation, applied with the chain rule.
* ``_backward`` *adds* to the inputs' ``grad`` (``+=``): a value used twice (``a * a``, or a
  weight shared by many examples) receives gradient from every use. The same reason makes
  gradients accumulate across ``backward()`` calls, as in PyTorch: call ``zero_grad()`` before
  each new backward pass.
* ``backward()`` visits the graph in reverse topological order, so a node's gradient is
  complete before it is passed on to its inputs.
* Plain numbers mix with values: ``2 * v + 1`` works (a number becomes a constant ``Value``).
  An exponent ``v ** k`` must be a number, not a ``Value``.
* The initial weights come from ``random.Random(seed)``: the same seed, the same network.
"""

from __future__ import annotations

import math
import random

__all__ = ["MLP", "Layer", "Module", "Neuron", "Value", "gradient_descent_step", "xor_blobs"]


# --- the engine ---------------------------------------------------------------------------


class Value:
    """One number in a computation, with the gradient of the final result with respect to it."""

    __slots__ = ("data", "grad", "_prev", "_op", "_backward", "label")  # lighter, faster objects

    def __init__(self, data: float, _prev: tuple = (), _op: str = "", label: str = ""):
        self.data = float(data)
        self.grad = 0.0
        self._prev = _prev  # the Values this one was computed from
        self._op = _op  # the operation that made it ("+", "*", "tanh", ...), for pictures
        self._backward = lambda: None  # a leaf (an input or a weight) has nothing to pass on
        self.label = label

    def __add__(self, other):
        other = _as_value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():  # d(a + b)/da = 1, d(a + b)/db = 1
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        other = _as_value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():  # d(a * b)/da = b, d(a * b)/db = a
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k):
        _check_power(self, k)
        out = Value(self.data**k, (self,), f"**{k:g}")

        def _backward():  # d(a**k)/da = k * a**(k - 1)
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def tanh(self):
        t = math.tanh(self.data)
        out = Value(t, (self,), "tanh")

        def _backward():  # d tanh(a)/da = 1 - tanh(a)**2: the output, not the input, squared
            self.grad += (1 - t**2) * out.grad

        out._backward = _backward
        return out

    def relu(self):
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward():  # slope 1 where the input is positive, else 0 (also at exactly 0)
            self.grad += (self.data > 0) * out.grad

        out._backward = _backward
        return out

    def exp(self):
        _check_exp(self)
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():  # d e**a/da = e**a: the output itself
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self):
        _check_log(self)
        out = Value(math.log(self.data), (self,), "log")

        def _backward():  # d ln(a)/da = 1/a
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def backward(self):
        """Fill ``grad`` of every value this one depends on with d(self)/d(that value)."""
        self.grad = 1.0  # d(self)/d(self)
        for node in reversed(self.topological_order()):
            node._backward()

    def topological_order(self) -> list[Value]:
        """Every value this one depends on, each after all of its inputs, ``self`` last.

        A depth-first search with an explicit stack (a graph of many examples is deeper than
        Python's recursion limit): a node is appended once all its inputs have been."""
        order, seen = [], set()
        stack = [(self, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
            elif node not in seen:
                seen.add(node)
                stack.append((node, True))
                stack.extend((child, False) for child in node._prev)
        return order

    # Everything else is made of the operations above.
    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-_as_value(other))

    def __truediv__(self, other):
        return self * _as_value(other) ** -1

    def __radd__(self, other):  # 1 + v
        return self + other

    def __rmul__(self, other):  # 2 * v
        return self * other

    def __rsub__(self, other):  # 1 - v
        return _as_value(other) - self

    def __rtruediv__(self, other):  # 1 / v
        return _as_value(other) / self

    def __repr__(self):
        name = f"{self.label}: " if self.label else ""
        return f"Value({name}data={self.data:.4g}, grad={self.grad:.4g})"


def _as_value(x) -> Value:
    if isinstance(x, Value):
        return x
    if isinstance(x, int | float) and not isinstance(x, bool):
        return Value(x)
    raise TypeError(
        f"a Value combines with another Value or a number, got {type(x).__name__}: "
        "convert it with float(...) or wrap it in Value(...)"
    )


# --- a neural network made of Values --------------------------------------------------------


class Module:
    """What every network part has: its ``parameters()`` and ``zero_grad()``."""

    def parameters(self) -> list[Value]:
        return []

    def zero_grad(self):
        """Set every parameter's gradient to 0 (gradients add up across backward passes)."""
        for p in self.parameters():
            p.grad = 0.0


class Neuron(Module):
    """``act(w · x + b)``: a weighted sum of the inputs, a bias, and a non-linearity.

    ``act`` is ``"tanh"``, ``"relu"`` or ``"linear"`` (none: an output neuron's raw score).
    Weights start uniform in ``[-1, 1] / sqrt(n_in)``, so that the weighted sum starts of size
    about 1 whatever the number of inputs; the bias starts at 0."""

    def __init__(self, n_in: int, act: str = "tanh", rng: random.Random | None = None):
        _check_act(act)
        rng = rng or random.Random(0)
        self.w = [Value(rng.uniform(-1, 1) / math.sqrt(n_in), label="w") for _ in range(n_in)]
        self.b = Value(0.0, label="b")
        self.act = act

    def __call__(self, x) -> Value:
        _check_inputs(x, len(self.w))
        z = sum((wi * xi for wi, xi in zip(self.w, x, strict=True)), self.b)
        return z if self.act == "linear" else getattr(z, self.act)()

    def parameters(self):
        return [*self.w, self.b]

    def __repr__(self):
        return f"Neuron({len(self.w)} inputs, {self.act})"


class Layer(Module):
    """``n_out`` neurons that all read the same ``n_in`` inputs: a list of ``n_out`` Values."""

    def __init__(self, n_in: int, n_out: int, act: str = "tanh", rng: random.Random | None = None):
        rng = rng or random.Random(0)
        self.neurons = [Neuron(n_in, act, rng) for _ in range(n_out)]

    def __call__(self, x) -> list[Value]:
        return [neuron(x) for neuron in self.neurons]

    def parameters(self):
        return [p for neuron in self.neurons for p in neuron.parameters()]

    def __repr__(self):
        n = self.neurons[0]
        return f"Layer({len(n.w)} -> {len(self.neurons)}, {n.act})"


class MLP(Module):
    """A multi-layer perceptron: ``n_in`` inputs, then one layer per entry of ``sizes``.

    Hidden layers use ``act`` (``"tanh"`` or ``"relu"``); the last layer is linear (raw
    scores). ``MLP(2, [16, 16, 1])`` has two hidden layers of 16 neurons and one output.
    Calling it on ``n_in`` numbers returns a Value when the last layer has one neuron, else a
    list of Values. ``seed`` fixes the initial weights."""

    def __init__(self, n_in: int, sizes: list[int], act: str = "tanh", seed: int = 0):
        _check_sizes(n_in, sizes)
        rng = random.Random(seed)
        widths = [n_in, *sizes]
        self.layers = [
            Layer(widths[i], widths[i + 1], act if i < len(sizes) - 1 else "linear", rng)
            for i in range(len(sizes))
        ]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x[0] if len(x) == 1 else x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]

    def weights(self) -> list[tuple[list[list[float]], list[float]]]:
        """Each layer's ``(W, b)`` as plain numbers: ``W`` is ``n_out`` rows of ``n_in`` weights
        (``nn.Linear.weight``'s layout), ``b`` the ``n_out`` biases. To copy into PyTorch."""
        return [
            ([[w.data for w in n.w] for n in layer.neurons], [n.b.data for n in layer.neurons])
            for layer in self.layers
        ]

    def __repr__(self):
        return f"MLP({', '.join(map(repr, self.layers))})"


def gradient_descent_step(parameters: list[Value], lr: float) -> None:
    """One step of gradient descent: move every parameter against its gradient, by ``lr``."""
    for p in parameters:
        p.data -= lr * p.grad


# --- a toy problem that needs a hidden layer ------------------------------------------------


def xor_blobs(n: int = 40, *, spread: float = 0.3, seed: int = 0):
    """The XOR problem as ``n`` points in 2-D: ``(X, y)``, ``X`` a float64 tensor of shape
    ``(n, 2)``, ``y`` of shape ``(n,)`` holding +1 or -1.

    The points lie in four clusters around the corners (1, 1), (-1, 1), (-1, -1), (1, -1) of a
    square (taken in turn, so the clusters are as equal as ``n`` allows), with Gaussian noise of
    standard deviation ``spread``. A point's label is the product of its corner's coordinates:
    +1 for (1, 1) and (-1, -1), -1 for the other two. Opposite corners share a label, so no
    straight line separates the classes: a single neuron cannot learn XOR (Minsky and Papert,
    1969), a network with a hidden layer can."""
    import torch

    _check_blobs(n, spread)
    g = torch.Generator().manual_seed(seed)
    corner = torch.arange(n) % 4
    cx = torch.tensor([1.0, -1.0, -1.0, 1.0], dtype=torch.float64)[corner]
    cy = torch.tensor([1.0, 1.0, -1.0, -1.0], dtype=torch.float64)[corner]
    noise = spread * torch.randn(n, 2, generator=g, dtype=torch.float64)
    return torch.stack([cx, cy], dim=1) + noise, cx * cy


# --- checks with errors that say what to do -------------------------------------------------


def _check_power(base: Value, k) -> None:
    if isinstance(k, Value):
        raise TypeError(
            "the exponent of a Value must be a number (v ** 2), not a Value: for a learned "
            "exponent write (k * v.log()).exp()"
        )
    if not isinstance(k, int | float) or isinstance(k, bool):
        raise TypeError(f"the exponent must be an int or a float, got {type(k).__name__}")
    if base.data == 0 and k < 0:
        raise ZeroDivisionError(
            f"0 ** {k:g}: dividing by a Value that is exactly 0 (v / 0 or v ** -1 at v = 0); "
            "add a small constant to the denominator"
        )
    if base.data < 0 and not float(k).is_integer():
        raise ValueError(
            f"({base.data:g}) ** {k:g}: a negative number to a fractional power is not a real "
            "number; use an integer exponent or a positive base"
        )


def _check_log(v: Value) -> None:
    if v.data <= 0:
        raise ValueError(
            f"log of a non-positive value ({v.data:g}): the logarithm is defined only for "
            "positive numbers; take the log of a probability or of exp(...), which are > 0"
        )


def _check_exp(v: Value) -> None:
    if v.data > 709.0:
        raise OverflowError(
            f"exp({v.data:g}) is larger than the largest float (about exp(709)): the input "
            "has blown up, usually from a learning rate that is too large"
        )


def _check_act(act: str) -> None:
    if act not in ("tanh", "relu", "linear"):
        raise ValueError(f"act must be 'tanh', 'relu' or 'linear', got {act!r}")


def _check_inputs(x, n_in: int) -> None:
    if len(x) != n_in:
        raise ValueError(f"this neuron has {n_in} weights but got {len(x)} inputs: give it {n_in}")


def _check_sizes(n_in: int, sizes) -> None:
    if not sizes or any(not isinstance(s, int) or s < 1 for s in [n_in, *sizes]):
        raise ValueError(
            f"an MLP needs n_in >= 1 and a non-empty list of positive layer sizes, got n_in="
            f"{n_in!r}, sizes={sizes!r} (for example MLP(2, [16, 16, 1]))"
        )


def _check_blobs(n: int, spread: float) -> None:
    if not isinstance(n, int) or n < 4:
        raise ValueError(f"xor_blobs needs n >= 4 points (one per corner at least), got {n!r}")
    if spread < 0:
        raise ValueError(f"spread is a standard deviation and must be >= 0, got {spread!r}")
