"""A GPT-style decoder-only transformer from scratch (lesson 05), built on lesson 04's attention.

Shapes: B batch, T positions, C = ``n_embd`` model width, H heads, L layers, V vocabulary size.

- :class:`GPTConfig`: the sizes and the design choices the lesson compares (learned or sinusoidal
  positions, pre-norm or post-norm, tied or separate output weights), and the ablation switches
  that take a part away to measure what it is worth (``residual=False``, ``mlp=False``,
  ``norm="none"``; one head is ``n_head=1``).
- :class:`GPT`: token + position embeddings -> L blocks of causal multi-head self-attention
  (:class:`course_lib.attention.MultiHeadAttention`) and a feed-forward network, each wrapped in a
  residual connection with LayerNorm -> a linear layer to the vocabulary. ``model(ids)`` returns
  ``(logits, None)``; ``model(ids, targets)`` returns ``(logits, loss)``.
- :func:`num_parameters_formula`: the parameter count in closed form (the lesson's formula).
- :func:`generate`: sampling with temperature, top-k and top-p (:mod:`course_lib.sampling`),
  with or without a KV cache.
- :func:`attention_maps`: every layer's and head's attention weights for a sequence.
- :func:`evaluate_gpt`: the loss over a whole text, in windows or with a sliding window.

The lesson's training run (``GPTRecipe``, ``train_gpt``) is in :mod:`course_lib.runs`; the
validation loss against training seconds is ``History.eval_curve()`` (:mod:`course_lib.train`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .attention import KVCache, MultiHeadAttention, record_attention
from .sampling import (
    check_generate_args,
    next_token_probs,
    prompt_batch,
    sample_next,
    sampling_generator,
    top_k_filter,
    top_p_filter,
)

__all__ = [
    "GPTConfig",
    "GPT",
    "Block",
    "MLP",
    "sinusoidal_positions",
    "num_parameters_formula",
    "next_token_probs",
    "top_k_filter",
    "top_p_filter",
    "generate",
    "attention_maps",
    "evaluate_gpt",
]


# --- configuration --------------------------------------------------------------------------


@dataclass
class GPTConfig:
    """Sizes and design choices of a :class:`GPT`.

    Args:
        vocab_size: V, the number of token ids.
        block_size: the longest context the model reads (learned positions exist only up to it).
        n_layer: L, the number of blocks.
        n_head: H, attention heads per block; must divide ``n_embd``.
        n_embd: C, the width of every position's vector.
        dropout: dropout after the embeddings, on the attention weights and on each residual
            branch during training (0 for short runs: there is no time to overfit).
        bias: biases in the linear layers and LayerNorms.
        pos_emb: ``"learned"`` (a trained ``(block_size, C)`` table, as GPT-2),
            ``"sinusoidal"`` (fixed sines and cosines, as the original transformer; no
            parameters; the token vectors are then multiplied by ``sqrt(C)``, as there) or
            ``"rope"`` (nothing added to the input: every attention layer rotates its queries
            and keys by position, :class:`~course_lib.attention.RotaryEmbedding`, as Llama).
        norm: ``"pre"`` (LayerNorm before each sublayer, plus one at the end, as GPT-2),
            ``"post"`` (after each residual sum, as the original transformer) or ``"none"``
            (an ablation: no LayerNorm anywhere, the final one included; no parameters).
        tie_weights: the output layer reuses the token embedding matrix (Press & Wolf 2017).
        activation: the MLP's non-linearity: ``"gelu"`` (GPT-2) or ``"relu2"`` (ReLU squared,
            So et al. 2021).
        fused: attention uses PyTorch's fused kernel when no weights are asked for (faster;
            the same result).
        residual: each sublayer's output is added to the residual stream (``True``) or, an
            ablation, replaces it (``False``): see :class:`Block`.
        mlp: each block has its feed-forward sublayer (``True``) or, an ablation, attention
            only (``False``: no MLP and no second LayerNorm, no parameters for them).

    The defaults are the lesson's GPT; a checkpoint saved before a field existed loads with
    that field's default, which is the behaviour it was trained with.
    """

    vocab_size: int = 77
    block_size: int = 128
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    pos_emb: str = "learned"
    norm: str = "pre"
    tie_weights: bool = True
    fused: bool = True
    activation: str = "gelu"
    residual: bool = True
    mlp: bool = True

    def __post_init__(self):
        _check_gpt_config(self)


# --- the pieces -----------------------------------------------------------------------------


def sinusoidal_positions(T: int, C: int) -> torch.Tensor:
    """The fixed position code of Vaswani et al. (2017), ``(T, C)``: for position ``p`` and
    channel pair ``i``, ``sin(p / 10000^(2i/C))`` in channel ``2i`` and ``cos(...)`` in ``2i+1``.
    Each pair turns at its own speed, from one turn per ~6 positions to one per ~60,000."""
    if C % 2:
        raise ValueError(f"sinusoidal positions need an even width C, got {C}")
    pos = torch.arange(T, dtype=torch.float32)[:, None]  # (T, 1)
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, C, 2, dtype=torch.float32) / C)
    pe = torch.zeros(T, C)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)
    return pe


class MLP(nn.Module):
    """The feed-forward network applied to every position on its own: ``C -> 4C -> GELU -> C``
    (or ReLU squared with ``activation="relu2"``)."""

    def __init__(self, config: GPTConfig):
        super().__init__()
        C = config.n_embd
        self.fc = nn.Linear(C, 4 * C, bias=config.bias)
        self.proj = nn.Linear(4 * C, C, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)
        self.relu2 = config.activation == "relu2"

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, C) -> (B, T, C)
        h = self.fc(x)
        h = F.relu(h).square() if self.relu2 else F.gelu(h)
        return self.dropout(self.proj(h))


class Block(nn.Module):
    """One transformer block: causal self-attention, then the MLP, each in a residual branch.

    * pre-norm (GPT-2): ``x = x + attn(ln1(x)); x = x + mlp(ln2(x))``. The residual stream is
      never normalised, so gradients flow straight from the loss to the first layer.
    * post-norm (original transformer): ``x = ln1(x + attn(x)); x = ln2(x + mlp(x))``.

    The ablation switches of :class:`GPTConfig` take one part away:

    * ``norm="none"``: ``ln1`` and ``ln2`` are ``nn.Identity`` (the pre-norm formulas, without
      the norms): ``x = x + attn(x); x = x + mlp(x)``.
    * ``residual=False``: each sublayer's output replaces the stream instead of being added to
      it: pre-norm ``x = attn(ln1(x)); x = mlp(ln2(x))``, post-norm ``x = ln1(attn(x));
      x = ln2(mlp(x))``. Nothing but the sublayers carries a token's own vector upwards.
    * ``mlp=False``: attention only, ``x = x + attn(ln1(x))`` (post-norm ``x = ln1(x +
      attn(x))``); ``mlp`` and ``ln2`` are None.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        C = config.n_embd
        self.post = config.norm == "post"  # "none" runs the pre-norm path with Identity norms
        self.residual = config.residual
        self.ln1 = _layer_norm(config)
        self.attn = MultiHeadAttention(
            C,
            config.n_head,
            dropout=config.dropout,
            bias=config.bias,
            fused=config.fused,
            rotary=config.pos_emb == "rope",
        )
        self.ln2 = _layer_norm(config) if config.mlp else None
        self.mlp = MLP(config) if config.mlp else None
        self.resid_dropout = nn.Dropout(config.dropout)
        self.norm = config.norm  # for extra_repr

    def _attend(self, x: torch.Tensor, kv_cache: KVCache | None) -> torch.Tensor:
        y, _ = self.attn(x, is_causal=True, kv_cache=kv_cache)  # (B, T, C)
        return self.resid_dropout(y)

    def _add(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The residual connection: the stream plus a sublayer's output, or the output alone."""
        return x + y if self.residual else y

    def forward(self, x: torch.Tensor, kv_cache: KVCache | None = None) -> torch.Tensor:
        """``x`` ``(B, T, C)`` -> ``(B, T, C)``. With ``kv_cache``, ``x`` holds only the new
        positions; the cache supplies the keys and values of the earlier ones."""
        if self.post:
            x = self.ln1(self._add(x, self._attend(x, kv_cache)))
            if self.mlp is not None:
                x = self.ln2(self._add(x, self.mlp(x)))
        else:
            x = self._add(x, self._attend(self.ln1(x), kv_cache))
            if self.mlp is not None:
                x = self._add(x, self.mlp(self.ln2(x)))
        return x

    def extra_repr(self) -> str:
        return f"norm={self.norm!r}" + ("" if self.residual else ", residual=False")


def _layer_norm(config: GPTConfig) -> nn.Module:
    """A LayerNorm of width C, or ``nn.Identity`` (no parameters) with ``norm="none"``."""
    if config.norm == "none":
        return nn.Identity()
    return nn.LayerNorm(config.n_embd, bias=config.bias)


# --- the model ------------------------------------------------------------------------------


class GPT(nn.Module):
    """A decoder-only transformer language model (Radford et al. 2018, 2019).

    ``model(ids)`` with ``ids`` ``(B, T)``, ``T <= block_size``, returns ``(logits, None)`` with
    logits ``(B, T, V)``: at each position, scores for the next token given that position and the
    ones before it (never the ones after). ``model(ids, targets)`` also returns the mean
    cross-entropy against ``targets`` ``(B, T)`` (nats per token).

    An input longer than ``block_size`` is an error (the model has no position beyond it);
    :func:`generate` crops its context to the last ``block_size`` tokens itself.
    """

    def __init__(self, config: GPTConfig):
        super().__init__()
        self.config = c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.n_embd)
        if c.pos_emb == "learned":
            self.pos_emb = nn.Embedding(c.block_size, c.n_embd)
        elif c.pos_emb == "sinusoidal":  # a buffer: saved with the model, never trained
            self.register_buffer(
                "pos_table", sinusoidal_positions(c.block_size, c.n_embd), persistent=False
            )
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        # pre-norm leaves the residual stream unnormalised: one last LayerNorm before the head
        self.ln_f = _layer_norm(c) if c.norm == "pre" else nn.Identity()
        self.head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_weights:
            self.head.weight = self.tok_emb.weight  # one (V, C) matrix, two uses
        self.apply(self._init_weights)
        # GPT-2: each residual branch's last layer starts smaller, so the sum of 2L branches
        # (L without the MLPs) keeps the residual stream's scale at initialisation
        branches = c.n_layer * (2 if c.mlp else 1)
        for name, p in self.named_parameters():
            if name.endswith(("attn.out_proj.weight", "mlp.proj.weight")):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(branches))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    @property
    def block_size(self) -> int:
        return self.config.block_size

    def positions(self, start: int, T: int) -> torch.Tensor:
        """Position vectors for positions ``start .. start + T - 1``, ``(T, C)`` (zeros with
        rotary positions, which are not added to the input)."""
        if self.config.pos_emb == "learned":
            return self.pos_emb(torch.arange(start, start + T, device=self.tok_emb.weight.device))
        if self.config.pos_emb == "rope":
            return self.tok_emb.weight.new_zeros(T, self.config.n_embd)
        return self.pos_table[start : start + T]

    def features(
        self, idx: torch.Tensor, *, kv_caches: list[KVCache] | None = None
    ) -> torch.Tensor:
        """The final hidden states ``(B, T, C)`` (after the last LayerNorm, if any), what the output
        layer reads: a feature vector per position, e.g. for a classifier head. Arguments as
        :meth:`forward`."""
        start = len(kv_caches[0]) if kv_caches else 0  # positions the caches already hold
        _check_gpt_input(idx, start, kv_caches, len(self.blocks), self.config.block_size)
        T = idx.size(1)
        tok = self.tok_emb(idx)  # (B, T, C)
        if self.config.pos_emb == "sinusoidal":
            # Vaswani et al. scale the token vectors by sqrt(C): the sines and cosines have size
            # ~0.7 per channel, and small token vectors would drown under them
            tok = tok * math.sqrt(self.config.n_embd)
        if self.config.pos_emb != "rope":  # rotary positions act inside attention instead
            tok = tok + self.positions(start, T)
        x = self.drop(tok)  # (B, T, C)
        for i, block in enumerate(self.blocks):
            x = block(x, kv_caches[i] if kv_caches is not None else None)
        return self.ln_f(x)

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        *,
        kv_caches: list[KVCache] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits for the next token at every position, and the loss when ``targets`` are given.

        Args:
            idx: token ids ``(B, T)``.
            targets: the next token at each position ``(B, T)``, or None.
            kv_caches: one :class:`~course_lib.attention.KVCache` per layer (see
                :meth:`new_kv_caches`). ``idx`` then holds only the positions the caches have not
                seen; their positions continue from the caches' length.

        Returns:
            ``(logits (B, T, V), loss)``; loss is None without targets.
        """
        logits = self.head(self.features(idx, kv_caches=kv_caches))  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
        return logits, loss

    def new_kv_caches(self) -> list[KVCache]:
        """Empty caches, one per layer, for step-by-step decoding."""
        return [KVCache() for _ in self.blocks]

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Trainable parameters (a tied matrix counts once). ``non_embedding=True`` leaves out
        the token and learned position tables, the count scaling laws use (Kaplan et al. 2020)."""
        n = sum(p.numel() for p in self.parameters())
        if non_embedding:
            n -= self.tok_emb.weight.numel()
            if self.config.pos_emb == "learned":
                n -= self.pos_emb.weight.numel()
            if not self.config.tie_weights:
                n -= self.head.weight.numel()
        return n

    def flops_per_token(self, T: int | None = None) -> int:
        """Training FLOPs per token, forward and backward (Kaplan et al. 2020): ``6 N`` for the
        weight matrices (2 FLOPs per multiply-add, times 3 with the backward pass; N counts the
        output layer's matmul even when tied) plus ``6 L T C`` for attention's scores and
        weighted sums at context length ``T``."""
        c = self.config
        T = c.block_size if T is None else T
        N = self.num_parameters(non_embedding=True) + c.vocab_size * c.n_embd  # head matmul
        return 6 * N + 6 * c.n_layer * T * c.n_embd

    def extra_repr(self) -> str:
        c = self.config
        ablations = "".join(
            f", {name}=False" for name in ("residual", "mlp") if not getattr(c, name)
        )
        return (
            f"layers={c.n_layer}, heads={c.n_head}, n_embd={c.n_embd}, block_size={c.block_size}, "
            f"pos_emb={c.pos_emb!r}, norm={c.norm!r}, tied={c.tie_weights}{ablations}"
        )


def num_parameters_formula(config: GPTConfig) -> int:
    """The parameter count of ``GPT(config)`` in closed form, the formula the lesson derives.

    With biases (``b = 1``; ``b = 0`` without), width C, L layers, vocabulary V, block size T:

    * token embedding ``V C``; learned positions ``T C`` (sinusoidal, rotary: 0);
    * per block: attention ``4 C^2 + 4 b C`` (q, k, v and output projections), MLP
      ``8 C^2 + 5 b C`` (``C -> 4C -> C``), two LayerNorms ``2 (C + b C)``:
      ``12 C^2 + 2C + 11 b C`` in all;
    * final LayerNorm ``C + b C`` (pre-norm only); output layer ``V C`` unless tied.

    The ablations: ``mlp=False`` drops the MLP and its LayerNorm (``8 C^2 + 5 b C`` and
    ``C + b C`` per block); ``norm="none"`` drops every LayerNorm; ``residual=False`` changes no
    parameter.
    """
    C, L, V, T = config.n_embd, config.n_layer, config.vocab_size, config.block_size
    b = 1 if config.bias else 0
    layer_norm = 0 if config.norm == "none" else C + b * C
    n = V * C
    if config.pos_emb == "learned":
        n += T * C
    attention = 4 * C * C + 4 * b * C + layer_norm
    mlp = 8 * C * C + 5 * b * C + layer_norm if config.mlp else 0
    n += L * (attention + mlp)
    if config.norm == "pre":
        n += layer_norm
    if not config.tie_weights:
        n += V * C
    return n


# --- sampling -------------------------------------------------------------------------------


@torch.no_grad()
def generate(
    model: GPT,
    prompt_ids,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    *,
    seed: int | None = None,
    use_cache: bool = True,
) -> torch.Tensor:
    """Continue ``prompt_ids`` by sampling ``max_new_tokens`` tokens, one at a time.

    Args:
        model: a :class:`GPT`.
        prompt_ids: the start, ``(T,)`` or ``(B, T)`` token ids (a list or a tensor), ``T >= 1``.
        max_new_tokens: how many tokens to add.
        temperature, top_k, top_p: how the next token is drawn (:mod:`course_lib.sampling`:
            temperature 0 is greedy, 1 samples the model's own distribution; top-k keeps the
            ``k`` most likely tokens, top-p the nucleus holding probability ``p``).
        seed: seeds the sampling (default: PyTorch's global generator).
        use_cache: keep each layer's keys and values (a KV cache) so each new token costs one
            position's work instead of re-reading the whole context. The tokens are the same
            either way.

    The model reads at most ``block_size`` tokens: the context is cropped to its last
    ``block_size`` tokens. With the cache, the cached positions cannot slide (each key was made
    with its absolute position), so once the context is full the cache is refilled from the last
    ``block_size`` tokens at each step, exactly what the cache-less path reads.

    Returns:
        the prompt followed by the new tokens, on the CPU: ``(T + max_new_tokens,)`` or
        ``(B, T + max_new_tokens)``, like ``prompt_ids``.
    """
    ids, single = prompt_batch(prompt_ids, model.config.vocab_size)  # (B, T)
    check_generate_args(max_new_tokens, temperature, top_k, top_p)
    device = next(model.parameters()).device
    out = ids.to(device)  # (B, T)
    gen = sampling_generator(seed, device)
    bs = model.config.block_size
    was_training = model.training
    model.eval()
    caches = None
    try:
        for _ in range(max_new_tokens):
            if not use_cache:
                logits, _ = model(out[:, -bs:])  # re-read the whole (cropped) context
            elif caches is None or len(caches[0]) >= bs:
                caches = model.new_kv_caches()  # (re)fill the cache with the context
                logits, _ = model(out[:, -bs:], kv_caches=caches)
            else:
                logits, _ = model(out[:, -1:], kv_caches=caches)  # only the newest token
            nxt = sample_next(logits[:, -1], temperature, top_k, top_p, generator=gen)  # (B, 1)
            out = torch.cat([out, nxt], dim=1)
    finally:
        model.train(was_training)
    return out[0].cpu() if single else out.cpu()


# --- looking inside -------------------------------------------------------------------------


@torch.no_grad()
def attention_maps(model: GPT, ids) -> torch.Tensor:
    """Every layer's and every head's attention weights for a sequence.

    Args:
        model: a :class:`GPT`.
        ids: ``(T,)`` or ``(B, T)`` token ids, ``T <= block_size``.

    Returns:
        ``(L, H, T, T)`` for one sequence (``(B, L, H, T, T)`` for a batch): entry
        ``[layer, head, i, j]`` is how much position ``i`` attends to position ``j`` (zero for
        ``j > i``; each row sums to 1).
    """
    ids = torch.as_tensor(ids, dtype=torch.long)
    single = ids.dim() == 1
    x = ids[None] if single else ids
    was_training = model.training
    model.eval()
    try:
        with record_attention(model) as maps:  # the layers switch to the weight-returning path
            model(x.to(next(model.parameters()).device))
    finally:
        model.train(was_training)
    w = torch.stack(maps, dim=1).cpu()  # (B, L, H, T, T)
    return w[0] if single else w


@torch.no_grad()
def evaluate_gpt(model: GPT, ids, batch_size: int = 32, *, stride: int | None = None) -> float:
    """Mean cross-entropy (nats per token) on the whole of ``ids`` ``(N,)``; every token after
    the first is predicted exactly once (the positions an n-gram scores).

    ``stride=None``: the text is cut into consecutive windows of ``block_size`` tokens, each
    read on its own, as in training (lesson 03's ``evaluate_lm`` with fresh states): a token's
    context is whatever precedes it in its window, ``block_size / 2`` on average.

    ``stride=s`` (``1 <= s <= block_size``): a sliding window. Windows of ``block_size`` tokens
    start every ``s`` tokens and each scores only its last ``s`` predictions (the first window
    scores all), so every token after the first window is predicted with at least
    ``block_size - s`` tokens of context: the transformer's counterpart of a recurrent model
    reading the text as one stream. It costs ``block_size / s`` times as much."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    T = model.config.block_size
    _check_eval_args(ids, stride, T)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    N = len(ids) - 1  # predictions: ids[j + 1] from ids[: j + 1]
    total = 0.0
    try:
        if stride is None or N <= T:
            n = N // T
            x, y = ids[: n * T].view(n, T), ids[1 : n * T + 1].view(n, T)
            for i in range(0, n, batch_size):
                logits, _ = model(x[i : i + batch_size].to(device))
                total += F.cross_entropy(
                    logits.flatten(0, 1),
                    y[i : i + batch_size].flatten().to(device),
                    reduction="sum",
                ).item()
            if n * T < N:  # the last, shorter window
                logits, _ = model(ids[n * T : -1][None].to(device))
                total += F.cross_entropy(
                    logits[0], ids[n * T + 1 :].to(device), reduction="sum"
                ).item()
        else:
            starts_t, first_t = _sliding_windows(N, T, stride)
            pos = torch.arange(T)
            for i in range(0, len(starts_t), batch_size):
                idx = starts_t[i : i + batch_size, None] + pos  # (b, T)
                logits, _ = model(ids[idx].to(device))
                losses = F.cross_entropy(
                    logits.transpose(1, 2), ids[idx + 1].to(device), reduction="none"
                )  # (b, T)
                keep = (pos[None, :] >= first_t[i : i + batch_size, None]).to(device)
                total += losses[keep].sum().item()
    finally:
        model.train(was_training)
    return total / N


def _sliding_windows(N: int, T: int, stride: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(starts, first)``: window k reads positions ``starts[k] .. starts[k] + T - 1`` of ``N``
    predictions and scores them from its position ``first[k]`` on, so each is scored once."""
    starts = list(range(0, N - T + 1, stride))
    first = [0] + [T - stride] * (len(starts) - 1)
    covered = starts[-1] + T
    if covered < N:  # a last window flush with the end scores what is left
        starts.append(N - T)
        first.append(T - (N - covered))
    return torch.tensor(starts), torch.tensor(first)


# --- checks ---------------------------------------------------------------------------------


def _check_gpt_config(c: GPTConfig) -> None:
    for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
        value = getattr(c, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if c.n_embd % c.n_head:
        raise ValueError(
            f"n_embd={c.n_embd} must be divisible by n_head={c.n_head}: each head "
            f"gets n_embd // n_head channels"
        )
    if c.pos_emb not in ("learned", "sinusoidal", "rope"):
        raise ValueError(f"pos_emb must be 'learned', 'sinusoidal' or 'rope', got {c.pos_emb!r}")
    if c.activation not in ("gelu", "relu2"):
        raise ValueError(f"activation must be 'gelu' or 'relu2', got {c.activation!r}")
    if c.pos_emb == "rope" and (c.n_embd // c.n_head) % 2:
        raise ValueError(
            f"rotary positions need an even head size, got n_embd // n_head = "
            f"{c.n_embd // c.n_head}"
        )
    if c.norm not in ("pre", "post", "none"):
        raise ValueError(f"norm must be 'pre', 'post' or 'none', got {c.norm!r}")
    for name in ("bias", "tie_weights", "fused", "residual", "mlp"):
        value = getattr(c, name)
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}")
    if c.pos_emb == "sinusoidal" and c.n_embd % 2:
        raise ValueError(f"sinusoidal positions need an even n_embd, got {c.n_embd}")
    if not 0.0 <= c.dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {c.dropout}")


def _check_gpt_input(idx, start: int, kv_caches, n_layer: int, block_size: int) -> None:
    if idx.dim() != 2:
        raise ValueError(f"idx must be (B, T) token ids, got shape {tuple(idx.shape)}")
    T = idx.size(1)
    if start + T > block_size:
        raise ValueError(
            f"the input has {start + T} positions"
            + (f" ({start} cached + {T} new)" if start else "")
            + f" but block_size is {block_size}: the model has no position "
            f"beyond it. Crop the input to its last {block_size} tokens "
            f"(idx[:, -{block_size}:]), as generate() does"
        )
    if kv_caches is not None and len(kv_caches) != n_layer:
        raise ValueError(
            f"kv_caches must hold one KVCache per layer ({n_layer}), got {len(kv_caches)}"
        )


def _check_eval_args(ids: torch.Tensor, stride: int | None, T: int) -> None:
    if ids.dim() != 1 or len(ids) < 2:
        raise ValueError(f"ids must be 1-D with at least 2 tokens, got shape {tuple(ids.shape)}")
    if stride is not None and not (isinstance(stride, int) and 1 <= stride <= T):
        raise ValueError(f"stride must be an int in 1..block_size={T} or None, got {stride!r}")
