"""course_lib.autograd: the scalar engine's gradients equal torch.autograd's (float64, 1e-9) on
random expressions, shared sub-expressions included; the Value MLP equals the same MLP written
in PyTorch; errors name the problem; the toy problem and the figures."""

import math
import re

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.autograd import MLP, Layer, Neuron, Value, gradient_descent_step, xor_blobs

TOL = 1e-9

# --- random expressions, built the same way on Values and on torch tensors ------------------

# Each op reads one or two earlier nodes (any of them, so a node is often used more than once)
# and keeps every input in the op's domain: log and fractional powers see x*x + 1 > 0, exp
# sees tanh(x) in (-1, 1), a division's denominator is x*x + 1.
UNARY = {
    "tanh": lambda a: a.tanh(),
    "relu": lambda a: a.relu(),
    "exp": lambda a: a.tanh().exp(),
    "log": lambda a: (a * a + 1).log(),
    "square": lambda a: a**2,
    "cube": lambda a: a**3,
    "sqrt": lambda a: (a * a + 1) ** 0.5,
    "neg": lambda a: -a,
    "affine": lambda a: 1.5 - 0.5 * a,
}
BINARY = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / (b * b + 1),
}


def _torch_op(name):
    """The same op on torch tensors: tanh/relu/exp/log are methods there too."""
    return UNARY.get(name) or BINARY[name]


@st.composite
def expressions(draw):
    n_leaves = draw(st.integers(1, 4))
    leaves = draw(
        st.lists(
            st.floats(-2, 2, allow_nan=False).filter(lambda v: abs(v) > 1e-3),
            min_size=n_leaves,
            max_size=n_leaves,
        )
    )
    steps = []
    for _ in range(draw(st.integers(1, 10))):
        name = draw(st.sampled_from(sorted(UNARY) + sorted(BINARY)))
        n_nodes = n_leaves + len(steps)
        args = tuple(draw(st.integers(0, n_nodes - 1)) for _ in range(1 if name in UNARY else 2))
        steps.append((name, args))
    return leaves, steps


def _evaluate(leaves, steps, make_leaf):
    nodes = [make_leaf(v) for v in leaves]
    for name, args in steps:
        nodes.append(_torch_op(name)(*(nodes[i] for i in args)))
    # the output sums every node, so every node (and every leaf) gets a gradient
    out = nodes[0]
    for node in nodes[1:]:
        out = out + node
    return nodes[: len(leaves)], out


@settings(max_examples=200, deadline=None, derandomize=True)
@given(expressions())
def test_gradients_equal_torch_autograd(expr):
    leaves, steps = expr
    ours, out = _evaluate(leaves, steps, Value)
    out.backward()
    theirs, t_out = _evaluate(
        leaves, steps, lambda v: torch.tensor(v, dtype=torch.float64, requires_grad=True)
    )
    t_out.backward()
    assert out.data == pytest.approx(t_out.item(), rel=TOL, abs=TOL)
    for mine, ref in zip(ours, theirs, strict=True):
        assert mine.grad == pytest.approx(ref.grad.item(), rel=TOL, abs=TOL), (steps, leaves)


def test_a_node_used_twice_gets_both_gradients():
    a = Value(3.0)
    b = a * a  # d(a*a)/da = 2a: both uses of a contribute
    c = b + a  # and a third use
    c.backward()
    assert a.grad == 2 * 3.0 + 1
    x = Value(-1.2)
    y = (x * 2).tanh()
    z = y * y + y.exp()  # y used three times
    z.backward()
    tx = torch.tensor(-1.2, dtype=torch.float64, requires_grad=True)
    ty = (tx * 2).tanh()
    (ty * ty + ty.exp()).backward()
    assert x.grad == pytest.approx(tx.grad.item(), rel=TOL)


def test_each_rule_on_its_own():
    for op, derivative in [
        (lambda v: v.tanh(), lambda x: 1 - math.tanh(x) ** 2),
        (lambda v: v.exp(), math.exp),
        (lambda v: v.log(), lambda x: 1 / x),
        (lambda v: v.relu(), lambda x: float(x > 0)),
        (lambda v: v**3, lambda x: 3 * x**2),
        (lambda v: 1 / v, lambda x: -1 / x**2),
        (lambda v: 2 - v, lambda x: -1.0),
    ]:
        for x in (0.3, 1.7):
            v = Value(x)
            op(v).backward()
            assert v.grad == pytest.approx(derivative(x), rel=1e-12)


def test_gradients_accumulate_until_zero_grad():
    m = MLP(2, [3, 1], seed=1)
    m([0.5, -1.0]).backward()
    first = [p.grad for p in m.parameters()]
    m([0.5, -1.0]).backward()
    assert [p.grad for p in m.parameters()] == pytest.approx([2 * g for g in first])
    m.zero_grad()
    assert all(p.grad == 0.0 for p in m.parameters())


def test_deep_graph_beyond_the_recursion_limit():
    v = Value(0.0)
    out = v
    for _ in range(5000):
        out = out + 1.0
    out.backward()
    assert out.data == 5000.0 and v.grad == 1.0


# --- the MLP against the same MLP in PyTorch ------------------------------------------------


def _torch_mlp(mlp, act=torch.nn.Tanh):
    linears = []
    for W, b in mlp.weights():
        lin = torch.nn.Linear(len(W[0]), len(W)).double()
        with torch.no_grad():
            lin.weight.copy_(torch.tensor(W, dtype=torch.float64))
            lin.bias.copy_(torch.tensor(b, dtype=torch.float64))
        linears.append(lin)
    layers = []
    for lin in linears[:-1]:
        layers += [lin, act()]
    return torch.nn.Sequential(*layers, linears[-1])


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_mlp_loss_and_gradients_equal_torch(act):
    X, y = xor_blobs(12, seed=3)
    mlp = MLP(2, [5, 4, 1], act=act, seed=7)
    scores = [mlp(p) for p in X.tolist()]
    loss = sum(((-yi * s).exp() + 1).log() for s, yi in zip(scores, y.tolist(), strict=True))
    loss = loss / len(scores)
    loss.backward()
    net = _torch_mlp(mlp, torch.nn.Tanh if act == "tanh" else torch.nn.ReLU)
    t_loss = F.softplus(-y * net(X)[:, 0]).mean()
    t_loss.backward()
    assert loss.data == pytest.approx(t_loss.item(), rel=TOL)
    t_grads = []
    for lin in [m for m in net if isinstance(m, torch.nn.Linear)]:
        for row, b in zip(lin.weight.grad.tolist(), lin.bias.grad.tolist(), strict=True):
            t_grads += [*row, b]  # Neuron.parameters(): its weights, then its bias
    assert [p.grad for p in mlp.parameters()] == pytest.approx(t_grads, rel=TOL, abs=TOL)


def test_mlp_shapes_seed_and_parameter_count():
    m = MLP(2, [16, 16, 1], seed=0)
    assert len(m.parameters()) == (2 * 16 + 16) + (16 * 16 + 16) + (16 + 1)
    assert isinstance(m([0.1, 0.2]), Value)
    assert len(MLP(3, [4, 2])([1.0, 2.0, 3.0])) == 2
    assert m.weights() == MLP(2, [16, 16, 1], seed=0).weights()
    assert m.weights() != MLP(2, [16, 16, 1], seed=1).weights()
    assert len(Layer(3, 4)([1.0, 2.0, 3.0])) == 4
    assert "tanh" in repr(m) and "linear" in repr(m)


def test_gradient_descent_step_lowers_the_loss():
    X, y = xor_blobs(20, seed=0)

    def loss_of(m):
        out = sum(
            (((-yi * m(p)).exp() + 1).log() for p, yi in zip(X.tolist(), y.tolist(), strict=True)),
            0,
        )
        return out / len(y)

    m = MLP(2, [4, 1], seed=0)
    before = loss_of(m)
    before.backward()
    gradient_descent_step(m.parameters(), 0.1)
    assert loss_of(m).data < before.data


def test_xor_blobs_is_seeded_balanced_and_not_linearly_separable():
    X, y = xor_blobs(200, spread=0.3, seed=0)
    assert X.shape == (200, 2) and X.dtype == torch.float64
    assert (y == 1).sum() == 100 and (y == -1).sum() == 100
    assert torch.equal(X, xor_blobs(200, spread=0.3, seed=0)[0])
    assert not torch.equal(X, xor_blobs(200, spread=0.3, seed=1)[0])
    # the label is the sign of x1 * x2 (up to the few points that noise carries across an axis)
    assert (y == torch.sign(X[:, 0] * X[:, 1])).double().mean() > 0.95
    # every straight line (360 directions, each with its best threshold) gets at most 3 of the 4
    # clusters right: XOR needs a hidden layer
    angles = torch.arange(360, dtype=torch.float64) * math.pi / 180
    directions = torch.stack([angles.cos(), angles.sin()], dim=1)  # (360, 2)
    order = (X @ directions.T).argsort(dim=0)  # (200, 360): points sorted along each direction
    negative_below = torch.cumsum(y[order] < 0, dim=0)  # -1 labels at or below each threshold
    positive_above = (y > 0).sum() - torch.cumsum(y[order] > 0, dim=0)
    best = ((negative_below + positive_above).max() / len(y)).item()
    assert best <= 0.8


# --- errors that name the problem -------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: Value(0.0).log(), ValueError, "log of a non-positive value"),
        (lambda: Value(-2.0).log(), ValueError, "defined only for positive numbers"),
        (lambda: Value(1.0) / Value(0.0), ZeroDivisionError, "exactly 0"),
        (lambda: Value(-1.0) ** 0.5, ValueError, "fractional power"),
        (lambda: Value(2.0) ** Value(2.0), TypeError, "must be a number"),
        (lambda: Value(1.0) + "a", TypeError, "wrap it in Value"),
        (lambda: Value(800.0).exp(), OverflowError, "learning rate"),
        (lambda: Neuron(3)([1.0, 2.0]), ValueError, "3 weights but got 2 inputs"),
        (lambda: MLP(2, []), ValueError, "MLP(2, [16, 16, 1])"),
        (lambda: Neuron(2, act="sigmoid"), ValueError, "act must be"),
        (lambda: xor_blobs(3), ValueError, "n >= 4"),
        (lambda: xor_blobs(8, spread=-1.0), ValueError, "spread"),
    ],
)
def test_clear_errors(make, error, words):
    with pytest.raises(error, match=re.escape(words)):
        make()


# --- figures ----------------------------------------------------------------------------------


def test_plot_graph_shows_every_value_with_its_gradient():
    import matplotlib

    matplotlib.use("Agg")
    from course_lib.viz.autograd import draw_graph, plot_graph

    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    out = (a * b + a).tanh()
    out.label = "out"
    out.backward()
    fig = plot_graph(out)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert sum("data" in t and "grad" in t for t in texts) == len(out.topological_order())
    assert any(t.startswith("a\n") and f"grad {a.grad:.4g}" in t for t in texts)
    assert {"*", "+", "tanh"} <= set(texts)
    assert fig.axes[0].get_title()
    assert draw_graph is plot_graph


def test_decision_boundary_same_scores_for_value_mlp_and_torch():
    import matplotlib

    matplotlib.use("Agg")
    from course_lib.viz.autograd import grid_scores, plot_decision_boundary

    X, y = xor_blobs(10, seed=0)
    mlp = MLP(2, [6, 6, 1], seed=2)
    by_tensors = grid_scores(mlp, X)
    point_by_point = torch.tensor([mlp(p).data for p in X.tolist()], dtype=torch.float64)
    torch.testing.assert_close(by_tensors, point_by_point, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grid_scores(_torch_mlp(mlp), X), point_by_point)
    torch.testing.assert_close(grid_scores(lambda p: mlp(p), X), point_by_point)
    for model in (mlp, _torch_mlp(mlp)):
        fig = plot_decision_boundary(model, X, y, resolution=20, title="t")
        ax = fig.axes[0]
        assert ax.get_title() == "t" and ax.get_xlabel() and ax.get_ylabel()
        assert ax.get_legend()._bbox_to_anchor is not None  # placed outside the axes
    fig = plot_decision_boundary(mlp, X, y, resolution=20, legend=False)
    assert fig.axes[0].get_legend() is None
