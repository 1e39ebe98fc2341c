"""Looking inside a GPT, and testing what we think we see (lesson 08).

Looking at attention maps (:mod:`course_lib.heads`) suggests what a head does; the tools here
*test* it, by changing the computation and measuring what changes:

* :func:`head_outputs`: what each head writes, captured during a forward pass;
* :func:`ablate_heads`: a context manager that zeroes (or mean-ablates) chosen heads' outputs;
* :func:`patch_head`: activation patching: one head's output from a *source* run replaces its
  output in a *target* run (Wang et al. 2022);
* :func:`logit_lens`: the residual stream after each layer read through the final LayerNorm and
  the output layer (nostalgebraist 2020);
* :func:`saliency`: how much each input token matters to one prediction, by gradient x input
  (Simonyan et al. 2013) or by occlusion;
* :func:`repeated_random_batch` and :func:`in_context_loss`: the in-context learning test of
  Olsson et al. (2022): loss on the second copy of a repeated random segment against the first;
* :func:`train_induction`: the lesson's run, a small attention-only transformer in which
  induction heads form (or, with one layer, do not), with the induction score and the
  in-context loss tracked during training.

Conventions used everywhere in this module:

* Shapes: B batch, T positions, L layers, H heads, D = C / H the width of one head, V vocabulary.
  ``model`` is a :class:`course_lib.transformer.GPT`; ``ids`` are ``(T,)`` for one sequence or
  ``(B, T)`` for a batch, and a result has a leading batch axis only when ``ids`` had one.
* **A head's output** is its slice of the attention layer's output *before* ``out_proj`` mixes
  the heads: channels ``h * D .. (h + 1) * D`` of ``merge_heads(y)``. Zeroing that slice removes
  exactly the head's contribution ``W_O[:, slice] @ z_h`` to the residual stream (``out_proj``'s
  bias is not any head's and stays).
* Every intervention uses forward hooks on ``block.attn.out_proj`` and removes them on exit, also
  after an error: the model is never edited.
* Losses are in nats per token; the functions run in eval mode and restore the training mode.

Argument checks live in ``_check_*`` helpers at the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from . import heads as _heads
from .train import History, TrainConfig, train
from .transformer import GPT, GPTConfig, attention_maps

__all__ = [
    "head_outputs",
    "ablate_heads",
    "patch_head",
    "logit_lens",
    "saliency",
    "repeated_random_batch",
    "in_context_loss",
    "InductionBatcher",
    "InductionRun",
    "train_induction",
]


# --- editing one head's output ------------------------------------------------------------


@contextmanager
def _editing_heads(model: GPT, edits: Mapping[int, Callable[[torch.Tensor], torch.Tensor]]):
    """Within the block, layer ``l``'s head outputs ``z`` ``(B, T, H, D)`` are replaced by
    ``edits[l](z)`` before ``out_proj`` reads them."""
    handles = []
    try:
        for layer, edit in edits.items():
            attn = model.blocks[layer].attn

            def hook(module, args, edit=edit, H=attn.n_head):
                (x,) = args  # (B, T, C): the heads' outputs side by side
                z = x.view(*x.shape[:-1], H, x.size(-1) // H)  # (B, T, H, D)
                return (edit(z).reshape(x.shape),)

            handles.append(attn.out_proj.register_forward_pre_hook(hook))
        yield
    finally:
        for h in handles:
            h.remove()


@contextmanager
def _eval_mode(model: torch.nn.Module):
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _batch(ids) -> tuple[torch.Tensor, bool]:
    """``(B, T)`` long ids and whether the input was one ``(T,)`` sequence."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    _check_ids(ids)
    return (ids[None], True) if ids.dim() == 1 else (ids, False)


def _device(model) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def head_outputs(model: GPT, ids) -> torch.Tensor:
    """Every head's output (before ``out_proj``), ``(L, H, T, D)`` for ``(T,)`` ids,
    ``(B, L, H, T, D)`` for ``(B, T)``."""
    x, single = _batch(ids)
    captured: dict[int, torch.Tensor] = {}

    def keep(layer):
        def edit(z):
            captured[layer] = z.detach().clone()
            return z

        return edit

    with _eval_mode(model), _editing_heads(model, {i: keep(i) for i in range(len(model.blocks))}):
        model(x.to(_device(model)))
    out = torch.stack([captured[i] for i in range(len(model.blocks))], dim=1)  # (B, L, T, H, D)
    out = out.permute(0, 1, 3, 2, 4).cpu()  # (B, L, H, T, D)
    return out[0] if single else out


@contextmanager
def ablate_heads(model: GPT, which: Mapping[tuple[int, int], str] | Iterable[tuple[int, int]]):
    """Switch heads off while the block runs: ``with ablate_heads(model, {(0, 2): "zero"}):``.

    Args:
        model: a :class:`~course_lib.transformer.GPT`.
        which: ``{(layer, head): "zero" | "mean"}``, or an iterable of ``(layer, head)`` pairs
            (all zero-ablated). ``"zero"`` sets the head's output to 0: its whole contribution
            to the residual stream goes. ``"mean"`` replaces it by its mean over the batch and
            the positions the model is reading: the head still adds its typical vector, but
            nothing that depends on the input (zeroing can push the stream somewhere the model
            never saw in training; mean-ablation is the gentler test).
    """
    which = dict(which) if isinstance(which, Mapping) else {lh: "zero" for lh in which}
    _check_ablation(model, which)
    by_layer: dict[int, dict[int, str]] = {}
    for (layer, head), how in which.items():
        by_layer.setdefault(layer, {})[head] = how

    def edit_for(heads: dict[int, str]):
        def edit(z):  # (B, T, H, D)
            z = z.clone()
            for head, how in heads.items():
                if how == "zero":
                    z[:, :, head] = 0.0
                else:
                    z[:, :, head] = z[:, :, head].mean(dim=(0, 1), keepdim=True)
            return z

        return edit

    with _editing_heads(model, {layer: edit_for(h) for layer, h in by_layer.items()}):
        yield model


@torch.no_grad()
def patch_head(model: GPT, layer: int, head: int, source_ids, target_ids) -> torch.Tensor:
    """Activation patching: the logits of the target run when head ``(layer, head)``'s output is
    the one it had on the source run, at every position.

    Args:
        source_ids, target_ids: ``(T,)`` or ``(B, T)``, the same shape.
    Returns:
        logits ``(T, V)`` or ``(B, T, V)``. If the prediction moves towards the source's, that
        head carries the information that tells the two inputs apart.
    """
    src, single = _batch(source_ids)
    tgt, _ = _batch(target_ids)
    _check_patch(model, layer, head, src, tgt)
    saved = head_outputs(model, src)[:, layer, head]  # (B, T, D)
    saved = saved.to(_device(model))

    def put(z):  # (B, T, H, D)
        z = z.clone()
        z[:, :, head] = saved
        return z

    with _eval_mode(model), _editing_heads(model, {layer: put}):
        logits, _ = model(tgt.to(_device(model)))
    return logits[0].cpu() if single else logits.cpu()


# --- the logit lens and saliency ----------------------------------------------------------


@torch.no_grad()
def logit_lens(model: GPT, ids) -> torch.Tensor:
    """The residual stream after the embeddings and after each block, each read as the model
    reads its last one: through the final LayerNorm (``ln_f``) and the output layer.

    Returns:
        logits ``(L + 1, T, V)`` for ``(T,)`` ids (``(B, L + 1, T, V)`` for a batch): row 0 is
        the embeddings alone, row ``l`` the stream after block ``l``; row ``L`` is exactly the
        model's own logits. The earlier rows are a *reading* of the stream, not what the model
        computes: nothing trained the middle layers to be read this way.
    """
    x, single = _batch(ids)
    streams: list[torch.Tensor] = []
    first = model.blocks[0].register_forward_pre_hook(lambda m, args: streams.append(args[0]))
    rest = [b.register_forward_hook(lambda m, args, out: streams.append(out)) for b in model.blocks]
    try:
        with _eval_mode(model):
            model(x.to(_device(model)))
            lens = torch.stack([model.head(model.ln_f(s)) for s in streams], dim=1)
    finally:
        for h in [first, *rest]:
            h.remove()
    lens = lens.cpu()  # (B, L + 1, T, V)
    return lens[0] if single else lens


def saliency(
    model: GPT,
    ids,
    position: int,
    target: int | None = None,
    method: str = "grad_x_input",
    *,
    baseline_id: int = 0,
) -> torch.Tensor:
    """How much each input token matters to one prediction: the score of token ``target`` at
    ``position`` (its logit), attributed to the tokens ``0 .. position``.

    Args:
        model: a GPT (any model with a ``tok_emb`` embedding whose forward returns the logits
            first).
        ids: ``(T,)`` token ids.
        position: the prediction to explain (the model predicts token ``position + 1``).
        target: the token whose logit is explained (default: the model's top prediction).
        method: ``"grad_x_input"``: for each position ``s``, the gradient of the logit with
            respect to token ``s``'s embedding, dotted with that embedding (a first-order
            estimate of what removing the embedding would change; exact for a linear model).
            ``"occlusion"``: the logit minus the logit when token ``s`` is replaced by
            ``baseline_id`` (one forward pass per token: exact for that replacement, and
            nothing more).
    Returns:
        ``(T,)`` float: 0 after ``position`` (a causal model cannot read them).
    """
    ids = torch.as_tensor(ids, dtype=torch.long)
    _check_saliency(ids, position, method)
    device = _device(model)
    ids = ids.to(device)
    with _eval_mode(model):
        if target is None:
            with torch.no_grad():
                target = int(_logits(model, ids[None])[0, position].argmax())
        if method == "occlusion":
            return _occlusion(model, ids, position, target, baseline_id).cpu()
        emb: list[torch.Tensor] = []

        def keep(module, args, out):
            out.retain_grad()
            emb.append(out)

        handle = model.tok_emb.register_forward_hook(keep)
        try:
            logit = _logits(model, ids[None])[0, position, target]
        finally:
            handle.remove()
        (grad,) = torch.autograd.grad(logit, emb[0])
    return (grad[0] * emb[0][0]).sum(-1).detach().cpu()  # (T,)


@torch.no_grad()
def _occlusion(model, ids: torch.Tensor, position: int, target: int, baseline_id: int):
    T = len(ids)
    variants = ids.repeat(position + 1, 1)  # row s: token s replaced
    variants[torch.arange(position + 1), torch.arange(position + 1)] = baseline_id
    base = _logits(model, ids[None])[0, position, target]
    occluded = _logits(model, variants)[:, position, target]  # (position + 1,)
    out = torch.zeros(T, dtype=base.dtype, device=ids.device)
    out[: position + 1] = base - occluded
    return out


def _logits(model, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    return out[0] if isinstance(out, tuple) else out


# --- in-context learning: repeated random segments ----------------------------------------


def repeated_random_batch(vocab_size: int, seg_len: int, batch: int, seed: int = 0):
    """``(batch, 2 * seg_len)`` token ids: in each row ``seg_len`` random tokens, then the same
    tokens again (:func:`course_lib.heads.repeated_random_tokens`, one seed per row). Random
    tokens cannot be predicted from the language; the second copy can, by looking back."""
    _check_positive(vocab_size=vocab_size, seg_len=seg_len, batch=batch)
    seeds = np.random.SeedSequence(seed).generate_state(batch)
    rows = [_heads.repeated_random_tokens(seg_len, vocab_size, int(s)) for s in seeds]
    return torch.as_tensor(np.stack(rows), dtype=torch.long)


@torch.no_grad()
def in_context_loss(model: GPT, batch) -> dict[str, float]:
    """The loss by where a token sits, for the in-context learning test (Olsson et al. 2022).

    Args:
        batch: ``(B, T)`` token ids; the model reads ``batch[:, :-1]`` and predicts
            ``batch[:, 1:]``.
    Returns:
        ``{"early", "late", "in_context_score"}``: mean loss (nats) at the predictions
        ``T/16 .. T/8`` and ``7T/8 .. T`` (prediction ``p`` reads tokens ``0 .. p``: early ones
        read a few tokens, late ones nearly the whole window), and ``late - early`` (below 0:
        the model uses the context; Olsson et al. take token 500 minus token 50 of 512). On
        text, single windows' late-minus-early spread by about a nat (standard deviation), so
        average hundreds of windows before reading hundredths of a nat into it. When every row
        is two equal halves (:func:`repeated_random_batch`, ``n`` tokens twice), also
        ``"first_copy"`` and ``"second_copy"``: the mean loss on predicting tokens ``1 .. n-1``
        and ``n+1 .. 2n-1`` (token ``n``, the first of the second copy, is left out: nothing
        says the copy starts there).
    """
    batch = torch.as_tensor(batch, dtype=torch.long)
    _check_ids(batch, batch=True)
    with _eval_mode(model):
        logits = _logits(model, batch[:, :-1].to(_device(model)))
        losses = F.cross_entropy(
            logits.transpose(1, 2), batch[:, 1:].to(logits.device), reduction="none"
        ).cpu()  # (B, T - 1): entry p predicts token p + 1
    T = batch.size(1)
    early = losses[:, T // 16 : max(T // 8, T // 16 + 1)].mean().item()
    late = losses[:, 7 * T // 8 :].mean().item()
    out = {"early": early, "late": late, "in_context_score": late - early}
    n = T // 2
    if T % 2 == 0 and torch.equal(batch[:, :n], batch[:, n:]):
        out["first_copy"] = losses[:, : n - 1].mean().item()
        out["second_copy"] = losses[:, n:].mean().item()
    return out


# --- the lesson's run: induction heads forming ---------------------------------------------


class InductionBatcher:
    """Training batches for :func:`train_induction`, ``batches(split, step) -> (x, y)``, both
    ``(B, T)``: a fraction ``repeat_fraction`` of the rows are a random segment of a random
    length between ``min_seg`` and ``T / 2`` repeated until the window is full, the others are
    windows of text. The length varies so that "copy what came ``n`` positions ago" is no
    shortcut: only finding the earlier copy of the current token works. A pure function of
    ``(seed, split, step)``, like :class:`~course_lib.data.LMBatcher`."""

    def __init__(
        self,
        train_ids,
        val_ids,
        vocab_size: int,
        *,
        block_size: int,
        batch_size: int,
        repeat_fraction: float = 0.5,
        min_seg: int = 8,
        seed: int = 0,
    ):
        _check_fraction(repeat_fraction)
        self.data = {"train": torch.as_tensor(train_ids), "val": torch.as_tensor(val_ids)}
        self.vocab_size, self.block_size, self.batch_size = vocab_size, block_size, batch_size
        self.repeat_fraction, self.min_seg, self.seed = repeat_fraction, min_seg, seed

    def __call__(self, split: str, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + 2 * step + (split == "val"))
        T, B = self.block_size, self.batch_size
        n_rep = round(self.repeat_fraction * B)
        data = self.data[split]
        starts = torch.randint(len(data) - T - 1, (B - n_rep,), generator=g)
        text = data[starts[:, None] + torch.arange(T + 1)]  # (B - n_rep, T + 1)
        rows = [text]
        for _ in range(n_rep):
            n = int(torch.randint(self.min_seg, T // 2 + 1, (1,), generator=g))
            seg = torch.randint(self.vocab_size, (n,), generator=g)
            rows.append(seg.repeat(T // n + 2)[: T + 1][None])
        windows = torch.cat(rows)
        return windows[:, :-1], windows[:, 1:]


@dataclass
class InductionRun:
    """What :func:`train_induction` returns: the model, the training history, and what was
    measured at each evaluation: ``step``, ``seconds`` (training clock), ``induction`` (the
    best head's induction score), ``previous`` (the best head's previous-token score, on the
    same sequences), ``scores`` (every head's induction score, ``(L, H)`` each), ``first_copy``
    and ``second_copy`` (loss on the two copies of a repeated random segment), ``early`` and
    ``late`` (loss at early and late positions of Shakespeare windows)."""

    model: GPT
    history: History
    n_layers: int
    step: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    induction: list[float] = field(default_factory=list)
    previous: list[float] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    first_copy: list[float] = field(default_factory=list)
    second_copy: list[float] = field(default_factory=list)
    early: list[float] = field(default_factory=list)
    late: list[float] = field(default_factory=list)
    train_seconds: float = 0.0

    @property
    def in_context_score(self) -> list[float]:
        """``late - early`` at each evaluation (:func:`in_context_loss`'s ``in_context_score`` on
        the text windows): below 0 when later positions gain from the context."""
        return [late - early for early, late in zip(self.early, self.late, strict=True)]

    @property
    def final(self) -> dict[str, float]:
        """The last evaluation's measurements."""
        keys = ("step", "induction", "first_copy", "second_copy", "early", "late")
        return {k: getattr(self, k)[-1] for k in keys}


def train_induction(
    n_layers: int,
    steps: int,
    block_size: int = 256,
    *,
    n_embd: int = 64,
    n_head: int = 4,
    pos_emb: str = "learned",
    tie_weights: bool = True,
    norm: str = "pre",
    batch_size: int = 16,
    repeat_fraction: float = 0.5,
    lr: float = 3e-3,
    optim: str = "adamw",
    muon_lr: float = 0.02,
    warmup_steps: int = 30,
    eval_every: int = 25,
    text_windows: int = 256,
    seed: int = 0,
    data=None,
    progress: bool = True,
    on_measure: Callable[[InductionRun], None] | None = None,
) -> InductionRun:
    """Train an attention-only GPT (``mlp=False``) of ``n_layers`` layers on
    :class:`InductionBatcher` batches with the shared loop, measuring every ``eval_every``
    steps the induction score of every head (:func:`course_lib.heads.induction_scores`) and the
    in-context loss (:func:`in_context_loss`) on fixed batches.

    Args:
        n_layers, block_size, n_embd, n_head, pos_emb, tie_weights, norm: the model
            (:class:`~course_lib.transformer.GPTConfig`, always ``mlp=False``).
        steps, batch_size, lr, warmup_steps: the schedule (:class:`~course_lib.train.TrainConfig`:
            warmup, then cosine decay to ``lr / 10``).
        optim: ``"adamw"``, or ``"muon"``: :class:`~course_lib.train.Muon` at ``muon_lr`` for
            the blocks' weight matrices and AdamW at ``lr`` for the rest (lesson 05's recipe).
        repeat_fraction: the share of each batch made of repeated random segments
            (:class:`InductionBatcher`); the rest are windows of text.
        eval_every: steps between measurements (each costs a few forward passes).
        text_windows: how many windows of validation text the early and late losses average
            over (a window's late-minus-early varies by about a nat: a few windows give noise).
        data: ``(tokenizer, train_ids, val_ids)`` (default: the Shakespeare character split,
            :func:`course_lib.data.shakespeare_char_data`).
        on_measure: called with the run so far after each measurement (e.g. to print it).

    The induction score is measured on 4 sequences of ``block_size / 2`` random tokens
    repeated once, the in-context loss on 8 such sequences and on ``text_windows`` windows of
    the validation text; all fixed by ``seed``.
    """
    from .data import shakespeare_char_data
    from .runtime import seed_everything

    _check_positive(
        n_layers=n_layers, steps=steps, block_size=block_size, text_windows=text_windows
    )
    tok, train_ids, val_ids = shakespeare_char_data() if data is None else data
    V = len(tok)
    seed_everything(seed)
    config = GPTConfig(
        vocab_size=V, block_size=block_size, n_layer=n_layers, n_head=n_head, n_embd=n_embd,
        pos_emb=pos_emb, tie_weights=tie_weights, norm=norm, mlp=False,
    )  # fmt: skip
    model = GPT(config)
    batches = InductionBatcher(
        train_ids, val_ids, V, block_size=block_size, batch_size=batch_size,
        repeat_fraction=repeat_fraction, seed=seed,
    )  # fmt: skip
    n = block_size // 2
    repeated = repeated_random_batch(V, n, 8, seed=seed + 1)
    probe = repeated_random_batch(V, n, 4, seed=seed + 3)  # the induction score's sequences
    g = torch.Generator().manual_seed(seed + 2)
    starts = torch.randint(len(val_ids) - block_size - 1, (text_windows,), generator=g)
    text = val_ids[starts[:, None] + torch.arange(block_size + 1)]
    run = InductionRun(model, History(), n_layers)
    spent = [0.0]  # seconds spent measuring, left out of the training clock

    def measure(step: int, val_loss: float) -> None:
        t0 = time.perf_counter()
        maps = attention_maps(model, probe)  # (S, L, H, 2n, 2n)
        pairs = zip(maps, probe, strict=True)
        scores = np.mean([_heads.induction_score(m, s) for m, s in pairs], axis=0)
        run.previous.append(float(np.max(_heads.previous_token_score(maps).mean(0))))
        copies = in_context_loss(model, repeated)
        positions = in_context_loss(model, text)
        run.step.append(step)
        run.seconds.append(t0 - start - spent[0])
        run.scores.append(scores)
        run.induction.append(float(np.max(scores)))
        run.first_copy.append(copies["first_copy"])
        run.second_copy.append(copies["second_copy"])
        run.early.append(positions["early"])
        run.late.append(positions["late"])
        model.train()
        spent[0] += time.perf_counter() - t0
        if on_measure:
            on_measure(run)

    train_config = TrainConfig(
        max_steps=steps, lr=lr, warmup_steps=min(warmup_steps, steps), eval_every=eval_every,
        eval_batches=1, weight_decay=0.0, progress=progress,
        desc=f"attention-only, {n_layers} layer{'s' if n_layers > 1 else ''}, {pos_emb} positions",
    )  # fmt: skip
    start = time.perf_counter()
    optimizer = _optimizer(model, optim, lr, muon_lr)
    result = train(model, batches, train_config, on_eval=measure, optimizer=optimizer)
    run.history = result.history
    run.train_seconds = result.history.training_seconds()
    return run


def _optimizer(model: GPT, optim: str, lr: float, muon_lr: float) -> torch.optim.Optimizer:
    """AdamW for everything, or (``"muon"``) :class:`~course_lib.train.Muon` at ``muon_lr`` for
    the weight matrices inside the blocks and AdamW for the rest, as lesson 05's recipe."""
    from .train import Muon

    if optim == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    if optim != "muon":
        raise ValueError(f"optim must be 'adamw' or 'muon', got {optim!r}")
    matrices = [p for n, p in model.named_parameters() if p.dim() == 2 and n.startswith("blocks.")]
    ids = {id(p) for p in matrices}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return Muon(
        [
            {"params": matrices, "muon": True, "lr_scale": muon_lr / lr},
            {"params": rest, "weight_decay": 0.0},
        ],
        lr=lr,
    )


# --- checks ----------------------------------------------------------------------------------


def _check_ids(ids: torch.Tensor, batch: bool = False) -> None:
    allowed = (2,) if batch else (1, 2)
    if ids.dim() not in allowed:
        want = "(B, T)" if batch else "(T,) or (B, T)"
        raise ValueError(f"ids must be {want} token ids, got shape {tuple(ids.shape)}")
    if ids.size(-1) < 2 and batch:
        raise ValueError(f"the batch needs at least 2 tokens per row, got {ids.size(-1)}")


def _check_ablation(model: GPT, which: dict) -> None:
    L, H = len(model.blocks), model.config.n_head
    for key, how in which.items():
        if not (isinstance(key, tuple) and len(key) == 2):
            raise ValueError(f"name each head as (layer, head), got {key!r}")
        layer, head = key
        if not (0 <= layer < L and 0 <= head < H):
            raise ValueError(
                f"head {key} does not exist: the model has layers 0..{L - 1} and heads 0..{H - 1}"
            )
        if how not in ("zero", "mean"):
            raise ValueError(f"ablate with 'zero' or 'mean', got {how!r} for head {key}")


def _check_patch(model: GPT, layer: int, head: int, src, tgt) -> None:
    _check_ablation(model, {(layer, head): "zero"})
    if src.shape != tgt.shape:
        raise ValueError(
            f"source and target must have the same shape (the head's output is copied position "
            f"by position), got {tuple(src.shape)} and {tuple(tgt.shape)}"
        )


def _check_saliency(ids: torch.Tensor, position: int, method: str) -> None:
    if ids.dim() != 1:
        raise ValueError(
            f"saliency explains one sequence: ids must be (T,), got {tuple(ids.shape)}"
        )
    if not 0 <= position < len(ids):
        raise ValueError(f"position must be in 0..{len(ids) - 1}, got {position}")
    if method not in ("grad_x_input", "occlusion"):
        raise ValueError(f"method must be 'grad_x_input' or 'occlusion', got {method!r}")


def _check_positive(**values: int) -> None:
    bad = [f"{k}={v}" for k, v in values.items() if not isinstance(v, int) or v < 1]
    if bad:
        raise ValueError(f"these must be positive ints: {', '.join(bad)}")


def _check_fraction(fraction: float) -> None:
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"repeat_fraction must be between 0 and 1, got {fraction}")
