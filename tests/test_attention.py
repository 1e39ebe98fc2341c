"""course_lib.attention against PyTorch's references (float64, forward and gradients), masks,
causality and permutation properties, additive attention, and the seq2seq model."""

import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from course_lib.attention import (
    AdditiveAttention,
    KVCache,
    MultiHeadAttention,
    Seq2Seq,
    Seq2SeqConfig,
    causal_mask,
    merge_heads,
    padding_mask,
    record_attention,
    scaled_dot_product_attention,
    seq2seq_loss,
    split_heads,
)

TOL = dict(atol=1e-6, rtol=1e-6)


@pytest.fixture(autouse=True)
def _one_thread():
    # Tiny tensors: a second thread only adds synchronisation (and on a busy machine it can make
    # each step many times slower). conftest's fixture restores the thread count afterwards.
    torch.set_num_threads(1)


B, H, TQ, TK, D = 3, 4, 5, 7, 8


def qkv(tq=TQ, tk=TK, d=D, dv=D):
    g = torch.Generator().manual_seed(1)
    mk = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64, requires_grad=True)  # noqa: E731
    return mk(B, H, tq, d), mk(B, H, tk, d), mk(B, H, tk, dv)


def grads(fn, *tensors):
    """Output and the gradients of a fixed random projection of it w.r.t. ``tensors``."""
    out = fn(*tensors)
    g = torch.Generator().manual_seed(2)
    w = torch.randn(out.shape, generator=g, dtype=out.dtype)
    return out, torch.autograd.grad((out * w).sum(), tensors)


def masks():
    lengths = torch.tensor([TK, 3, 1])
    pad = padding_mask(lengths, TK)[:, None, None, :]  # (B, 1, 1, TK)
    causal = causal_mask(TK)  # square, used with TQ = TK
    return {"none": None, "padding": pad, "causal": causal, "both": pad & causal}


# --- masks ----------------------------------------------------------------------------------


def test_mask_helpers():
    assert causal_mask(3).tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert causal_mask(2, 4).tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]  # last 2 of 4 positions
    assert causal_mask(3).dtype == torch.bool
    assert padding_mask([2, 0, 3], 4).tolist() == [[1, 1, 0, 0], [0, 0, 0, 0], [1, 1, 1, 0]]
    assert padding_mask(torch.tensor([1, 2])).shape == (2, 2)
    with pytest.raises(ValueError, match="exceeds T=2"):
        padding_mask([3], 2)
    with pytest.raises(ValueError, match="T_q <= T_k"):
        causal_mask(4, 2)


# --- scaled dot-product attention -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["none", "padding", "causal", "both"])
def test_sdpa_matches_pytorch_forward_and_gradients(kind):
    mask = masks()[kind]
    tq = TK if kind in ("causal", "both") else TQ
    q, k, v = qkv(tq=tq, dv=6)
    ours, ours_g = grads(lambda *t: scaled_dot_product_attention(*t, mask)[0], q, k, v)
    ref, ref_g = grads(lambda *t: F.scaled_dot_product_attention(*t, attn_mask=mask), q, k, v)
    torch.testing.assert_close(ours, ref, **TOL)
    for a, b in zip(ours_g, ref_g, strict=True):
        torch.testing.assert_close(a, b, **TOL)


def test_sdpa_weights_float_mask_and_scale():
    q, k, v = qkv()
    out, w = scaled_dot_product_attention(q, k, v)
    assert w.shape == (B, H, TQ, TK)
    torch.testing.assert_close(w.sum(-1), torch.ones(B, H, TQ, dtype=torch.float64))
    torch.testing.assert_close(out, w @ v)
    additive = torch.randn(TQ, TK, dtype=torch.float64)
    additive[0, :3] = float("-inf")
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, additive, scale=0.3)[0],
        F.scaled_dot_product_attention(q, k, v, attn_mask=additive, scale=0.3),
        **TOL,
    )


def test_fully_masked_query_gives_zeros_like_pytorch_and_finite_gradients():
    q, k, v = qkv(tq=TK)
    mask = causal_mask(TK).clone()
    mask[2] = False  # query 2 may attend to nothing
    out, w = scaled_dot_product_attention(q, k, v, mask)
    assert torch.all(w[:, :, 2] == 0) and torch.all(out[:, :, 2] == 0)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), **TOL)
    out.sum().backward()
    assert all(torch.isfinite(t.grad).all() for t in (q, k, v))


def test_sdpa_dropout_zeroes_and_rescales():
    q, k, v = qkv()
    torch.manual_seed(0)
    out, w = scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    torch.manual_seed(0)
    dropped = F.dropout(w, p=0.5)
    torch.testing.assert_close(out, dropped @ v)
    assert not torch.allclose(out, w @ v)


def test_shape_mismatch_names_expected_and_received_shapes():
    q = torch.randn(2, 4, 5, 16)
    k = torch.randn(2, 4, 5, 8)
    with pytest.raises(ValueError) as e:
        scaled_dot_product_attention(q, k, k)
    msg = str(e.value)
    assert "(B, H, T, D)" in msg and "(2, 4, 5, 16)" in msg and "(2, 4, 5, 8)" in msg
    assert "D=16" in msg and "D=8" in msg
    with pytest.raises(ValueError, match=r"\(B, H, T, D\).*k has T_k=5 positions but v has 6"):
        scaled_dot_product_attention(q, q, torch.randn(2, 4, 6, 16))
    with pytest.raises(ValueError, match=r"leading \(B, H\)"):
        scaled_dot_product_attention(q, torch.randn(2, 3, 5, 16), torch.randn(2, 3, 5, 16))
    with pytest.raises(ValueError, match=r"mask of shape \(2, 5\).*mask\[:, None, None, :\]"):
        scaled_dot_product_attention(q, q, q, torch.ones(2, 5, dtype=torch.bool))
    with pytest.raises(TypeError, match="bool"):
        scaled_dot_product_attention(q, q, q, torch.ones(5, 5, dtype=torch.long))


def _causal_out(x, T_keep):
    g = torch.Generator().manual_seed(3)
    mha = MultiHeadAttention(x.size(-1), 2).double()
    for p in mha.parameters():
        p.data = torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.3
    return mha(x, is_causal=True)[0][:, :T_keep]


@settings(max_examples=25, deadline=None)
@given(
    T=st.integers(2, 9),
    cut=st.integers(1, 8),
    seed=st.integers(0, 2**16),
    fused=st.booleans(),
)
def test_causality_future_tokens_never_change_earlier_outputs(T, cut, seed, fused):
    cut = min(cut, T - 1)  # positions < cut are "the past"
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, T, 8, generator=g, dtype=torch.float64)
    x2 = x.clone()
    x2[:, cut:] = torch.randn(2, T - cut, 8, generator=g, dtype=torch.float64) * 5
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2, fused=fused).double()
    a = mha(x, is_causal=True)[0]
    b = mha(x2, is_causal=True)[0]
    torch.testing.assert_close(a[:, :cut], b[:, :cut], **TOL)
    assert not torch.allclose(a[:, cut:], b[:, cut:])  # the future part did change
    # the same property for the bare function with causal_mask
    q = torch.randn(1, 1, T, 4, generator=g, dtype=torch.float64)
    q2 = q.clone()
    q2[..., cut:, :] += 1.0
    o1 = scaled_dot_product_attention(q, q, q, causal_mask(T))[0]
    o2 = scaled_dot_product_attention(q2, q2, q2, causal_mask(T))[0]
    torch.testing.assert_close(o1[..., :cut, :], o2[..., :cut, :], **TOL)


@settings(max_examples=25, deadline=None)
@given(T=st.integers(2, 8), seed=st.integers(0, 2**16))
def test_self_attention_is_permutation_equivariant(T, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, T, 8, generator=g, dtype=torch.float64)
    perm = torch.randperm(T, generator=g)
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2).double()
    y, w = mha(x, need_weights=True)
    yp, wp = mha(x[:, perm], need_weights=True)
    torch.testing.assert_close(yp, y[:, perm], **TOL)  # permute in, permuted out
    torch.testing.assert_close(wp, w[:, :, perm][:, :, :, perm], **TOL)


# --- heads and multi-head attention ---------------------------------------------------------


def test_split_and_merge_heads():
    x = torch.arange(2 * 3 * 8.0).view(2, 3, 8)
    h = split_heads(x, 4)
    assert h.shape == (2, 4, 3, 2)
    assert h[0, 1, 2].tolist() == x[0, 2, 2:4].tolist()  # head 1 = channels 2..3
    assert torch.equal(merge_heads(h), x)
    with pytest.raises(ValueError, match="not divisible"):
        split_heads(x, 3)


def _pair(C=16, n_head=4, bias=True):
    torch.manual_seed(0)
    ref = nn.MultiheadAttention(C, n_head, batch_first=True, bias=bias).double()
    ours = MultiHeadAttention(C, n_head, bias=bias).double().load_torch_weights(ref)
    return ours, ref


def _param_grads_ref(ref):
    """The reference's parameter gradients in our layout (q, k, v, out)."""
    wq, wk, wv = ref.in_proj_weight.grad.chunk(3)
    out = {"q_proj.weight": wq, "k_proj.weight": wk, "v_proj.weight": wv}
    out["out_proj.weight"] = ref.out_proj.weight.grad
    if ref.in_proj_bias is not None:
        bq, bk, bv = ref.in_proj_bias.grad.chunk(3)
        out |= {"q_proj.bias": bq, "k_proj.bias": bk, "v_proj.bias": bv}
        out["out_proj.bias"] = ref.out_proj.bias.grad
    return out


@pytest.mark.parametrize("kind", ["none", "padding", "causal", "both", "cross"])
@pytest.mark.parametrize("bias", [True, False])
def test_mha_matches_nn_multiheadattention(kind, bias):
    ours, ref = _pair(bias=bias)
    g = torch.Generator().manual_seed(5)
    T, S = 6, (4 if kind == "cross" else 6)
    x = torch.randn(3, T, 16, generator=g, dtype=torch.float64, requires_grad=True)
    mem = torch.randn(3, S, 16, generator=g, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([S, 2, 1])
    kpm = padding_mask(lengths, S) if kind in ("padding", "both") else None
    causal = kind in ("causal", "both")
    src = mem if kind == "cross" else x
    y, w = ours(x, src, src, key_padding_mask=kpm, is_causal=causal, need_weights=True)
    y_ref, w_ref = ref(
        x,
        src,
        src,
        key_padding_mask=None if kpm is None else ~kpm,  # PyTorch: True means "ignore"
        attn_mask=~causal_mask(T) if causal else None,  # here too: True means "ignore"
        need_weights=True,
        average_attn_weights=False,
    )
    torch.testing.assert_close(y, y_ref, **TOL)
    torch.testing.assert_close(w, w_ref, **TOL)
    assert w.shape == (3, 4, T, S)
    gw = torch.randn(y.shape, generator=g, dtype=torch.float64)
    ins = (x, mem) if kind == "cross" else (x,)
    ours_in = torch.autograd.grad((y * gw).sum(), ins, retain_graph=True)
    ref_in = torch.autograd.grad((y_ref * gw).sum(), ins, retain_graph=True)
    for a, b in zip(ours_in, ref_in, strict=True):
        torch.testing.assert_close(a, b, **TOL)
    (y * gw).sum().backward()
    (y_ref * gw).sum().backward()
    ref_grads = _param_grads_ref(ref)
    ours_grads = dict(ours.named_parameters())
    assert set(ours_grads) == set(ref_grads)
    for name, grad in ref_grads.items():
        torch.testing.assert_close(ours_grads[name].grad, grad, **TOL, msg=name)


@pytest.mark.parametrize("causal", [False, True])
def test_fused_path_gives_the_same_result(causal):
    ours, _ = _pair()
    fused = MultiHeadAttention(16, 4, fused=True).double()
    fused.load_state_dict(ours.state_dict())
    x = torch.randn(2, 5, 16, dtype=torch.float64)
    kpm = padding_mask(torch.tensor([5, 3]), 5)
    a, w = ours(x, is_causal=causal, key_padding_mask=kpm)
    b, wb = fused(x, is_causal=causal, key_padding_mask=kpm)
    assert w is None and wb is None
    torch.testing.assert_close(a, b, **TOL)
    c, _ = fused(x, is_causal=causal)
    torch.testing.assert_close(c, ours(x, is_causal=causal)[0], **TOL)


def test_kv_cache_step_by_step_equals_full_causal_pass():
    ours, _ = _pair()
    x = torch.randn(2, 7, 16, dtype=torch.float64)
    full, w_full = ours(x, is_causal=True, need_weights=True)
    cache = KVCache()
    chunks = [ours(x[:, :3], is_causal=True, kv_cache=cache)[0]]  # a prompt of 3 tokens
    for t in range(3, 7):  # then one token at a time
        y, w = ours(x[:, t : t + 1], is_causal=True, kv_cache=cache, need_weights=True)
        assert w.shape == (2, 4, 1, t + 1)
        torch.testing.assert_close(w[:, :, 0], w_full[:, :, t, : t + 1], **TOL)
        chunks.append(y)
    assert len(cache) == 7 and "positions=7" in repr(cache)
    torch.testing.assert_close(torch.cat(chunks, 1), full, **TOL)


def test_record_attention_collects_every_layer_per_head():
    model = nn.Sequential(MultiHeadAttentionBlock(), MultiHeadAttentionBlock())
    x = torch.randn(2, 5, 16)
    with record_attention(model) as maps:
        y = model(x)
    assert len(maps) == 2 and all(m.shape == (2, 4, 5, 5) for m in maps)
    assert torch.allclose(maps[0].sum(-1), torch.ones(2, 4, 5))
    assert torch.all(maps[1].triu(1) == 0)  # the blocks are causal
    assert torch.allclose(model(x), y)  # recording changes nothing
    assert all(m._recorder is None for m in model.modules() if isinstance(m, MultiHeadAttention))
    with pytest.raises(ValueError, match="no MultiHeadAttention"):
        with record_attention(nn.Linear(2, 2)):
            pass


class MultiHeadAttentionBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = MultiHeadAttention(16, 4, fused=True)

    def forward(self, x):
        return x + self.attn(x, is_causal=True)[0]


def test_mha_input_errors_and_weight_loading_checks():
    mha = MultiHeadAttention(16, 4)
    with pytest.raises(ValueError, match=r"query must have shape \(B, T, C\) with C = n_embd = 16"):
        mha(torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match="key_padding_mask must be a bool"):
        mha(torch.randn(2, 5, 16), key_padding_mask=torch.ones(2, 5))
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 4)
    with pytest.raises(ValueError, match="num_heads=2"):
        mha.load_torch_weights(nn.MultiheadAttention(16, 2))
    assert "n_embd=16, n_head=4, head_dim=4" in repr(mha)


# --- additive attention ---------------------------------------------------------------------


def _additive_by_hand(att, query, keys, mask):
    """The textbook formula, one example and one position at a time."""
    W, U, b, v = att.query_proj.weight, att.key_proj.weight, att.key_proj.bias, att.v.weight[0]
    contexts, weights = [], []
    for i in range(keys.size(0)):
        scores = []
        for j in range(keys.size(1)):
            e = v @ torch.tanh(W @ query[i] + U @ keys[i, j] + b)
            scores.append(e if mask[i, j] else torch.tensor(float("-inf"), dtype=e.dtype))
        a = torch.softmax(torch.stack(scores), 0)
        weights.append(a)
        contexts.append((a[:, None] * keys[i]).sum(0))
    return torch.stack(contexts), torch.stack(weights)


def test_additive_attention_matches_the_formula_and_gradcheck():
    torch.manual_seed(0)
    att = AdditiveAttention(5, 6, 4).double()
    query = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    keys = torch.randn(3, 4, 6, dtype=torch.float64, requires_grad=True)
    mask = padding_mask(torch.tensor([4, 2, 1]), 4)
    ctx, w = att(query, keys, mask=mask)
    ctx_ref, w_ref = _additive_by_hand(att, query, keys, mask)
    torch.testing.assert_close(ctx, ctx_ref, **TOL)
    torch.testing.assert_close(w, w_ref, **TOL)
    assert torch.all(w[1, 2:] == 0) and torch.all(w[2, 1:] == 0)
    g_ours = torch.autograd.grad(ctx.sum(), (query, keys))
    g_ref = torch.autograd.grad(ctx_ref.sum(), (query, keys))
    for a, b in zip(g_ours, g_ref, strict=True):
        torch.testing.assert_close(a, b, **TOL)
    assert torch.autograd.gradcheck(lambda q, k: att(q, k, mask=mask)[0], (query, keys))
    pk = att.project_keys(keys)
    torch.testing.assert_close(att(query, keys, mask=mask, projected_keys=pk)[0], ctx)
    with pytest.raises(ValueError, match=r"query \(B, query_dim\)"):
        att(query[0], keys)
    with pytest.raises(ValueError, match=r"mask must have shape \(B, S\)"):
        att(query, keys, mask=mask[:, :2])


# --- the seq2seq model ----------------------------------------------------------------------


def _batch():
    src = torch.tensor([[3, 4, 5, 6], [7, 8, 0, 0]])
    lengths = torch.tensor([4, 2])
    tgt_in = torch.tensor([[1, 5, 6, 7], [1, 9, 0, 0]])
    tgt_out = torch.tensor([[5, 6, 7, 2], [9, 2, 0, 0]])
    return src, lengths, tgt_in, tgt_out


@pytest.mark.parametrize("attention", [True, False])
def test_seq2seq_shapes_and_padding_does_not_leak(attention):
    torch.manual_seed(0)
    config = Seq2SeqConfig(10, 12, n_embd=8, hidden_size=16, attn_dim=8, attention=attention)
    model = Seq2Seq(config)
    model.eval()
    src, lengths, tgt_in, tgt_out = _batch()
    logits, w = model(src, lengths, tgt_in)
    assert logits.shape == (2, 4, 12)
    if attention:
        assert w.shape == (2, 4, 4)
        assert torch.all(w[1, :, 2:] == 0)  # never attends to source padding
        torch.testing.assert_close(w.sum(-1), torch.ones(2, 4))
    else:
        assert w is None
    # the short sentence alone, without padding, gives the same logits: padding does not leak
    alone, _ = model(src[1:, :2], lengths[1:], tgt_in[1:, :2])
    torch.testing.assert_close(alone, logits[1:, :2], atol=1e-5, rtol=1e-5)
    loss = seq2seq_loss(model, (src, lengths, tgt_in, tgt_out))
    assert loss.dim() == 0 and torch.isfinite(loss)


def test_seq2seq_learns_to_copy_and_generate_stops_at_eos():
    torch.manual_seed(0)
    model = Seq2Seq(Seq2SeqConfig(10, 10, n_embd=16, hidden_size=32, attn_dim=16))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(0)
    for _ in range(150):  # copy 3 random tokens (ids 3..9): target = source
        src = torch.randint(3, 10, (32, 3), generator=g)
        batch = (
            src,
            torch.full((32,), 3),
            torch.cat([torch.ones(32, 1, dtype=torch.long), src], 1),
            torch.cat([src, torch.full((32, 1), 2)], 1),
        )
        loss = seq2seq_loss(model, batch)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1
    src = torch.tensor([[3, 9, 5], [7, 7, 4]])
    ids, w = model.generate(src, torch.tensor([3, 3]), max_len=10)
    assert ids.tolist() == [[3, 9, 5, 2], [7, 7, 4, 2]]
    assert w.shape == (2, 4, 3)
    ids, _ = model.generate(src, torch.tensor([3, 3]), max_len=2)
    assert ids.shape == (2, 2)


def test_importing_attention_stays_torch_only():
    code = (
        "import sys, course_lib.attention; "
        "print(','.join(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
