"""Fine-tuning a pre-trained GPT (lesson 06): a classifier on it, and four ways to train it.

Shapes: B batch, T positions, C model width, K classes, N examples, r the LoRA rank.

- :func:`load_pretrained` loads the committed checkpoint (``data/pretrained/``, written by
  ``python data/pretrain_gpt.py``) with its tokenizer; :func:`encode_texts` turns texts into
  padded ids. The tasks themselves (:func:`~course_lib.data.play_task`,
  :func:`~course_lib.data.genre_task`, :func:`~course_lib.data.sentiment_task`) and the
  pre-training text are built in :mod:`course_lib.data`.
- :class:`GPTClassifier`: a :class:`~course_lib.transformer.GPT` body, its hidden states pooled
  over positions (``"mean"`` or ``"last"``), and a linear head to K classes.
- Four ways to train it: from scratch (a fresh GPT), a **linear probe** on frozen features
  (:func:`extract_features`, :func:`linear_probe`), **full fine-tuning**
  (:func:`finetune` with ``freeze="none"``; other options freeze the body or all but its last
  block), and a **low-rank adapter** (:class:`LoRALinear`, :func:`apply_lora`; Hu et al. 2021).
- A non-neural baseline beside them: :func:`tfidf_baseline`, logistic regression on TF-IDF
  weights of character n-grams (scikit-learn).
- Evaluation: :func:`accuracy`, :func:`confusion_matrix`, :func:`evaluate_classifier`. The
  lesson's comparison of the four methods (``run_method``, ``learning_curve``) is a training
  run, in :mod:`course_lib.runs`.

Layering: this module imports transformer, tokenize, train and runtime; nothing that draws.
"""

from __future__ import annotations

import copy
import math
import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .runtime import data_path
from .tokenize import CharTokenizer
from .train import TrainConfig, load_checkpoint, train
from .transformer import GPT, GPTConfig

__all__ = [
    "PRETRAINED_PATH",
    "load_pretrained",
    "encode_texts",
    "GPTClassifier",
    "freeze_body",
    "FREEZE_OPTIONS",
    "set_trainable",
    "count_trainable",
    "LoRALinear",
    "apply_lora",
    "lora_parameters",
    "ClassificationBatches",
    "classification_loss",
    "finetune",
    "extract_features",
    "LinearProbe",
    "linear_probe",
    "accuracy",
    "confusion_matrix",
    "evaluate_classifier",
    "balanced_subset",
    "tfidf_baseline",
]

# --- the pre-trained model and its inputs --------------------------------------------------

PRETRAINED_PATH = data_path("pretrained", "gpt_shakespeare.pt")
"""The committed checkpoint: :data:`course_lib.runs.PRETRAIN_RECIPE` trained on
:func:`course_lib.data.pretraining_text` by ``python data/pretrain_gpt.py``."""


def load_pretrained(path=PRETRAINED_PATH) -> tuple[GPT, CharTokenizer, dict]:
    """The committed pre-trained GPT, its tokenizer and the checkpoint dict (``history`` holds
    the pre-training curve). Loaded with ``torch.load(weights_only=True)``."""
    ckpt = load_checkpoint(path)
    config = GPTConfig(**ckpt["config"])
    model = GPT(config)
    load_checkpoint(path, model, config=config)
    tok = CharTokenizer(list(ckpt["extra"]["chars"]))
    if len(tok) != config.vocab_size:
        raise ValueError(
            f"{path} holds {len(tok)} characters but a vocabulary of {config.vocab_size}: "
            "rebuild it with `python data/pretrain_gpt.py`"
        )
    return model.eval(), tok, ckpt


def encode_texts(
    tokenizer: CharTokenizer, texts: Sequence[str], max_len: int, unknown: str = " "
) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode ``texts`` into ``(ids (N, T), lengths (N,))``: each text cropped to ``max_len``
    characters, right-padded with id 0 to the longest (a causal model never reads the padding:
    it comes after every real token). Characters the tokenizer lacks become ``unknown``."""
    known = tokenizer.stoi
    if unknown not in known:
        raise ValueError(f"the replacement {unknown!r} must be in the tokenizer's vocabulary")
    rows = [[known.get(c, known[unknown]) for c in t[:max_len]] for t in texts]
    if any(len(r) == 0 for r in rows):
        raise ValueError("empty text: every text needs at least one character")
    T = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), T, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    return ids, torch.tensor([len(r) for r in rows])


# --- the classifier -------------------------------------------------------------------------


class GPTClassifier(nn.Module):
    """A classifier on a GPT: hidden states ``(B, T, C)`` from :meth:`GPT.features`, pooled over
    positions to ``(B, C)``, then a linear head to ``(B, K)`` logits.

    A text longer than the GPT's ``block_size`` is read in consecutive windows of ``block_size``
    characters, each on its own (so a position sees at most ``block_size`` characters back).
    ``pooling="mean"`` averages every real position; ``"last"`` averages the last real position
    of each window (the position that has read its whole window), so both read the whole text."""

    def __init__(self, gpt: GPT, n_classes: int, pooling: str = "mean"):
        super().__init__()
        if pooling not in ("mean", "last"):
            raise ValueError(f"pooling must be 'mean' or 'last', got {pooling!r}")
        self.gpt, self.pooling = gpt, pooling
        self.head = nn.Linear(gpt.config.n_embd, n_classes)
        nn.init.normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def hidden_states(self, ids: torch.Tensor) -> torch.Tensor:
        """``(B, T, C)`` hidden states of ``ids`` ``(B, T)``, any T: windows of ``block_size``
        positions are read separately."""
        B, T = ids.shape
        bs = self.gpt.config.block_size
        if T <= bs:
            return self.gpt.features(ids)
        n = -(-T // bs)  # windows per text
        padded = F.pad(ids, (0, n * bs - T))  # (B, n * bs): padding after the text is unread
        h = self.gpt.features(padded.view(B * n, bs))  # (B * n, bs, C)
        return h.view(B, n * bs, -1)[:, :T]

    def features(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Pooled features ``(B, C)`` of ``ids`` ``(B, T)`` with ``lengths`` ``(B,)`` (default:
        every text fills all T positions)."""
        h = self.hidden_states(ids)  # (B, T, C)
        B, T, _ = h.shape
        if lengths is None:
            lengths = torch.full((B,), T, device=h.device)
        lengths = lengths.to(h.device)
        pos = torch.arange(T, device=h.device)[None, :]
        mask = pos < lengths[:, None]  # (B, T): the real positions
        if self.pooling == "last":  # each window's last real position
            bs = self.gpt.config.block_size
            mask = mask & ((pos % bs == bs - 1) | (pos == lengths[:, None] - 1))
        mask = mask.to(h.dtype)
        return (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(ids, lengths))  # (B, K)

    def extra_repr(self) -> str:
        return f"pooling={self.pooling!r}, classes={self.head.out_features}"


def freeze_body(model: GPTClassifier) -> GPTClassifier:
    """Freeze every parameter of the GPT body (``requires_grad=False``); the head stays trainable.
    Returns ``model``."""
    for p in model.gpt.parameters():
        p.requires_grad_(False)
    for p in model.head.parameters():
        p.requires_grad_(True)
    return model


FREEZE_OPTIONS = ("none", "body", "all_but_last_block", "lora")


def set_trainable(model: GPTClassifier, freeze: str) -> GPTClassifier:
    """Choose what trains: ``"none"`` (everything: full fine-tuning), ``"body"`` (the head only),
    ``"all_but_last_block"`` (the last block, the final LayerNorm and the head) or ``"lora"``
    (the LoRA matrices and the head; :func:`apply_lora` first). Returns ``model``."""
    if freeze not in FREEZE_OPTIONS:
        raise ValueError(f"freeze must be one of {FREEZE_OPTIONS}, got {freeze!r}")
    if freeze == "none":
        for p in model.parameters():
            p.requires_grad_(True)
        return model
    freeze_body(model)
    if freeze == "all_but_last_block":
        for p in [*model.gpt.blocks[-1].parameters(), *model.gpt.ln_f.parameters()]:
            p.requires_grad_(True)
    elif freeze == "lora":
        lora = [m for m in model.modules() if isinstance(m, LoRALinear)]
        if not lora:
            raise ValueError("freeze='lora' but the model has no LoRA layers: apply_lora() first")
        for m in lora:
            m.A.requires_grad_(True)
            m.B.requires_grad_(True)
    return model


def count_trainable(model: nn.Module) -> int:
    """Parameters that will be trained (``requires_grad``); a shared matrix counts once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --- LoRA -----------------------------------------------------------------------------------


class LoRALinear(nn.Module):
    """A low-rank adapter on a frozen linear layer (Hu et al. 2021):

    ``y = W x + b + (alpha / r) * B (A x)``, with ``A`` ``(r, in)`` and ``B`` ``(out, r)``.

    ``W`` and ``b`` stay frozen; only ``A`` and ``B`` train: ``r (in + out)`` numbers instead of
    ``in * out``. ``B`` starts at zero, so at the start the layer computes exactly what the
    frozen one does, and fine-tuning starts from the pre-trained model itself. ``alpha / r``
    keeps the update's size about the same when ``r`` changes."""

    def __init__(self, base: nn.Linear, r: int = 8, alpha: float = 16.0):
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"LoRALinear wraps an nn.Linear, got {type(base).__name__}")
        if not isinstance(r, int) or r < 1:
            raise ValueError(f"rank r must be a positive int, got {r!r}")
        self.base, self.r, self.alpha = base, r, float(alpha)
        for p in base.parameters():
            p.requires_grad_(False)
        w = base.weight
        self.A = nn.Parameter(torch.empty(r, base.in_features, device=w.device, dtype=w.dtype))
        self.B = nn.Parameter(torch.zeros(base.out_features, r, device=w.device, dtype=w.dtype))
        nn.init.kaiming_uniform_(self.A, a=math.sqrt(5))  # as nn.Linear (and loralib) do

    @property
    def scaling(self) -> float:
        return self.alpha / self.r

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., in) -> (..., out)
        return self.base(x) + self.scaling * (x @ self.A.T @ self.B.T)

    @torch.no_grad()
    def merged(self) -> nn.Linear:
        """A plain ``nn.Linear`` with ``W + (alpha/r) B A``: the same outputs, no extra cost."""
        out = copy.deepcopy(self.base)
        out.weight += self.scaling * self.B @ self.A
        return out

    def extra_repr(self) -> str:
        return (
            f"in={self.base.in_features}, out={self.base.out_features}, r={self.r}, "
            f"alpha={self.alpha:g}"
        )


LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "out_proj")


def apply_lora(
    model: nn.Module, r: int = 8, alpha: float = 16.0, targets: Sequence[str] = LORA_TARGETS
) -> list[LoRALinear]:
    """Wrap the attention projections named ``targets`` of every block of a :class:`GPT` (or of
    a :class:`GPTClassifier`'s body) in :class:`LoRALinear`, and freeze the rest of the GPT.
    A classifier's head stays trainable. Returns the new LoRA layers."""
    gpt = model.gpt if isinstance(model, GPTClassifier) else model
    if not isinstance(gpt, GPT):
        raise TypeError(f"apply_lora needs a GPT or a GPTClassifier, got {type(model).__name__}")
    for p in gpt.parameters():
        p.requires_grad_(False)
    layers = []
    for block in gpt.blocks:
        for name in targets:
            base = getattr(block.attn, name)
            if isinstance(base, LoRALinear):
                raise ValueError("apply_lora was already applied to this model")
            layer = LoRALinear(base, r=r, alpha=alpha)
            setattr(block.attn, name, layer)
            layers.append(layer)
    return layers


def lora_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The A and B matrices of every :class:`LoRALinear` in ``model``."""
    return [p for m in model.modules() if isinstance(m, LoRALinear) for p in (m.A, m.B)]


# --- training -------------------------------------------------------------------------------


class ClassificationBatches:
    """``batches(split, step) -> (ids, lengths, labels)`` for :func:`course_lib.train.train`:
    ``batch_size`` random examples of ``(ids (N, T), lengths (N,), labels (N,))``, a pure
    function of ``(seed, step)``; an epoch's worth of steps sees each example about once."""

    def __init__(self, ids, lengths, labels, *, batch_size: int = 16, seed: int = 0):
        self.ids, self.lengths = ids, lengths
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        if not len(self.ids) == len(self.lengths) == len(self.labels) > 0:
            raise ValueError("ids, lengths and labels must have the same, non-zero length")
        self.batch_size, self.seed = min(batch_size, len(self.labels)), seed

    def __call__(self, split: str, step: int):
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + step)
        idx = torch.randperm(len(self.labels), generator=g)[: self.batch_size]
        ids, lengths = _crop(self.ids[idx], self.lengths[idx])
        return ids, lengths, self.labels[idx]


def _crop(ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the padding columns that no text in this batch reaches (it is never read anyway)."""
    return ids[:, : int(lengths.max())], lengths


def classification_loss(model: nn.Module, batch) -> torch.Tensor:
    """Cross-entropy of a classifier's logits on ``(ids, lengths, labels)``."""
    ids, lengths, labels = batch
    return F.cross_entropy(model(ids, lengths), labels)


def finetune(
    model: GPTClassifier,
    ids: torch.Tensor,
    lengths: torch.Tensor,
    labels,
    *,
    freeze: str = "none",
    steps: int = 60,
    batch_size: int = 16,
    lr: float = 1e-3,
    head_lr: float | None = None,
    weight_decay: float = 0.01,
    seed: int = 0,
    progress: bool = False,
    desc: str = "fine-tuning",
) -> GPTClassifier:
    """Train ``model`` on labelled examples with the shared loop (AdamW, warmup and cosine
    decay, gradient clipping), after choosing what trains with ``freeze`` (see
    :func:`set_trainable`). Frozen parameters are not given to the optimizer, so they stay
    bit-identical. ``head_lr`` (default ``lr``) is the head's learning rate: the head's group
    gets ``lr_scale = head_lr / lr``, which the shared loop applies to its scheduled rate.
    Returns ``model``."""
    set_trainable(model, freeze)
    head = list(model.head.parameters())
    head_ids = {id(p) for p in head}
    body = [p for p in model.parameters() if p.requires_grad and id(p) not in head_ids]
    groups = [{"params": head, "lr_scale": (head_lr or lr) / lr}]
    if body:
        groups.append({"params": body, "lr_scale": 1.0})
    optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=weight_decay)
    config = TrainConfig(
        max_steps=steps,
        lr=lr,
        warmup_steps=min(10, steps // 5),
        eval_every=0,
        progress=progress,
        desc=desc,
    )
    batches = ClassificationBatches(ids, lengths, labels, batch_size=batch_size, seed=seed)
    train(model, batches, config, loss_fn=classification_loss, optimizer=optimizer)
    model.eval()
    return model


@torch.no_grad()
def extract_features(
    model: GPTClassifier, ids: torch.Tensor, lengths: torch.Tensor, batch_size: int = 64
) -> torch.Tensor:
    """Pooled features ``(N, C)`` of every example, in eval mode, without gradients."""
    was = model.training
    model.eval()
    try:
        out = [
            model.features(*_crop(ids[i : i + batch_size], lengths[i : i + batch_size]))
            for i in range(0, len(ids), batch_size)
        ]
    finally:
        model.train(was)
    return torch.cat(out)


class LinearProbe(nn.Module):
    """Logistic regression on standardised features: ``logits = W ((x - mean) / std) + b``."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, n_classes: int):
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.linear = nn.Linear(len(mean), n_classes)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:  # (N, C) -> (N, K)
        return self.linear((feats - self.mean) / self.std)

    @torch.no_grad()
    def predict(self, feats: torch.Tensor) -> torch.Tensor:
        return self(feats).argmax(-1)

    @torch.no_grad()
    def copy_into(self, head: nn.Linear) -> nn.Linear:
        """Set ``head`` (reading raw features) to this probe's function: weight ``W / std``,
        bias ``b - (W / std) mean``. Returns ``head``."""
        w = self.linear.weight / self.std
        head.weight.copy_(w)
        head.bias.copy_(self.linear.bias - w @ self.mean)
        return head


def linear_probe(
    feats: torch.Tensor,
    labels,
    n_classes: int | None = None,
    *,
    weight_decay: float = 1e-2,
    max_iter: int = 200,
) -> LinearProbe:
    """Fit a :class:`LinearProbe` on frozen features ``(N, C)``: multinomial logistic regression
    with an L2 penalty ``weight_decay * |W|^2``, to convergence with L-BFGS (full batch: the
    features are computed once, so this takes milliseconds)."""
    labels = torch.as_tensor(labels, dtype=torch.long)
    K = n_classes or int(labels.max()) + 1
    feats = feats.detach().float()
    mean, std = feats.mean(0), feats.std(0, unbiased=False).clamp_min(1e-6)
    probe = LinearProbe(mean, std, K)
    nn.init.zeros_(probe.linear.weight)
    nn.init.zeros_(probe.linear.bias)
    opt = torch.optim.LBFGS(
        probe.linear.parameters(), lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe"
    )

    def closure():
        opt.zero_grad()
        loss = (
            F.cross_entropy(probe(feats), labels) + weight_decay * probe.linear.weight.pow(2).sum()
        )
        loss.backward()
        return loss

    opt.step(closure)
    return probe.eval()


# --- a baseline without a neural network -------------------------------------------------


def tfidf_baseline(
    texts: Sequence[str], labels: Sequence[int], *, C: float = 10.0, ngram_range=(1, 4)
):
    """The simple baseline beside every neural classifier: logistic regression (L2 penalty of
    strength ``1 / C``, L-BFGS to convergence) on the TF-IDF weights of the texts' character
    n-grams of ``ngram_range`` lengths, inside word boundaries (scikit-learn's ``char_wb``;
    sublinear term frequencies). Fitted on ``texts``; returns the scikit-learn pipeline, whose
    ``predict(texts)`` gives labels. Deterministic: no seed needed."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=ngram_range, sublinear_tf=True),
        LogisticRegression(C=C, max_iter=5000),
    )
    return model.fit(list(texts), list(labels))


# --- evaluation -----------------------------------------------------------------------------


def accuracy(pred, labels) -> float:
    """Fraction of predictions equal to the labels; ``pred`` may be labels ``(N,)`` or logits
    ``(N, K)``."""
    pred, labels = torch.as_tensor(pred), torch.as_tensor(labels)
    if pred.dim() == 2:
        pred = pred.argmax(-1)
    if pred.shape != labels.shape:
        raise ValueError(f"pred {tuple(pred.shape)} and labels {tuple(labels.shape)} differ")
    return float((pred == labels).float().mean())


def confusion_matrix(labels, pred, n_classes: int) -> torch.Tensor:
    """``(K, K)`` counts: row ``i`` is the true class, column ``j`` the predicted one."""
    labels = torch.as_tensor(labels, dtype=torch.long)
    pred = torch.as_tensor(pred, dtype=torch.long)
    flat = labels * n_classes + pred
    return torch.bincount(flat, minlength=n_classes * n_classes).view(n_classes, n_classes)


@torch.no_grad()
def evaluate_classifier(model: GPTClassifier, ids, lengths, labels, batch_size: int = 64) -> dict:
    """``{"accuracy", "pred", "confusion"}`` of ``model`` on the examples."""
    was = model.training
    model.eval()
    try:
        logits = torch.cat(
            [
                model(*_crop(ids[i : i + batch_size], lengths[i : i + batch_size]))
                for i in range(0, len(ids), batch_size)
            ]
        )
    finally:
        model.train(was)
    pred = logits.argmax(-1)
    K = logits.size(-1)
    return {
        "accuracy": accuracy(pred, labels),
        "pred": pred,
        "confusion": confusion_matrix(labels, pred, K),
    }


def balanced_subset(labels: Sequence[int], n: int, seed: int) -> list[int]:
    """Indices of ``n`` examples, as equal a number per class as ``n`` allows, drawn at random
    with ``seed``."""
    rng = random.Random(seed)
    classes = sorted(set(labels))
    by_class = {c: [i for i, y in enumerate(labels) if y == c] for c in classes}
    for idx in by_class.values():
        rng.shuffle(idx)
    out = []
    for k, c in enumerate(classes):
        take = n // len(classes) + (1 if k < n % len(classes) else 0)
        if take > len(by_class[c]):
            raise ValueError(f"class {c} has {len(by_class[c])} examples, {take} asked for")
        out.extend(by_class[c][:take])
    rng.shuffle(out)
    return out
