"""Checks for lesson 03's exercises: the LSTM cell step, the time loop of an LSTM layer,
training with truncated backpropagation through time, the spectral radius at which an RNN's
gradient neither vanishes nor explodes (predict, then measure), and a GRU cell.

Each check runs the learner's function and the reference on fresh random inputs, prints a
one-line verdict, and on failure a hint aimed at the usual mistake (never the solution).
"""

from __future__ import annotations

import copy
import itertools
import random

import torch
import torch.nn.functional as F
from torch import nn

from ..rnn import LSTM, CharRNN, CharRNNConfig, LSTMCell, lstm_cell, lstm_gates
from . import Hint, check_function, check_prediction, check_rng, compare

# --- the LSTM cell ----------------------------------------------------------------------------

LSTM_CELL_LIBRARY = (lstm_cell, lstm_gates, LSTMCell, nn.LSTMCell)


def _lstm_variant(
    x,
    state,
    w_ih,
    w_hh,
    b_ih,
    b_hh,
    *,
    order="ifgo",
    forget=True,
    squash=True,
    new_c=True,
    g_act=torch.tanh,
    both_biases=True,
    swap=False,
):
    """An LSTM step with one of the usual mistakes (the defaults are PyTorch's step)."""
    h, c = state
    z = F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh if both_biases else None)
    gate = dict(zip(order, z.chunk(4, -1), strict=True))
    i, f, o = (torch.sigmoid(gate[name]) for name in "ifo")
    c_new = (f * c if forget else c) + i * g_act(gate["g"])
    shown = c_new if new_c else c
    h_new = o * (torch.tanh(shown) if squash else shown)
    return (c_new, h_new) if swap else (h_new, c_new)


def _is_lstm_variant(**kw):
    def applies(args, got, expected):
        return compare(got, _lstm_variant(*args, **kw)) is None

    return applies


def _wrong_gate_order(args, got, expected):
    orders = ("".join(p) for p in itertools.permutations("ifgo"))
    return any(compare(got, _lstm_variant(*args, order=o)) is None for o in orders if o != "ifgo")


LSTM_CELL_HINTS = [
    Hint(
        _wrong_gate_order,
        "the gates are in the wrong order: PyTorch stacks them i, f, g, o (input, forget, "
        "candidate, output), so the first quarter of the 4H pre-activations is the input gate",
    ),
    Hint(
        _is_lstm_variant(swap=True),
        "the pair is swapped: return (h, c), the hidden state first, as nn.LSTMCell does",
    ),
    Hint(
        _is_lstm_variant(forget=False),
        "the old cell state must be scaled by the forget gate: c' = f * c + i * g",
    ),
    Hint(
        _is_lstm_variant(squash=False),
        "the hidden state is o * tanh(c'): squash the new cell state before the output gate",
    ),
    Hint(
        _is_lstm_variant(new_c=False),
        "h' must use the NEW cell state c' (compute c' first, then h' = o * tanh(c'))",
    ),
    Hint(
        _is_lstm_variant(g_act=torch.sigmoid),
        "the candidate g takes a tanh (values in (-1, 1), so the cell can be written down as "
        "well as up); only the gates i, f and o take a sigmoid",
    ),
    Hint(
        _is_lstm_variant(both_biases=False),
        "add both biases: bias_ih with the input's product and bias_hh with the hidden state's",
    ),
]


def _lstm_inputs(rng: random.Random):
    B, D, H = rng.randint(1, 4), rng.randint(1, 6), rng.randint(1, 6)
    g = torch.Generator().manual_seed(rng.randrange(2**31))

    def rand(*shape, scale=1.0):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * scale

    state = (rand(B, H), rand(B, H, scale=2.0))
    return rand(B, D), state, rand(4 * H, D), rand(4 * H, H), rand(4 * H), rand(4 * H)


def check_lstm_cell(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(x, (h, c), weight_ih, weight_hh, bias_ih, bias_hh) -> (h', c')`` against
    :func:`course_lib.rnn.lstm_cell` (equal to ``nn.LSTMCell``) on random shapes: ``x (B, I)``,
    ``h, c (B, H)``, ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, biases ``(4H,)``, float64.
    An answer that calls the course's cell (or PyTorch's) gets "uses the library version"."""
    return check_function(
        fn,
        lstm_cell,
        _lstm_inputs,
        name="check_lstm_cell",
        trials=20,
        hints=LSTM_CELL_HINTS,
        verbose=verbose,
        library=LSTM_CELL_LIBRARY,
    )


# --- the time loop: a whole LSTM layer --------------------------------------------------------

LSTM_LAYER_LIBRARY = (LSTM, nn.LSTM)


def _layer_variant(xs, state, w_ih, w_hh, b_ih, b_hh, kind=None):
    """One LSTM layer over ``xs (T, B, I)``: ``(outputs (T, B, H), (h_T, c_T))``, or one of the
    usual mistakes (``kind``)."""
    h, c = state
    hs, cs = ([h], [c]) if kind in ("with_initial", "lagged") else ([], [])
    for x in xs:
        h, c = lstm_cell(x, state if kind == "no_carry" else (h, c), w_ih, w_hh, b_ih, b_hh)
        hs.append(h)
        cs.append(c)
    if kind == "lagged":
        hs, cs = hs[:-1], cs[:-1]
    out = torch.stack(cs if kind == "cell_outputs" else hs, dim=1 if kind == "batch_first" else 0)
    return out, (state if kind == "initial_final" else (h, c))


def _layer_reference(xs, state, w_ih, w_hh, b_ih, b_hh):
    return _layer_variant(xs, state, w_ih, w_hh, b_ih, b_hh)


def _is_layer_variant(kind):
    def applies(args, got, expected):
        return compare(got, _layer_variant(*args, kind=kind)) is None

    return applies


LSTM_LAYER_HINTS = [
    Hint(
        _is_layer_variant("with_initial"),
        "outputs has one step too many: it holds the hidden state after each of the T steps, "
        "not the initial state",
    ),
    Hint(
        _is_layer_variant("lagged"),
        "outputs is one step late: outputs[t] is the hidden state AFTER reading xs[t]",
    ),
    Hint(
        _is_layer_variant("batch_first"),
        "outputs should be (T, B, H), time first like xs: stack the steps along dim 0",
    ),
    Hint(
        _is_layer_variant("cell_outputs"),
        "outputs holds the hidden state h of every step; the cell state c stays inside the layer",
    ),
    Hint(
        _is_layer_variant("no_carry"),
        "every step must start from the state the previous step returned, not from the initial "
        "state: that is what carries the memory along the sequence",
    ),
    Hint(
        _is_layer_variant("initial_final"),
        "return the state after the LAST step, (h_T, c_T): the state a next chunk starts from",
    ),
]


def _layer_inputs(rng: random.Random):
    T, B, D, H = rng.randint(2, 7), rng.randint(1, 3), rng.randint(1, 5), rng.randint(1, 5)
    g = torch.Generator().manual_seed(rng.randrange(2**31))

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    return (
        rand(T, B, D),
        (rand(B, H), rand(B, H)),
        rand(4 * H, D),
        rand(4 * H, H),
        rand(4 * H),
        rand(4 * H),
    )


def check_lstm_layer(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(xs, (h0, c0), weight_ih, weight_hh, bias_ih, bias_hh)
    -> (outputs, (h_T, c_T))`` for ``xs (T, B, I)``, ``outputs (T, B, H)``: one LSTM layer run
    over time, against a loop of :func:`course_lib.rnn.lstm_cell` (equal to ``nn.LSTM``'s
    layer). An answer that calls ``rnn.LSTM`` or ``nn.LSTM`` gets "uses the library version";
    calling a cell (your ``lstm_cell``) inside the loop is the point."""
    return check_function(
        fn,
        _layer_reference,
        _layer_inputs,
        name="check_lstm_layer",
        trials=20,
        hints=LSTM_LAYER_HINTS,
        verbose=verbose,
        library=LSTM_LAYER_LIBRARY,
    )


# --- truncated backpropagation through time ---------------------------------------------------


def _tbptt_variant(model, ids, k, lr, kind=None):
    """Train ``model`` on the streams ``ids (B, N+1)`` with truncated BPTT: chunks of ``k``
    steps, one plain SGD step per chunk, the state carried (detached) from chunk to chunk.
    Returns the chunks' losses; ``kind`` makes one of the usual mistakes."""
    x_all, y_all = ids[:, :-1], (ids[:, :-1] if kind == "no_shift" else ids[:, 1:])
    N = x_all.shape[1]
    stop = N - N % k if kind == "drop_last" else N
    step = {"no_update": 0.0, "ascent": -lr}.get(kind, lr)
    state, losses = None, []
    for s in range(0, stop, k):
        logits, new_state = model(x_all[:, s : s + k], None if kind == "no_carry" else state)
        reduction = "sum" if kind == "sum_loss" else "mean"
        targets = y_all[:, s : s + k].reshape(-1)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets, reduction=reduction)
        if kind != "no_zero_grad":
            model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= step * p.grad
        state = tuple(t.detach() for t in new_state)
        losses.append(loss.item())
    return losses


def _as_floats(losses):
    if isinstance(losses, torch.Tensor):
        return [float(v) for v in losses.detach().flatten()]
    if isinstance(losses, list | tuple):
        return [
            float(v.detach()) if isinstance(v, torch.Tensor) and v.numel() == 1 else v
            for v in losses
        ]
    return losses


_ERROR_HINTS = {  # words of an error message -> hint
    "backward through the graph a second time": "the state carried into this chunk still holds "
    "the previous chunk's graph; detach it (h.detach(), c.detach()) after each chunk, so that "
    "backward stops at the chunk's start: that is the truncation",
    "modified by an inplace operation": "the state carried into this chunk still holds the "
    "previous chunk's graph; detach it (h.detach(), c.detach()) after each chunk",
    "to match target batch_size": "a chunk's inputs and targets differ in length: the inputs are "
    "ids[:, :-1] and the targets ids[:, 1:], both N long; take the chunk from each, so the last "
    "chunk's inputs do not run one token past its targets",
}


def _losses_and_weights(fn, kind=None):
    """``fn(model, ids, k, lr)`` run for the check: (the losses as floats, the trained weights)."""

    def run(model, ids, k, lr):
        try:
            losses = fn(model, ids, k, lr) if kind is None else fn(model, ids, k, lr, kind)
        except (RuntimeError, ValueError) as e:
            hint = next((h for words, h in _ERROR_HINTS.items() if words in str(e)), None)
            if hint:
                raise type(e)(f"{e}\nhint: {hint}") from None
            raise
        return _as_floats(losses), [p.detach().clone() for p in model.parameters()]

    return run


def _is_tbptt_variant(kind):
    def applies(args, got, expected):
        want = _losses_and_weights(_tbptt_variant, kind)(*copy.deepcopy(args))
        return compare(got, want, atol=1e-8) is None

    return applies


TBPTT_HINTS = [
    Hint(
        _is_tbptt_variant("drop_last"),
        "the last, shorter chunk is missing: when k does not divide the length, the final chunk "
        "has fewer than k steps, and it is trained on too",
    ),
    Hint(
        _is_tbptt_variant("no_carry"),
        "each chunk must start from the state the previous chunk ended in (detached), not from "
        "zeros: truncation cuts the gradient, not the memory",
    ),
    Hint(
        _is_tbptt_variant("no_shift"),
        "the targets are the inputs shifted by one: the token AFTER each input, ids[:, 1:]",
    ),
    Hint(
        _is_tbptt_variant("no_zero_grad"),
        "gradients accumulate in .grad: zero them (model.zero_grad()) before each backward",
    ),
    Hint(
        _is_tbptt_variant("no_update"),
        "the weights never changed: after each chunk's backward, step against the gradient "
        "(p -= lr * p.grad), and zero the gradients BEFORE backward, not between it and the step",
    ),
    Hint(
        _is_tbptt_variant("ascent"),
        "the losses go up: step AGAINST the gradient, p -= lr * p.grad",
    ),
    Hint(
        _is_tbptt_variant("sum_loss"),
        "use the MEAN cross-entropy over the chunk's tokens (F.cross_entropy's default), not "
        "the sum: the sum makes the step size depend on the chunk's length",
    ),
]


def _tbptt_inputs(rng: random.Random, fixed: tuple | None = None):
    V, H, B, k, N = fixed or (
        rng.randint(3, 8),
        rng.randint(2, 6),
        rng.randint(1, 3),
        rng.randint(2, 4),
        0,
    )
    N = N or rng.randint(k + 1, 4 * k)
    g = torch.Generator().manual_seed(rng.randrange(2**31))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(rng.randrange(2**31))
        model = CharRNN(CharRNNConfig(V, H, cell="lstm")).double()
    ids = torch.randint(V, (B, N + 1), generator=g)
    return model, ids, k, rng.choice([0.1, 0.3, 0.5])


def check_train_tbptt(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(model, ids, k, lr) -> losses``: train an LSTM :class:`~course_lib.rnn.CharRNN`
    on ``ids (B, N+1)`` (B streams) with truncated backpropagation through time: chunks of ``k``
    steps (the last may be shorter), the mean cross-entropy of each chunk, one plain SGD step per
    chunk, the state carried from chunk to chunk but detached. Compares the list of the chunks'
    losses and the trained weights with the reference's, on small random models in float64."""
    rng = check_rng("check_train_tbptt")
    cases = [_tbptt_inputs(rng, (5, 4, 2, 3, 7))] + [_tbptt_inputs(rng) for _ in range(9)]
    return check_function(
        _losses_and_weights(fn),
        _losses_and_weights(_tbptt_variant),
        cases,
        name="check_train_tbptt",
        hints=TBPTT_HINTS,
        atol=1e-8,
        verbose=verbose,
    )


# --- GRU cell ---------------------------------------------------------------------------------


def _gru_reference(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    """PyTorch's own ``nn.GRUCell`` with the given weights."""
    cell = nn.GRUCell(x.shape[-1], h.shape[-1]).to(x.dtype)
    with torch.no_grad():
        for name, w in zip(
            ("weight_ih", "weight_hh", "bias_ih", "bias_hh"),
            (weight_ih, weight_hh, bias_ih, bias_hh),
            strict=True,
        ):
            getattr(cell, name).copy_(w)
        return cell(x, h)


def _gru_variant(
    x, h, w_ih, w_hh, b_ih, b_hh, *, order="rzn", reset="after", mix="pytorch", act=torch.tanh
):
    """A GRU with one of the usual mistakes, to recognise a wrong answer."""
    gi = dict(zip(order, F.linear(x, w_ih, b_ih).chunk(3, -1), strict=True))
    gh = dict(zip(order, F.linear(h, w_hh, b_hh).chunk(3, -1), strict=True))
    r = torch.sigmoid(gi["r"] + gh["r"])
    z = torch.sigmoid(gi["z"] + gh["z"])
    if reset == "after":  # PyTorch: r * (W_hn h + b_hn)
        n = act(gi["n"] + r * gh["n"])
    elif reset == "before":  # W_hn (r * h) + b_hn, the original paper's variant
        w_hn = w_hh.chunk(3, 0)[order.index("n")]
        b_hn = b_hh.chunk(3, 0)[order.index("n")]
        n = torch.tanh(gi["n"] + F.linear(r * h, w_hn, b_hn))
    else:  # reset ignored
        n = torch.tanh(gi["n"] + gh["n"])
    return (1 - z) * n + z * h if mix == "pytorch" else z * n + (1 - z) * h


def _matches_variant(**kw):
    def applies(args, got, expected):
        want = _gru_variant(*args, **kw)
        return (
            isinstance(got, torch.Tensor)
            and got.shape == want.shape
            and torch.allclose(got.to(want.dtype), want, atol=1e-6)
        )

    return applies


GRU_HINTS = [
    Hint(
        _matches_variant(order="zrn"),
        "the gates are swapped: PyTorch stacks the GRU's weights in the order r, z, n "
        "(reset, update, new), so chunk(3) gives r first",
    ),
    Hint(
        _matches_variant(mix="swapped"),
        "the update gate mixes the wrong way round: z close to 1 should KEEP the old state h",
    ),
    Hint(
        _matches_variant(reset="before"),
        "the reset gate is applied in the wrong place: PyTorch multiplies r with the whole "
        "hidden-to-hidden term of the candidate, (W_hn h + b_hn), not with h before the product",
    ),
    Hint(
        _matches_variant(reset="none"),
        "the reset gate r is not used: it should scale the hidden-to-hidden term of the "
        "candidate n",
    ),
    Hint(
        _matches_variant(act=lambda t: t),
        "some outputs are outside [-1, 1]: the candidate n needs a tanh and the gates a sigmoid",
    ),
    Hint(
        lambda args, got, expected: (
            isinstance(got, torch.Tensor)
            and got.shape == expected.shape
            and bool((got.abs() > 1.0 + 1e-9).any())
        ),
        "some outputs are outside [-1, 1]: the candidate n needs a tanh and the gates a sigmoid",
    ),
]


def _gru_inputs(rng: random.Random):
    B, D, H = rng.randint(1, 4), rng.randint(1, 6), rng.randint(1, 6)
    g = torch.Generator().manual_seed(rng.randrange(2**31))

    def rand(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    return (rand(B, D), rand(B, H), rand(3 * H, D), rand(3 * H, H), rand(3 * H), rand(3 * H))


def check_gru_cell(fn, *, verbose: bool = True) -> bool:
    """Check ``fn(x, h, weight_ih, weight_hh, bias_ih, bias_hh) -> h_new`` against
    ``nn.GRUCell`` on random shapes: ``x (B, I)``, ``h (B, H)``, ``weight_ih (3H, I)``,
    ``weight_hh (3H, H)``, biases ``(3H,)``, float64, to 1e-6."""
    return check_function(
        fn,
        _gru_reference,
        _gru_inputs,
        name="check_gru_cell",
        library=(nn.GRUCell,),
        trials=20,
        hints=GRU_HINTS,
        verbose=verbose,
    )


# --- predict, then measure: the break-even spectral radius ------------------------------------

RADIUS_EXPLANATION = (
    "a LINEAR RNN would break even at spectral radius 1: each step back multiplies the gradient "
    "by W_hh^T, whose long-run gain is its spectral radius. The tanh multiplies it again by its "
    "slope 1 - h^2, below 1 whenever a unit is away from 0, and the larger W_hh, the harder it "
    "pushes the units towards -1 and +1. The recurrent gain must make up for that loss, so the "
    "break-even radius lies well above 1, and depends on the inputs and the weights, not on "
    "W_hh's eigenvalues alone. Around it the gradient 50 steps back changes fast with the radius "
    "(section 4 printed the ratios at 1.5 and at 3.0): a knife edge, not a setting a plain RNN "
    "can be tuned to."
)


def check_radius_prediction(prediction, measured, *, verbose: bool = True) -> bool:
    """The "predict, then measure" exercise: the spectral radius of ``W_hh`` at which an untrained
    character RNN's gradient 50 steps back equals the one at the last step. Passed by any numeric
    prediction; it counts as right within 0.15 of ``measured``."""
    return check_prediction(
        prediction,
        measured,
        name="check_radius_prediction",
        explain=RADIUS_EXPLANATION,
        tolerance=0.15,
        verbose=verbose,
    )
