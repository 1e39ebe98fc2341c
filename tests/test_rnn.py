"""course_lib.rnn: our cells and stacks equal PyTorch's (float64, forward and gradients), the
character model runs the same on both backends, generation, evaluation and probes."""

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from course_lib import rnn
from course_lib.tokenize import CharTokenizer

TOL = dict(atol=1e-6, rtol=1e-6)
sizes = st.integers(1, 7)


def _grads(outputs, inputs):
    """Gradients of a random linear function of ``outputs`` with respect to ``inputs``."""
    g = torch.Generator().manual_seed(1)
    loss = sum((o * torch.randn(o.shape, generator=g, dtype=o.dtype)).sum() for o in outputs)
    return torch.autograd.grad(loss, inputs)


# --- cells ------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(B=sizes, D=sizes, H=sizes, seed=st.integers(0, 2**16), bias=st.booleans())
def test_rnn_cell_equals_torch(B, D, H, seed, bias):
    torch.manual_seed(seed)
    ref = nn.RNNCell(D, H, bias=bias).double()
    ours = rnn.RNNCell(D, H, bias=bias).double()
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(B, D, dtype=torch.float64, requires_grad=True)
    h = torch.randn(B, H, dtype=torch.float64, requires_grad=True)
    a, b = ours(x, h), ref(x, h)
    torch.testing.assert_close(a, b, **TOL)
    ga = _grads([a], [x, h, *ours.parameters()])
    gb = _grads([b], [x, h, *ref.parameters()])
    for u, v in zip(ga, gb, strict=True):
        torch.testing.assert_close(u, v, **TOL)


@settings(max_examples=25, deadline=None)
@given(B=sizes, D=sizes, H=sizes, seed=st.integers(0, 2**16), bias=st.booleans())
def test_lstm_cell_equals_torch(B, D, H, seed, bias):
    torch.manual_seed(seed)
    ref = nn.LSTMCell(D, H, bias=bias).double()
    ours = rnn.LSTMCell(D, H, bias=bias).double()
    # the state dict moves both ways: same names, same shapes
    ours.load_state_dict(ref.state_dict())
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()
    }
    x = torch.randn(B, D, dtype=torch.float64, requires_grad=True)
    h = torch.randn(B, H, dtype=torch.float64, requires_grad=True)
    c = torch.randn(B, H, dtype=torch.float64, requires_grad=True)
    a, b = ours(x, (h, c)), ref(x, (h, c))
    for u, v in zip(a, b, strict=True):
        torch.testing.assert_close(u, v, **TOL)
    ga = _grads(a, [x, h, c, *ours.parameters()])
    gb = _grads(b, [x, h, c, *ref.parameters()])
    for u, v in zip(ga, gb, strict=True):
        torch.testing.assert_close(u, v, **TOL)


def test_cells_default_state_unbatched_and_reverse_transfer():
    ours = rnn.LSTMCell(3, 4).double()
    ref = nn.LSTMCell(3, 4).double()
    ref.load_state_dict(ours.state_dict())  # ours -> PyTorch's
    x = torch.randn(3, dtype=torch.float64)
    for u, v in zip(ours(x), ref(x), strict=True):  # unbatched (D,), zero state
        assert u.shape == (4,)
        torch.testing.assert_close(u, v, **TOL)
    cell = rnn.RNNCell(3, 4).double()
    ref_rnn = nn.RNNCell(3, 4).double()
    ref_rnn.load_state_dict(cell.state_dict())
    torch.testing.assert_close(cell(x), ref_rnn(x), **TOL)


def test_cells_initialise_like_torch():
    ours = rnn.LSTMCell(5, 16)
    bound = 1 / math.sqrt(16)
    for p in ours.parameters():
        assert p.abs().max() <= bound and p.std() > bound / 4


def test_cell_errors_are_clear():
    with pytest.raises(ValueError, match=r"expects input of shape \(B, 3\)"):
        rnn.LSTMCell(3, 4)(torch.randn(2, 5))
    with pytest.raises(ValueError, match="hidden_size must be a positive int"):
        rnn.RNNCell(3, 0)
    with pytest.raises(ValueError, match="nonlinearity"):
        rnn.RNNCell(3, 4, nonlinearity="sigmoid")


# --- stacks -----------------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(
    B=st.integers(1, 3),
    T=st.integers(1, 5),
    D=sizes,
    H=sizes,
    L=st.integers(1, 3),
    batch_first=st.booleans(),
    kind=st.sampled_from(["rnn", "lstm"]),
    seed=st.integers(0, 2**16),
)
def test_stacks_equal_fused_torch(B, T, D, H, L, batch_first, kind, seed):
    torch.manual_seed(seed)
    ref_cls, our_cls = (nn.LSTM, rnn.LSTM) if kind == "lstm" else (nn.RNN, rnn.RNN)
    ref = ref_cls(D, H, L, batch_first=batch_first).double()
    ours = our_cls(D, H, L, batch_first=batch_first).double()
    assert list(ours.state_dict()) == list(ref.state_dict())  # same names, same order
    ours.load_state_dict(ref.state_dict())
    shape = (B, T, D) if batch_first else (T, B, D)
    x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(L, B, H, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(L, B, H, dtype=torch.float64, requires_grad=True)
    state = (h0, c0) if kind == "lstm" else h0
    (out_a, st_a), (out_b, st_b) = ours(x, state), ref(x, state)
    flat_a = [out_a, *(st_a if kind == "lstm" else [st_a])]
    flat_b = [out_b, *(st_b if kind == "lstm" else [st_b])]
    for u, v in zip(flat_a, flat_b, strict=True):
        torch.testing.assert_close(u, v, **TOL)
    leaves = [x, h0, c0] if kind == "lstm" else [x, h0]
    ga = _grads(flat_a, [*leaves, *ours.parameters()])
    gb = _grads(flat_b, [*leaves, *ref.parameters()])
    for u, v in zip(ga, gb, strict=True):
        torch.testing.assert_close(u, v, **TOL)


def test_stack_dropout_only_between_layers_and_in_training():
    ours = rnn.LSTM(3, 4, 2, batch_first=True, dropout=0.5).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    ours.eval()
    a, b = ours(x)[0], ours(x)[0]
    torch.testing.assert_close(a, b)  # no dropout in eval mode
    ours.train()
    assert not torch.allclose(ours(x)[0], a)


def test_stack_input_error():
    with pytest.raises(ValueError, match=r"expects input \(B, T, I\) with I=3"):
        rnn.LSTM(3, 4, batch_first=True)(torch.randn(2, 3))


# --- the character model ----------------------------------------------------------------------


@pytest.mark.parametrize("cell", ["rnn", "lstm"])
def test_char_rnn_fused_and_ours_match(cell):
    model = rnn.CharRNN(rnn.CharRNNConfig(11, 8, n_layer=2, cell=cell, fused=True)).double()
    ours = model.converted(fused=False)
    assert isinstance(ours.rnn, rnn.LSTM if cell == "lstm" else rnn.RNN)
    assert isinstance(model.rnn, nn.LSTM if cell == "lstm" else nn.RNN)
    assert list(ours.state_dict()) == list(model.state_dict())
    idx = torch.randint(11, (3, 9))
    (la, sa), (lb, sb) = model(idx), ours(idx)
    assert la.shape == (3, 9, 11)
    torch.testing.assert_close(la, lb, **TOL)
    torch.testing.assert_close(sa, sb, **TOL)  # final states (a pair of them for an LSTM)
    # carrying the state over equals reading the whole sequence at once
    l1, s1 = ours(idx[:, :4])
    l2, _ = ours(idx[:, 4:], s1)
    torch.testing.assert_close(torch.cat([l1, l2], 1), la, **TOL)
    # gradients agree too
    ya = F.cross_entropy(la.reshape(-1, 11), idx.reshape(-1))
    yb = F.cross_entropy(lb.reshape(-1, 11), idx.reshape(-1))
    for u, v in zip(
        torch.autograd.grad(ya, list(model.parameters())),
        torch.autograd.grad(yb, list(ours.parameters())),
        strict=True,
    ):
        torch.testing.assert_close(u, v, **TOL)


def test_char_rnn_errors_and_size():
    with pytest.raises(ValueError, match="cell must be one of"):
        rnn.CharRNNConfig(10, cell="gru")
    with pytest.raises(ValueError, match=r"token ids of shape \(B, T\)"):
        rnn.CharRNN(rnn.CharRNNConfig(10, 8))(torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match="tokenizer has 3 tokens but vocab_size is 10"):
        rnn.CharRNN(rnn.CharRNNConfig(10, 8), tokenizer=CharTokenizer().train("abc"))
    with pytest.raises(ValueError, match="n_layer must be a positive int"):
        rnn.CharRNNConfig(10, 8, n_layer=0)
    m = rnn.CharRNN(rnn.CharRNNConfig(10, 8, n_embd=4))
    assert rnn.CharRNNConfig(10, 8).n_embd == 8  # the embedding width defaults to hidden_size
    # embed 10*4, LSTM 4*8*(4+8) + 2*4*8, head 8*10 + 10
    assert m.num_parameters() == 40 + 32 * 12 + 64 + 90


# --- generation -------------------------------------------------------------------------------


@pytest.fixture
def char_model():
    tok = CharTokenizer().train("abcdefgh \n")
    torch.manual_seed(0)
    return rnn.CharRNN(rnn.CharRNNConfig(len(tok), 16), tokenizer=tok).double()


def test_generate_greedy_is_deterministic_and_argmax(char_model):
    tok = char_model.tokenizer
    a = rnn.generate(char_model, tok.encode("abc"), 20, temperature=0)
    b = rnn.generate(char_model, torch.tensor(tok.encode("abc")), 20, temperature=0, seed=5)
    assert torch.equal(a, b) and a.shape == (23,) and a.dtype == torch.long
    assert tok.decode(a).startswith("abc")
    # the same as a hand-written argmax loop over the whole context
    ids = tok.encode("abc")
    for _ in range(20):
        logits, _ = char_model(torch.tensor([ids]))
        ids.append(int(logits[0, -1].argmax()))
    assert a.tolist() == ids
    assert torch.equal(rnn.generate(char_model, tok.encode("abc"), 20, 0.7, top_k=1), a)
    assert torch.equal(rnn.generate(char_model, tok.encode("abc"), 20, 0.7, top_p=1e-6), a)


def test_generate_sampling_seeded_and_batched(char_model):
    a = rnn.generate(char_model, [0], 30, temperature=1.0, seed=3)
    assert torch.equal(a, rnn.generate(char_model, [0], 30, temperature=1.0, seed=3))
    assert not torch.equal(a, rnn.generate(char_model, [0], 30, temperature=1.0, seed=4))
    # a batch of prompts: each row continues its own prompt, as one prompt alone would (greedy)
    batch = rnn.generate(char_model, [[0, 1], [2, 3]], 10, temperature=0)
    assert batch.shape == (2, 12)
    assert torch.equal(batch[1], rnn.generate(char_model, [2, 3], 10, temperature=0))
    assert rnn.generate(char_model, [0, 1], 0).tolist() == [0, 1]


def test_generate_errors(char_model):
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        rnn.generate(char_model, [0], 5, temperature=-0.5)
    with pytest.raises(ValueError, match="at least one token"):
        rnn.generate(char_model, [], 5)
    with pytest.raises(ValueError, match="vocabulary"):
        rnn.generate(char_model, [len(char_model.tokenizer)], 5)
    with pytest.raises(ValueError, match="top_k must be a positive int"):
        rnn.generate(char_model, [0], 5, top_k=0)
    with pytest.raises(ValueError, match="max_new_tokens"):
        rnn.generate(char_model, [0], -1)


def test_next_token_probs_is_the_shared_sampler():
    from course_lib import sampling, transformer

    assert rnn.next_token_probs is sampling.next_token_probs is transformer.next_token_probs
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    torch.testing.assert_close(rnn.next_token_probs(logits), logits.softmax(-1))
    torch.testing.assert_close(rnn.next_token_probs(logits, 0.5), (logits * 2).softmax(-1))
    p = rnn.next_token_probs(logits, 1.0, top_k=2)
    assert p[0, 2:].sum() == 0 and torch.isclose(p.sum(), torch.tensor(1.0))
    torch.testing.assert_close(p[0, :2], logits[0, :2].softmax(-1))
    assert rnn.next_token_probs(logits, 0).tolist() == [[1.0, 0.0, 0.0, 0.0]]


# --- evaluation and probes --------------------------------------------------------------------


def test_evaluate_lm_scores_every_token_once(char_model):
    ids = torch.randint(len(char_model.tokenizer), (50,))
    # one window longer than the text: plain cross-entropy of the whole sequence
    logits, _ = char_model(ids[None, :-1])
    expected = F.cross_entropy(logits[0], ids[1:]).item()
    assert rnn.evaluate_lm(char_model, ids, block_size=100) == pytest.approx(expected, rel=1e-9)
    # windows of 16: 3 full ones and a last one of 1 token, each from a fresh state
    total = 0.0
    for s, e in [(0, 16), (16, 32), (32, 48), (48, 49)]:
        lg, _ = char_model(ids[None, s:e])
        total += F.cross_entropy(lg[0], ids[s + 1 : e + 1], reduction="sum").item()
    assert rnn.evaluate_lm(char_model, ids, block_size=16) == pytest.approx(total / 49, rel=1e-9)
    assert char_model.training  # the mode is restored
    # carrying the state: 3 streams of 16 tokens, each read in chunks of 7 = read in one go
    total = 0.0
    for s, e in [(0, 16), (16, 32), (32, 48), (48, 49)]:
        lg, _ = char_model(ids[None, s:e])
        total += F.cross_entropy(lg[0], ids[s + 1 : e + 1], reduction="sum").item()
    got = rnn.evaluate_lm(char_model, ids, block_size=7, batch_size=3, carry_state=True)
    assert got == pytest.approx(total / 49, rel=1e-9)


def test_input_gradient_norms_match_autograd_and_clip():
    torch.manual_seed(0)
    model = rnn.CharRNN(rnn.CharRNNConfig(7, 6, cell="rnn")).double()
    ids = torch.randint(7, (4, 9))
    norms = rnn.input_gradient_norms(model, ids)
    emb = model.embed(ids[:, :-1]).detach().requires_grad_(True)
    loss = F.cross_entropy(model.forward_embeddings(emb)[0][:, -1], ids[:, -1])
    (g,) = torch.autograd.grad(loss, emb)
    torch.testing.assert_close(norms, g.norm(dim=-1).mean(0).flip(0), **TOL)
    clipped = rnn.input_gradient_norms(model, ids, max_norm=1e-3)
    assert g.norm() > 1e-3  # so clipping is active: one factor for every k
    torch.testing.assert_close(clipped, norms * (1e-3 / g.norm()), **TOL)
    # without recurrence, only the last input can matter
    with torch.no_grad():
        model.rnn.weight_hh_l0.zero_()
    norms = rnn.input_gradient_norms(model, ids)
    assert norms[0] > 0 and torch.all(norms[1:] == 0)


def test_rnn_bptt_by_hand_equals_autograd():
    torch.manual_seed(0)
    T, B, D, H = 6, 3, 4, 5
    cell = nn.RNNCell(D, H).double()
    xs = torch.randn(T, B, D, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(B, H, dtype=torch.float64, requires_grad=True)
    grad_hs = torch.randn(T, B, H, dtype=torch.float64)
    hs, h = [], h0
    for t in range(T):
        h = cell(xs[t], h)
        hs.append(h)
    loss = (torch.stack(hs) * grad_hs).sum()
    auto = torch.autograd.grad(loss, [xs, h0, *cell.parameters()])
    w = [p.detach() for p in cell.parameters()]
    hand = rnn.rnn_bptt(xs.detach(), h0.detach(), *w, grad_hs)
    names = ["x", "h0", "weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    for name, a in zip(names, auto, strict=True):
        torch.testing.assert_close(hand[name], a, **TOL)
    assert hand["dh_norm"].shape == (T,)


@pytest.mark.parametrize("layers", [1, 2])
def test_trace_lstm_reproduces_the_fused_model(layers):
    torch.manual_seed(0)
    model = rnn.CharRNN(rnn.CharRNNConfig(9, 6, n_layer=layers)).double().eval()
    ids = torch.randint(9, (12,))
    tr = rnn.trace_lstm(model, ids)
    out, (h_n, c_n) = model.rnn(model.embed(ids[None]))
    torch.testing.assert_close(tr["h"], out[0], **TOL)
    torch.testing.assert_close(tr["c"][-1], c_n[-1, 0], **TOL)
    for g in "ifo":
        assert tr[g].shape == (12, 6) and tr[g].min() > 0 and tr[g].max() < 1
    torch.testing.assert_close(tr["c"][1], tr["f"][1] * tr["c"][0] + tr["i"][1] * tr["g"][1])
    with pytest.raises(ValueError, match="needs an LSTM"):
        rnn.trace_lstm(rnn.CharRNN(rnn.CharRNNConfig(9, 6, cell="rnn")), ids)


def test_input_gradient_norms_run_in_float64_by_default():
    torch.manual_seed(0)
    model = rnn.CharRNN(rnn.CharRNNConfig(7, 6, cell="rnn"))  # float32
    ids = torch.randint(7, (2, 30))
    norms = rnn.input_gradient_norms(model, ids)
    assert norms.dtype == torch.float64 and next(model.parameters()).dtype == torch.float32
    torch.testing.assert_close(norms, rnn.input_gradient_norms(model.double(), ids), **TOL)
    assert rnn.input_gradient_norms(model.float(), ids, dtype=None).dtype == torch.float32


@pytest.mark.parametrize("fused", [True, False])
def test_forget_bias_sets_only_the_forget_gate(fused):
    H = 5
    m = rnn.CharRNN(rnn.CharRNNConfig(7, H, n_layer=2, fused=fused, forget_bias=1.5))
    for k in range(2):
        b_ih, b_hh = getattr(m.rnn, f"bias_ih_l{k}"), getattr(m.rnn, f"bias_hh_l{k}")
        assert torch.all(b_ih[H : 2 * H] == 1.5) and torch.all(b_hh[H : 2 * H] == 0)
        assert b_ih[:H].abs().max() <= 1 / math.sqrt(H)  # the other gates keep their init
    tr = rnn.trace_lstm(m, torch.zeros(1, dtype=torch.long))
    assert tr["f"].mean() > 0.7  # sigmoid(1.5 + small) ~ 0.82
    with pytest.raises(ValueError, match="LSTMs only"):
        rnn.CharRNNConfig(7, H, cell="rnn", forget_bias=1.0)
