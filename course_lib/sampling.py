"""From logits to the next token: the one sampler behind every ``generate`` of the course.

Shapes: B batch, T positions, V vocabulary size.

A language model gives scores (logits) ``(..., V)`` for the next token. The sampling
distribution is shaped in one fixed order, the same in every lesson:

1. **temperature** divides the logits: below 1 sharpens, above 1 flattens, 0 is greedy
   (all the mass on the largest logit, nothing drawn at random);
2. **top-k** keeps the ``k`` largest logits (:func:`top_k_filter`);
3. **top-p** keeps the nucleus, the most likely tokens that together hold probability ``p``,
   measured on the tempered distribution (:func:`top_p_filter`);
4. **softmax** turns what is left into probabilities.

Temperature and top-k commute (dividing by a positive number keeps the order of the logits);
top-p does not, so the order matters once top-p is used.

``generate`` in :mod:`course_lib.rnn` and :mod:`course_lib.transformer` share this module and the
same call: ``generate(model, prompt_ids, max_new_tokens, temperature, top_k, top_p, *, seed)``
with ``prompt_ids`` ``(T,)`` or ``(B, T)`` token ids (a list or a tensor), returning the prompt
followed by the new tokens, the same shape as the prompt, as a CPU tensor.

This module imports only torch.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "next_token_probs",
    "top_k_filter",
    "top_p_filter",
    "sample_next",
    "prompt_batch",
    "check_generate_args",
    "sampling_generator",
]


def next_token_probs(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """The sampling distribution ``(..., V)`` from logits ``(..., V)``: divide by
    ``temperature``, keep the ``top_k`` most likely tokens, then the nucleus of mass ``top_p``,
    softmax. ``temperature=0`` puts all the mass on the largest logit (greedy decoding)."""
    _check_settings(temperature, top_k, top_p)
    if logits.dtype not in (torch.float32, torch.float64):
        logits = logits.float()  # softmax in half precision loses the small probabilities
    if temperature == 0:
        return F.one_hot(logits.argmax(-1), logits.size(-1)).to(logits.dtype)
    logits = top_p_filter(top_k_filter(logits / temperature, top_k), top_p)
    return logits.softmax(dim=-1)


def top_k_filter(logits: torch.Tensor, k: int | None) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row ``(..., V)`` and set the rest to ``-inf`` (ties
    with the k-th largest are kept). ``k=None`` or ``k >= V`` keeps everything."""
    if k is None or k >= logits.size(-1):
        return logits
    kth = logits.topk(k, dim=-1).values[..., -1:]  # (..., 1) the k-th largest
    return logits.masked_fill(logits < kth, float("-inf"))


def top_p_filter(logits: torch.Tensor, p: float | None) -> torch.Tensor:
    """Nucleus filtering (Holtzman et al. 2020): keep the smallest set of most likely tokens
    whose probabilities sum to at least ``p``, set the other logits to ``-inf``. The most likely
    token is always kept. ``p=None`` or ``p >= 1`` keeps everything."""
    if p is None or p >= 1.0:
        return logits
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    # a token is dropped when the tokens before it already reach p
    drop_sorted = (probs.cumsum(dim=-1) - probs) >= p
    drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
    return logits.masked_fill(drop, float("-inf"))


def sample_next(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    *,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token per row from logits ``(B, V)``: ids ``(B, 1)``, the argmax when
    ``temperature`` is 0, else a draw from :func:`next_token_probs` with ``generator``
    (default: PyTorch's global one)."""
    probs = next_token_probs(logits, temperature, top_k, top_p)  # (B, V)
    if temperature == 0:
        return probs.argmax(-1, keepdim=True)
    return torch.multinomial(probs, 1, generator=generator)


# --- what every generate() does first --------------------------------------------------------


def prompt_batch(prompt_ids, vocab_size: int) -> tuple[torch.Tensor, bool]:
    """``(ids (B, T), single)``: the prompt as a batch of int64 ids, and whether it came as one
    sequence ``(T,)`` (then ``generate`` returns one sequence too). Raises ValueError for an
    empty prompt or ids outside ``0..vocab_size - 1``."""
    ids = torch.as_tensor(prompt_ids, dtype=torch.long)
    _check_prompt(ids, vocab_size)
    return (ids[None], True) if ids.dim() == 1 else (ids, False)


def check_generate_args(
    max_new_tokens: int, temperature: float, top_k: int | None, top_p: float | None
) -> None:
    """Raise ValueError, before any work, for a bad length or sampling setting."""
    if not isinstance(max_new_tokens, int) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    _check_settings(temperature, top_k, top_p)


def sampling_generator(seed: int | None, device) -> torch.Generator | None:
    """A generator on ``device`` seeded with ``seed``, or None (PyTorch's global generator)."""
    return torch.Generator(device=device).manual_seed(seed) if seed is not None else None


# --- checks -----------------------------------------------------------------------------------


def _check_settings(temperature, top_k, top_p) -> None:
    if not isinstance(temperature, int | float) or temperature < 0 or math.isnan(temperature):
        raise ValueError(
            f"temperature must be >= 0 (0 = greedy, 1 = the model's own distribution), "
            f"got {temperature!r}"
        )
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 1):
        raise ValueError(f"top_k must be a positive int or None, got {top_k!r}")
    if top_p is not None and not (isinstance(top_p, int | float) and 0.0 < top_p <= 1.0):
        raise ValueError(f"top_p must be in (0, 1] or None, got {top_p!r}")


def _check_prompt(ids: torch.Tensor, vocab_size: int) -> None:
    if ids.dim() not in (1, 2) or ids.size(-1) < 1:
        raise ValueError(
            f"prompt_ids must be (T,) or (B, T) token ids with T >= 1, got shape "
            f"{tuple(ids.shape)}: give at least one token to start from"
        )
    if int(ids.min()) < 0 or int(ids.max()) >= vocab_size:
        raise ValueError(f"prompt ids must be in 0..{vocab_size - 1} (the model's vocabulary)")
