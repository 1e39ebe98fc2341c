"""course_lib.transformer: the block equals PyTorch's TransformerEncoderLayer, the model is causal,
the KV cache changes nothing but speed, the parameter formula is exact, the model can learn, and
its errors say what is wrong."""

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from course_lib import transformer as tfm
from course_lib.train import CheckpointError, load_checkpoint, save_checkpoint
from course_lib.transformer import GPT, GPTConfig

TOL = dict(atol=1e-6, rtol=1e-6)


def tiny(**kw) -> GPTConfig:
    base = dict(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=8)
    base.update(kw)
    return GPTConfig(**base)


configs = st.builds(
    tiny,
    vocab_size=st.integers(2, 20),
    block_size=st.integers(2, 12),
    n_layer=st.integers(1, 3),
    n_head=st.sampled_from([1, 2, 4]),
    n_embd=st.sampled_from([4, 8, 12]),
    bias=st.booleans(),
    pos_emb=st.sampled_from(["learned", "sinusoidal"]),
    norm=st.sampled_from(["pre", "post"]),
    tie_weights=st.booleans(),
    fused=st.booleans(),
    activation=st.sampled_from(["gelu", "relu2"]),
)
# rotary positions need an even head size: C / H in {2, 4, 6, 8, 12}
rope_configs = st.builds(
    tiny,
    vocab_size=st.integers(2, 20),
    block_size=st.integers(2, 12),
    n_layer=st.integers(1, 3),
    n_head=st.sampled_from([1, 2]),
    n_embd=st.sampled_from([4, 8, 12]),
    bias=st.booleans(),
    pos_emb=st.just("rope"),
    norm=st.sampled_from(["pre", "post"]),
    tie_weights=st.booleans(),
    fused=st.booleans(),
    activation=st.sampled_from(["gelu", "relu2"]),
)
# the ablations: no residual sum, no MLP, no LayerNorm, alone or together
ablation_configs = st.builds(
    tiny,
    vocab_size=st.integers(2, 20),
    block_size=st.integers(2, 12),
    n_layer=st.integers(1, 3),
    n_head=st.sampled_from([1, 2]),
    n_embd=st.sampled_from([4, 8]),
    bias=st.booleans(),
    pos_emb=st.sampled_from(["learned", "sinusoidal", "rope"]),
    norm=st.sampled_from(["pre", "post", "none"]),
    tie_weights=st.booleans(),
    residual=st.booleans(),
    mlp=st.booleans(),
)
all_configs = st.one_of(configs, rope_configs, ablation_configs)


def _reference_layer(block: tfm.Block, norm_first: bool) -> nn.TransformerEncoderLayer:
    """PyTorch's encoder layer with ``block``'s weights (float64)."""
    attn = block.attn
    C, H = attn.n_embd, attn.n_head
    ref = nn.TransformerEncoderLayer(
        C,
        H,
        dim_feedforward=4 * C,
        dropout=0.0,
        activation="gelu",
        batch_first=True,
        norm_first=norm_first,
        dtype=torch.float64,
    )
    with torch.no_grad():
        qkv = torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight])
        ref.self_attn.in_proj_weight.copy_(qkv)
        ref.self_attn.in_proj_bias.copy_(
            torch.cat([attn.q_proj.bias, attn.k_proj.bias, attn.v_proj.bias])
        )
        ref.self_attn.out_proj.weight.copy_(attn.out_proj.weight)
        ref.self_attn.out_proj.bias.copy_(attn.out_proj.bias)
        for ours, theirs in (
            (block.mlp.fc, ref.linear1),
            (block.mlp.proj, ref.linear2),
            (block.ln1, ref.norm1),
            (block.ln2, ref.norm2),
        ):
            theirs.weight.copy_(ours.weight)
            theirs.bias.copy_(ours.bias)
    return ref.eval()


# --- the block and the model against PyTorch --------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(
    B=st.integers(1, 3),
    T=st.integers(1, 9),
    heads=st.sampled_from([1, 2, 4]),
    norm=st.sampled_from(["pre", "post"]),
    fused=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_block_equals_torch_encoder_layer(B, T, heads, norm, fused, seed):
    torch.manual_seed(seed)
    block = tfm.Block(tiny(n_head=heads, norm=norm, fused=fused)).double().eval()
    for p in block.parameters():  # random, not the default init, so every weight matters
        nn.init.normal_(p, std=0.5)
    ref = _reference_layer(block, norm_first=norm == "pre")
    x = torch.randn(B, T, 8, dtype=torch.float64)
    mask = nn.Transformer.generate_square_subsequent_mask(T, dtype=torch.float64)
    torch.testing.assert_close(block(x), ref(x, src_mask=mask, is_causal=True), **TOL)


def test_gpt_equals_torch_stack():
    """The whole model: embeddings + PyTorch's encoder layers + final LayerNorm + tied head."""
    torch.manual_seed(0)
    model = GPT(tiny(n_layer=3)).double().eval()
    layers = [_reference_layer(b, norm_first=True) for b in model.blocks]
    ids = torch.randint(0, 11, (2, 10))
    x = model.tok_emb(ids) + model.pos_emb(torch.arange(10))
    mask = nn.Transformer.generate_square_subsequent_mask(10, dtype=torch.float64)
    for layer in layers:
        x = layer(x, src_mask=mask, is_causal=True)
    expected = model.ln_f(x) @ model.tok_emb.weight.T
    logits, loss = model(ids)
    assert loss is None
    torch.testing.assert_close(logits, expected, **TOL)


def test_loss_is_cross_entropy_of_the_logits():
    model = GPT(tiny())
    ids, targets = torch.randint(0, 11, (3, 7)), torch.randint(0, 11, (3, 7))
    logits, loss = model(ids, targets)
    assert logits.shape == (3, 7, 11)
    torch.testing.assert_close(loss, F.cross_entropy(logits.reshape(-1, 11), targets.reshape(-1)))


def test_sinusoidal_positions_formula():
    pe = tfm.sinusoidal_positions(50, 16)
    for p in (0, 1, 7, 49):
        for i in range(8):
            angle = p / 10000 ** (2 * i / 16)
            assert pe[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    with pytest.raises(ValueError, match="even"):
        tfm.sinusoidal_positions(4, 5)


def test_weight_tying_shares_one_matrix():
    tied, untied = GPT(tiny()), GPT(tiny(tie_weights=False))
    assert tied.head.weight is tied.tok_emb.weight
    assert untied.head.weight is not untied.tok_emb.weight
    assert untied.num_parameters() - tied.num_parameters() == 11 * 8


# --- properties -------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(config=all_configs, data=st.data())
def test_changing_future_tokens_never_changes_earlier_logits(config, data):
    torch.manual_seed(data.draw(st.integers(0, 2**16)))
    model = GPT(config).double().eval()
    T = data.draw(st.integers(2, config.block_size))
    t = data.draw(st.integers(0, T - 2))  # positions 0..t stay, t+1.. change
    ids = torch.randint(0, config.vocab_size, (2, T))
    other = ids.clone()
    other[:, t + 1 :] = torch.randint(0, config.vocab_size, (2, T - t - 1))
    a, _ = model(ids)
    b, _ = model(other)
    torch.testing.assert_close(a[:, : t + 1], b[:, : t + 1], atol=1e-10, rtol=1e-10)


@settings(max_examples=30, deadline=None)
@given(config=all_configs)
def test_parameter_count_matches_the_formula(config):
    assert GPT(config).num_parameters() == tfm.num_parameters_formula(config)


def test_parameter_count_of_the_lesson_model():
    # 12 C^2 L dominates: 4 layers of width 128 hold 786,432 of the 819,584 parameters
    config = GPTConfig(vocab_size=77, block_size=128, n_layer=4, n_head=4, n_embd=128)
    assert tfm.num_parameters_formula(config) == 819_584 == GPT(config).num_parameters()
    assert GPT(config).num_parameters(non_embedding=True) == 819_584 - 77 * 128 - 128 * 128


# --- the KV cache -----------------------------------------------------------------------------


@settings(max_examples=15, deadline=None)
@given(config=all_configs, seed=st.integers(0, 2**16), prompt_len=st.integers(1, 6))
def test_greedy_generation_with_cache_equals_without(config, seed, prompt_len):
    torch.manual_seed(seed)
    model = GPT(config).double()
    for p in model.parameters():  # larger weights: confident, varied predictions
        nn.init.normal_(p, std=0.3)
    prompt = torch.randint(0, config.vocab_size, (2, prompt_len))
    # past the block size too: both paths then read the last block_size tokens
    n_new = config.block_size + 3
    with_cache = tfm.generate(model, prompt, n_new, temperature=0, use_cache=True)
    without = tfm.generate(model, prompt, n_new, temperature=0, use_cache=False)
    assert with_cache.shape == (2, prompt_len + n_new)
    assert torch.equal(with_cache, without)


def test_cached_logits_equal_full_forward():
    torch.manual_seed(1)
    model = GPT(tiny(block_size=12)).eval()
    ids = torch.randint(0, 11, (3, 12))
    full, _ = model(ids)
    caches = model.new_kv_caches()
    first, _ = model(ids[:, :5], kv_caches=caches)  # a prompt, then one token at a time
    steps = [first] + [model(ids[:, t : t + 1], kv_caches=caches)[0] for t in range(5, 12)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)
    assert len(caches[0]) == 12


def test_sampled_generation_with_cache_equals_without_for_the_same_seed():
    torch.manual_seed(2)
    model = GPT(tiny()).double()
    kw = dict(temperature=0.8, top_k=5, top_p=0.9, seed=7)
    a = tfm.generate(model, [1, 2, 3], 30, use_cache=True, **kw)
    b = tfm.generate(model, [1, 2, 3], 30, use_cache=False, **kw)
    assert a.shape == (33,) and torch.equal(a, b)
    assert torch.equal(a, tfm.generate(model, [1, 2, 3], 30, use_cache=True, **kw))


# --- learning ---------------------------------------------------------------------------------


def test_overfits_a_tiny_batch():
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead (conftest restores them)
    torch.manual_seed(0)
    model = GPT(tiny(vocab_size=20, block_size=16, n_layer=2, n_head=2, n_embd=32))
    x = torch.randint(0, 20, (4, 16))
    y = torch.randint(0, 20, (4, 16))  # random targets: only memorising can fit them
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    first = None
    for _ in range(150):
        _, loss = model(x, y)
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert first > 2.5  # about ln 20 = 3.0 at the start
    assert loss.item() < 0.05


# --- errors -----------------------------------------------------------------------------------


def test_input_longer_than_block_size_is_a_clear_error():
    model = GPT(tiny(block_size=8))
    with pytest.raises(ValueError, match=r"9 positions but block_size is 8.*Crop"):
        model(torch.zeros(1, 9, dtype=torch.long))
    caches = model.new_kv_caches()
    model(torch.zeros(1, 6, dtype=torch.long), kv_caches=caches)
    with pytest.raises(ValueError, match=r"6 cached \+ 3 new"):
        model(torch.zeros(1, 3, dtype=torch.long), kv_caches=caches)
    with pytest.raises(ValueError, match=r"\(B, T\)"):
        model(torch.zeros(9, dtype=torch.long))


def test_generate_crops_a_long_prompt():
    model = GPT(tiny(block_size=8))
    out = tfm.generate(model, list(range(11)) * 2, 3, temperature=0)
    assert out.shape == (25,)  # the prompt is kept; the model read only its last 8 tokens


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(temperature=-1), "temperature"),
        (dict(top_k=0), "top_k"),
        (dict(top_p=0.0), "top_p"),
        (dict(top_p=1.5), "top_p"),
    ],
)
def test_generate_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tfm.generate(GPT(tiny()), [1], 2, **kwargs)


def test_generate_rejects_bad_prompts():
    model = GPT(tiny())
    with pytest.raises(ValueError, match="at least one token"):
        tfm.generate(model, [], 2)
    with pytest.raises(ValueError, match="vocabulary"):
        tfm.generate(model, [11], 2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_embd=10, n_head=4), "divisible"),
        (dict(pos_emb="alibi"), "pos_emb"),
        (dict(norm="sandwich"), "norm must be 'pre', 'post' or 'none'"),
        (dict(residual=0), "residual must be True or False"),
        (dict(mlp="no"), "mlp must be True or False"),
        (dict(n_layer=0), "n_layer"),
        (dict(dropout=1.0), "dropout"),
    ],
)
def test_config_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tiny(**kwargs)


def test_checkpoint_with_a_different_config_names_the_fields(tmp_path):
    config = tiny()
    model = GPT(config)
    path = save_checkpoint(tmp_path / "gpt.pt", model, config=config)
    other = tiny(n_layer=3, n_embd=12)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, GPT(other), config=other)
    message = str(err.value)
    assert "n_layer: checkpoint 2, model 3" in message
    assert "n_embd: checkpoint 8, model 12" in message
    assert "n_head" not in message  # only the fields that differ
    # the same config loads, and the weights come back
    fresh = GPT(config)
    load_checkpoint(path, fresh, config=config)
    ids = torch.randint(0, 11, (1, 5))
    torch.testing.assert_close(fresh(ids)[0], model(ids)[0])


# --- sampling ---------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(V=st.integers(2, 30), k=st.integers(1, 30), seed=st.integers(0, 2**16))
def test_top_k_keeps_the_k_largest(V, k, seed):
    logits = torch.randn(3, V, generator=torch.Generator().manual_seed(seed))
    kept = torch.isfinite(tfm.top_k_filter(logits, k))
    assert (kept.sum(-1) == min(k, V)).all()
    top = logits.topk(min(k, V), dim=-1).indices
    assert kept.gather(-1, top).all()


@settings(max_examples=40, deadline=None)
@given(V=st.integers(2, 30), p=st.floats(0.01, 0.99), seed=st.integers(0, 2**16))
def test_top_p_keeps_the_smallest_nucleus(V, p, seed):
    logits = 2 * torch.randn(V, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    kept = torch.isfinite(tfm.top_p_filter(logits, p))
    probs = logits.softmax(-1)
    assert probs[kept].sum() >= p - 1e-12  # the nucleus holds at least p ...
    smallest_kept = probs[kept].min()
    assert probs[kept].sum() - smallest_kept < p + 1e-12  # ... and no token of it is spare
    assert (probs[~kept] <= smallest_kept).all()  # it is made of the most likely tokens


def test_next_token_probs():
    logits = torch.tensor([[1.0, 3.0, 2.0, 0.0]])
    torch.testing.assert_close(tfm.next_token_probs(logits, 0), torch.tensor([[0.0, 1, 0, 0]]))
    torch.testing.assert_close(tfm.next_token_probs(logits), logits.softmax(-1))
    torch.testing.assert_close(tfm.next_token_probs(logits, 2.0), (logits / 2).softmax(-1))
    only_two = tfm.next_token_probs(logits, top_k=2)
    torch.testing.assert_close(only_two[0, [1, 2]], logits[0, [1, 2]].softmax(-1))
    assert only_two[0, [0, 3]].eq(0).all()


# --- looking inside ---------------------------------------------------------------------------


def test_attention_maps_are_causal_distributions():
    torch.manual_seed(3)
    model = GPT(tiny(n_layer=3, n_head=2))
    maps = tfm.attention_maps(model, torch.randint(0, 11, (9,)))
    assert maps.shape == (3, 2, 9, 9)
    torch.testing.assert_close(maps.sum(-1), torch.ones(3, 2, 9))
    assert maps.triu(diagonal=1).eq(0).all()
    batch = tfm.attention_maps(model, torch.randint(0, 11, (4, 9)))
    assert batch.shape == (4, 3, 2, 9, 9)
    assert model.blocks[0].attn._recorder is None  # the recorder is removed afterwards


def test_attention_maps_are_the_weights_the_layer_uses():
    torch.manual_seed(4)
    model = GPT(tiny(n_layer=1)).eval()
    ids = torch.randint(0, 11, (7,))
    maps = tfm.attention_maps(model, ids)  # (1, H, T, T)
    x = model.tok_emb(ids[None]) + model.positions(0, 7)
    _, w = model.blocks[0].attn(model.blocks[0].ln1(x), is_causal=True, need_weights=True)
    torch.testing.assert_close(maps[0], w[0])


def test_evaluate_gpt_scores_every_token_once():
    torch.manual_seed(5)
    model = GPT(tiny(block_size=6)).eval()
    ids = torch.randint(0, 11, (20,))  # windows of 6: 0-5, 6-11, 12-17, then 18 -> 19
    expected = []
    for s in range(0, 19, 6):
        x, y = ids[s : min(s + 6, 19)], ids[s + 1 : min(s + 7, 20)]
        expected.append(F.cross_entropy(model(x[None])[0][0], y, reduction="sum"))
    assert tfm.evaluate_gpt(model, ids, batch_size=2) == pytest.approx(
        float(sum(expected).detach()) / 19, rel=1e-5
    )


def test_import_does_not_pull_in_plotting():
    import subprocess
    import sys

    code = (
        "import sys, course_lib.transformer; "
        "print(any(m.split('.')[0] in ('matplotlib', 'ipywidgets') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_features_are_what_the_output_layer_reads():
    model = GPT(tiny()).eval()
    ids = torch.randint(0, 11, (2, 6))
    h = model.features(ids)
    assert h.shape == (2, 6, 8)
    torch.testing.assert_close(model.head(h), model(ids)[0])


@pytest.mark.parametrize("N", [5, 20, 23])
def test_sliding_window_evaluation_scores_every_token_once_with_its_context(N):
    torch.manual_seed(6)
    model = GPT(tiny(block_size=6)).double().eval()
    ids = torch.randint(0, 11, (N + 1,))
    # stride 1 by hand: token j is predicted from the (up to) block_size tokens before it
    losses = []
    for j in range(1, N + 1):
        start = max(0, j - 6)
        logits = model(ids[start:j][None])[0][0, -1]
        losses.append(F.cross_entropy(logits, ids[j]).item())
    expected = sum(losses) / N
    assert tfm.evaluate_gpt(model, ids, stride=1, batch_size=4) == pytest.approx(expected, rel=1e-9)
    # any stride scores each token once: with a block's context or less, never more
    for stride in (2, 3, 6):
        value = tfm.evaluate_gpt(model, ids, stride=stride, batch_size=3)
        assert math.isfinite(value)
    if N % 6 == 0:  # whole windows: stride = block_size is the plain windowed evaluation
        assert tfm.evaluate_gpt(model, ids, stride=6) == pytest.approx(tfm.evaluate_gpt(model, ids))
    with pytest.raises(ValueError, match="stride"):
        tfm.evaluate_gpt(model, ids, stride=7)


# --- rotary positions, ReLU squared, Muon -------------------------------------------------------


def _rope_by_complex_numbers(x: torch.Tensor, start: int, theta: float = 10000.0) -> torch.Tensor:
    """RoPE written as Su et al. do: channel pair (i, i + D/2) is the complex number
    x_i + j x_{i+D/2}, multiplied by e^{j p theta^(-2i/D)} at position p."""
    D = x.size(-1)
    pos = torch.arange(start, start + x.size(-2), dtype=torch.float64)
    freq = theta ** (-torch.arange(0, D, 2, dtype=torch.float64) / D)
    rot = torch.polar(torch.ones(len(pos), D // 2, dtype=torch.float64), torch.outer(pos, freq))
    z = torch.complex(x[..., : D // 2], x[..., D // 2 :]) * rot
    return torch.cat([z.real, z.imag], dim=-1)


@settings(max_examples=20, deadline=None)
@given(D=st.sampled_from([2, 4, 8, 32]), T=st.integers(1, 9), start=st.integers(0, 50))
def test_rotary_embedding_equals_the_complex_rotation(D, T, start):
    from course_lib.attention import RotaryEmbedding

    x = torch.randn(2, 3, T, D, dtype=torch.float64)
    got = RotaryEmbedding(D)(x, start)
    torch.testing.assert_close(got, _rope_by_complex_numbers(x, start), atol=1e-6, rtol=1e-6)


def test_rotary_scores_depend_on_relative_position_only():
    from course_lib.attention import RotaryEmbedding

    rope = RotaryEmbedding(16)
    q, k = (
        torch.randn(1, 1, 1, 16, dtype=torch.float64),
        torch.randn(1, 1, 1, 16, dtype=torch.float64),
    )
    scores = [(rope(q, p) * rope(k, p - 3)).sum().item() for p in (3, 10, 40)]
    assert scores == pytest.approx([scores[0]] * 3, abs=1e-9)
    assert (rope(q, 5) * rope(k, 5)).sum().item() == pytest.approx((q * k).sum().item(), abs=1e-9)


def test_rotary_needs_an_even_head_size():
    with pytest.raises(ValueError, match="even head size"):
        tiny(n_embd=6, n_head=2, pos_emb="rope")  # head size 3


def test_relu_squared_mlp():
    torch.manual_seed(0)
    mlp = tfm.MLP(tiny(activation="relu2"))
    x = torch.randn(2, 3, 8)
    torch.testing.assert_close(mlp(x), mlp.proj(F.relu(mlp.fc(x)) ** 2))
    with pytest.raises(ValueError, match="activation"):
        tiny(activation="swish")


def test_orthogonalize_gives_the_polar_factor_roughly():
    from course_lib.train import orthogonalize

    torch.manual_seed(0)
    for shape in ((16, 64), (64, 16), (32, 32)):
        G = torch.randn(*shape)
        U, _, Vh = torch.linalg.svd(G, full_matrices=False)
        X = orthogonalize(G)
        s = torch.linalg.svdvals(X)
        assert X.shape == G.shape and s.min() > 0.6 and s.max() < 1.25
        cos = (X * (U @ Vh)).sum() / (X.norm() * (U @ Vh).norm())
        assert cos > 0.97
    with pytest.raises(ValueError, match="matrix"):
        orthogonalize(torch.randn(3))


def test_muon_adamw_groups_equal_torch_adamw():
    from course_lib.train import Muon

    torch.manual_seed(0)
    a = nn.Linear(5, 3).double()
    b = nn.Linear(5, 3).double()
    b.load_state_dict(a.state_dict())
    ours = Muon([{"params": [a.weight], "weight_decay": 0.1}, {"params": [a.bias]}], lr=1e-2)
    ref = torch.optim.AdamW(
        [{"params": [b.weight], "weight_decay": 0.1}, {"params": [b.bias], "weight_decay": 0.0}],
        lr=1e-2,
        betas=(0.9, 0.99),
    )
    for _ in range(20):
        x = torch.randn(7, 5, dtype=torch.float64)
        for model, opt in ((a, ours), (b, ref)):
            opt.zero_grad()
            model(x).pow(2).sum().backward()
            opt.step()
    torch.testing.assert_close(a.weight, b.weight, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(a.bias, b.bias, atol=1e-12, rtol=1e-12)


def test_muon_step_is_the_orthogonalised_momentum():
    from course_lib.train import Muon, orthogonalize

    torch.manual_seed(0)
    w = nn.Parameter(torch.randn(4, 8))
    w0 = w.detach().clone()
    opt = Muon([{"params": [w], "muon": True}], lr=1e-2, momentum=0.9)
    w.grad = torch.randn(4, 8)
    opt.step()
    # first step: buffer = 0.1 g, Nesterov update = g lerp buffer = 0.19 g; scale-free after
    # orthogonalisation; step size lr (rows <= cols)
    torch.testing.assert_close(w.detach(), w0 - 1e-2 * orthogonalize(0.19 * w.grad))
    with pytest.raises(ValueError, match="2-D"):
        Muon([{"params": [nn.Parameter(torch.randn(3))], "muon": True}])


def test_checkpoint_from_before_a_new_config_field_still_loads(tmp_path):
    # data/pretrained/gpt_shakespeare.pt was written before GPTConfig had "activation"
    config = tiny()
    model = GPT(config)
    path = tmp_path / "old.pt"
    save_checkpoint(path, model, step=0, config=config)
    ckpt = torch.load(path, weights_only=True)
    del ckpt["config"]["activation"]
    torch.save(ckpt, path)
    load_checkpoint(path, GPT(config), config=config)  # absent reads as the default, "gelu"
    with pytest.raises(CheckpointError, match="activation: checkpoint 'gelu', model 'relu2'"):
        load_checkpoint(path, GPT(tiny(activation="relu2")), config=tiny(activation="relu2"))


# --- the ablation switches: residual, mlp, norm --------------------------------------------------


def _attn(block: tfm.Block, x: torch.Tensor) -> torch.Tensor:
    return block.attn(x, is_causal=True)[0]


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_without_residual_each_sublayer_replaces_the_stream(norm):
    torch.manual_seed(7)
    block = tfm.Block(tiny(residual=False, norm=norm)).double().eval()
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    if norm == "pre":
        expected = block.mlp(block.ln2(_attn(block, block.ln1(x))))
    else:
        expected = block.ln2(block.mlp(block.ln1(_attn(block, x))))
    torch.testing.assert_close(block(x), expected, atol=1e-12, rtol=1e-12)
    # the same parameters as the residual block: only the wiring changes
    assert GPT(tiny(residual=False)).num_parameters() == GPT(tiny()).num_parameters()


def test_attention_only_blocks_have_no_mlp_and_no_second_norm():
    torch.manual_seed(8)
    model = GPT(tiny(mlp=False)).double().eval()
    names = [name for name, _ in model.named_parameters()]
    assert names and not [n for n in names if ".mlp." in n or ".ln2." in n]
    assert any(".attn." in n for n in names) and any(".ln1." in n for n in names)
    block = model.blocks[0]
    assert block.mlp is None and block.ln2 is None
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    torch.testing.assert_close(block(x), x + _attn(block, block.ln1(x)), atol=1e-12, rtol=1e-12)
    # post-norm: one LayerNorm per block, after the attention's residual sum
    post = tfm.Block(tiny(mlp=False, norm="post")).double().eval()
    torch.testing.assert_close(post(x), post.ln1(x + _attn(post, x)), atol=1e-12, rtol=1e-12)


def test_no_norm_means_no_layernorm_anywhere():
    torch.manual_seed(9)
    model = GPT(tiny(norm="none")).double().eval()
    assert not [m for m in model.modules() if isinstance(m, nn.LayerNorm)]
    assert not [n for n, _ in model.named_parameters() if "ln" in n]
    assert isinstance(model.ln_f, nn.Identity)
    block = model.blocks[0]
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    h = x + _attn(block, x)
    torch.testing.assert_close(block(x), h + block.mlp(h), atol=1e-12, rtol=1e-12)
    # the whole model: embeddings, the blocks, then the head straight away
    ids = torch.randint(0, 11, (2, 5))
    h = model.tok_emb(ids) + model.positions(0, 5)
    for b in model.blocks:
        h = b(h)
    torch.testing.assert_close(model(ids)[0], model.head(h), atol=1e-12, rtol=1e-12)


def test_parameter_formula_over_every_combination_of_switches():
    grid = itertools.product(
        [True, False],  # residual
        [True, False],  # mlp
        ["pre", "post", "none"],
        [True, False],  # bias
        [True, False],  # tie_weights
        ["learned", "sinusoidal", "rope"],
    )
    for residual, mlp, norm, bias, tie, pos in grid:
        config = tiny(
            residual=residual, mlp=mlp, norm=norm, bias=bias, tie_weights=tie, pos_emb=pos
        )
        assert GPT(config).num_parameters() == tfm.num_parameters_formula(config), config
    # by hand, C = 8, L = 2, V = 11, T = 16, biases, tied, learned positions, no MLP, no norm:
    # V C + T C + L (4 C^2 + 4 C) = 88 + 128 + 2 * 288
    assert tfm.num_parameters_formula(tiny(mlp=False, norm="none")) == 88 + 128 + 2 * 288


@pytest.mark.parametrize(
    "switches",
    [
        dict(residual=False),
        dict(residual=False, norm="post"),
        dict(mlp=False),
        dict(norm="none"),
        dict(residual=False, mlp=False, norm="none"),
    ],
)
def test_kv_cache_gives_the_same_tokens_for_every_ablation(switches):
    torch.manual_seed(10)
    model = GPT(tiny(block_size=8, **switches)).double()
    for p in model.parameters():  # larger weights: confident, varied predictions
        nn.init.normal_(p, std=0.3)
    ids = torch.randint(0, 11, (2, 8))
    full, _ = model.eval()(ids)
    caches = model.new_kv_caches()
    steps = [model(ids[:, :3], kv_caches=caches)[0]]
    steps += [model(ids[:, t : t + 1], kv_caches=caches)[0] for t in range(3, 8)]
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-10, rtol=1e-10)
    prompt = torch.randint(0, 11, (2, 3))
    with_cache = tfm.generate(model, prompt, 12, temperature=0, use_cache=True)
    assert torch.equal(with_cache, tfm.generate(model, prompt, 12, temperature=0, use_cache=False))


def test_repr_names_the_switches_that_are_off():
    assert "residual" not in repr(GPT(tiny())) and "mlp=False" not in repr(GPT(tiny()))
    text = repr(GPT(tiny(residual=False, mlp=False, norm="none")))
    assert "norm='none', tied=True, residual=False, mlp=False" in text
    assert "(mlp)" not in text and "LayerNorm" not in text


def test_attention_only_init_scales_the_branches_it_has():
    # GPT-2's 0.02 / sqrt(number of residual branches): 2L with MLPs, L without
    torch.manual_seed(11)
    wide = dict(n_embd=256, n_head=4, n_layer=2)
    with_mlp = GPT(tiny(**wide)).blocks[0].attn.out_proj.weight.std().item()
    without = GPT(tiny(mlp=False, **wide)).blocks[0].attn.out_proj.weight.std().item()
    assert with_mlp == pytest.approx(0.02 / 2, rel=0.02)
    assert without == pytest.approx(0.02 / math.sqrt(2), rel=0.02)


def test_recipe_passes_the_switches_to_the_config():
    from course_lib.runs import GPTRecipe

    default = GPTRecipe().gpt_config(11)
    assert (default.residual, default.mlp, default.norm) == (True, True, "pre")
    config = GPTRecipe(residual=False, mlp=False, norm="none").gpt_config(11)
    assert (config.residual, config.mlp, config.norm) == (False, False, "none")
    assert GPTRecipe(mlp=False).build_model(11).blocks[0].mlp is None


def test_config_saved_before_the_switches_still_loads(tmp_path):
    config = tiny()
    model = GPT(config)
    path = tmp_path / "old.pt"
    save_checkpoint(path, model, step=0, config=config)
    ckpt = torch.load(path, weights_only=True)
    for name in ("residual", "mlp"):
        del ckpt["config"][name]
    torch.save(ckpt, path)
    saved = load_checkpoint(path)["config"]
    rebuilt = GPTConfig(**saved)  # as finetune.load_pretrained builds it
    assert rebuilt == config
    load_checkpoint(path, GPT(rebuilt), config=rebuilt)
    with pytest.raises(CheckpointError, match="mlp: checkpoint True, model False"):
        load_checkpoint(path, GPT(tiny(mlp=False)), config=tiny(mlp=False))
