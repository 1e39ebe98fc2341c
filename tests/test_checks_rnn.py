"""Lesson 03's exercise checks pass the reference and catch the usual mistakes with the right
hint; answers that call the library's version get "uses the library version"."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import rnn
from course_lib.checks import USES_LIBRARY
from course_lib.checks import rnn as checks


def _verdict(capsys, check, fn):
    ok = check(fn)
    return ok, capsys.readouterr().out


def _fails_with(capsys, check, fn, words):
    ok, out = _verdict(capsys, check, fn)
    name = check.__name__
    assert not ok and out.startswith(f"❌ {name}: failed"), (fn.__name__, out)
    assert words in out, (fn.__name__, out)


# --- the LSTM cell --------------------------------------------------------------------------------


def lstm_cell(x, state, weight_ih, weight_hh, bias_ih, bias_hh, order="ifgo"):
    h, c = state
    z = x @ weight_ih.T + bias_ih + h @ weight_hh.T + bias_hh
    gate = dict(zip(order, z.chunk(4, dim=-1), strict=True))
    i, f, o = torch.sigmoid(gate["i"]), torch.sigmoid(gate["f"]), torch.sigmoid(gate["o"])
    c = f * c + i * torch.tanh(gate["g"])
    return o * torch.tanh(c), c


def test_lstm_cell_check_passes_the_solution_and_equals_nn_lstmcell(capsys):
    ok, out = _verdict(capsys, checks.check_lstm_cell, lstm_cell)
    assert ok and out.startswith("✅ check_lstm_cell: passed on 20 random inputs")
    torch.manual_seed(0)
    ref = nn.LSTMCell(3, 4).double()
    x, h, c = torch.randn(2, 3).double(), torch.randn(2, 4).double(), torch.randn(2, 4).double()
    weights = (ref.weight_ih, ref.weight_hh, ref.bias_ih, ref.bias_hh)
    got, want = lstm_cell(x, (h, c), *weights), ref(x, (h, c))
    assert all(torch.allclose(a, b) for a, b in zip(got, want, strict=True))


def test_lstm_cell_check_hints(capsys):
    def gates_ifog(x, state, *w):  # the order of some from-scratch implementations
        return lstm_cell(x, state, *w, order="ifog")

    def returns_c_h(x, state, *w):
        return lstm_cell(x, state, *w)[::-1]

    def no_forget_gate(x, state, w_ih, w_hh, b_ih, b_hh):
        h, c = state
        i, f, g, o = (F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)).chunk(4, -1)
        c = c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def no_tanh_on_c(x, state, w_ih, w_hh, b_ih, b_hh):
        h, c = state
        i, f, g, o = (F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)).chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * c, c

    def old_c_in_h(x, state, w_ih, w_hh, b_ih, b_hh):
        h, c = state
        i, f, g, o = (F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)).chunk(4, -1)
        h = torch.sigmoid(o) * torch.tanh(c)
        return h, torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)

    def sigmoid_candidate(x, state, w_ih, w_hh, b_ih, b_hh):
        h, c = state
        i, f, g, o = torch.sigmoid(F.linear(x, w_ih, b_ih) + F.linear(h, w_hh, b_hh)).chunk(4, -1)
        c = f * c + i * g
        return o * torch.tanh(c), c

    def one_bias(x, state, w_ih, w_hh, b_ih, b_hh):
        return lstm_cell(x, state, w_ih, w_hh, b_ih, torch.zeros_like(b_hh))

    for fn, words in [
        (gates_ifog, "stacks them i, f, g, o"),
        (returns_c_h, "return (h, c)"),
        (no_forget_gate, "c' = f * c + i * g"),
        (no_tanh_on_c, "squash the new cell state"),
        (old_c_in_h, "NEW cell state"),
        (sigmoid_candidate, "candidate g takes a tanh"),
        (one_bias, "add both biases"),
    ]:
        _fails_with(capsys, checks.check_lstm_cell, fn, words)


def test_lstm_cell_check_rejects_the_library_version(capsys):
    def via_module(x, state, *w):
        return rnn.lstm_cell(x, state, *w)

    def via_gates(x, state, *w):
        i, f, g, o = rnn.lstm_gates(x, state[0], *w)
        c = f * state[1] + i * g
        return o * torch.tanh(c), c

    def via_torch(x, state, w_ih, w_hh, b_ih, b_hh):
        cell = nn.LSTMCell(x.shape[-1], state[0].shape[-1]).double()
        cell.load_state_dict(dict(weight_ih=w_ih, weight_hh=w_hh, bias_ih=b_ih, bias_hh=b_hh))
        return cell(x, state)

    for fn in (rnn.lstm_cell, via_module, via_gates, via_torch):
        ok, out = _verdict(capsys, checks.check_lstm_cell, fn)
        assert ok is False and f"check_lstm_cell: {USES_LIBRARY}" in out, out


# --- the LSTM layer (the time loop) ---------------------------------------------------------------


def lstm_layer(xs, state, weight_ih, weight_hh, bias_ih, bias_hh):
    h, c = state
    outputs = []
    for x in xs:
        h, c = lstm_cell(x, (h, c), weight_ih, weight_hh, bias_ih, bias_hh)
        outputs.append(h)
    return torch.stack(outputs), (h, c)


def test_lstm_layer_check_passes_the_solution_and_equals_nn_lstm(capsys):
    ok, out = _verdict(capsys, checks.check_lstm_layer, lstm_layer)
    assert ok and out.startswith("✅ check_lstm_layer: passed on 20 random inputs")
    torch.manual_seed(0)
    ref = nn.LSTM(3, 4).double()
    xs, h0, c0 = (
        torch.randn(6, 2, 3).double(),
        torch.randn(2, 4).double(),
        torch.randn(2, 4).double(),
    )
    out_ref, (h_ref, c_ref) = ref(xs, (h0[None], c0[None]))
    w = (ref.weight_ih_l0, ref.weight_hh_l0, ref.bias_ih_l0, ref.bias_hh_l0)
    out, (h, c) = lstm_layer(xs, (h0, c0), *w)
    assert (
        torch.allclose(out, out_ref) and torch.allclose(h, h_ref[0]) and torch.allclose(c, c_ref[0])
    )


def test_lstm_layer_check_hints(capsys):
    def with_initial(xs, state, *w):
        out, final = lstm_layer(xs, state, *w)
        return torch.cat([state[0][None], out]), final

    def lagged(xs, state, *w):
        out, final = with_initial(xs, state, *w)
        return out[:-1], final

    def batch_first(xs, state, *w):
        out, final = lstm_layer(xs, state, *w)
        return out.transpose(0, 1), final

    def cell_states(xs, state, *w):
        h, c = state
        cs = []
        for x in xs:
            h, c = lstm_cell(x, (h, c), *w)
            cs.append(c)
        return torch.stack(cs), (h, c)

    def no_carry(xs, state, *w):
        steps = [lstm_cell(x, state, *w) for x in xs]
        return torch.stack([h for h, _ in steps]), steps[-1]

    def initial_final(xs, state, *w):
        return lstm_layer(xs, state, *w)[0], state

    for fn, words in [
        (with_initial, "one step too many"),
        (lagged, "one step late"),
        (batch_first, "stack the steps along dim 0"),
        (cell_states, "the cell state c stays inside"),
        (no_carry, "the state the previous step returned"),
        (initial_final, "after the LAST step"),
    ]:
        _fails_with(capsys, checks.check_lstm_layer, fn, words)


def test_lstm_layer_check_rejects_the_library_version(capsys):
    def via_ours(xs, state, w_ih, w_hh, b_ih, b_hh):
        layer = rnn.LSTM(xs.shape[-1], state[0].shape[-1]).double()
        layer.load_state_dict(
            dict(weight_ih_l0=w_ih, weight_hh_l0=w_hh, bias_ih_l0=b_ih, bias_hh_l0=b_hh)
        )
        out, (h, c) = layer(xs, (state[0][None], state[1][None]))
        return out, (h[0], c[0])

    def via_torch(xs, state, w_ih, w_hh, b_ih, b_hh):
        layer = nn.LSTM(xs.shape[-1], state[0].shape[-1]).double()
        layer.load_state_dict(
            dict(weight_ih_l0=w_ih, weight_hh_l0=w_hh, bias_ih_l0=b_ih, bias_hh_l0=b_hh)
        )
        out, (h, c) = layer(xs, (state[0][None], state[1][None]))
        return out, (h[0], c[0])

    for fn in (via_ours, via_torch):
        ok, out = _verdict(capsys, checks.check_lstm_layer, fn)
        assert ok is False and f"check_lstm_layer: {USES_LIBRARY}" in out, out

    def loop_around_the_course_cell(xs, state, *w):  # the time loop is the exercise, not the cell
        h, c = state
        outputs = []
        for x in xs:
            h, c = rnn.lstm_cell(x, (h, c), *w)
            outputs.append(h)
        return torch.stack(outputs), (h, c)

    assert checks.check_lstm_layer(loop_around_the_course_cell, verbose=False)


# --- truncated backpropagation through time -------------------------------------------------------


def train_tbptt(model, ids, k, lr, *, carry=True, detach=True, shift=1, last=True, zero=True):
    x_all, y_all = ids[:, :-1], ids[:, shift : ids.shape[1] - 1 + shift]
    N = x_all.shape[1]
    state, losses = None, []
    for s in range(0, N if last else N - N % k, k):
        logits, new_state = model(x_all[:, s : s + k], state)
        loss = F.cross_entropy(logits.flatten(0, 1), y_all[:, s : s + k].flatten())
        if zero:
            model.zero_grad()
        loss.backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= lr * p.grad
        if carry:
            state = tuple(t.detach() for t in new_state) if detach else new_state
        losses.append(loss.item())
    return losses


def test_tbptt_check_passes_the_solution_and_an_optimizer(capsys):
    ok, out = _verdict(capsys, checks.check_train_tbptt, train_tbptt)
    assert ok and out.startswith("✅ check_train_tbptt: passed on 10 inputs")

    def with_sgd(model, ids, k, lr):
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        h_c, losses = None, []
        for s in range(0, ids.shape[1] - 1, k):
            x, y = ids[:, :-1][:, s : s + k], ids[:, s + 1 : s + k + 1]
            logits, (h, c) = model(x, h_c)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            opt.step()
            h_c = (h.detach(), c.detach())
            losses.append(loss)  # 0-d tensors are fine too
        return losses

    assert checks.check_train_tbptt(with_sgd)


def test_tbptt_check_hints(capsys):
    def without_detach(model, ids, k, lr):
        return train_tbptt(model, ids, k, lr, detach=False)

    def from_zeros(model, ids, k, lr):
        return train_tbptt(model, ids, k, lr, carry=False)

    def unshifted(model, ids, k, lr):
        return train_tbptt(model, ids, k, lr, shift=0)

    def drops_last(model, ids, k, lr):
        return train_tbptt(model, ids, k, lr, last=False)

    def accumulates(model, ids, k, lr):
        return train_tbptt(model, ids, k, lr, zero=False)

    def ascends(model, ids, k, lr):
        return train_tbptt(model, ids, k, -lr)

    def never_steps(model, ids, k, lr):
        return train_tbptt(model, ids, k, 0.0)

    def summed(model, ids, k, lr):
        x_all, y_all = ids[:, :-1], ids[:, 1:]
        state, losses = None, []
        for s in range(0, x_all.shape[1], k):
            logits, state = model(x_all[:, s : s + k], state)
            loss = F.cross_entropy(
                logits.flatten(0, 1), y_all[:, s : s + k].flatten(), reduction="sum"
            )
            model.zero_grad()
            loss.backward()
            with torch.no_grad():
                for p in model.parameters():
                    p -= lr * p.grad
            state = tuple(t.detach() for t in state)
            losses.append(loss.item())
        return losses

    def inputs_past_targets(model, ids, k, lr):
        state, losses = None, []
        for s in range(0, ids.shape[1] - 1, k):
            logits, state = model(ids[:, s : s + k], state)  # the last chunk: one input too many
            loss = F.cross_entropy(logits.flatten(0, 1), ids[:, s + 1 : s + k + 1].flatten())
            loss.backward()
            state = tuple(t.detach() for t in state)
            losses.append(loss.item())
        return losses

    ok, out = _verdict(capsys, checks.check_train_tbptt, without_detach)
    assert not ok and "raised RuntimeError" in out and "detach it (h.detach(), c.detach())" in out
    ok, out = _verdict(capsys, checks.check_train_tbptt, inputs_past_targets)
    assert not ok and "raised ValueError" in out and "inputs do not run one token past" in out
    for fn, words in [
        (from_zeros, "not from zeros"),
        (unshifted, "shifted by one"),
        (drops_last, "the last, shorter chunk is missing"),
        (accumulates, "gradients accumulate"),
        (ascends, "step AGAINST the gradient"),
        (never_steps, "the weights never changed"),
        (summed, "MEAN cross-entropy"),
    ]:
        _fails_with(capsys, checks.check_train_tbptt, fn, words)


# --- predict, then measure ------------------------------------------------------------------------


def test_radius_prediction(capsys):
    assert checks.check_radius_prediction(1.8, 1.71) is True
    out = capsys.readouterr().out
    assert (
        out.startswith("✅ check_radius_prediction: passed (prediction made)") and ": right" in out
    )
    assert checks.check_radius_prediction(1.0, 1.71) is False  # the linear answer: made, not right
    out = capsys.readouterr().out
    assert "passed (prediction made)" in out and "not what happened" in out
    assert "LINEAR RNN would break even at spectral radius 1" in out
    assert checks.check_radius_prediction(None, 1.71) is False
    assert "❌ check_radius_prediction: not attempted" in capsys.readouterr().out


def test_the_radius_experiment_breaks_even_between_section_4s_radii():
    """The measurement the exercise runs (a bisection on the ratio at k = 50), on a small probe
    of random token ids: the break-even radius lies above 1 (the tanh saturates), below 3."""
    torch.manual_seed(3)
    probe = torch.randint(20, (4, 61))

    def ratio(radius):
        torch.manual_seed(0)
        m = rnn.CharRNN(rnn.CharRNNConfig(20, 32, cell="rnn"))
        with torch.no_grad():
            W = m.rnn.weight_hh_l0
            W *= radius / torch.linalg.eigvals(W).abs().max()
        g = rnn.input_gradient_norms(m, probe)
        return float(g[50] / g[0])

    assert ratio(1.0) < 1 < ratio(3.0)


# --- GRU cell -------------------------------------------------------------------------------------


def gru_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh):
    r_i, z_i, n_i = F.linear(x, weight_ih, bias_ih).chunk(3, -1)
    r_h, z_h, n_h = F.linear(h, weight_hh, bias_hh).chunk(3, -1)
    r, z = torch.sigmoid(r_i + r_h), torch.sigmoid(z_i + z_h)
    n = torch.tanh(n_i + r * n_h)
    return (1 - z) * n + z * h


def test_gru_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_gru_cell, gru_cell)
    assert ok and out.startswith("✅ check_gru_cell: passed on 20 random inputs")


def test_gru_check_hints(capsys):
    def swapped_gates(x, h, w_ih, w_hh, b_ih, b_hh):
        z_i, r_i, n_i = F.linear(x, w_ih, b_ih).chunk(3, -1)
        z_h, r_h, n_h = F.linear(h, w_hh, b_hh).chunk(3, -1)
        r, z = torch.sigmoid(r_i + r_h), torch.sigmoid(z_i + z_h)
        return (1 - z) * torch.tanh(n_i + r * n_h) + z * h

    def swapped_mix(x, h, *w):
        r_i, z_i, n_i = F.linear(x, w[0], w[2]).chunk(3, -1)
        r_h, z_h, n_h = F.linear(h, w[1], w[3]).chunk(3, -1)
        z = torch.sigmoid(z_i + z_h)
        n = torch.tanh(n_i + torch.sigmoid(r_i + r_h) * n_h)
        return z * n + (1 - z) * h

    def reset_before(x, h, w_ih, w_hh, b_ih, b_hh):
        H = h.shape[-1]
        r_i, z_i, n_i = F.linear(x, w_ih, b_ih).chunk(3, -1)
        r_h, z_h, _ = F.linear(h, w_hh, b_hh).chunk(3, -1)
        r, z = torch.sigmoid(r_i + r_h), torch.sigmoid(z_i + z_h)
        n = torch.tanh(n_i + F.linear(r * h, w_hh[2 * H :], b_hh[2 * H :]))
        return (1 - z) * n + z * h

    def no_tanh(x, h, w_ih, w_hh, b_ih, b_hh):
        r_i, z_i, n_i = F.linear(x, w_ih, b_ih).chunk(3, -1)
        r_h, z_h, n_h = F.linear(h, w_hh, b_hh).chunk(3, -1)
        r, z = torch.sigmoid(r_i + r_h), torch.sigmoid(z_i + z_h)
        return (1 - z) * (n_i + r * n_h) + z * h

    for fn, words in [
        (swapped_gates, "order r, z, n"),
        (swapped_mix, "KEEP the old state"),
        (reset_before, "reset gate is applied in the wrong place"),
        (no_tanh, "needs a tanh"),
    ]:
        _fails_with(capsys, checks.check_gru_cell, fn, words)


# --- every check ----------------------------------------------------------------------------------


def test_an_unwritten_exercise_stops_run_all(capsys):
    def unwritten(*args):
        raise NotImplementedError()

    for check in (
        checks.check_lstm_cell,
        checks.check_lstm_layer,
        checks.check_train_tbptt,
        checks.check_gru_cell,
    ):
        with pytest.raises(NotImplementedError):
            check(unwritten)
        assert "not attempted" in capsys.readouterr().out
