"""Lesson 05's exercise checks pass the reference, catch the usual mistakes with the right hint,
and report an answer that calls the library's version."""

import pytest
import torch
import torch.nn.functional as F

from course_lib.attention import KVCache, causal_mask, merge_heads, split_heads
from course_lib.checks import USES_LIBRARY
from course_lib.checks import transformer as checks
from course_lib.sampling import next_token_probs, top_p_filter
from course_lib.transformer import Block, MultiHeadAttention


def _verdict(capsys, check, fn):
    ok = check(fn)
    return ok, capsys.readouterr().out


# --- the block's forward pass -----------------------------------------------------------------


def block_forward(block, x):
    x = x + block.attn(block.ln1(x), is_causal=True)[0]
    return x + block.mlp(block.ln2(x))


def test_block_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_block_forward, block_forward)
    assert ok and out.startswith("✅ check_block_forward: passed on 10 random inputs")


def _post_norm(block, x):
    x = block.ln1(x + block.attn(x, is_causal=True)[0])
    return block.ln2(x + block.mlp(x))


def _not_causal(block, x):
    x = x + block.attn(block.ln1(x))[0]
    return x + block.mlp(block.ln2(x))


def _no_residual(block, x):
    return block.mlp(block.ln2(block.attn(block.ln1(x), is_causal=True)[0]))


def _normed_residual(block, x):
    h = block.ln1(x)
    x = h + block.attn(h, is_causal=True)[0]
    h = block.ln2(x)
    return h + block.mlp(h)


def _same_norm(block, x):
    x = x + block.attn(block.ln1(x), is_causal=True)[0]
    return x + block.mlp(block.ln1(x))


def _attn_only(block, x):
    return x + block.attn(block.ln1(x), is_causal=True)[0]


def _parallel(block, x):
    return x + block.attn(block.ln1(x), is_causal=True)[0] + block.mlp(block.ln2(x))


@pytest.mark.parametrize(
    "fn, hint",
    [
        (_post_norm, "post-norm block"),
        (_not_causal, "not causal"),
        (_no_residual, "residual connections are missing"),
        (_normed_residual, "normalised vector is carried on"),
        (_same_norm, "own LayerNorm"),
        (_attn_only, "feed-forward sublayer"),
        (_parallel, "AFTER the attention"),
    ],
)
def test_block_check_hints(capsys, fn, hint):
    ok, out = _verdict(capsys, checks.check_block_forward, fn)
    assert not ok and out.startswith("❌ check_block_forward: failed")
    assert hint in out


def test_block_check_stops_on_an_unwritten_stub(capsys):
    def stub(block, x):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        checks.check_block_forward(stub)
    assert "not attempted" in capsys.readouterr().out


def test_block_check_reports_calling_the_block(capsys):
    for fn in (lambda block, x: block(x), lambda block, x: block.forward(x)):
        ok, out = _verdict(capsys, checks.check_block_forward, fn)
        assert not ok and out.startswith(f"⚠️ check_block_forward: {USES_LIBRARY}")
        assert "Block.forward" in out
    assert Block.forward.__name__ == "forward"  # the method is restored after the check


# --- top-p ------------------------------------------------------------------------------------


def top_p(logits, p):
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    drop_sorted = probs.cumsum(dim=-1) - probs >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf")).softmax(dim=-1)


def test_top_p_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_top_p, top_p)
    assert ok and out.startswith("✅ check_top_p: passed on 25 random inputs")


def _top_p_with(drop_rule=None, descending=True, back="scatter", masked=float("-inf")):
    def fn(logits, p):
        sorted_logits, order = logits.sort(dim=-1, descending=descending)
        probs = sorted_logits.softmax(dim=-1)
        cum = probs.cumsum(dim=-1)
        drop_sorted = drop_rule(cum, probs, p) if drop_rule else cum - probs >= p
        if back == "scatter":
            drop = drop_sorted.scatter(-1, order, drop_sorted)
        elif back == "gather":
            drop = drop_sorted.gather(-1, order)
        else:  # left in sorted order
            return sorted_logits.masked_fill(drop_sorted, masked).softmax(dim=-1)
        return logits.masked_fill(drop, masked).softmax(dim=-1)

    return fn


def _top_p_not_renormalised(logits, p):
    return logits.softmax(-1).masked_fill(top_p(logits, p) == 0, 0.0)


def _top_p_logits(logits, p):
    return top_p(logits, p).log()


@pytest.mark.parametrize(
    "fn, hint",
    [
        (_top_p_with(back="sorted"), "in sorted order"),
        (_top_p_with(back="gather"), "scatter"),
        (_top_p_with(descending=False), "LEAST likely"),
        (_top_p_with(masked=0.0), "-inf so the softmax"),
        (_top_p_not_renormalised, "do not sum to 1"),
        (_top_p_logits, "return probabilities"),
    ],
)
def test_top_p_check_hints(capsys, fn, hint):
    ok, out = _verdict(capsys, checks.check_top_p, fn)
    assert not ok and out.startswith("❌ check_top_p: failed")
    assert hint in out


def test_top_p_check_crossing_token(capsys):
    # '>' on the running total drops the token that crosses p: either a wrong nucleus or, when
    # the most likely token alone holds p, nothing at all (NaN). Both hints name the cause.
    fn = _top_p_with(drop_rule=lambda cum, probs, p: cum > p)
    for _ in range(5):  # fresh random inputs each time
        ok, out = _verdict(capsys, checks.check_top_p, fn)
        assert not ok
        assert "smallest set that REACHES p" in out or "always kept" in out


@pytest.mark.parametrize(
    "fn",
    [
        lambda logits, p: top_p_filter(logits, p).softmax(-1),
        lambda logits, p: next_token_probs(logits, top_p=p),
    ],
)
def test_top_p_check_reports_the_library_version(capsys, fn):
    ok, out = _verdict(capsys, checks.check_top_p, fn)
    assert not ok and out.startswith(f"⚠️ check_top_p: {USES_LIBRARY}")


# --- one attention step with a KV cache -------------------------------------------------------


def attention_step(attn, x_new, past_k, past_v):
    H = attn.n_head
    q = split_heads(attn.q_proj(x_new), H)
    k = torch.cat([past_k, split_heads(attn.k_proj(x_new), H)], dim=2)
    v = torch.cat([past_v, split_heads(attn.v_proj(x_new), H)], dim=2)
    T_new, T_all = q.size(2), k.size(2)
    mask = torch.ones(T_new, T_all, dtype=torch.bool).tril(diagonal=T_all - T_new)
    y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    return attn.out_proj(merge_heads(y)), k, v


def test_step_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_attention_step, attention_step)
    assert ok and out.startswith("✅ check_attention_step: passed on 20 random inputs")


def _step_with(order="past_first", mask="offset", scale=None, out_proj=True, returned="all"):
    def fn(attn, x_new, past_k, past_v):
        H = attn.n_head
        q = split_heads(attn.q_proj(x_new), H)
        k_new, v_new = split_heads(attn.k_proj(x_new), H), split_heads(attn.v_proj(x_new), H)
        if order == "past_first":
            k, v = torch.cat([past_k, k_new], dim=2), torch.cat([past_v, v_new], dim=2)
        elif order == "new_first":
            k, v = torch.cat([k_new, past_k], dim=2), torch.cat([v_new, past_v], dim=2)
        else:  # the cache is left out of the attention
            k, v = k_new, v_new
        T_new, T_all = q.size(2), k.size(2)
        offset = {"offset": T_all - T_new, "top_left": 0}.get(mask)
        m = None if offset is None else torch.ones(T_new, T_all, dtype=torch.bool).tril(offset)
        y = merge_heads(F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=scale))
        y = attn.out_proj(y) if out_proj else y
        if returned == "past":
            return y, past_k, past_v
        if returned == "output":
            return y
        return y, torch.cat([past_k, k_new], dim=2), torch.cat([past_v, v_new], dim=2)

    return fn


def _is_causal_flag(attn, x_new, past_k, past_v):
    # F.scaled_dot_product_attention's is_causal lines the mask up with the first keys
    H = attn.n_head
    q = split_heads(attn.q_proj(x_new), H)
    k = torch.cat([past_k, split_heads(attn.k_proj(x_new), H)], dim=2)
    v = torch.cat([past_v, split_heads(attn.v_proj(x_new), H)], dim=2)
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    return attn.out_proj(merge_heads(y)), k, v


@pytest.mark.parametrize(
    "fn, hint",
    [
        (_step_with(mask="top_left"), "lines the new queries up with the FIRST keys"),
        (_is_causal_flag, "lines the new queries up with the FIRST keys"),
        (_step_with(mask=None), "a causal mask is still needed"),
        (_step_with(order="no_cache"), "attend only to the new keys"),
        (_step_with(order="new_first"), "go AFTER the cached ones"),
        (_step_with(scale=1.0), "1/sqrt(D)"),
        (_step_with(out_proj=False), "attn.out_proj"),
        (_step_with(returned="past"), "hold every position so far"),
        (_step_with(returned="output"), "return three things"),
    ],
)
def test_step_check_hints(capsys, fn, hint):
    ok, out = _verdict(capsys, checks.check_attention_step, fn)
    assert not ok and out.startswith("❌ check_attention_step: failed")
    assert hint in out


def _step_with_kv_cache(attn, x_new, past_k, past_v):
    cache = KVCache()
    k, v = cache.update(
        torch.cat([past_k, split_heads(attn.k_proj(x_new), attn.n_head)], 2), past_v
    )
    return x_new, k, v


def _step_with_causal_mask(attn, x_new, past_k, past_v):
    return x_new, past_k, causal_mask(1, 1)


@pytest.mark.parametrize(
    "fn, used",
    [
        (lambda attn, x, k, v: attn(x, is_causal=True), "MultiHeadAttention.forward"),
        (_step_with_kv_cache, "KVCache.update"),
        (_step_with_causal_mask, "causal_mask"),
    ],
)
def test_step_check_reports_the_library_version(capsys, fn, used):
    ok, out = _verdict(capsys, checks.check_attention_step, fn)
    assert not ok and out.startswith(f"⚠️ check_attention_step: {USES_LIBRARY}")
    assert used in out
    assert MultiHeadAttention.forward.__name__ == "forward"  # restored after the check


# --- a whole GPT step -------------------------------------------------------------------------


def gpt_step(model, new_ids, caches):
    start = caches[0][0].size(2)
    x = model.tok_emb(new_ids) + model.pos_emb(torch.arange(start, start + new_ids.size(1)))
    new_caches = []
    for block, (past_k, past_v) in zip(model.blocks, caches, strict=True):
        y, k, v = attention_step(block.attn, block.ln1(x), past_k, past_v)
        x = x + y
        x = x + block.mlp(block.ln2(x))
        new_caches.append((k, v))
    return model.head(model.ln_f(x)), new_caches


def test_gpt_step_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_gpt_step, gpt_step)
    assert ok and out.startswith("✅ check_gpt_step: passed on 10 random inputs")


def _gpt_step_with(start_at_0=False, one_cache=False, residual=True, final_norm=True, keep=False):
    def fn(model, new_ids, caches):
        start = 0 if start_at_0 else caches[0][0].size(2)
        x = model.tok_emb(new_ids) + model.pos_emb(torch.arange(start, start + new_ids.size(1)))
        new_caches = []
        for i, block in enumerate(model.blocks):
            past_k, past_v = caches[0 if one_cache else i]
            y, k, v = attention_step(block.attn, block.ln1(x), past_k, past_v)
            x = x + y if residual else y
            h = block.mlp(block.ln2(x))
            x = x + h if residual else h
            new_caches.append((past_k, past_v) if keep else (k, v))
        return model.head(model.ln_f(x) if final_norm else x), new_caches

    return fn


@pytest.mark.parametrize(
    "fn, hint",
    [
        (_gpt_step_with(start_at_0=True), "start again at 0"),
        (_gpt_step_with(residual=False), "residual connections are missing"),
        (_gpt_step_with(final_norm=False), "model.ln_f"),
        (_gpt_step_with(keep=True), "the returned caches are not"),
        (lambda model, new_ids, caches: gpt_step(model, new_ids, caches)[0], "return two things"),
    ],
)
def test_gpt_step_check_hints(capsys, fn, hint):
    ok, out = _verdict(capsys, checks.check_gpt_step, fn)
    assert not ok and out.startswith("❌ check_gpt_step: failed")
    assert hint in out


def test_gpt_step_check_one_cache_for_all_layers(capsys):
    # with one layer, caches[0] is the right cache: the check must meet a deeper model first
    for _ in range(3):
        ok, out = _verdict(capsys, checks.check_gpt_step, _gpt_step_with(one_cache=True))
        assert not ok and "its own keys and values" in out


def _gpt_step_calling_blocks(model, new_ids, caches):
    x = model.tok_emb(new_ids)
    for block in model.blocks:
        x = block(x)
    return model.head(model.ln_f(x)), caches


@pytest.mark.parametrize(
    "fn, used",
    [
        (lambda model, new_ids, caches: model(new_ids), "GPT.forward"),
        (
            lambda model, new_ids, caches: (model.head(model.features(new_ids)), caches),
            "GPT.features",
        ),
        (_gpt_step_calling_blocks, "Block.forward"),
    ],
)
def test_gpt_step_check_reports_the_library_version(capsys, fn, used):
    ok, out = _verdict(capsys, checks.check_gpt_step, fn)
    assert not ok and out.startswith(f"⚠️ check_gpt_step: {USES_LIBRARY}")
    assert used in out


# --- predict, then measure ------------------------------------------------------------------


def test_residual_prediction(capsys):
    assert checks.check_residual_prediction(0.9, 0.98) is True
    out = capsys.readouterr().out
    assert out.startswith("✅ check_residual_prediction: passed (prediction made)")
    assert ": right" in out and "rank collapse" in out
    assert checks.check_residual_prediction(0.1, 0.98) is False
    out = capsys.readouterr().out
    assert "passed (prediction made)" in out and "not what happened" in out and "why:" in out
    assert checks.check_residual_prediction(None, 0.98) is False
    assert "❌ check_residual_prediction: not attempted" in capsys.readouterr().out
    assert checks.check_residual_prediction("high", 0.98) is False
    assert "as a number" in capsys.readouterr().out


def test_checks_do_not_depend_on_global_torch_seed(capsys):
    torch.manual_seed(123)
    assert checks.check_top_p(top_p, verbose=False)
    assert checks.check_block_forward(block_forward, verbose=False)
    assert checks.check_attention_step(attention_step, verbose=False)
