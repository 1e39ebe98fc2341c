# ruff: noqa: E501  (the notebook text below keeps its long Markdown lines)
"""Lesson 00: insert the foundation of deep learning (issue 22) between the environment check and
the bigram model, add three exercises, and update the intro, the lesson map row and the Summary.

Usage: python tools/patches/lesson00_foundation.py REPO_ROOT

Idempotent: a notebook that already has the foundation section is left as it is. Every other
edit finds its anchor text or stops with an error naming the missing anchor.
"""

import json
import sys
import uuid
from pathlib import Path

NOTEBOOK = "00_start_here"
MARKER = "## The foundation: what deep learning is, built by hand"


# --- notebook helpers (as in the course's other patch scripts) ------------------------------


def load(root, name):
    return json.loads((root / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))


def save(root, name, nb):
    with open(root / "notebooks" / f"{name}.ipynb", "w", encoding="utf-8") as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)
        f.write("\n")


def source(cell):
    return "".join(cell["source"])


def setsrc(cell, text):
    lines = text.split("\n")
    cell["source"] = [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])


def new_cell(kind, text):
    cell = {"cell_type": kind, "id": uuid.uuid4().hex[:8], "metadata": {}, "source": []}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    setsrc(cell, text.strip("\n"))
    return cell


def find(nb, anchor):
    hits = [i for i, c in enumerate(nb["cells"]) if anchor in source(c)]
    if len(hits) != 1:
        raise SystemExit(f"anchor {anchor!r} found in {len(hits)} cells, expected exactly 1")
    return hits[0]


def rep(nb, old, new):
    i = find(nb, old)
    text = source(nb["cells"][i])
    if text.count(old) != 1:
        raise SystemExit(f"anchor {old!r} occurs {text.count(old)} times in cell {i}")
    setsrc(nb["cells"][i], text.replace(old, new))


def insert_after(nb, anchor, cells):
    i = find(nb, anchor)
    nb["cells"][i + 1 : i + 1] = [new_cell(kind, text) for kind, text in cells]


# --- the new section ----------------------------------------------------------------------

FOUNDATION = [
    (
        "markdown",
        r"""
## The foundation: what deep learning is, built by hand

Do large language models use deep learning? Yes: an LLM is a deep neural network, trained by gradient descent to predict the next token. Before the first language model, this part builds the ideas everything later rests on, small enough to see every number: **neurons and layers**, **backpropagation** (how a network finds out which way to move each of its weights), and **learning** by gradient descent. The model for this part is Karpathy's *micrograd*.

### A neuron

A neuron computes a weighted sum of its inputs, adds a bias, and passes the result through a non-linear function, its **activation**:

$$y = \tanh(w_1 x_1 + w_2 x_2 + \dots + w_n x_n + b)$$

The weights $w_i$ say how much each input counts, the bias $b$ shifts the threshold, and $\tanh$ squashes the result into $(-1, 1)$. Here is one with three inputs, in plain Python:
""",
    ),
    (
        "code",
        r"""
import math

x = [0.5, -1.0, 2.0]  # three inputs
w = [0.8, 0.2, -0.5]  # one weight per input
b = 0.1  # the bias

z = sum(wi * xi for wi, xi in zip(w, x, strict=True)) + b  # weighted sum plus bias
print(f"z = w · x + b = {z:.3f};  output tanh(z) = {math.tanh(z):.3f}")
""",
    ),
    (
        "markdown",
        r"""
### A layer, and why the non-linearity matters

A **layer** is several neurons that read the same inputs, each with its own weights. Stack their weights as the rows of a matrix $W$ (one row per neuron) and the layer computes all of them at once: $\mathbf h = \tanh(W\mathbf x + \mathbf b)$. A network stacks layers: the output of one is the input of the next.

Why the $\tanh$? Without it, two layers in a row compute $W_2(W_1\mathbf x + \mathbf b_1) + \mathbf b_2 = (W_2W_1)\mathbf x + (W_2\mathbf b_1 + \mathbf b_2)$: one linear layer again. However many linear layers you stack, they collapse into a single one, and depth buys nothing. The cell checks this on random weights, then puts a $\tanh$ between the two layers and asks the best single linear layer (a least-squares fit) to imitate the result.
""",
    ),
    (
        "code",
        r"""
import torch

from course_lib.runtime import seed_everything

seed_everything(0)
f64 = torch.float64
W1, b1 = torch.randn(4, 3, dtype=f64), torch.randn(4, dtype=f64)  # layer 1: 3 inputs -> 4 neurons
W2, b2 = torch.randn(2, 4, dtype=f64), torch.randn(2, dtype=f64)  # layer 2: 4 -> 2 outputs
xs = torch.randn(200, 3, dtype=f64)  # 200 random inputs, one per row

two_linear = (xs @ W1.T + b1) @ W2.T + b2
W, b = W2 @ W1, W2 @ b1 + b2  # the single layer they collapse into
one_linear = xs @ W.T + b
gap = (two_linear - one_linear).abs().max().item()
print(f"two linear layers vs the single layer (W2 W1, W2 b1 + b2): largest difference {gap:.1e}")
assert gap < 1e-12

with_tanh = torch.tanh(xs @ W1.T + b1) @ W2.T + b2
xs1 = torch.cat([xs, torch.ones(200, 1, dtype=f64)], dim=1)  # a column of ones for the bias
best = torch.linalg.lstsq(xs1, with_tanh).solution  # the best single linear layer
miss = (xs1 @ best - with_tanh).pow(2).mean().sqrt().item()
print(f"with tanh in between, the best single linear layer misses by {miss:.3f} (RMS; outputs spread {with_tanh.std().item():.3f})")
assert miss > 0.05
""",
    ),
    (
        "markdown",
        r"""
### Input, hidden and output layers; what "deep" means

Take a task with two input numbers and one output score. The **input layer** is just the two numbers. The **hidden layers** are the layers in between: nobody prescribes what they compute, training decides. The **output layer** gives the answer, here one raw score (no $\tanh$, so it can take any value). Such a network is a *multi-layer perceptron* (MLP). **Deep** learning means networks with many layers stacked, each computing features from the features of the layer before; the GPT of lesson 05 is deep in exactly this sense, a stack of attention and MLP layers.

`course_lib.autograd` has `Neuron`, `Layer` and `MLP` written this way (a `Neuron` computes the first cell's weighted sum, bias and tanh). The MLP below has 2 inputs, two hidden layers of 8 neurons and 1 output neuron.
""",
    ),
    (
        "code",
        r"""
from course_lib.autograd import MLP

mlp = MLP(2, [8, 8, 1], seed=0)
print(mlp)
n_params = len(mlp.parameters())
print(f"{n_params} parameters = (2*8 weights + 8 biases) + (8*8 + 8) + (8 + 1)")
assert n_params == (2 * 8 + 8) + (8 * 8 + 8) + (8 + 1)
print("its score for the input (0.5, -1.0):", mlp([0.5, -1.0]))
""",
    ),
    (
        "markdown",
        r"""
### Backpropagation, built by hand

Learning means changing every weight a little in the direction that lowers the error. For that we need the **gradient**: for each weight, how much the error changes when that weight moves a little. **Backpropagation** computes all of them in one backward sweep, with the chain rule: if the loss $L$ depends on $a$ only through $c = f(a, b)$, then $\frac{\partial L}{\partial a} = \frac{\partial L}{\partial c}\cdot\frac{\partial c}{\partial a}$, the gradient arriving at $c$ times a *local* derivative.

`course_lib.autograd.Value` holds one number and remembers how it was computed. Every operation records its inputs and a small `_backward` function: its local derivative times the gradient arriving from above. Here is the whole idea for `+` and `*`, and `backward()`, which runs every node's `_backward` from the output back to the inputs, in reverse topological order, so that a node passes its gradient on only once it has received all of it:
""",
    ),
    (
        "code",
        r"""
import inspect

from course_lib.autograd import Value

for method in (Value.__add__, Value.__mul__, Value.backward, Value.topological_order):
    print(inspect.getsource(method))
""",
    ),
    (
        "markdown",
        r"""
Note the `+=`: a value used twice (`a * a`, or a weight that every training example uses) collects gradient from each use. That is also why gradients are reset to zero before each new backward pass. `tanh`, `relu`, `exp`, `log` and `**` are built the same way (one of them is an exercise below).

Now one neuron made of `Value`s, $o = \tanh(x_1w_1 + x_2w_2 + b)$, and its backward pass. The same expression in PyTorch is the reference: `torch.autograd` does the same job on tensors.
""",
    ),
    (
        "code",
        r"""
x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
bias = Value(6.8813735870195432, label="b")
n = x1 * w1 + x2 * w2 + bias
n.label = "n"
o = n.tanh()
o.label = "o"
o.backward()

leaves = [x1, x2, w1, w2, bias]
t_leaves = [torch.tensor(v.data, dtype=f64, requires_grad=True) for v in leaves]
tx1, tx2, tw1, tw2, tb = t_leaves
torch.tanh(tx1 * tw1 + tx2 * tw2 + tb).backward()
for v, t in zip(leaves, t_leaves, strict=True):
    print(f"d o / d {v.label:2}: ours {v.grad:+.6f}   torch.autograd {t.grad.item():+.6f}")
    assert abs(v.grad - t.grad.item()) < 1e-12
assert w2.grad == 0  # x2 is 0: moving w2 does not move the output
""",
    ),
    (
        "markdown",
        r"""
The picture is that computation, inputs on the left, the output on the right; each box shows a value's `data` and its `grad`, $\partial o / \partial(\text{value})$. Read the gradients right to left: the output's is 1; `tanh` multiplies it by its local derivative $1 - o^2$; a `+` passes its gradient unchanged to both inputs; a `*` passes each input the gradient times the *other* input. So `w2`, multiplied by `x2 = 0`, gets gradient 0 (the assert above): while `x2` is 0, moving `w2` changes nothing.
""",
    ),
    (
        "code",
        r"""
import matplotlib.pyplot as plt

from course_lib.viz.autograd import plot_graph

plot_graph(o, title="o = tanh(x1*w1 + x2*w2 + b): each value's data and d o / d(value)")
plt.show()
""",
    ),
    (
        "markdown",
        r"""
One neuron is not much of a test. The cell below runs a messier function, in which `a` and `b` are each used several times, on 200 random inputs, through our engine and through `torch.autograd`. The same Python function serves both: a `Value` and a tensor have the same operations.
""",
    ),
    (
        "code",
        r"""
import random


def f(a, b):  # works on Values and on torch tensors alike
    return (a * b + b**3).tanh() + (a * a + 1).log() * b.exp() - a / (b * b + 1) + (a - b).relu()


rng = random.Random(0)
worst = 0.0
for _ in range(200):
    a_num, b_num = rng.uniform(-2, 2), rng.uniform(-2, 2)
    a, b = Value(a_num), Value(b_num)
    f(a, b).backward()
    ta, tb = (torch.tensor(v, dtype=f64, requires_grad=True) for v in (a_num, b_num))
    f(ta, tb).backward()
    worst = max(worst, abs(a.grad - ta.grad.item()), abs(b.grad - tb.grad.item()))
print(f"200 random inputs: largest difference between our gradients and torch.autograd's: {worst:.1e}")
assert worst < 1e-9
""",
    ),
    (
        "markdown",
        r"""
### Learning: gradient descent on a problem that needs a hidden layer

The toy problem is **XOR**: points in four clusters at the corners of a square, where opposite corners share a label, $y = +1$ or $y = -1$ (the sign of $x_1 x_2$). The network gives each point a score $s$ and predicts $+1$ when $s > 0$. The error it minimises is the **cross-entropy**: the model's probability of the right label is $\sigma(ys) = 1/(1 + e^{-ys})$, and the loss is its negative log averaged over the $N$ points,

$$L = \frac1N \sum_i \ln\left(1 + e^{-y_i s_i}\right) \quad\text{(nats)},$$

near 0 when every score has the right sign by a margin. (The bigram model below uses the same loss with 77 classes instead of 2.)

No straight line separates the two classes: Minsky and Papert (1969) made this the famous example of what a single neuron cannot learn. First, the best a network *without* a hidden layer can do: a linear score $s = \mathbf w\cdot\mathbf x + b$, trained to convergence in PyTorch.
""",
    ),
    (
        "code",
        r"""
import torch.nn.functional as F
from torch import nn

from course_lib.autograd import xor_blobs

X, y = xor_blobs(40, spread=0.3, seed=0)  # X (40, 2), y (40,) holding +1 or -1
points, labels = X.tolist(), y.tolist()  # plain numbers for the Value network

linear = nn.Linear(2, 1).double()
lbfgs = torch.optim.LBFGS(linear.parameters(), max_iter=100)


def closure():
    lbfgs.zero_grad()
    loss = F.softplus(-y * linear(X)[:, 0]).mean()  # softplus(t) = ln(1 + e^t): the loss above
    loss.backward()
    return loss


lbfgs.step(closure)
linear_acc = ((linear(X)[:, 0] > 0) == (y > 0)).double().mean().item()
print(f"no hidden layer: {linear_acc:.0%} of the {len(y)} points classified right (a coin: 50%)")
assert linear_acc <= 0.75
""",
    ),
    (
        "markdown",
        r"""
Now the MLP of 2 → 8 → 8 → 1 built from `Value`s, trained by plain gradient descent: each step computes the loss on all 40 points (the forward pass builds the graph), resets the gradients, runs `backward()`, and moves every weight against its gradient by the learning rate, `p.data -= lr * p.grad`. Every number is a Python object here, so this is slow (the cell prints how slow).
""",
    ),
    (
        "code",
        r"""
import copy
import time

from course_lib.autograd import gradient_descent_step
from course_lib.runtime import by_mode


def xor_loss(model):  # the mean cross-entropy over the 40 points, a Value
    losses = [((-yi * model(p)).exp() + 1).log() for p, yi in zip(points, labels, strict=True)]
    return sum(losses) / len(losses)


def accuracy(model):
    right = [(model(p).data > 0) == (yi > 0) for p, yi in zip(points, labels, strict=True)]
    return sum(right) / len(right)


mlp = MLP(2, [8, 8, 1], seed=0)
steps, lr = by_mode(full=60, fast=10), 1.0
snapshots = {0, steps // 3, steps // 2, 2 * steps // 3}
saved, value_losses = {}, []
start = time.perf_counter()
for step in range(steps):
    if step in snapshots:
        saved[step] = copy.deepcopy(mlp)
    loss = xor_loss(mlp)  # forward: builds the graph
    mlp.zero_grad()  # gradients add up: start from zero
    loss.backward()  # d loss / d every weight
    gradient_descent_step(mlp.parameters(), lr)  # p.data -= lr * p.grad
    value_losses.append(loss.data)
value_seconds = time.perf_counter() - start
saved[steps] = copy.deepcopy(mlp)
final_loss, mlp_acc = xor_loss(mlp).data, accuracy(mlp)
print(f"{steps} steps in {value_seconds:.1f} s ({1000 * value_seconds / steps:.0f} ms a step); "
      f"loss {value_losses[0]:.3f} -> {final_loss:.3f} nats")
print(f"points classified right: MLP {mlp_acc:.0%}, no hidden layer {linear_acc:.0%}")
assert final_loss < value_losses[0]
assert mlp_acc > by_mode(full=linear_acc, fast=0.0), "the hidden layers should beat the straight line"
""",
    ),
    (
        "markdown",
        r"""
The figure shows where each model says $+1$ (blue) and $-1$ (orange). The straight line of the model without a hidden layer cannot put opposite corners on the same side; the MLP starts from a boundary that its random weights put somewhere, and gradient descent bends it, step by step, until it separates the corners.
""",
    ),
    (
        "code",
        r"""
from course_lib.viz.autograd import plot_decision_boundary

fig, axes = plt.subplots(2, 3, figsize=(12, 7.5), sharex=True, sharey=True)
plot_decision_boundary(linear, X, y, ax=axes.flat[0], legend=False, title=f"no hidden layer: {linear_acc:.0%} right")
for ax, step in zip(axes.flat[1:], sorted(saved), strict=True):
    model_then = saved[step]
    plot_decision_boundary(model_then, X, y, ax=ax, legend=ax is axes.flat[2],
                           title=f"MLP after {step} steps: {accuracy(model_then):.0%} right")
fig.suptitle(f"Decision boundary during gradient descent (MLP 2-8-8-1, lr = {lr:g})")
fig.tight_layout()
plt.show()
""",
    ),
    (
        "markdown",
        r"""
### The same MLP in PyTorch

PyTorch computes the same thing on whole tensors. `nn.Linear` is a layer (its `weight` has one row per neuron, like our $W$), `nn.Tanh` the activation, and `loss.backward()` is our `backward()`. Copy our trained weights into it, and the loss and every gradient must agree to float64 rounding:
""",
    ),
    (
        "code",
        r"""
def as_torch(value_mlp):
    # the same 2-8-8-1 network in PyTorch, with value_mlp's weights
    net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    with torch.no_grad():
        for layer, (W_l, b_l) in zip(net[::2], value_mlp.weights(), strict=True):
            layer.weight.copy_(torch.tensor(W_l, dtype=f64))
            layer.bias.copy_(torch.tensor(b_l, dtype=f64))
    return net


net = as_torch(mlp)
torch_loss = F.softplus(-y * net(X)[:, 0]).mean()
torch_loss.backward()
ours = xor_loss(mlp)
mlp.zero_grad()
ours.backward()
torch_grads = [g for layer in net[::2] for row, gb in zip(layer.weight.grad, layer.bias.grad, strict=True)
               for g in (*row.tolist(), gb.item())]  # per neuron: its weights, then its bias
grad_gap = max(abs(p.grad - g) for p, g in zip(mlp.parameters(), torch_grads, strict=True))
print(f"loss: ours {ours.data:.12f} nats, PyTorch {torch_loss.item():.12f} nats")
print(f"largest difference between the {len(torch_grads)} gradients: {grad_gap:.1e}")
assert abs(ours.data - torch_loss.item()) < 1e-12 and grad_gap < 1e-9
""",
    ),
    (
        "markdown",
        r"""
### The learning rate: too small, too large

Each step moves every weight by the learning rate times its gradient. Too small a rate and the loss creeps down; too large and the steps overshoot the valley they are meant to descend: the loss jumps up and bounces about instead of settling. PyTorch makes the experiment quick: the same MLP from the same starting weights, three learning rates, plain gradient descent (`torch.optim.SGD`).
""",
    ),
    (
        "code",
        r"""
lr_steps = by_mode(full=300, fast=60)
curves = {}
start = time.perf_counter()
for lr_try in (0.1, 1.0, 10.0):
    net_lr = as_torch(MLP(2, [8, 8, 1], seed=0))  # the same starting weights each time
    sgd = torch.optim.SGD(net_lr.parameters(), lr=lr_try)
    curves[lr_try] = []
    for _ in range(lr_steps):
        loss = F.softplus(-y * net_lr(X)[:, 0]).mean()
        sgd.zero_grad()
        loss.backward()
        sgd.step()
        curves[lr_try].append(loss.item())
torch_ms = 1000 * (time.perf_counter() - start) / (3 * lr_steps)

fig, ax = plt.subplots(figsize=(7, 3.5))
for (lr_try, curve), kind in zip(curves.items(), ["too small", "about right", "too large"], strict=True):
    ax.plot(range(1, lr_steps + 1), curve, label=f"lr = {lr_try:g} ({kind})")
ax.set_yscale("log")
ax.set_xlabel("gradient-descent step")
ax.set_ylabel("training loss (nats, log scale)")
ax.set_title("The same MLP, three learning rates")
ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5))
ax.grid(alpha=0.3)
plt.show()
for lr_try, curve in curves.items():
    print(f"lr = {lr_try:>5g}: loss {curve[0]:.3f} -> {curve[-1]:.3g} nats after {lr_steps} steps (highest {max(curve):.3g})")
print(f"PyTorch: {torch_ms:.1f} ms a step; our Value engine: {1000 * value_seconds / steps:.0f} ms a step")
assert curves[1.0][-1] < curves[0.1][-1] < curves[0.1][0]  # too small: slower, but going down
assert max(curves[10.0]) > curves[10.0][0]  # too large: the loss shot above where it started
assert curves[10.0][-1] > curves[1.0][-1]
""",
    ),
    (
        "markdown",
        r"""
The smallest rate is still creeping down, far above where the middle one ends; the largest overshoots, its loss rising above where it started, and ends far above the middle one (the asserts above check all three). Lessons that train with AdamW (the shared loop of the bigram below) still need a well-chosen learning rate, and a warmup that keeps the first steps small.

### The bridge: the bigram model is a one-layer network

The language model that follows is this same kind of network, with a single layer and no hidden layer:

* **input**: the current character as a **one-hot** vector: $V$ numbers, all 0 except a 1 at the character's index ($V$ = 77 characters);
* **one linear layer** $W$ of shape $V \times V$, no bias, no activation: the scores (logits) for the next character are $\mathbf x^\top W$;
* **a softmax output layer** turns the $V$ scores into probabilities;
* **cross-entropy** loss, $-\ln P(\text{actual next character})$, minimised by gradient descent on **next-token** targets.

Multiplying a one-hot vector by $W$ picks out one row of $W$. That is why the code stores $W$ as an `nn.Embedding` and *looks up* row $i$ instead of multiplying: the same layer, only faster. And with two classes, cross-entropy is the XOR loss above. The cell checks all three on small examples:
""",
    ),
    (
        "code",
        r"""
V_demo, i, target = 6, 4, 2
W_demo = torch.randn(V_demo, V_demo)
one_hot = F.one_hot(torch.tensor(i), V_demo).float()
print("one-hot input for index 4:", one_hot.tolist())
assert torch.equal(one_hot @ W_demo, W_demo[i])  # the layer's output is row i of W
print("one_hot @ W equals W[4], row 4 of the weights")

logits = W_demo[i]
by_hand = -logits.softmax(-1)[target].log()  # softmax output layer, then -ln P(target)
print(f"cross-entropy by hand {by_hand.item():.6f} nats, F.cross_entropy {F.cross_entropy(logits[None], torch.tensor([target])).item():.6f}")
assert torch.allclose(by_hand, F.cross_entropy(logits[None], torch.tensor([target])))

scores = net(X)[:, 0].detach()  # two classes: logits (0, s) for (y = -1, y = +1)
two_class = F.cross_entropy(torch.stack([torch.zeros_like(scores), scores], dim=1), (y > 0).long())
print(f"XOR loss {F.softplus(-y * scores).mean().item():.9f} = two-class cross-entropy {two_class.item():.9f}")
assert torch.allclose(two_class, F.softplus(-y * scores).mean())
""",
    ),
]

EXERCISES = [
    (
        "markdown",
        r"""
### Exercise 2: a neuron's forward pass

Write `neuron_forward(x, w, b)` for a list of inputs `x`, a list of weights `w` of the same length, and a bias `b`: the neuron's output $\tanh(\sum_i w_i x_i + b)$, a number. Plain Python and `math` are enough (an answer that calls `course_lib.autograd` is reported as using the library's version).
""",
    ),
    (
        "code",
        r"""
def neuron_forward(x, w, b):
    ### BEGIN SOLUTION
    return math.tanh(sum(wi * xi for wi, xi in zip(w, x, strict=True)) + b)
    ### END SOLUTION
""",
    ),
    (
        "code",
        r"""
from course_lib.checks.basics import check_backward_rule, check_gd_step, check_neuron_forward

check_neuron_forward(neuron_forward)
""",
    ),
    (
        "markdown",
        r"""
### Exercise 3: the backward rule of tanh

For `out = tanh(x)`, write `tanh_backward(x, out_grad)`: the gradient that flows back to `x` when the gradient `out_grad` arrives at `out`. It is the body of `Value.tanh`'s `_backward` (the lesson showed those of `+` and `*`): the chain rule's local derivative times the gradient from above. You need $\frac{d}{dx}\tanh x = 1 - \tanh^2 x$.
""",
    ),
    (
        "code",
        r"""
def tanh_backward(x, out_grad):
    ### BEGIN SOLUTION
    return (1 - math.tanh(x) ** 2) * out_grad
    ### END SOLUTION
""",
    ),
    (
        "code",
        r"""
check_backward_rule(tanh_backward)
""",
    ),
    (
        "markdown",
        r"""
### Exercise 4: one step of gradient descent

Write `gd_step(params, grads, lr)` for a list of parameters, the list of their gradients, and a learning rate: one step of gradient descent, returning the list of new parameters (each moved against its gradient by `lr` times the gradient).
""",
    ),
    (
        "code",
        r"""
def gd_step(params, grads, lr):
    ### BEGIN SOLUTION
    return [p - lr * g for p, g in zip(params, grads, strict=True)]
    ### END SOLUTION
""",
    ),
    (
        "code",
        r"""
check_gd_step(gd_step)
""",
    ),
]


# --- the edits ------------------------------------------------------------------------------


def patch(root: Path) -> bool:
    nb = load(root, NOTEBOOK)
    if any(MARKER in source(c) for c in nb["cells"]):
        return False

    # intro: the list of what you will do, and the modules
    rep(
        nb,
        "3. train your first language model, a *bigram* model of Shakespeare's characters, with the "
        "course's shared training loop, and read its loss curve and samples.",
        "3. build the foundation of deep learning by hand: a neuron and a layer, backpropagation in "
        "a tiny autograd engine checked against PyTorch, and a small network that learns, by "
        "gradient descent, a problem no straight line can solve;\n"
        "4. train your first language model, a *bigram* model of Shakespeare's characters, with the "
        "course's shared training loop, read its loss curve and samples, and see that it is a "
        "one-layer network of the same kind.",
    )
    rep(
        nb,
        "| **You will use** | `course_lib.runtime`, `course_lib.data`, `course_lib.train`, "
        "`course_lib.doctor` |",
        "| **You will use** | `course_lib.runtime`, `course_lib.doctor`, `course_lib.autograd`, "
        "`course_lib.data`, `course_lib.train` |",
    )
    rep(
        nb,
        "| the course, your setup, a first model | an environment check; a bigram character model |",
        "| the course, your setup, deep learning by hand, a first model | an environment check; a "
        "neuron, backpropagation and a small network from scratch; a bigram character model |",
    )

    # the foundation, between the widget check and the bigram part
    insert_after(nb, "widgets.IntSlider(value=3", FOUNDATION)

    # the bigram section names the bridge and checks it on the real model
    rep(
        nb,
        "Softmax turns the scores into probabilities.",
        "Softmax turns the scores into probabilities. This is the one-layer network of the bridge "
        "above: looking up row $i$ is multiplying the one-hot vector of character $i$ by the "
        "table (the next cell checks it on a real batch).",
    )
    rep(
        nb,
        'print("logits:", tuple(model(x).shape), " parameters:", '
        "sum(p.numel() for p in model.parameters()))",
        'print("logits:", tuple(model(x).shape), " parameters:", '
        "sum(p.numel() for p in model.parameters()))\n"
        "one_hot_x = F.one_hot(x, V).float()  # (B, T, V): each character as a one-hot vector\n"
        "assert torch.equal(one_hot_x @ model.table.weight, model(x))\n"
        'print("one-hot inputs @ W equals the table lookup: the bigram model is a one-layer network")',
    )

    # exercises: one section, the existing exercise first (the student version stops there)
    rep(
        nb,
        "## Exercise: from loss to bits and perplexity\n",
        "## Exercises\n\nEach exercise gives a function to write; the cell after it checks your "
        "function on fresh random inputs against the course's answer and gives a hint aimed at the "
        "usual mistake if it disagrees.\n\n### Exercise 1: from loss to bits and perplexity\n",
    )
    insert_after(nb, "check_perplexity(perplexity)", EXERCISES)

    # summary and reading
    rep(
        nb,
        "* A language model predicts the next token;",
        "* A neuron is a weighted sum, a bias and a non-linearity; a layer is many neurons; "
        "without the non-linearity a stack of layers collapses into one linear layer. A network "
        "with hidden layers between input and output is an MLP; *deep* means many layers.\n"
        "* Backpropagation is the chain rule run backwards through the computation graph, each "
        "operation contributing its local derivative; our small `Value` engine gives "
        "`torch.autograd`'s gradients, and the same MLP in PyTorch gives the same loss.\n"
        "* Gradient descent moves every weight against its gradient; too small a learning rate "
        "crawls, too large a one overshoots. With hidden layers, the MLP learned XOR, which no "
        "straight line can separate.\n"
        "* The bigram model is a one-layer network over one-hot inputs, with a softmax output "
        "layer and cross-entropy, trained on next-token prediction: a language model is a neural "
        "network like the others, and the lessons that follow make it deeper.\n"
        "* A language model predicts the next token;",
    )
    rep(
        nb,
        "**Read more:** Shannon,",
        "**Read more:** Rumelhart, Hinton & Williams, *Learning representations by "
        "back-propagating errors* (1986); Karpathy, *micrograd* (2020) and its lecture *The "
        "spelled-out intro to neural networks and backpropagation* (2022), which this lesson's "
        "engine follows; Shannon,",
    )
    save(root, NOTEBOOK, nb)
    return True


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python tools/patches/lesson00_foundation.py REPO_ROOT")
    done = patch(Path(sys.argv[1]))
    print("lesson 00: foundation inserted" if done else "lesson 00: already patched, unchanged")
