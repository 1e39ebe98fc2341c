"""The interpretability tools do exactly what their definitions say: ablating a head is zeroing its
slice of the attention output, patching from the same input changes nothing and from another
input equals a forward pass built by hand, the logit lens ends at the model's logits, gradient x
input is weights x input on a linear model, and a repeated random batch repeats."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib import interpret
from course_lib.attention import merge_heads, scaled_dot_product_attention, split_heads
from course_lib.transformer import GPT, GPTConfig


def _model(n_layer=2, n_head=4, mlp=True, seed=0):
    torch.manual_seed(seed)
    config = GPTConfig(
        vocab_size=11, block_size=16, n_layer=n_layer, n_head=n_head, n_embd=16, mlp=mlp
    )
    model = GPT(config).double().eval()
    with torch.no_grad():  # weights large enough for every head to matter
        for p in model.parameters():
            p.normal_(std=0.3)
    return model


def _ids(B=2, T=9, seed=1):
    return torch.randint(0, 11, (B, T), generator=torch.Generator().manual_seed(seed))


def _forward_by_hand(model, ids, edit):
    """The GPT's forward pass written out, with ``edit(layer, z)`` applied to each layer's head
    outputs ``z`` ``(B, H, T, D)`` before ``out_proj``."""
    x = model.tok_emb(ids) + model.positions(0, ids.size(1))
    for layer, block in enumerate(model.blocks):
        attn, h = block.attn, block.ln1(x)
        q, k, v = (split_heads(p(h), attn.n_head) for p in (attn.q_proj, attn.k_proj, attn.v_proj))
        mask = torch.ones(ids.size(1), ids.size(1), dtype=torch.bool).tril()
        z, _ = scaled_dot_product_attention(q, k, v, mask)  # (B, H, T, D)
        x = x + attn.out_proj(merge_heads(edit(layer, z)))
        if block.mlp is not None:
            x = x + block.mlp(block.ln2(x))
    return model.head(model.ln_f(x))


def test_by_hand_forward_is_the_model():
    model, ids = _model(), _ids()
    by_hand = _forward_by_hand(model, ids, lambda layer, z: z)
    assert torch.allclose(by_hand, model(ids)[0], atol=1e-10)


def test_head_outputs_shapes_and_values():
    model, ids = _model(), _ids()
    outs = interpret.head_outputs(model, ids)
    assert outs.shape == (2, 2, 4, 9, 4)  # (B, L, H, T, D)
    seen = {}

    def keep(layer, z):
        seen[layer] = z
        return z

    _forward_by_hand(model, ids, keep)
    assert torch.allclose(outs[:, 1], seen[1], atol=1e-10)
    assert interpret.head_outputs(model, ids[0]).shape == (2, 4, 9, 4)  # one sequence


def test_zero_ablation_is_zeroing_the_heads_slice():
    model, ids = _model(), _ids()

    def zero_1_2(layer, z):
        z = z.clone()
        if layer == 1:
            z[:, 2] = 0.0
        return z

    with interpret.ablate_heads(model, {(1, 2): "zero"}):
        ablated = model(ids)[0]
    assert torch.allclose(ablated, _forward_by_hand(model, ids, zero_1_2), atol=1e-10)
    assert not torch.allclose(ablated, model(ids)[0], atol=1e-3)  # it mattered ...
    restored = _forward_by_hand(model, ids, lambda layer, z: z)
    assert torch.allclose(model(ids)[0], restored)  # the hooks are gone


def test_mean_ablation_and_a_list_of_heads():
    model, ids = _model(), _ids()

    def mean_0_1(layer, z):
        z = z.clone()
        if layer == 0:
            z[:, 1] = z[:, 1].mean(dim=(0, 1), keepdim=True)  # over batch and positions
        return z

    with interpret.ablate_heads(model, {(0, 1): "mean"}):
        got = model(ids)[0]
    assert torch.allclose(got, _forward_by_hand(model, ids, mean_0_1), atol=1e-10)
    with interpret.ablate_heads(model, [(0, 1), (1, 3)]):  # a list: zero-ablated
        both = model(ids)[0]
    with interpret.ablate_heads(model, {(0, 1): "zero", (1, 3): "zero"}):
        assert torch.equal(model(ids)[0], both)


def test_ablation_hooks_are_removed_after_an_error():
    model, ids = _model(), _ids()
    before = model(ids)[0]
    with pytest.raises(RuntimeError), interpret.ablate_heads(model, {(0, 0): "zero"}):
        raise RuntimeError("inside")
    assert torch.equal(model(ids)[0], before)
    with pytest.raises(ValueError, match=r"layers 0..1 and heads 0..3"):
        with interpret.ablate_heads(model, {(2, 0): "zero"}):
            pass
    with pytest.raises(ValueError, match="'zero' or 'mean'"):
        with interpret.ablate_heads(model, {(0, 0): "half"}):
            pass


def test_patching_from_the_same_input_changes_nothing():
    model, ids = _model(), _ids()
    patched = interpret.patch_head(model, 0, 3, ids, ids)
    assert torch.allclose(patched, model(ids)[0], atol=1e-10)


def test_patching_from_another_input_equals_a_forward_by_hand():
    model, src, tgt = _model(), _ids(seed=1), _ids(seed=2)
    seen = {}

    def keep(layer, z):
        seen[layer] = z
        return z

    _forward_by_hand(model, src, keep)  # the source run's head outputs

    def put(layer, z):
        z = z.clone()
        if layer == 1:
            z[:, 0] = seen[1][:, 0]
        return z

    patched = interpret.patch_head(model, 1, 0, src, tgt)
    assert torch.allclose(patched, _forward_by_hand(model, tgt, put), atol=1e-10)
    assert not torch.allclose(patched, model(tgt)[0], atol=1e-3)
    with pytest.raises(ValueError, match="same shape"):
        interpret.patch_head(model, 1, 0, src, tgt[:, :5])


@pytest.mark.parametrize("mlp", [True, False])
def test_logit_lens_ends_at_the_models_logits(mlp):
    model, ids = _model(mlp=mlp), _ids()
    lens = interpret.logit_lens(model, ids)
    assert lens.shape == (2, 3, 9, 11)  # (B, L + 1, T, V)
    assert torch.allclose(lens[:, -1], model(ids)[0], atol=1e-10)
    first = model.head(model.ln_f(model.tok_emb(ids) + model.positions(0, 9)))
    assert torch.allclose(lens[:, 0], first, atol=1e-10)  # row 0: the embeddings alone
    assert interpret.logit_lens(model, ids[0]).shape == (3, 9, 11)


class _LinearLM(nn.Module):
    """logits[t] = W @ (sum of the embeddings of tokens 0..t): linear in each embedding."""

    def __init__(self, V=7, C=5):
        super().__init__()
        self.tok_emb = nn.Embedding(V, C)
        self.head = nn.Linear(C, V, bias=False)

    def forward(self, ids):
        return self.head(self.tok_emb(ids).cumsum(dim=1)), None


def test_grad_x_input_on_a_linear_model_is_weights_times_input():
    torch.manual_seed(0)
    model = _LinearLM().double()
    ids = torch.tensor([3, 1, 4, 1, 5, 2])
    sal = interpret.saliency(model, ids, position=3, target=6)
    emb = model.tok_emb(ids).detach()
    expected = emb @ model.head.weight[6].detach()  # w_target . x_s
    expected[4:] = 0.0  # after the position: not read
    assert torch.allclose(sal, expected, atol=1e-10)
    # occlusion is exact for a linear model too: the logit loses w . (x_s - x_baseline)
    occ = interpret.saliency(model, ids, 3, target=6, method="occlusion", baseline_id=0)
    base = emb - model.tok_emb.weight[0].detach()
    want = base @ model.head.weight[6].detach()
    want[4:] = 0.0
    assert torch.allclose(occ, want, atol=1e-10)


def test_saliency_on_a_gpt_defaults_to_the_top_prediction():
    model, ids = _model(), _ids()[0]
    sal = interpret.saliency(model, ids, position=5)
    assert sal.shape == (9,) and torch.all(sal[6:] == 0) and sal[:6].abs().sum() > 0
    with pytest.raises(ValueError, match="position must be in 0..8"):
        interpret.saliency(model, ids, position=9)
    with pytest.raises(ValueError, match="method must be"):
        interpret.saliency(model, ids, 2, method="attention")


def test_repeated_random_batch_repeats():
    batch = interpret.repeated_random_batch(20, 8, 3, seed=5)
    assert batch.shape == (3, 16) and batch.dtype == torch.long
    assert torch.equal(batch[:, :8], batch[:, 8:])
    assert all(len(set(row[:8].tolist())) == 8 for row in batch)  # distinct within a copy
    assert not torch.equal(batch[0], batch[1])  # one seed per row
    assert torch.equal(batch, interpret.repeated_random_batch(20, 8, 3, seed=5))


class _Copier(nn.Module):
    """Predicts the token ``n`` places back with certainty, and uniform before it: a perfect
    in-context learner on two copies of ``n`` tokens."""

    def __init__(self, V, n):
        super().__init__()
        self.V, self.n, self.w = V, n, nn.Parameter(torch.zeros(1))

    def forward(self, ids):
        B, T = ids.shape
        logits = torch.zeros(B, T, self.V)
        back = ids[:, 1 : T - self.n + 1]  # position p predicts token p + 1 = token p + 1 - n
        logits[:, self.n :] = 50.0 * F.one_hot(back, self.V)
        return logits, None


def test_in_context_loss_on_a_perfect_copier():
    V, n = 10, 8
    batch = interpret.repeated_random_batch(V, n, 4, seed=0)
    out = interpret.in_context_loss(_Copier(V, n), batch)
    assert out["first_copy"] == pytest.approx(torch.log(torch.tensor(10.0)).item())
    assert out["second_copy"] == pytest.approx(0.0, abs=1e-6)
    assert out["in_context_score"] == pytest.approx(out["late"] - out["early"])
    assert out["late"] < out["early"]
    plain = interpret.in_context_loss(_Copier(V, n), torch.randint(0, V, (2, 16)))
    assert "first_copy" not in plain  # not two equal halves


class _UnsureAt(nn.Module):
    """On rows ``0, 1, 2, ...`` (each token the next id): certain of the next token, except at
    the predictions in ``unsure``, where it is uniform (loss ln V)."""

    def __init__(self, V, unsure):
        super().__init__()
        self.V, self.unsure, self.w = V, list(unsure), nn.Parameter(torch.zeros(1))

    def forward(self, ids):
        logits = 50.0 * F.one_hot(ids + 1, self.V).float()  # (B, T, V)
        logits[:, self.unsure] = 0.0
        return logits, None


@pytest.mark.parametrize(
    "unsure, early, late",
    [
        (range(4, 8), 1.0, 0.0),  # T = 65 tokens, 64 predictions: early is predictions 4 .. 7
        (range(56, 64), 0.0, 1.0),  # ... and late 56 .. 63
        ([3, 8, 55], 0.0, 0.0),  # the predictions just outside both bands count in neither
        ([4, 60], 0.25, 0.125),
    ],
)
def test_in_context_loss_reads_the_positions_it_names(unsure, early, late):
    V = 70
    batch = torch.arange(65).repeat(2, 1)  # (2, 65): the model reads 64 and predicts 64
    out = interpret.in_context_loss(_UnsureAt(V, unsure), batch)
    ln_v = math.log(V)
    assert out["early"] == pytest.approx(early * ln_v, abs=1e-6)
    assert out["late"] == pytest.approx(late * ln_v, abs=1e-6)
    assert out["in_context_score"] == pytest.approx((late - early) * ln_v, abs=1e-6)


def test_induction_batcher_rows():
    text = torch.arange(300) % 7
    batches = interpret.InductionBatcher(
        text, text, 7, block_size=32, batch_size=4, repeat_fraction=0.5, seed=0
    )
    x, y = batches("train", 3)
    assert x.shape == y.shape == (4, 32) and torch.equal(x[:, 1:], y[:, :-1])
    torch.testing.assert_close(batches("train", 3), (x, y))  # a pure function of the step
    for row in torch.cat([x, y[:, -1:]], 1)[2:]:  # the repeated rows: a period n in 8..16
        assert any(torch.equal(row[n:], row[:-n]) for n in range(8, 17))


def test_train_induction_tracks_what_it_promises():
    tok = [chr(97 + i) for i in range(12)]
    ids = torch.randint(0, 12, (2000,), generator=torch.Generator().manual_seed(0))
    run = interpret.train_induction(
        2, 4, block_size=16, n_embd=16, batch_size=4, eval_every=2, data=(tok, ids, ids),
        progress=False,
    )  # fmt: skip
    assert run.step == [0, 2, 4] and len(run.scores) == 3 and run.scores[0].shape == (2, 4)
    assert all(0 <= s <= 1 for s in run.induction) and len(run.second_copy) == 3
    assert not any(b.mlp for b in run.model.blocks)  # attention only
    differences = [late - early for early, late in zip(run.early, run.late, strict=True)]
    assert run.in_context_score == pytest.approx(differences)
    with pytest.raises(ValueError, match="text_windows"):
        interpret.train_induction(2, 4, block_size=16, text_windows=0, data=(tok, ids, ids))
