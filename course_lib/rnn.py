"""Recurrent language models from scratch: RNN and LSTM cells, stacks of them with the exact
parameter layout of ``nn.RNN`` / ``nn.LSTM``, a character language model that runs on either,
text generation, and probes for the vanishing-gradient problem.

Shapes: B batch, T time steps, I input size, H hidden size, L layers, V vocabulary size.

- :func:`rnn_cell`, :func:`lstm_cell`: one time step, as plain functions of the weights.
- :class:`RNNCell`, :class:`LSTMCell`: modules with the parameter names and shapes of
  ``nn.RNNCell`` / ``nn.LSTMCell`` (``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``; LSTM
  gate order i, f, g, o), so a state dict moves between ours and PyTorch's.
- :class:`RNN`, :class:`LSTM`: L layers run with a Python loop over time, with the parameter
  names of ``nn.RNN`` / ``nn.LSTM`` (``weight_ih_l0``, ...): the same state dict as the fused ones.
- :class:`CharRNN`: embedding -> recurrent stack -> linear head, sized by a
  :class:`CharRNNConfig`; ``fused=True`` uses PyTorch's ``nn.RNN`` / ``nn.LSTM`` (fast),
  ``fused=False`` ours (same weights, same outputs).
- :func:`generate`: sampling with temperature, top-k and top-p, carrying the recurrent state
  (the sampler is :mod:`course_lib.sampling`, shared with lesson 05's transformer).
- :func:`evaluate_lm`: loss over a whole text; :func:`input_gradient_norms`: how much the loss
  at the last step depends on the input k steps back; :func:`trace_lstm`: gates over a text.

The lesson's training runs (``CharRNNRecipe``, ``RECIPES``, ``train_char_model``) are in
:mod:`course_lib.runs`.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from .sampling import check_generate_args, prompt_batch, sample_next, sampling_generator
from .sampling import next_token_probs as next_token_probs  # re-exported: lesson 03's name

CELLS = ("rnn", "lstm")

# --- one time step --------------------------------------------------------------------------


def rnn_cell(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None, nonlinearity="tanh"):
    """One step of an Elman RNN: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    Args:
        x: input ``(B, I)``; h: previous hidden state ``(B, H)``.
        weight_ih ``(H, I)``, weight_hh ``(H, H)``, bias_ih, bias_hh ``(H,)`` or None.
        nonlinearity: ``"tanh"`` (default) or ``"relu"``.
    Returns:
        the new hidden state ``(B, H)``.
    """
    pre = F.linear(x, weight_ih, bias_ih) + F.linear(h, weight_hh, bias_hh)
    return torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)


def lstm_gates(x, h, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """The four LSTM gates for input ``x (B, I)`` and previous hidden state ``h (B, H)``.

    The weights stack the gates in PyTorch's order i, f, g, o: ``weight_ih (4H, I)``,
    ``weight_hh (4H, H)``, biases ``(4H,)``. Returns ``(i, f, g, o)``, each ``(B, H)``: input gate,
    forget gate and output gate in (0, 1) (sigmoid), candidate values g in (-1, 1) (tanh)."""
    z = F.linear(x, weight_ih, bias_ih) + F.linear(h, weight_hh, bias_hh)  # (B, 4H)
    i, f, g, o = z.chunk(4, dim=-1)
    return torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)


def lstm_cell(x, state, weight_ih, weight_hh, bias_ih=None, bias_hh=None):
    """One LSTM step (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000).

    ``c' = f * c + i * g`` (the cell state: forget some, write some) and
    ``h' = o * tanh(c')`` (what the cell shows the next layer and the next step).

    Args:
        x: input ``(B, I)``; state: ``(h, c)``, each ``(B, H)``; weights as :func:`lstm_gates`.
    Returns:
        ``(h', c')``, each ``(B, H)``.
    """
    h, c = state
    i, f, g, o = lstm_gates(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
    c = f * c + i * g
    return o * torch.tanh(c), c


def rnn_bptt(xs, h0, weight_ih, weight_hh, bias_ih, bias_hh, grad_hs) -> dict:
    """Backpropagation through time for a tanh RNN, by hand (what autograd does for us).

    Forward: ``h_t = tanh(a_t)``, ``a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh``. Backward,
    from the last step to the first, with ``dh`` the gradient reaching ``h_t``::

        dh  = grad_hs[t] + (gradient from step t+1)    # h_t feeds the loss and the next step
        da  = dh * (1 - h_t**2)                        # through tanh
        dW_ih += da^T x_t;  dW_hh += da^T h_{t-1};  db += sum_b da
        dx_t = da W_ih;     (gradient to h_{t-1}) = da W_hh

    Every step back multiplies the gradient by ``diag(1 - h_t**2) W_hh``: a product of T matrices,
    which shrinks or grows exponentially with T (vanishing / exploding gradients).

    Args:
        xs ``(T, B, I)``, h0 ``(B, H)``, the weights as :func:`rnn_cell`;
        grad_hs ``(T, B, H)``: d loss / d h_t through the outputs only (e.g. from a head).
    Returns:
        ``{"x": (T, B, I), "h0": (B, H), "weight_ih", "weight_hh", "bias_ih", "bias_hh",
        "dh_norm": (T,)}`` where ``dh_norm[t]`` is the norm of the total gradient reaching h_t.
    """
    with torch.no_grad():
        hs = [h0]
        for x in xs:
            hs.append(rnn_cell(x, hs[-1], weight_ih, weight_hh, bias_ih, bias_hh))
        d_wih, d_whh = torch.zeros_like(weight_ih), torch.zeros_like(weight_hh)
        d_b = torch.zeros(weight_hh.shape[0], dtype=weight_hh.dtype)
        dxs, dh_norm = torch.zeros_like(xs), torch.zeros(len(xs), dtype=xs.dtype)
        dh_next = torch.zeros_like(h0)
        for t in reversed(range(len(xs))):
            dh = grad_hs[t] + dh_next
            dh_norm[t] = dh.norm()
            da = dh * (1 - hs[t + 1] ** 2)  # (B, H)
            d_wih += da.T @ xs[t]
            d_whh += da.T @ hs[t]
            d_b += da.sum(0)
            dxs[t] = da @ weight_ih
            dh_next = da @ weight_hh
    return {
        "x": dxs,
        "h0": dh_next,
        "weight_ih": d_wih,
        "weight_hh": d_whh,
        "bias_ih": d_b,
        "bias_hh": d_b.clone(),
        "dh_norm": dh_norm,
    }


# --- cells as modules -----------------------------------------------------------------------


def _batched(x: torch.Tensor, input_size: int, name: str) -> tuple[torch.Tensor, bool]:
    """``x`` as ``(B, I)`` and whether it came unbatched ``(I,)``, as PyTorch's cells accept."""
    if x.dim() not in (1, 2) or x.shape[-1] != input_size:
        raise ValueError(
            f"{name} expects input of shape (B, {input_size}) or ({input_size},), "
            f"got {tuple(x.shape)}"
        )
    return (x.unsqueeze(0), True) if x.dim() == 1 else (x, False)


class RNNCell(nn.Module):
    """Our ``nn.RNNCell``: ``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``.

    Same parameters (``weight_ih (H, I)``, ``weight_hh (H, H)``, ``bias_ih``, ``bias_hh (H,)``),
    same initialisation (uniform in ``±1/sqrt(H)``), same call: ``h = cell(x, h)`` with ``x (B, I)``
    and ``h (B, H)`` (zeros when omitted)."""

    def __init__(
        self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"
    ):
        super().__init__()
        _check_sizes(input_size, hidden_size)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.nonlinearity = nonlinearity
        self.weight_ih = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(hidden_size)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(hidden_size)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, h: torch.Tensor | None = None) -> torch.Tensor:
        x, unbatched = _batched(x, self.input_size, "RNNCell")
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        elif unbatched:
            h = h.unsqueeze(0)
        h = rnn_cell(
            x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, self.nonlinearity
        )
        return h.squeeze(0) if unbatched else h

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, nonlinearity={self.nonlinearity!r}"


class LSTMCell(nn.Module):
    """Our ``nn.LSTMCell``: ``h, c = cell(x, (h, c))``, with ``x (B, I)`` and ``h, c (B, H)``
    (zeros when the state is omitted).

    Same parameters as PyTorch's, the four gates stacked in the order i, f, g, o:
    ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, ``bias_ih``, ``bias_hh (4H,)``; so
    ``ours.load_state_dict(torch_cell.state_dict())`` works both ways."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        _check_sizes(input_size, hidden_size)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self.weight_ih = nn.Parameter(torch.empty(4 * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(4 * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(4 * hidden_size)) if bias else None
        self.bias_hh = nn.Parameter(torch.empty(4 * hidden_size)) if bias else None
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, state: tuple | None = None) -> tuple:
        x, unbatched = _batched(x, self.input_size, "LSTMCell")
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.hidden_size)
            state = (zeros, zeros)
        elif unbatched:
            state = tuple(s.unsqueeze(0) for s in state)
        h, c = lstm_cell(x, state, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}"


# --- stacks of cells with nn.RNN / nn.LSTM's parameter layout -------------------------------


class _Recurrent(nn.Module):
    """L layers of a cell, run step by step in Python, named like PyTorch's fused modules."""

    gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
    ):
        super().__init__()
        _check_sizes(input_size, hidden_size)
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f"num_layers must be an int >= 1, got {num_layers!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bias, self.batch_first, self.dropout = bias, batch_first, dropout
        G = self.gates * hidden_size
        for k in range(num_layers):
            inp = input_size if k == 0 else hidden_size
            self.register_parameter(f"weight_ih_l{k}", nn.Parameter(torch.empty(G, inp)))
            self.register_parameter(f"weight_hh_l{k}", nn.Parameter(torch.empty(G, hidden_size)))
            if bias:
                self.register_parameter(f"bias_ih_l{k}", nn.Parameter(torch.empty(G)))
                self.register_parameter(f"bias_hh_l{k}", nn.Parameter(torch.empty(G)))
        self.reset_parameters()

    def reset_parameters(self):
        bound = 1 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def layer_weights(self, k: int) -> tuple:
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of layer ``k`` (biases None if no bias)."""
        return tuple(
            getattr(self, f"{n}_l{k}", None)
            for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )

    def _check_input(self, x):
        if x.dim() != 3 or x.shape[-1] != self.input_size:
            order = "(B, T, I)" if self.batch_first else "(T, B, I)"
            raise ValueError(
                f"{type(self).__name__} expects input {order} with I={self.input_size}, "
                f"got shape {tuple(x.shape)}"
            )
        return x if self.batch_first else x.transpose(0, 1)  # (B, T, I) from here on

    def _out(self, out):
        return out if self.batch_first else out.transpose(0, 1)  # from (B, T, H)

    def extra_repr(self) -> str:
        return (
            f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
            f"batch_first={self.batch_first}, dropout={self.dropout}"
        )


class RNN(_Recurrent):
    """Our ``nn.RNN`` (tanh): ``output, h_n = rnn(x, h_0)``.

    ``x`` is ``(B, T, I)`` with ``batch_first=True``, else ``(T, B, I)``; ``h_0``/``h_n`` are
    ``(L, B, H)``; ``output`` holds the last layer's hidden state at every step. The parameters
    are ``weight_ih_l{k}``, ``weight_hh_l{k}``, ``bias_ih_l{k}``, ``bias_hh_l{k}``, as in
    ``nn.RNN``, so the two load each other's state dicts. Dropout (training only) applies
    between layers, as PyTorch's does."""

    def forward(self, x: torch.Tensor, h0: torch.Tensor | None = None):
        x = self._check_input(x)
        B, T, _ = x.shape
        if h0 is None:
            h0 = x.new_zeros(self.num_layers, B, self.hidden_size)
        finals = []
        for k in range(self.num_layers):
            w = self.layer_weights(k)
            h, ys = h0[k], []
            for t in range(T):  # the loop a fused kernel runs in C++
                h = rnn_cell(x[:, t], h, *w)
                ys.append(h)
            finals.append(h)
            x = torch.stack(ys, dim=1)  # (B, T, H): the next layer's input
            if k < self.num_layers - 1 and self.dropout > 0:
                x = F.dropout(x, self.dropout, self.training)
        return self._out(x), torch.stack(finals)


class LSTM(_Recurrent):
    """Our ``nn.LSTM``: ``output, (h_n, c_n) = lstm(x, (h_0, c_0))``.

    Shapes and parameter names as :class:`RNN` (the gates stacked i, f, g, o, so weights are
    ``(4H, ...)``), and as ``nn.LSTM``: the two load each other's state dicts."""

    gates = 4

    def forward(self, x: torch.Tensor, state: tuple | None = None):
        x = self._check_input(x)
        B, T, _ = x.shape
        if state is None:
            zeros = x.new_zeros(self.num_layers, B, self.hidden_size)
            state = (zeros, zeros)
        h0, c0 = state
        hs, cs = [], []
        for k in range(self.num_layers):
            w = self.layer_weights(k)
            h, c, ys = h0[k], c0[k], []
            for t in range(T):
                h, c = lstm_cell(x[:, t], (h, c), *w)
                ys.append(h)
            hs.append(h)
            cs.append(c)
            x = torch.stack(ys, dim=1)
            if k < self.num_layers - 1 and self.dropout > 0:
                x = F.dropout(x, self.dropout, self.training)
        return self._out(x), (torch.stack(hs), torch.stack(cs))


# --- the character language model -----------------------------------------------------------


@dataclass
class CharRNNConfig:
    """Sizes and choices of a :class:`CharRNN`, named as in
    :class:`~course_lib.transformer.GPTConfig` where they mean the same thing.

    Args:
        vocab_size: V.
        hidden_size: H, the size of the recurrent state (``nn.LSTM``'s name; it is not an
            embedding width, so not ``n_embd``).
        n_layer: L, recurrent layers stacked.
        cell: ``"lstm"`` or ``"rnn"`` (tanh).
        fused: True runs PyTorch's ``nn.LSTM`` / ``nn.RNN`` (one C++ kernel, fast); False runs
            our :class:`LSTM` / :class:`RNN` (a Python loop over time). Both have the same
            parameter names, so ``state_dict`` moves between the two; see
            :meth:`CharRNN.converted`.
        dropout: applied to the embeddings, between layers and before the head (training only).
        n_embd: E, the embedding width (None: ``hidden_size``).
        forget_bias: LSTM only: start every forget gate's bias here (``bias_ih`` part; the
            ``bias_hh`` part starts at 0), e.g. 1.0 so the cell remembers by default (Gers et
            al. 2000; Jozefowicz et al. 2015). None keeps PyTorch's initialisation.
    """

    vocab_size: int
    hidden_size: int = 256
    n_layer: int = 1
    cell: str = "lstm"
    fused: bool = True
    dropout: float = 0.0
    n_embd: int | None = None
    forget_bias: float | None = None

    def __post_init__(self):
        self.n_embd = self.hidden_size if self.n_embd is None else self.n_embd
        _check_char_rnn_config(self)


class CharRNN(nn.Module):
    """A character (or any token) language model: embedding -> recurrent stack -> linear head.

    ``logits, state = model(idx, state)`` with ``idx (B, T)`` int64, ``logits (B, T, V)``; the
    state (``(L, B, H)``, a pair of them for an LSTM) lets generation continue step by step.

    Args:
        config: the sizes and choices, a :class:`CharRNNConfig`.
        tokenizer: kept on the model (not in its state dict) to encode prompts and decode
            samples: ``model.tokenizer.decode(generate(model, ...))``.
    """

    def __init__(self, config: CharRNNConfig, *, tokenizer=None):
        super().__init__()
        _check_tokenizer(tokenizer, config.vocab_size)
        self.config = c = config
        self.cell, self.fused, self.tokenizer = c.cell, c.fused, tokenizer
        self.embed = nn.Embedding(c.vocab_size, c.n_embd)
        if c.fused:
            cls = nn.LSTM if c.cell == "lstm" else nn.RNN
        else:
            cls = LSTM if c.cell == "lstm" else RNN
        dropout = c.dropout if c.n_layer > 1 else 0.0  # between layers: none with one layer
        self.rnn = cls(c.n_embd, c.hidden_size, c.n_layer, batch_first=True, dropout=dropout)
        self.drop = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_size, c.vocab_size)
        if c.forget_bias is not None:
            H = c.hidden_size
            with torch.no_grad():  # gates stacked i, f, g, o: the forget gate is rows H..2H
                for k in range(c.n_layer):
                    getattr(self.rnn, f"bias_ih_l{k}")[H : 2 * H] = c.forget_bias
                    getattr(self.rnn, f"bias_hh_l{k}")[H : 2 * H] = 0.0

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    def forward_embeddings(self, emb: torch.Tensor, state=None):
        """The model from the embedded input ``emb (B, T, E)`` on: ``(logits (B, T, V), state)``.
        Lets :func:`input_gradient_norms` differentiate with respect to the inputs."""
        out, state = self.rnn(self.drop(emb), state)  # (B, T, H)
        return self.head(self.drop(out)), state

    def forward(self, idx: torch.Tensor, state=None):
        if idx.dim() != 2:
            raise ValueError(f"CharRNN expects token ids of shape (B, T), got {tuple(idx.shape)}")
        return self.forward_embeddings(self.embed(idx), state)

    def converted(self, fused: bool) -> CharRNN:
        """A copy of this model on the other backend (fused PyTorch or ours), same weights."""
        other = CharRNN(replace(self.config, fused=fused), tokenizer=self.tokenizer)
        other.load_state_dict(self.state_dict())
        p = next(self.parameters())
        return other.to(device=p.device, dtype=p.dtype).train(self.training)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}, fused={self.fused}"


# --- sampling -------------------------------------------------------------------------------


@torch.no_grad()
def generate(
    model: CharRNN,
    prompt_ids,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    *,
    seed: int | None = None,
) -> torch.Tensor:
    """Continue ``prompt_ids`` by sampling ``max_new_tokens`` tokens, one at a time, carrying the
    recurrent state: the prompt is read once, then each new token costs one step of the cell.

    Args:
        model: a :class:`CharRNN`.
        prompt_ids: the start, ``(T,)`` or ``(B, T)`` token ids (a list or a tensor), ``T >= 1``,
            e.g. ``tok.encode("ROMEO.\\n")``.
        max_new_tokens: how many tokens to add.
        temperature, top_k, top_p: how the next token is drawn (:mod:`course_lib.sampling`:
            temperature 0 is greedy, 1 samples the model's own distribution; top-k keeps the
            ``k`` most likely tokens, top-p the nucleus holding probability ``p``).
        seed: seeds the sampling (default: PyTorch's global generator).

    Returns:
        the prompt followed by the new tokens, on the CPU: ``(T + max_new_tokens,)`` or
        ``(B, T + max_new_tokens)``, like ``prompt_ids``. ``tok.decode(...)`` gives the text.
    """
    ids, single = prompt_batch(prompt_ids, model.vocab_size)  # (B, T)
    check_generate_args(max_new_tokens, temperature, top_k, top_p)
    device = next(model.parameters()).device
    out = new = ids.to(device)  # new: what the state has not read yet
    gen = sampling_generator(seed, device)
    was_training = model.training
    model.eval()
    state = None
    try:
        for _ in range(max_new_tokens):
            logits, state = model(new, state)  # (B, T_new, V)
            new = sample_next(logits[:, -1], temperature, top_k, top_p, generator=gen)  # (B, 1)
            out = torch.cat([out, new], dim=1)
    finally:
        model.train(was_training)
    return out[0].cpu() if single else out.cpu()


# --- evaluation and probes ------------------------------------------------------------------


@torch.no_grad()
def evaluate_lm(
    model: nn.Module,
    ids,
    block_size: int = 128,
    batch_size: int = 64,
    *,
    carry_state: bool = False,
) -> float:
    """Mean cross-entropy (nats per token) of ``model`` on the whole of ``ids``; every token
    after the first is predicted exactly once (the positions an n-gram scores). Deterministic,
    unlike a sample of random windows.

    ``carry_state=False``: the text is cut into consecutive windows of ``block_size`` tokens,
    each read from a fresh state, as in training (and as a model with a fixed context window
    reads it). ``carry_state=True`` (recurrent models, which take and return a state): the text
    is cut into ``batch_size`` long contiguous streams, each read from start to end in chunks of
    ``block_size`` with the state carried from chunk to chunk, so every prediction can use all
    the text before it in its stream (the classic evaluation of recurrent language models)."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    if ids.dim() != 1 or len(ids) < 2:
        raise ValueError(f"ids must be 1-D with at least 2 tokens, got shape {tuple(ids.shape)}")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device

    def score(x, y, state=None):
        out = model(x.to(device), state) if carry_state else model(x.to(device))
        logits = out[0] if isinstance(out, tuple) else out
        loss = F.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), y.to(device).reshape(-1), reduction="sum"
        ).item()
        return loss, (out[1] if carry_state else None)

    x_all, y_all = ids[:-1], ids[1:]
    N, total = len(x_all), 0.0
    try:
        if carry_state:
            streams = max(1, min(batch_size, N // block_size))
            L = N // streams
            xs, ys = x_all[: streams * L].view(streams, L), y_all[: streams * L].view(streams, L)
            state = None
            for i in range(0, L, block_size):
                loss, state = score(xs[:, i : i + block_size], ys[:, i : i + block_size], state)
                total += loss
            done = streams * L
        else:
            n = N // block_size
            xs = x_all[: n * block_size].view(n, block_size)
            ys = y_all[: n * block_size].view(n, block_size)
            for i in range(0, n, batch_size):
                total += score(xs[i : i + batch_size], ys[i : i + batch_size])[0]
            done = n * block_size
        if done < N:  # the last few tokens: one more, shorter window from a fresh state
            total += score(x_all[done:][None], y_all[done:][None])[0]
    finally:
        model.train(was_training)
    return total / N


def input_gradient_norms(
    model: CharRNN,
    ids: torch.Tensor,
    *,
    max_norm: float | None = None,
    dtype: torch.dtype | None = torch.float64,
) -> torch.Tensor:
    """How strongly the loss at the last step depends on each earlier input.

    For windows ``ids (B, T+1)``, the model reads ``ids[:, :T]`` and the loss is the
    cross-entropy of its last prediction (of ``ids[:, T]``). Returns ``norms (T,)`` with
    ``norms[k] = mean over the batch of || d loss / d x_{T-1-k} ||``: k = 0 is the last input,
    k = T-1 the first. The inputs x are the embedding vectors.

    ``max_norm`` clips as training does: the gradient, all steps together, is scaled down so its
    global norm is at most ``max_norm`` (one factor for all k: clipping caps an explosion but
    cannot change the shape of the curve).

    The gradients are computed on a float64 copy of the model by default (``dtype``), so that
    vanishing gradients of 1e-40 and below show as such instead of underflowing to 0."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    if dtype is not None and next(model.parameters()).dtype != dtype:
        model = copy.deepcopy(model).to(dtype)
    if ids.dim() != 2 or ids.shape[1] < 2:
        raise ValueError(f"ids must be (B, T+1) with T >= 1, got shape {tuple(ids.shape)}")
    was_training = model.training
    model.eval()
    try:
        emb = model.embed(ids[:, :-1]).detach().requires_grad_(True)  # (B, T, E)
        logits, _ = model.forward_embeddings(emb)
        loss = F.cross_entropy(logits[:, -1], ids[:, -1])
        (grad,) = torch.autograd.grad(loss, emb)  # (B, T, E)
    finally:
        model.train(was_training)
    if max_norm is not None:
        total = grad.norm()
        grad = grad * min(1.0, max_norm / (float(total) + 1e-12))
    return grad.norm(dim=-1).mean(0).flip(0).detach()


@torch.no_grad()
def trace_lstm(model: CharRNN, ids, layer: int | None = None) -> dict[str, torch.Tensor]:
    """Run an LSTM :class:`CharRNN` over one sequence ``ids (T,)`` step by step with our cell and
    record layer ``layer``'s (default: the last) gates and states.

    Returns ``{"i", "f", "g", "o", "c", "h"}``, each ``(T, H)``: input, forget and output gates,
    candidate, cell state and hidden state after reading each token. Works for a fused or an
    unfused model (the weights have the same names)."""
    if model.cell != "lstm":
        raise ValueError("trace_lstm needs an LSTM model (cell='lstm')")
    ids = torch.as_tensor(ids, dtype=torch.long)
    if ids.dim() != 1:
        raise ValueError(f"ids must be 1-D (one sequence), got shape {tuple(ids.shape)}")
    L, H = model.config.n_layer, model.config.hidden_size
    layer = L - 1 if layer is None else layer
    if not 0 <= layer < L:
        raise ValueError(f"layer must be in 0..{L - 1}, got {layer}")
    device = next(model.parameters()).device
    x = model.embed(ids.to(device))  # (T, E)
    for k in range(layer + 1):
        w = [
            getattr(model.rnn, f"{n}_l{k}", None)
            for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        ]
        h = c = x.new_zeros(1, H)
        rec = {n: [] for n in "ifgoch"}
        for t in range(len(ids)):
            i, f, g, o = lstm_gates(x[t : t + 1], h, *w)
            c = f * c + i * g
            h = o * torch.tanh(c)
            for n, v in zip("ifgoch", (i, f, g, o, c, h), strict=True):
                rec[n].append(v[0])
        x = torch.stack(rec["h"])  # the next layer's input (T, H)
    return {n: torch.stack(v).cpu() for n, v in rec.items()}


# --- checks ---------------------------------------------------------------------------------


def _check_sizes(input_size, hidden_size):
    for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}")


def _check_char_rnn_config(c: CharRNNConfig) -> None:
    if c.cell not in CELLS:
        raise ValueError(f"cell must be one of {CELLS}, got {c.cell!r}")
    if c.forget_bias is not None and c.cell != "lstm":
        raise ValueError("forget_bias is for LSTMs only (an RNN has no forget gate)")
    for name in ("vocab_size", "hidden_size", "n_layer", "n_embd"):
        value = getattr(c, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if not 0.0 <= c.dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {c.dropout}")


def _check_tokenizer(tokenizer, vocab_size: int) -> None:
    if tokenizer is not None and len(tokenizer) != vocab_size:
        raise ValueError(
            f"the tokenizer has {len(tokenizer)} tokens but vocab_size is {vocab_size}"
        )
