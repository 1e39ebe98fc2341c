"""A neural language model of a fixed context: the MLP of Bengio et al. (2003).

The step between lesson 03's counted n-grams (:mod:`course_lib.ngram`) and its recurrent models
(:mod:`course_lib.rnn`). Like an n-gram, it predicts the next character from the previous
``context`` characters (K below) and nothing else; unlike an n-gram, it does not count: each
character has a learned embedding vector, the K vectors are concatenated and fed to one
hidden layer, and a softmax gives the next character's distribution. Similar contexts get
similar vectors, so what is learned about one context carries over to contexts never seen in
training, where an n-gram can only back off to a shorter one.

Shapes: B batch, T positions, K context (window length), E embedding width per character,
H hidden units, V vocabulary size.

Conventions:

- **Windows.** Position t predicts the token after ``x[t]`` from the window
  ``x[t-K+1 .. t]``, oldest first: the embeddings are concatenated in that order,
  ``(B, T, K * E)``. Nothing outside the window reaches position t.
- **Start padding.** Where fewer than K tokens precede position t (the first K - 1 positions of
  a sequence read from scratch), the missing ones are a learned *start* token: an extra row of
  the embedding table, id ``vocab_size`` (:attr:`MLPLM.start_id`), never a real input or target.
- **State.** ``logits, state = model(x, state)``, the same call as
  :class:`~course_lib.rnn.CharRNN`. The state of a fixed-window model is simply its last K - 1
  input ids, ``(B, K - 1)``: everything it could ever need from the past, and nothing more (an
  RNN's state is a learned summary of *all* the past, squeezed into H numbers). Passing it back
  in continues the text: ``model(x[:, :8])`` then ``model(x[:, 8:], state)`` gives exactly the
  logits of ``model(x)``. So :func:`course_lib.rnn.evaluate_lm` with ``carry_state=True`` reads
  the validation split as one stream and every character gets its full context of K
  characters, as an n-gram is scored; read in separate windows (``carry_state=False``), the
  first K - 1 positions of every window see start tokens instead of the text before them.
- **Dropout** (training only) on the concatenated embeddings and on the hidden layer.

:func:`course_lib.rnn.generate` (sampling) and :func:`course_lib.rnn.evaluate_lm` work with an
:class:`MLPLM` unchanged, as does the shared loop (:func:`course_lib.train.train`). Bengio et
al. also had direct connections from the embeddings to the output; we leave them out, as
Karpathy's *makemore* does. The lesson's training run is :class:`course_lib.runs.MLPLMRecipe`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .rnn import _check_tokenizer


@dataclass
class MLPLMConfig:
    """Sizes of an :class:`MLPLM`.

    Args:
        vocab_size: V, the real tokens (the start token is added on top: the embedding table has
            V + 1 rows).
        context: K, how many tokens the model sees: the token at t and the K - 1 before it.
        n_embd: E, the embedding width of one token (the hidden layer reads K * E numbers).
        hidden: H, units in the tanh hidden layer.
        dropout: on the concatenated embeddings and on the hidden layer (training only).
    """

    vocab_size: int
    context: int = 8
    n_embd: int = 24
    hidden: int = 256
    dropout: float = 0.0

    def __post_init__(self):
        _check_mlp_lm_config(self)


class MLPLM(nn.Module):
    """Embed the last K tokens, concatenate, one tanh hidden layer, a linear head to V logits.

    ``logits, state = model(idx, state)`` with ``idx (B, T)`` token ids, ``logits (B, T, V)`` and
    ``state (B, K - 1)``, the last K - 1 ids read (start ids where fewer were read): the call of
    :class:`~course_lib.rnn.CharRNN`, so training, evaluation and generation are shared.

    For the window ``w = (w_1, ..., w_K)`` ending at position t::

        x = [C[w_1], ..., C[w_K]]          (K * E,)   C: the embedding table, (V + 1, E)
        h = tanh(W_h x + b_h)              (H,)
        logits = W_o h + b_o               (V,)

    Parameters: ``(V + 1) E + (K E + 1) H + (H + 1) V``.

    Args:
        config: the sizes, an :class:`MLPLMConfig`.
        tokenizer: kept on the model (not in its state dict) to encode prompts and decode
            samples, as :class:`~course_lib.rnn.CharRNN` keeps it.
    """

    def __init__(self, config: MLPLMConfig, *, tokenizer=None):
        super().__init__()
        _check_tokenizer(tokenizer, config.vocab_size)
        self.config = c = config
        self.tokenizer = tokenizer
        self.embed = nn.Embedding(c.vocab_size + 1, c.n_embd)  # the last row: the start token
        self.hidden = nn.Linear(c.context * c.n_embd, c.hidden)
        self.head = nn.Linear(c.hidden, c.vocab_size)
        self.drop = nn.Dropout(c.dropout)

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    @property
    def context(self) -> int:
        return self.config.context

    @property
    def start_id(self) -> int:
        """The id of the start token that pads a window with too little text before it."""
        return self.config.vocab_size

    def windows(self, idx: torch.Tensor, state: torch.Tensor | None = None) -> torch.Tensor:
        """The ids each position sees, ``(B, T, K)``: row t is ``idx[t-K+1 .. t]``, oldest
        first, taken from ``state`` (the K - 1 ids before ``idx``) or start ids where the
        sequence is shorter. ``tok.decode`` a row (start ids left out) to read it."""
        return self._padded(idx, state).unfold(1, self.context, 1)  # (B, T, K)

    def forward(self, idx: torch.Tensor, state: torch.Tensor | None = None):
        """``(logits (B, T, V), state (B, K - 1))`` for token ids ``idx (B, T)``, continuing
        from ``state`` (the one a previous call returned) or from start tokens (None)."""
        padded = self._padded(idx, state)  # (B, K - 1 + T)
        windows = padded.unfold(1, self.context, 1)  # (B, T, K)
        x = self.embed(windows).flatten(2)  # (B, T, K * E): the K vectors side by side
        h = torch.tanh(self.hidden(self.drop(x)))  # (B, T, H)
        logits = self.head(self.drop(h))  # (B, T, V)
        return logits, padded[:, idx.shape[1] :]  # the last K - 1 ids: the next call's past

    def _padded(self, idx: torch.Tensor, state: torch.Tensor | None) -> torch.Tensor:
        """``idx (B, T)`` after the K - 1 ids before it: ``(B, K - 1 + T)``."""
        _check_ids(idx, self.vocab_size)
        B, K = idx.shape[0], self.context
        if state is None:
            state = idx.new_full((B, K - 1), self.start_id)
        _check_state(state, B, K, self.vocab_size)
        return torch.cat([state.to(idx), idx], dim=1)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        c = self.config
        return f"context={c.context}, start_id={self.start_id}, dropout={c.dropout}"


# --- checks ---------------------------------------------------------------------------------


def _check_mlp_lm_config(c: MLPLMConfig) -> None:
    for name in ("vocab_size", "context", "n_embd", "hidden"):
        value = getattr(c, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not isinstance(c.dropout, int | float) or not 0.0 <= c.dropout < 1.0:
        raise ValueError(f"dropout must be a number in [0, 1) (0 turns it off), got {c.dropout!r}")


def _is_int_tensor(t) -> bool:
    return isinstance(t, torch.Tensor) and not (
        t.is_floating_point() or t.is_complex() or t.dtype == torch.bool
    )


def _describe(t) -> str:
    if isinstance(t, torch.Tensor):
        return f"shape {tuple(t.shape)}, {t.dtype}"
    return f"a {type(t).__name__}"


def _check_ids(idx, vocab_size: int) -> None:
    if not _is_int_tensor(idx) or idx.dim() != 2 or idx.shape[1] < 1:
        got = _describe(idx)
        raise ValueError(
            f"MLPLM expects token ids as an integer tensor of shape (B, T) with T >= 1, got "
            f"{got}: batch one sequence with ids[None] (e.g. torch.tensor(tok.encode(text))[None])"
        )
    if idx.numel() and (idx.min() < 0 or idx.max() >= vocab_size):
        raise ValueError(
            f"token ids must be in 0..{vocab_size - 1}, got min {int(idx.min())}, max "
            f"{int(idx.max())}: encode with the tokenizer whose vocab_size the model was built "
            f"with (id {vocab_size} is the start token, added by the model itself)"
        )


def _check_state(state, B: int, K: int, vocab_size: int) -> None:
    if not _is_int_tensor(state) or tuple(state.shape) != (B, K - 1):
        got = _describe(state)
        raise ValueError(
            f"the state of an MLPLM with context={K} is the last {K - 1} ids of each sequence, an "
            f"integer tensor of shape (B, {K - 1}) = ({B}, {K - 1}); got {got}. Pass the state a "
            "previous call returned for the same batch, or None to start from start tokens"
        )
    if state.numel() and (state.min() < 0 or state.max() > vocab_size):
        raise ValueError(
            f"state ids must be in 0..{vocab_size} ({vocab_size} is the start token), got min "
            f"{int(state.min())}, max {int(state.max())}: pass the state a previous call returned"
        )
