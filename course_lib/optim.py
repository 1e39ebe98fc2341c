"""Muon: an optimizer that treats a weight matrix as a matrix.

AdamW scales each *entry* of a weight matrix by its own running gradient size. Muon (Jordan et al.
2024) keeps a momentum of the gradient ``(m, n)`` and replaces it by the nearest orthogonal
matrix, :func:`orthogonalize` (Newton-Schulz iterations, matrix products only, no SVD), so every
direction of the matrix moves by the same amount. Lesson 05 trains the weight matrices inside the
blocks with it and everything else (embeddings, gains, biases) with the AdamW arithmetic built in.

:func:`course_lib.train.train` sets each parameter group's ``lr`` before every step (the
scheduled rate times the group's ``lr_scale``); ``from course_lib.train import Muon,
orthogonalize`` works too. This module imports only torch.
"""

from __future__ import annotations

import math

import torch

__all__ = ["orthogonalize", "Muon"]


@torch.no_grad()
def orthogonalize(G: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """An approximately orthogonal matrix with the "direction" of ``G`` ``(m, n)``: close to
    ``U V^T`` of ``G = U S V^T``, every singular value pushed towards 1 (to within about
    0.7-1.2), by ``steps`` Newton-Schulz iterations of the quintic ``aX + b(XX^T)X +
    c(XX^T)^2 X`` whose coefficients (Jordan et al. 2024) move small singular values up fast.
    Only matrix products: no SVD."""
    if G.dim() != 2:
        raise ValueError(f"orthogonalize takes a matrix, got shape {tuple(G.shape)}")
    a, b, c = 3.4445, -4.7750, 2.0315
    X = G.float()
    tall = X.size(0) > X.size(1)
    if tall:  # work on the wide side: X X^T is then the smaller Gram matrix
        X = X.T
    X = X / (X.norm() + 1e-7)  # every singular value now <= 1
    for _ in range(steps):
        A = X @ X.T
        X = a * X + (b * A + c * (A @ A)) @ X
    return (X.T if tall else X).to(G.dtype)


class Muon(torch.optim.Optimizer):
    """Muon (Jordan et al. 2024) for the weight matrices inside the blocks, AdamW for the rest.

    A parameter group with ``muon=True`` (2-D weights only) takes SGD momentum (Nesterov), then
    replaces the update by :func:`orthogonalize` of it: every direction of the matrix moves by
    the same amount, so the rare directions Adam's per-entry scaling leaves behind learn as fast
    as the common ones. The step is ``lr * sqrt(max(1, rows / cols))``. Groups with
    ``muon=False`` (embeddings, the output layer, gains and biases) are updated by AdamW, the same
    arithmetic as ``torch.optim.AdamW`` (tested). Muon wants a larger rate (~0.02) than AdamW
    (3e-3): give its group an ``lr_scale``, which :func:`train` applies to the scheduled rate.
    """

    def __init__(
        self,
        params,
        lr: float = 3e-3,
        betas: tuple[float, float] = (0.9, 0.99),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.95,
        ns_steps: int = 5,
    ):
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            momentum=momentum,
            ns_steps=ns_steps,
            muon=False,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:
            bad = [tuple(p.shape) for p in group["params"] if group["muon"] and p.dim() != 2]
            if bad:
                raise ValueError(
                    f"Muon's orthogonal update is for weight matrices; these parameters are not "
                    f"2-D: {bad}. Put them in a group with muon=False (AdamW)"
                )

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, wd = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad, state = p.grad, self.state[p]
                if wd:
                    p.mul_(1 - lr * wd)  # decoupled weight decay, as AdamW
                if group["muon"]:
                    if "momentum_buffer" not in state:
                        state["momentum_buffer"] = torch.zeros_like(grad)
                    buf = state["momentum_buffer"]
                    buf.lerp_(grad, 1 - group["momentum"])
                    update = orthogonalize(grad.lerp(buf, group["momentum"]), group["ns_steps"])
                    p.add_(update, alpha=-lr * max(1.0, p.size(0) / p.size(1)) ** 0.5)
                else:
                    beta1, beta2 = group["betas"]
                    if "step" not in state:
                        state["step"] = 0
                        state["exp_avg"] = torch.zeros_like(p)
                        state["exp_avg_sq"] = torch.zeros_like(p)
                    state["step"] += 1
                    t = state["step"]
                    state["exp_avg"].lerp_(grad, 1 - beta1)
                    state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                    denom = (state["exp_avg_sq"].sqrt() / math.sqrt(1 - beta2**t)).add_(
                        group["eps"]
                    )
                    p.addcdiv_(state["exp_avg"], denom, value=-lr / (1 - beta1**t))
        return loss
