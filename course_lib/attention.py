"""Attention, from scratch: masks, scaled dot-product, multi-head and additive attention, and a
small sequence-to-sequence model with and without attention (lesson 04).

Every piece is checked against PyTorch in ``tests/test_attention.py``:
:func:`scaled_dot_product_attention` against ``F.scaled_dot_product_attention`` and
:class:`MultiHeadAttention` against ``nn.MultiheadAttention`` (forward and gradients, float64).

Conventions used everywhere in this module:

* Shapes: ``B`` batch, ``H`` heads, ``T`` positions (``T_q`` queries, ``T_k`` keys), ``D`` size
  of one head, ``C = H * D`` model width. Sizes are named as in lesson 05's ``GPTConfig``
  (nanoGPT's names): ``n_embd`` for ``C``, ``n_head`` for ``H``.
* Masks are boolean and **True means "may attend"**, as in ``F.scaled_dot_product_attention``'s
  ``attn_mask``. (``nn.MultiheadAttention``'s ``key_padding_mask`` uses the opposite convention:
  True means "ignore". Mixing the two up is a classic bug.)
* A query that may attend to nothing gets all-zero weights and a zero output, as in
  ``F.scaled_dot_product_attention``, rather than NaN.

This module imports only torch (layering: attention -> torch only). Argument checks live in
``_check_*`` helpers at the end.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "causal_mask",
    "padding_mask",
    "attention_mask",
    "scaled_dot_product_attention",
    "split_heads",
    "merge_heads",
    "KVCache",
    "RotaryEmbedding",
    "MultiHeadAttention",
    "record_attention",
    "AdditiveAttention",
    "Seq2SeqConfig",
    "Seq2Seq",
    "seq2seq_loss",
]


# --- masks ----------------------------------------------------------------------------------


def causal_mask(T_q: int, T_k: int | None = None, *, device=None) -> torch.Tensor:
    """Boolean ``(T_q, T_k)`` mask, True where query ``i`` may attend to key ``j``.

    With ``T_k = T_q`` (the default) it is lower-triangular: position ``i`` sees positions
    ``0..i``, never the future. With ``T_k > T_q`` (decoding with a KV cache: the keys hold
    ``T_k - T_q`` earlier positions) the queries are the *last* ``T_q`` positions, so query ``i``
    sees keys ``0..i + T_k - T_q``.
    """
    T_k = T_q if T_k is None else T_k
    if T_q < 0 or T_k < T_q:
        raise ValueError(f"causal_mask needs 0 <= T_q <= T_k, got T_q={T_q}, T_k={T_k}")
    return torch.ones(T_q, T_k, dtype=torch.bool, device=device).tril(diagonal=T_k - T_q)


def padding_mask(lengths, T: int | None = None) -> torch.Tensor:
    """Boolean ``(B, T)`` mask, True at the real tokens of each sequence, False at padding.

    ``lengths`` is a ``(B,)`` tensor or list of sequence lengths; ``T`` defaults to the longest.
    To mask keys in attention, broadcast it over heads and queries: ``mask[:, None, None, :]``
    has shape ``(B, 1, 1, T)``. (Passing the ``(B, T)`` mask directly would broadcast as
    ``(T_q, T_k)``: wrong, and silent when ``B == T_q``.)
    """
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1:
        raise ValueError(f"lengths must be a 1-D (B,) tensor, got shape {tuple(lengths.shape)}")
    T = int(lengths.max()) if T is None else T
    if len(lengths) and int(lengths.max()) > T:
        raise ValueError(f"a length ({int(lengths.max())}) exceeds T={T}")
    return torch.arange(T, device=lengths.device)[None, :] < lengths[:, None]


def attention_mask(
    T_q: int,
    T_k: int,
    mask: torch.Tensor | None = None,
    key_padding_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    *,
    device=None,
) -> torch.Tensor | None:
    """The one boolean mask a layer attends with, True = may attend, broadcastable to
    ``(B, H, T_q, T_k)``; None when nothing is masked.

    It is ``mask & key_padding_mask[:, None, None, :] & causal_mask(T_q, T_k)``, each part
    only when given: ``mask`` broadcastable to ``(B, H, T_q, T_k)``, ``key_padding_mask``
    ``(B, T_k)`` (True at real tokens), ``is_causal`` the :func:`causal_mask`."""
    if key_padding_mask is not None:
        kpm = key_padding_mask[:, None, None, :]  # (B, 1, 1, T_k)
        mask = kpm if mask is None else mask & kpm
    if is_causal:
        cm = causal_mask(T_q, T_k, device=device)  # (T_q, T_k)
        mask = cm if mask is None else mask & cm
    return mask


# --- scaled dot-product attention -----------------------------------------------------------


def scaled_dot_product_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    mask: torch.Tensor | None = None,
    dropout_p: float = 0.0,
    *,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``softmax(q k^T / sqrt(D) + mask) v``, returning the output and the attention weights.

    Args:
        q: queries ``(B, H, T_q, D)`` (any number of leading dimensions works, e.g. ``(B, T, D)``).
        k: keys ``(B, H, T_k, D)``.
        v: values ``(B, H, T_k, D_v)``.
        mask: boolean, broadcastable to ``(B, H, T_q, T_k)``, **True where the query may
            attend** (``F.scaled_dot_product_attention``'s convention); or a float mask added to
            the scores (``-inf`` blocks). See :func:`causal_mask` and :func:`padding_mask`.
        dropout_p: dropout on the weights (pass 0 at evaluation, as ``F.dropout`` would not know).
        scale: multiplies the scores; ``1 / sqrt(D)`` by default, as in PyTorch.

    Returns:
        ``(output, weights)``: output ``(B, H, T_q, D_v)`` and the softmax weights
        ``(B, H, T_q, T_k)`` (before dropout; each row sums to 1, or is all zero for a query
        that may attend to nothing).

    Raises:
        ValueError: when shapes do not fit, naming the expected (B, H, T, D) shapes and the ones
            received.
    """
    _check_qkv(q, k, v)
    scale = 1.0 / math.sqrt(q.size(-1)) if scale is None else scale
    scores = (q @ k.transpose(-2, -1)) * scale  # (B, H, T_q, T_k)
    if mask is not None:
        _check_mask(mask, scores)
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:  # a float mask is added: -inf blocks
            scores = scores + mask
        # A query that may attend to nothing would give softmax(all -inf) = NaN; F.sdpa returns
        # zeros there, and so do we (the masked_fill keeps the gradient free of NaN too).
        dead = torch.isneginf(scores).all(dim=-1, keepdim=True)
        if dead.any():
            weights = scores.masked_fill(dead, 0.0).softmax(dim=-1).masked_fill(dead, 0.0)
        else:  # the usual case: no second (T_q, T_k) tensor to keep for the backward pass
            weights = scores.softmax(dim=-1)
    else:
        weights = scores.softmax(dim=-1)
    attn = F.dropout(weights, p=dropout_p) if dropout_p > 0 else weights
    return attn @ v, weights  # (B, H, T_q, D_v), (B, H, T_q, T_k)


# --- multi-head attention -------------------------------------------------------------------


def split_heads(x: torch.Tensor, n_head: int) -> torch.Tensor:
    """``(B, T, C)`` -> ``(B, H, T, C // H)``: each head gets its own slice of the channels."""
    B, T, C = x.shape
    if C % n_head:
        raise ValueError(f"the width C={C} is not divisible by n_head={n_head}")
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``(B, H, T, D)`` -> ``(B, T, H * D)``: the inverse of :func:`split_heads`."""
    B, H, T, D = x.shape
    return x.transpose(1, 2).reshape(B, T, H * D)


class RotaryEmbedding(nn.Module):
    """Rotary position embedding (RoPE; Su et al. 2021), as in GPT-NeoX and Llama.

    Instead of adding a position vector to the input, each head's query and key at position
    ``p`` are rotated: channel pair ``(i, i + D/2)`` turns by the angle ``p * theta^(-2i/D)``.
    A query at ``p`` and a key at ``s`` then meet in the dot product with a rotation by
    ``(p - s)`` between them: attention sees *relative* positions, with no parameters.
    ``rope(x, start)`` rotates ``x`` ``(B, H, T, D)`` holding positions ``start .. start+T-1``.
    """

    def __init__(self, head_dim: int, theta: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary embeddings need an even head size, got {head_dim}")
        self.head_dim, self.theta = head_dim, theta
        inv_freq = theta ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self._cache: tuple[int, torch.Tensor, torch.Tensor] | None = None

    def _cos_sin(self, n: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self._cache is None or self._cache[0] < n or self._cache[1].device != like.device:
            # angles in float64: a float32 angle near 60 rad is off by ~4e-6
            angles = torch.outer(torch.arange(n, dtype=torch.float64), self.inv_freq.double().cpu())
            angles = torch.cat([angles, angles], dim=-1).to(like.device)  # (n, D)
            self._cache = (n, angles.cos(), angles.sin())
        _, cos, sin = self._cache
        return cos.to(like.dtype), sin.to(like.dtype)

    def forward(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        T, D = x.size(-2), x.size(-1)
        if D != self.head_dim:
            raise ValueError(f"expected a head size of {self.head_dim}, got {D}")
        cos, sin = self._cos_sin(start + T, x)
        cos, sin = cos[start : start + T], sin[start : start + T]  # (T, D)
        x1, x2 = x[..., : D // 2], x[..., D // 2 :]
        return x * cos + torch.cat([-x2, x1], dim=-1) * sin


class KVCache:
    """The keys and values one attention layer has seen so far, for fast step-by-step decoding.

    Pass the same cache to :meth:`MultiHeadAttention.forward` at every step: the layer appends the
    new positions' keys and values ``(B, H, T_new, D)`` and attends over all of them, so each new
    token costs ``O(T)`` instead of recomputing the whole prefix. Use one cache per layer.
    """

    def __init__(self):
        self.k: torch.Tensor | None = None  # (B, H, T_so_far, D)
        self.v: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.k is None else self.k.size(2)

    def update(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Append ``k, v`` ``(B, H, T_new, D)`` and return all keys and values so far."""
        if self.k is None:
            self.k, self.v = k, v
        else:
            self.k = torch.cat([self.k, k], dim=2)
            self.v = torch.cat([self.v, v], dim=2)
        return self.k, self.v

    def __repr__(self) -> str:
        return f"KVCache(positions={len(self)})"


class MultiHeadAttention(nn.Module):
    """Multi-head attention (Vaswani et al. 2017), the layer inside every transformer.

    Each of ``n_head`` heads projects the input to its own queries, keys and values of size
    ``D = n_embd // n_head``, attends with :func:`scaled_dot_product_attention`, and the heads'
    outputs are concatenated and mixed by ``out_proj``. The four projections are separate
    ``nn.Linear(n_embd, n_embd)`` layers (``q_proj``, ``k_proj``, ``v_proj``, ``out_proj``), so
    :meth:`load_torch_weights` can copy ``nn.MultiheadAttention``'s weights (its ``in_proj_weight``
    split in three) and a KV cache can project only the new tokens.

    Use it as:

    * self-attention: ``y, _ = mha(x)`` with ``x`` ``(B, T, C)``;
    * causal self-attention (a GPT block, lesson 05): ``y, _ = mha(x, is_causal=True)``;
    * cross-attention: ``y, _ = mha(x, memory)`` (keys and values from ``memory`` ``(B, S, C)``);
    * per-head weights: ``y, w = mha(x, need_weights=True)`` gives ``w`` ``(B, H, T_q, T_k)``
      (``nn.MultiheadAttention`` averages over heads by default; we never do);
    * step-by-step decoding: ``cache = KVCache()``, then ``mha(x_new, is_causal=True,
      kv_cache=cache)`` for each new chunk of positions;
    * recording every layer's weights without changing the model's code: see
      :func:`record_attention`.

    Args:
        n_embd: width ``C`` of the input and output (``nn.MultiheadAttention``'s ``embed_dim``).
        n_head: number of heads ``H``; must divide ``n_embd``.
        dropout: dropout on the attention weights during training (as ``nn.MultiheadAttention``).
        bias: whether the four projections have biases.
        fused: when True and no weights are asked for, use PyTorch's fused
            ``F.scaled_dot_product_attention`` (faster, less memory); the result is the same.
        rotary: rotate queries and keys by their positions (:class:`RotaryEmbedding`) before
            attending; self-attention only (with a KV cache, new positions continue from the
            cache's length).
    """

    def __init__(
        self,
        n_embd: int,
        n_head: int,
        *,
        dropout: float = 0.0,
        bias: bool = True,
        fused: bool = False,
        rotary: bool = False,
    ):
        super().__init__()
        _check_heads(n_embd, n_head)
        self.n_embd, self.n_head, self.dropout, self.fused = n_embd, n_head, dropout, fused
        self.rotary = RotaryEmbedding(n_embd // n_head) if rotary else None
        self.q_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.k_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.v_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.out_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self._recorder: list | None = None  # set by record_attention()

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor | None = None,
        value: torch.Tensor | None = None,
        *,
        mask: torch.Tensor | None = None,
        key_padding_mask: torch.Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
        kv_cache: KVCache | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Attend from ``query`` ``(B, T_q, C)`` to ``key`` ``(B, T_k, C)`` (default: ``query``,
        self-attention) and ``value`` ``(B, T_k, C)`` (default: ``key``).

        ``mask``: boolean, True = may attend, broadcastable to ``(B, H, T_q, T_k)``.
        ``key_padding_mask``: boolean ``(B, T_k)``, **True at real tokens**, False at padding
        (the opposite of ``nn.MultiheadAttention``'s, where True means ignore).
        ``is_causal``: each query sees only keys at its own position or earlier (with a KV cache,
        the queries are the last ``T_q`` of the ``T_k`` positions). ``kv_cache``: a
        :class:`KVCache`; the new keys and values are appended to it first.

        Returns ``(output (B, T_q, C), weights (B, H, T_q, T_k) or None)``: one map per head,
        when ``need_weights``."""
        key = query if key is None else key
        value = key if value is None else value
        _check_mha_inputs(self, query, key, value)
        q = split_heads(self.q_proj(query), self.n_head)  # (B, H, T_q, D)
        k = split_heads(self.k_proj(key), self.n_head)  # (B, H, T_k, D)
        v = split_heads(self.v_proj(value), self.n_head)  # (B, H, T_k, D)
        if self.rotary is not None:  # new positions continue from what the cache holds
            start = len(kv_cache) if kv_cache is not None else 0
            q, k = self.rotary(q, start), self.rotary(k, start)
        if kv_cache is not None:
            k, v = kv_cache.update(k, v)  # (B, H, T_k, D): every position so far
        T_q, T_k = q.size(2), k.size(2)
        _check_key_padding_mask(key_padding_mask, k.size(0), T_k)
        p = self.dropout if self.training else 0.0
        fused = self.fused and not need_weights and self._recorder is None
        only_causal = is_causal and mask is None and key_padding_mask is None and T_q == T_k
        kernel_causal = fused and only_causal  # the fused kernel skips the masked half itself
        attn_mask = attention_mask(
            T_q, T_k, mask, key_padding_mask, is_causal and not kernel_causal, device=q.device
        )
        if fused:
            weights = None
            y = F.scaled_dot_product_attention(
                q, k, v, attn_mask=attn_mask, dropout_p=p, is_causal=kernel_causal
            )
        else:
            y, weights = scaled_dot_product_attention(q, k, v, attn_mask, p)
            if self._recorder is not None:
                self._recorder.append(weights.detach())
        y = self.out_proj(merge_heads(y))  # (B, T_q, C)
        return y, (weights if need_weights else None)

    @torch.no_grad()
    def load_torch_weights(self, ref: nn.MultiheadAttention) -> MultiHeadAttention:
        """Copy the weights of a ``nn.MultiheadAttention`` of the same size into this layer.

        PyTorch stores the three input projections stacked in ``in_proj_weight`` ``(3C, C)``:
        rows ``[0, C)`` are the queries', ``[C, 2C)`` the keys', ``[2C, 3C)`` the values'.
        Returns ``self``.
        """
        _check_torch_reference(self, ref)
        qkv = (self.q_proj, self.k_proj, self.v_proj)
        for proj, w in zip(qkv, ref.in_proj_weight.chunk(3), strict=True):
            proj.weight.copy_(w)
        if ref.in_proj_bias is not None:
            for proj, b in zip(qkv, ref.in_proj_bias.chunk(3), strict=True):
                proj.bias.copy_(b)
            self.out_proj.bias.copy_(ref.out_proj.bias)
        self.out_proj.weight.copy_(ref.out_proj.weight)
        return self

    def extra_repr(self) -> str:
        return (
            f"n_embd={self.n_embd}, n_head={self.n_head}, head_dim="
            f"{self.n_embd // self.n_head}, dropout={self.dropout}, fused={self.fused}"
        )


@contextmanager
def record_attention(model: nn.Module):
    """Record the per-head weights of every :class:`MultiHeadAttention` inside ``model``.

    ::

        with record_attention(model) as maps:
            model(ids)
        # maps: one (B, H, T_q, T_k) tensor per attention call, in call order (layer 0 first)

    Inside the block the layers use the from-scratch path (the fused kernel returns no weights).
    """
    layers = [m for m in model.modules() if isinstance(m, MultiHeadAttention)]
    if not layers:
        raise ValueError("record_attention: the model contains no MultiHeadAttention layer")
    maps: list[torch.Tensor] = []
    for m in layers:
        m._recorder = maps
    try:
        yield maps
    finally:
        for m in layers:
            m._recorder = None


# --- additive attention ---------------------------------------------------------------------


class AdditiveAttention(nn.Module):
    """Additive attention (Bahdanau, Cho and Bengio 2015): ``score(s, h_j) = v^T tanh(W s + U h_j)``

    A small one-hidden-layer network scores how well each key ``h_j`` (an encoder state) fits the
    query ``s`` (the decoder state); the softmax of the scores weights the values.

    Args:
        query_dim: size of the query ``s``.
        key_dim: size of each key ``h_j``.
        attn_dim: size of the hidden layer inside the scoring network.
    """

    def __init__(self, query_dim: int, key_dim: int, attn_dim: int):
        super().__init__()
        self.query_proj = nn.Linear(query_dim, attn_dim, bias=False)  # W
        self.key_proj = nn.Linear(key_dim, attn_dim)  # U (one bias is enough for the sum)
        self.v = nn.Linear(attn_dim, 1, bias=False)

    def project_keys(self, keys: torch.Tensor) -> torch.Tensor:
        """``U h_j`` for every key, ``(B, S, key_dim)`` -> ``(B, S, attn_dim)``. It does not
        depend on the query, so a decoder computes it once per sentence, not once per step."""
        return self.key_proj(keys)

    def forward(
        self,
        query: torch.Tensor,
        keys: torch.Tensor,
        values: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
        *,
        projected_keys: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Attend from one query per example to its keys.

        Args:
            query: ``(B, query_dim)``.
            keys: ``(B, S, key_dim)``.
            values: ``(B, S, D_v)``; defaults to ``keys`` (as in Bahdanau et al.).
            mask: boolean ``(B, S)``, True at positions that may be attended (real tokens).
            projected_keys: ``project_keys(keys)``, when already computed.

        Returns:
            ``(context, weights)``: context ``(B, D_v)`` and weights ``(B, S)``.
        """
        values = keys if values is None else values
        _check_additive_inputs(query, keys)
        pk = self.project_keys(keys) if projected_keys is None else projected_keys
        energy = torch.tanh(pk + self.query_proj(query)[:, None, :])  # (B, S, attn_dim)
        scores = self.v(energy).squeeze(-1)  # (B, S)
        if mask is not None:
            _check_additive_mask(mask, scores)
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = scores.softmax(dim=-1)  # (B, S)
        context = torch.bmm(weights[:, None, :], values).squeeze(1)  # (B, D_v)
        return context, weights


# --- a small sequence-to-sequence model -----------------------------------------------------


@dataclass
class Seq2SeqConfig:
    """Sizes of :class:`Seq2Seq`, named as in :class:`~course_lib.transformer.GPTConfig` where
    they mean the same thing. ``attention=False`` gives the fixed-vector baseline."""

    src_vocab_size: int
    tgt_vocab_size: int
    n_embd: int = 64  # the word embeddings' width, both vocabularies
    hidden_size: int = 128  # the GRUs' state (each direction of the encoder), as nn.GRU's
    attn_dim: int = 64  # hidden layer of the additive attention's scoring network
    attention: bool = True
    pad_id: int = 0  # the same id in both vocabularies
    bos_id: int = 1  # target vocabulary: start of sentence
    eos_id: int = 2  # target vocabulary: end of sentence


class Seq2Seq(nn.Module):
    """An RNN encoder-decoder (Cho et al. 2014; Sutskever et al. 2014), optionally with additive
    attention (Bahdanau et al. 2015). The two variants differ only in the *context* vector the
    decoder reads at each step:

    * without attention: one fixed summary of the whole source, the encoder's final states
      ``[h_fwd_T; h_bwd_1]`` ``(B, 2*hidden_size)``, the same at every step (the bottleneck);
    * with attention: a fresh weighted average of all encoder states at each step, the weights
      chosen by :class:`AdditiveAttention` from the decoder's previous state.

    The encoder is a bidirectional GRU; the decoder is a GRU cell run one step at a time. (Lesson
    03 builds these cells by hand; here we use PyTorch's fused ``nn.GRU`` and ``nn.GRUCell``.)
    """

    def __init__(self, config: Seq2SeqConfig):
        super().__init__()
        self.config = c = config
        E, Hd = c.n_embd, c.hidden_size
        self.src_emb = nn.Embedding(c.src_vocab_size, E, padding_idx=c.pad_id)
        self.encoder = nn.GRU(E, Hd, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * Hd, Hd)  # source summary -> decoder's first state
        self.tgt_emb = nn.Embedding(c.tgt_vocab_size, E, padding_idx=c.pad_id)
        self.attn = AdditiveAttention(Hd, 2 * Hd, c.attn_dim) if c.attention else None
        self.decoder = nn.GRUCell(E + 2 * Hd, Hd)
        self.out = nn.Linear(Hd + 2 * Hd + E, c.tgt_vocab_size)

    def encode(self, src: torch.Tensor, src_lengths: torch.Tensor):
        """Run the encoder. ``src`` ``(B, S)`` padded ids, ``src_lengths`` ``(B,)``.

        Returns ``(states (B, S, 2*hidden_size), summary (B, 2*hidden_size), mask (B, S))``."""
        B, S = src.shape
        lengths = torch.as_tensor(src_lengths).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(
            self.src_emb(src), lengths, batch_first=True, enforce_sorted=False
        )
        out, h_n = self.encoder(packed)  # packing: the backward GRU starts at each real end
        states, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=S)
        summary = torch.cat([h_n[0], h_n[1]], dim=-1)  # (B, 2*hidden_size)
        return states, summary, padding_mask(lengths.to(src.device), S)

    def _decode_steps(self, states, summary, mask, step_input):
        """Shared decoding loop; ``step_input(t, logits_prev)`` gives the ids fed at step t,
        or None to stop. Returns (logits (B, T, V), weights (B, T, S) or None)."""
        s = torch.tanh(self.bridge(summary))  # (B, hidden_size)
        pk = self.attn.project_keys(states) if self.attn is not None else None
        logits, weights, t, prev = [], [], 0, None
        while (y := step_input(t, prev)) is not None:
            e = self.tgt_emb(y)  # (B, E)
            if self.attn is not None:
                ctx, w = self.attn(s, states, mask=mask, projected_keys=pk)  # (B, 2H), (B, S)
                weights.append(w)
            else:
                ctx = summary  # the same fixed vector at every step
            s = self.decoder(torch.cat([e, ctx], dim=-1), s)
            prev = self.out(torch.cat([s, ctx, e], dim=-1))  # (B, V)
            logits.append(prev)
            t += 1
        return torch.stack(logits, 1), (torch.stack(weights, 1) if weights else None)

    def forward(self, src, src_lengths, tgt_in):
        """Teacher forcing: ``tgt_in`` ``(B, T)`` starts with BOS; returns logits ``(B, T, V)``
        for the next target token at each step, and attention weights ``(B, T, S)`` (or None)."""
        states, summary, mask = self.encode(src, src_lengths)
        T = tgt_in.size(1)
        return self._decode_steps(
            states, summary, mask, lambda t, _: tgt_in[:, t] if t < T else None
        )

    @torch.no_grad()
    def generate(self, src, src_lengths, max_len: int = 40):
        """Greedy decoding. Returns ``(ids (B, T), weights (B, T, S) or None)``: ``ids`` holds
        the generated tokens without BOS; after a sentence's EOS come PAD ids. Stops when
        every sentence has ended or after ``max_len`` tokens."""
        c = self.config
        states, summary, mask = self.encode(src, src_lengths)
        B = src.size(0)
        done = torch.zeros(B, dtype=torch.bool, device=src.device)
        out: list[torch.Tensor] = []

        def step_input(t, prev):
            if t == 0:
                return torch.full((B,), c.bos_id, dtype=torch.long, device=src.device)
            y = prev.argmax(-1).masked_fill(done, c.pad_id)
            out.append(y)
            done.logical_or_(y == c.eos_id)
            return None if bool(done.all()) or t >= max_len else y

        _, weights = self._decode_steps(states, summary, mask, step_input)
        ids = torch.stack(out, 1)
        return ids, (weights[:, : ids.size(1)] if weights is not None else None)


def seq2seq_loss(model: Seq2Seq, batch) -> torch.Tensor:
    """Cross-entropy of the next target token, ignoring padding. ``batch`` is
    ``(src (B, S), src_lengths (B,), tgt_in (B, T), tgt_out (B, T))`` where ``tgt_in`` is BOS +
    target and ``tgt_out`` is target + EOS, both padded with ``pad_id``."""
    src, src_lengths, tgt_in, tgt_out = batch
    logits, _ = model(src, src_lengths, tgt_in)
    return F.cross_entropy(
        logits.reshape(-1, logits.size(-1)), tgt_out.reshape(-1), ignore_index=model.config.pad_id
    )


# --- checks ---------------------------------------------------------------------------------


def _shape(t: torch.Tensor) -> tuple:
    return tuple(t.shape)


def _check_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    expected = (
        "q (B, H, T_q, D), k (B, H, T_k, D) and v (B, H, T_k, D_v): the same leading (B, H), "
        "q and k the same D, k and v the same T_k"
    )
    got = f"got q {_shape(q)}, k {_shape(k)}, v {_shape(v)}"
    problem = None
    if q.dim() < 2 or not q.dim() == k.dim() == v.dim():
        problem = "q, k and v must have the same number of dimensions, at least 2"
    elif q.shape[:-2] != k.shape[:-2] or k.shape[:-2] != v.shape[:-2]:
        problem = "the leading (B, H) dimensions differ"
    elif q.size(-1) != k.size(-1):
        problem = f"q's last dimension D={q.size(-1)} differs from k's D={k.size(-1)}"
    elif k.size(-2) != v.size(-2):
        problem = f"k has T_k={k.size(-2)} positions but v has {v.size(-2)}"
    if problem:
        raise ValueError(
            f"scaled_dot_product_attention expects tensors shaped (B, H, T, D), namely "
            f"{expected}; {got}: {problem}"
        )


def _check_mask(mask: torch.Tensor, scores: torch.Tensor) -> None:
    try:
        fits = torch.broadcast_shapes(mask.shape, scores.shape) == scores.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"mask of shape {_shape(mask)} does not broadcast to the scores' shape "
            f"(B, H, T_q, T_k) = {_shape(scores)}. A (B, T_k) padding mask needs "
            "mask[:, None, None, :]; a (T_q, T_k) causal mask broadcasts as it is"
        )
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise TypeError(
            f"mask must be bool (True = may attend) or float (added to the scores), "
            f"got {mask.dtype}"
        )


def _check_heads(n_embd: int, n_head: int) -> None:
    if n_embd % n_head:
        raise ValueError(f"n_embd={n_embd} must be divisible by n_head={n_head}")


def _check_mha_inputs(layer: MultiHeadAttention, query, key, value) -> None:
    for name, x in (("query", query), ("key", key), ("value", value)):
        if x.dim() != 3 or x.size(-1) != layer.n_embd:
            raise ValueError(
                f"{name} must have shape (B, T, C) with C = n_embd = {layer.n_embd} "
                f"(batch first), got {_shape(x)}"
            )
    if layer.rotary is not None and key is not query:
        raise ValueError("rotary positions are for self-attention: pass no key/value")


def _check_key_padding_mask(key_padding_mask: torch.Tensor | None, B: int, T_k: int) -> None:
    if key_padding_mask is None:
        return
    if key_padding_mask.shape != (B, T_k) or key_padding_mask.dtype != torch.bool:
        raise ValueError(
            f"key_padding_mask must be a bool (B, T_k) = {(B, T_k)} tensor, True "
            f"at real tokens; got {key_padding_mask.dtype} {_shape(key_padding_mask)}"
        )


def _check_torch_reference(layer: MultiHeadAttention, ref: nn.MultiheadAttention) -> None:
    if ref.embed_dim != layer.n_embd or ref.num_heads != layer.n_head:
        raise ValueError(
            f"reference has embed_dim={ref.embed_dim}, num_heads={ref.num_heads}; this layer "
            f"has n_embd={layer.n_embd}, n_head={layer.n_head}"
        )
    if ref.in_proj_weight is None:
        raise ValueError("reference uses separate kdim/vdim projections; not supported")
    if (ref.in_proj_bias is None) != (layer.q_proj.bias is None) or ref.bias_k is not None:
        raise ValueError("reference and this layer differ in biases (bias=, add_bias_kv=)")


def _check_additive_inputs(query: torch.Tensor, keys: torch.Tensor) -> None:
    if query.dim() != 2 or keys.dim() != 3 or query.size(0) != keys.size(0):
        raise ValueError(
            f"AdditiveAttention expects query (B, query_dim) and keys (B, S, key_dim); got "
            f"query {_shape(query)}, keys {_shape(keys)}"
        )


def _check_additive_mask(mask: torch.Tensor, scores: torch.Tensor) -> None:
    if mask.shape != scores.shape:
        raise ValueError(f"mask must have shape (B, S) = {_shape(scores)}, got {_shape(mask)}")
