"""course_lib.train.loss_by_position: the loss at each position of a window, for any model that
returns logits (a GPT, a CharRNN, a module written here), checked against windows scored by hand."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from course_lib.rnn import CharRNN, CharRNNConfig
from course_lib.train import loss_by_position
from course_lib.transformer import GPT, GPTConfig, evaluate_gpt

V = 11


def _gpt(block_size: int = 8) -> GPT:
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=V, block_size=block_size, n_layer=2, n_head=2, n_embd=16)
    return GPT(config).double()


def _by_hand(model: nn.Module, ids: torch.Tensor, T: int) -> torch.Tensor:
    """Each full window scored on its own, one at a time; the mean at each position."""
    rows = []
    for i in range((len(ids) - 1) // T):
        x, y = ids[i * T : (i + 1) * T], ids[i * T + 1 : (i + 1) * T + 1]
        out = model(x[None])
        logits = out[0] if isinstance(out, tuple) else out
        rows.append(F.cross_entropy(logits[0], y, reduction="none"))
    return torch.stack(rows).mean(0).double()


class _Bigram(nn.Module):
    """Reads only the current token: logits = table[x]."""

    def __init__(self):
        super().__init__()
        self.table = nn.Embedding(V, V)

    def forward(self, x):  # (B, T) -> (B, T, V)
        return self.table(x)


class _TwoBack(nn.Module):
    """Knows that the next token is (x[t] + x[t-1]) % V, so needs two tokens of context: at
    position 0 of a window it has one, and can only guess uniformly."""

    def __init__(self, confidence: float = 10.0):
        super().__init__()
        self.confidence = confidence  # no parameters: it runs on the CPU

    def forward(self, x):  # (B, T) -> ((B, T, V), None)
        guess = (x[:, 1:] + x[:, :-1]) % V
        logits = self.confidence * F.one_hot(guess, V).double()
        return torch.cat([torch.zeros(x.size(0), 1, V).double(), logits], dim=1), None


def _fibonacci(n: int) -> torch.Tensor:
    ids = [1, 2]
    while len(ids) < n:
        ids.append((ids[-1] + ids[-2]) % V)
    return torch.tensor(ids)


def test_gpt_curve_equals_windows_scored_by_hand():
    model = _gpt()
    ids = torch.randint(0, V, (8 * 9 + 5,), generator=torch.Generator().manual_seed(1))
    curve = loss_by_position(model, ids, 8, batch_size=4)  # 9 full windows, a tail of 4 left out
    assert curve.shape == (8,) and curve.dtype == torch.float64
    torch.testing.assert_close(curve, _by_hand(model, ids, 8), atol=1e-10, rtol=1e-10)


def test_mean_is_the_windowed_evaluation():
    model = _gpt()
    ids = torch.randint(0, V, (8 * 6 + 1,), generator=torch.Generator().manual_seed(2))
    # N - 1 a multiple of T: evaluate_gpt reads exactly these windows
    curve = loss_by_position(model, ids, 8)
    assert curve.mean().item() == pytest.approx(evaluate_gpt(model, ids), rel=1e-10)
    # with a tail, evaluate_gpt also scores the short last window; loss_by_position leaves it out
    longer = torch.cat([ids, torch.tensor([3, 4, 5])])
    assert torch.equal(loss_by_position(model, longer, 8), curve)
    assert curve.mean().item() != pytest.approx(evaluate_gpt(model, longer), rel=1e-10)


def test_position_p_sees_p_plus_one_tokens():
    ids = _fibonacci(10 * 6 + 1)
    curve = loss_by_position(_TwoBack(), ids, 6)
    # position 0 has one token: uniform over V; from position 1 on it knows the rule
    assert curve[0].item() == pytest.approx(math.log(V), rel=1e-12)
    confident = math.log(1 + (V - 1) * math.exp(-10.0))  # -ln softmax at the right token
    torch.testing.assert_close(curve[1:], torch.full((5,), confident, dtype=torch.float64))


def test_a_model_without_context_gives_a_flat_curve():
    torch.manual_seed(3)
    model = _Bigram()
    # a period of 7 tokens read in windows of 8: over 7 windows every position meets each
    # (token, next token) pair of the period exactly once, so a model that reads one token
    # scores every position the same
    period = torch.tensor([0, 3, 1, 3, 2, 0, 5])
    ids = period.repeat(9)[: 7 * 8 + 1]
    curve = loss_by_position(model, ids, 8)
    torch.testing.assert_close(curve, curve[0].expand(8), atol=1e-6, rtol=1e-6)
    pairs = F.cross_entropy(model(period[None])[0], period.roll(-1), reduction="none")
    assert curve[0].item() == pytest.approx(pairs.mean().item(), rel=1e-6)
    # the GPT on the same text is not flat: what it predicts depends on the context
    gpt_curve = loss_by_position(_gpt(), ids, 8)
    assert (gpt_curve - gpt_curve[0]).abs().max() > 1e-3


def test_char_rnn_starts_every_window_from_zeros():
    torch.manual_seed(4)
    model = CharRNN(CharRNNConfig(vocab_size=V, hidden_size=12)).double()
    ids = torch.randint(0, V, (5 * 7 + 1,), generator=torch.Generator().manual_seed(5))
    curve = loss_by_position(model, ids, 7, batch_size=2)
    assert curve.shape == (7,)
    torch.testing.assert_close(curve, _by_hand(model, ids, 7), atol=1e-10, rtol=1e-10)


def test_eval_mode_no_gradients_and_training_mode_restored():
    torch.manual_seed(6)
    config = GPTConfig(vocab_size=V, block_size=8, n_layer=1, n_head=2, n_embd=16, dropout=0.5)
    model = GPT(config).train()
    ids = torch.randint(0, V, (8 * 4 + 1,))
    a = loss_by_position(model, ids, 8)
    b = loss_by_position(model, ids, 8)
    assert torch.equal(a, b)  # dropout off: deterministic
    assert model.training
    assert not a.requires_grad and all(p.grad is None for p in model.parameters())


def test_errors_name_the_fix():
    model = _gpt()
    with pytest.raises(ValueError, match="fewer than one window of block_size \\+ 1 = 9"):
        loss_by_position(model, torch.arange(8) % V, 8)
    with pytest.raises(ValueError, match="ids must be 1-D"):
        loss_by_position(model, torch.zeros(2, 20, dtype=torch.long), 8)
    with pytest.raises(ValueError, match="block_size must be a positive int"):
        loss_by_position(model, torch.zeros(20, dtype=torch.long), 0)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        loss_by_position(model, torch.zeros(20, dtype=torch.long), 8, batch_size=0)
