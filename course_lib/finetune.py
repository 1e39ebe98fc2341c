"""Pre-training and fine-tuning (lesson 06): a classifier on a pre-trained GPT, four ways to train
it, and the data that keeps the comparison honest.

Shapes: B batch, T positions, C model width, K classes, N examples, r the LoRA rank.

- Data: :func:`genre_task` builds the lesson's classification task (comedy, tragedy or history,
  the First Folio's groups) from passages of Shakespeare's plays, with whole plays held out for the
  test set; :func:`pretraining_text` is the corpus the committed GPT was pre-trained on, which
  never contains a test play. :func:`sentiment_task` is the few-shot movie-review task.
- :class:`GPTClassifier`: a :class:`~course_lib.transformer.GPT` body, its hidden states pooled
  over positions (``"mean"`` or ``"last"``), and a linear head to K classes.
- Four ways to train it: from scratch (a fresh GPT), a **linear probe** on frozen features
  (:func:`extract_features`, :func:`linear_probe`), **full fine-tuning**
  (:func:`finetune` with ``freeze="none"``; other options freeze the body or all but its last
  block), and a **low-rank adapter** (:class:`LoRALinear`, :func:`apply_lora`; Hu et al. 2021).
- Evaluation: :func:`accuracy`, :func:`confusion_matrix`, :func:`evaluate_classifier`;
  :func:`learning_curve` runs every method at several numbers of labelled examples and seeds.
- :func:`load_pretrained` loads the committed checkpoint (``data/pretrained/``, written by
  ``python data/pretrain_gpt.py``) with its tokenizer.

Layering: this module imports transformer, train, data and runtime; nothing that draws.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from .data import load_polarity, load_shakespeare, shakespeare_works
from .runtime import data_path, progress_bar, seed_everything
from .tokenize import CharTokenizer
from .train import TrainConfig, load_checkpoint, train
from .transformer import GPT, GPTConfig, GPTRecipe

__all__ = [
    "GENRES",
    "GENRE_TEST_PLAYS",
    "STYLE_WORK",
    "PASSAGE_CHARS",
    "PRETRAINED_PATH",
    "PRETRAIN_RECIPE",
    "TextTask",
    "play_passages",
    "genre_task",
    "play_task",
    "sentiment_task",
    "pretraining_text",
    "shakespeare_tokenizer",
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
    "METHODS",
    "run_method",
    "learning_curve",
    "summarise_curve",
]

# --- the data -------------------------------------------------------------------------------

GENRES = ("comedy", "tragedy", "history")
"""The First Folio's (1623) three groups, the classes of the lesson's task."""

GENRE_TEST_PLAYS = (
    "twelfth_night",
    "midsummer_nights_dream",
    "macbeth",
    "othello",
    "richard_iii",
    "henry_v",
)
"""Two comedies, two tragedies, two histories: the test set's plays. No passage of them is in
the classification training pool or in the pre-training text."""

STYLE_WORK = "sonnets"
"""The work the lesson's style fine-tuning continues pre-training on; left out of pre-training so
that "before" really has never seen it."""

PASSAGE_CHARS = 256
"""Characters per passage: a few lines of dialogue (about 45 words)."""

PRETRAINED_PATH = data_path("pretrained", "gpt_shakespeare.pt")

PRETRAIN_RECIPE = GPTRecipe(
    n_layer=2,
    n_head=4,
    n_embd=128,
    block_size=64,
    batch_size=32,
    lr=3e-3,
    min_lr=1e-4,
    warmup_steps=100,
    steps=6000,
    fast_steps=20,
    eval_every=250,
    eval_batches=4,
    eval_batch_size=64,
    seed=1337,
    optim="adamw",
)
"""The pre-training run of ``data/pretrain_gpt.py``: lesson 05's GPT (2 layers of width 128,
windows of 64 characters) trained longer, with batches twice as large, on
:func:`pretraining_text`."""


@dataclass
class TextTask:
    """A text classification task: ``classes`` (K names) and a train pool and a test set, each
    as texts, integer labels in ``0..K-1`` and groups (the work each passage comes from)."""

    name: str
    classes: tuple[str, ...]
    train_texts: list[str]
    train_labels: list[int]
    test_texts: list[str]
    test_labels: list[int]
    train_groups: list[str] = field(default_factory=list)
    test_groups: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        def counts(labels):
            return ", ".join(f"{c} {labels.count(i)}" for i, c in enumerate(self.classes))

        return (
            f"TextTask({self.name!r}: train pool {len(self.train_texts)} "
            f"({counts(self.train_labels)}); test {len(self.test_texts)} "
            f"({counts(self.test_labels)}))"
        )


def play_passages(
    work: dict, length: int = PASSAGE_CHARS, gap: int = PASSAGE_CHARS, limit: int | None = None
) -> list[str]:
    """Non-overlapping passages of ``length`` characters from the body of ``work`` (a dict of
    :func:`~course_lib.data.shakespeare_works`), each starting at the beginning of a line and at
    least ``gap`` characters after the previous one ends, so no two passages share a sentence.
    ``limit`` keeps that many, spread evenly over the play."""
    text, pos, out = work["text"], work["body_start"], []
    while pos < len(text):
        if pos > 0 and text[pos - 1] != "\n":
            nl = text.find("\n", pos)
            if nl < 0:
                break
            pos = nl + 1
        if pos + length > len(text):
            break
        out.append(text[pos : pos + length])
        pos += length + gap
    if limit is not None and len(out) > limit:
        step = len(out) / limit
        out = [out[int(i * step)] for i in range(limit)]
    return out


def genre_task(
    per_play_train: int = 60,
    per_play_test: int = 40,
    length: int = PASSAGE_CHARS,
    test_plays: Sequence[str] = GENRE_TEST_PLAYS,
) -> TextTask:
    """Comedy, tragedy or history: which kind of play does a passage come from?

    The train pool holds up to ``per_play_train`` passages from each of the other 30 Folio plays;
    the test set ``per_play_test`` from each held-out play (whole plays: a model cannot pass by
    recognising a play's characters). Pericles (not in the Folio) and the poems are left out."""
    works = [w for w in shakespeare_works() if w["genre"] in GENRES]
    keys = {w["key"] for w in works}
    unknown = [k for k in test_plays if k not in keys]
    if unknown:
        raise ValueError(f"unknown test plays {unknown}: use keys of shakespeare_works()")
    task = TextTask("genre", GENRES, [], [], [], [])
    for w in works:
        held_out = w["key"] in test_plays
        passages = play_passages(w, length, limit=per_play_test if held_out else per_play_train)
        label = GENRES.index(w["genre"])
        texts, labels, groups = (
            (task.test_texts, task.test_labels, task.test_groups)
            if held_out
            else (task.train_texts, task.train_labels, task.train_groups)
        )
        texts.extend(passages)
        labels.extend([label] * len(passages))
        groups.extend([w["key"]] * len(passages))
    return task


def play_task(
    plays: Sequence[str] = GENRE_TEST_PLAYS,
    per_play_train: int = 60,
    per_play_test: int = 40,
    train_fraction: float = 0.6,
    length: int = PASSAGE_CHARS,
) -> TextTask:
    """Which play is a passage from? Passages of each play's first ``train_fraction`` (of its
    passages, in order) form the train pool, the rest the test set, so train and test never
    share a scene's neighbourhood. By default the plays are the genre task's test plays, which the
    pre-trained GPT has never read (so neither part was seen in pre-training)."""
    by_key = {w["key"]: w for w in shakespeare_works()}
    unknown = [k for k in plays if k not in by_key]
    if unknown:
        raise ValueError(f"unknown plays {unknown}: use keys of shakespeare_works()")
    task = TextTask("play", tuple(plays), [], [], [], [])
    for label, key in enumerate(plays):
        passages = play_passages(by_key[key], length)
        cut = int(train_fraction * len(passages))
        train_part, test_part = passages[:cut], passages[cut + 1 :]  # one passage left as a gap
        for part, n, texts, labels, groups in (
            (train_part, per_play_train, task.train_texts, task.train_labels, task.train_groups),
            (test_part, per_play_test, task.test_texts, task.test_labels, task.test_groups),
        ):
            if len(part) > n:
                step = len(part) / n
                part = [part[int(i * step)] for i in range(n)]
            texts.extend(part)
            labels.extend([label] * len(part))
            groups.extend([key] * len(part))
    return task


def sentiment_task(n_test: int = 100, seed: int = 0) -> TextTask:
    """The 200 labelled movie-review sentences gensim ships (Pang & Lee), split into a train pool
    and ``n_test`` test sentences, balanced (half positive), by a seeded shuffle."""
    rows = load_polarity()
    rng = random.Random(seed)
    by_label = {0: [r for r in rows if r[1] == 0], 1: [r for r in rows if r[1] == 1]}
    task = TextTask("sentiment", ("negative", "positive"), [], [], [], [])
    for label, items in by_label.items():
        items = items[:]
        rng.shuffle(items)
        k = n_test // 2
        for i, (text, _) in enumerate(items):
            test = i < k
            (task.test_texts if test else task.train_texts).append(text)
            (task.test_labels if test else task.train_labels).append(label)
    task.train_groups = ["reviews"] * len(task.train_texts)
    task.test_groups = ["reviews"] * len(task.test_texts)
    return task


def pretraining_text() -> str:
    """The text the committed GPT is pre-trained on: every work of ``shakespeare.txt`` except the
    genre task's test plays (:data:`GENRE_TEST_PLAYS`) and the style work (:data:`STYLE_WORK`),
    joined by blank lines as in the corpus. No test passage is in it (``tests/test_finetune.py``
    checks)."""
    left_out = set(GENRE_TEST_PLAYS) | {STYLE_WORK}
    return "\n".join(w["text"] for w in shakespeare_works() if w["key"] not in left_out)


def shakespeare_tokenizer() -> CharTokenizer:
    """The character tokenizer of the whole corpus (84 characters; the tiny slice has only 77)."""
    return CharTokenizer().train(load_shakespeare(tiny=False))


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

    ``pooling="mean"`` averages the real positions (every position has read the text up to it);
    ``"last"`` takes the last real position, the only one that has read the most of the text.
    A text longer than the GPT's ``block_size`` is read in consecutive windows of ``block_size``
    characters, each on its own (so a position sees at most ``block_size`` characters back)."""

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
        if self.pooling == "last":
            return h[torch.arange(B, device=h.device), lengths - 1]
        mask = (torch.arange(T, device=h.device)[None, :] < lengths[:, None]).to(h.dtype)
        return (h * mask[..., None]).sum(1) / lengths[:, None].to(h.dtype)

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
    bit-identical. ``head_lr`` (default ``lr``) is the head's learning rate. Returns ``model``."""
    set_trainable(model, freeze)
    head = list(model.head.parameters())
    head_ids = {id(p) for p in head}
    body = [p for p in model.parameters() if p.requires_grad and id(p) not in head_ids]
    groups = [{"params": head, "lr_scale": (head_lr or lr) / lr}]
    if body:
        groups.append({"params": body, "lr_scale": 1.0})
    optimizer = _ScaledAdamW(groups, lr=lr, weight_decay=weight_decay)
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


class _ScaledAdamW(torch.optim.AdamW):
    """AdamW whose parameter groups may carry an ``lr_scale``: the shared loop sets one learning
    rate (warmup, cosine) for every group, and each group steps with that rate times its scale
    (the head, trained from zero, learns faster than the pre-trained body)."""

    @torch.no_grad()
    def step(self, closure=None):
        rates = [g["lr"] for g in self.param_groups]
        for g in self.param_groups:
            g["lr"] = g["lr"] * g.get("lr_scale", 1.0)
        try:
            return super().step(closure)
        finally:
            for g, lr in zip(self.param_groups, rates, strict=True):
                g["lr"] = lr


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


# --- the comparison -------------------------------------------------------------------------

METHODS = ("scratch", "linear probe", "fine-tune", "LoRA")
"""The four ways the lesson compares, on the same examples and the same test set."""


@dataclass
class MethodSettings:
    """How each method trains in :func:`run_method` (steps, learning rates, LoRA's rank).

    The defaults were chosen on the play task with 48 and 192 labelled passages, 3 seeds: with a
    head fitted as a linear probe first, body rates of 5e-4 and 1e-3 gave the same fine-tuning
    accuracy (within a point); LoRA did a little better at 3e-3 than at 1e-3."""

    steps: int = 40
    batch_size: int = 16
    scratch_lr: float = 1e-3
    finetune_lr: float = 5e-4
    lora_lr: float = 3e-3
    head_lr: float | None = None  # None: the body's rate
    head_init: str = "probe"  # "probe": fit the head on frozen features first (LP-FT); "zero"
    lora_r: int = 8
    lora_alpha: float = 16.0
    probe_weight_decay: float = 1e-2
    pooling: str = "mean"
    max_chars: int = PASSAGE_CHARS  # texts are cropped to this many characters


def run_method(
    method: str,
    pretrained: GPT,
    n_classes: int,
    train_data: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    test_data: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    *,
    seed: int = 0,
    settings: MethodSettings | None = None,
    features: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> dict:
    """Train one method on ``train_data`` ``(ids, lengths, labels)`` and evaluate it on
    ``test_data``. ``pretrained`` is copied, never changed. ``features`` ``(train_feats,
    test_feats)`` of the pre-trained model may be given precomputed (the linear probe, and the
    head's initial fit, use them). With ``settings.head_init="probe"`` every trained method starts
    its head as a linear probe fitted on its own model's features (for "scratch", the random
    model's): linear probing, then training (LP-FT).
    Returns ``{"method", "n", "seed", "accuracy", "pred", "seconds", "trainable", "model"}``
    (``model``: the trained :class:`GPTClassifier`, or the :class:`LinearProbe`)."""
    s = settings or MethodSettings()
    ids, lengths, labels = train_data
    start = time.perf_counter()
    seed_everything(seed)
    if method == "linear probe":
        if features is None:
            clf = GPTClassifier(pretrained, n_classes, s.pooling)
            features = (
                extract_features(clf, ids, lengths),
                extract_features(clf, test_data[0], test_data[1]),
            )
        probe = linear_probe(features[0], labels, n_classes, weight_decay=s.probe_weight_decay)
        pred = probe.predict(features[1])
        trainable = sum(p.numel() for p in probe.linear.parameters())
        model = probe
    else:
        if method == "scratch":
            body = GPT(pretrained.config)  # same architecture, fresh random weights
            freeze, lr = "none", s.scratch_lr
        elif method == "fine-tune":
            body, freeze, lr = copy.deepcopy(pretrained), "none", s.finetune_lr
        elif method == "LoRA":
            body, freeze, lr = copy.deepcopy(pretrained), "lora", s.lora_lr
        else:
            raise ValueError(f"unknown method {method!r}: use one of {METHODS}")
        clf = GPTClassifier(body, n_classes, s.pooling)
        if s.head_init == "probe":
            # the head starts as a linear probe on this model's own features (Kumar et al. 2022:
            # a fitted head does not tear up the pre-trained features in the first steps)
            feats = (
                features[0]
                if features is not None and method != "scratch"
                else extract_features(clf, ids, lengths)
            )
            probe = linear_probe(feats, labels, n_classes, weight_decay=s.probe_weight_decay)
            probe.copy_into(clf.head)
        elif s.head_init != "zero":
            raise ValueError(f"head_init must be 'probe' or 'zero', got {s.head_init!r}")
        if method == "LoRA":
            apply_lora(clf, r=s.lora_r, alpha=s.lora_alpha)
        finetune(
            clf,
            ids,
            lengths,
            labels,
            freeze=freeze,
            steps=s.steps,
            batch_size=s.batch_size,
            lr=lr,
            head_lr=s.head_lr,
            seed=seed,
        )
        trainable = count_trainable(clf)
        pred = evaluate_classifier(clf, *test_data)["pred"]
        model = clf
    return {
        "method": method,
        "n": len(labels),
        "seed": seed,
        "accuracy": accuracy(pred, test_data[2]),
        "pred": pred,
        "seconds": time.perf_counter() - start,
        "trainable": trainable,
        "model": model,
    }


def learning_curve(
    task: TextTask,
    pretrained: GPT,
    tokenizer: CharTokenizer,
    *,
    sizes: Sequence[int] = (25, 50, 100, 200),
    seeds: Sequence[int] = (0, 1, 2),
    methods: Sequence[str] = METHODS,
    settings: MethodSettings | None = None,
    progress: bool = True,
) -> list[dict]:
    """Accuracy on the test set of every method, for ``n`` labelled examples in ``sizes``
    (balanced draws from the train pool; seed ``s`` draws the same examples for every method) and
    every seed. Returns one row per run (see :func:`run_method`; without the model)."""
    s = settings or MethodSettings()
    pool = encode_texts(tokenizer, task.train_texts, s.max_chars)
    pool_labels = torch.tensor(task.train_labels)
    test = (*encode_texts(tokenizer, task.test_texts, s.max_chars), torch.tensor(task.test_labels))
    K = len(task.classes)
    jobs = [(n, seed, m) for n in sizes for seed in seeds for m in methods]
    subsets = {
        (n, seed): balanced_subset(task.train_labels, n, seed=1000 + seed)
        for n in sizes
        for seed in seeds
    }
    feats: dict = {}
    if set(methods) - {"scratch"}:  # the frozen features, once per example that is used
        clf = GPTClassifier(pretrained, K, s.pooling)
        used = sorted({i for idx in subsets.values() for i in idx})
        pool_feats = extract_features(clf, pool[0][used], pool[1][used])
        feats = {i: f for i, f in zip(used, pool_feats, strict=True)}
        test_feats = extract_features(clf, test[0], test[1])
    rows = []
    for n, seed, method in progress_bar(
        jobs, desc=f"{task.name}: learning curve", disable=not progress
    ):
        idx_list = subsets[(n, seed)]
        idx = torch.tensor(idx_list)
        train_data = (pool[0][idx], pool[1][idx], pool_labels[idx])
        f = None
        if feats and method != "scratch":
            f = (torch.stack([feats[i] for i in idx_list]), test_feats)
        row = run_method(method, pretrained, K, train_data, test, seed=seed, settings=s, features=f)
        del row["model"]  # keep the rows light: one number per run is what the curve needs
        rows.append(row)
    return rows


def summarise_curve(rows: list[dict]) -> dict:
    """``{method: {n: (mean accuracy, standard deviation, number of seeds)}}``."""
    out: dict = {}
    for r in rows:
        out.setdefault(r["method"], {}).setdefault(r["n"], []).append(r["accuracy"])
    summary = {}
    for m, by_n in out.items():
        summary[m] = {}
        for n, accs in sorted(by_n.items()):
            t = torch.tensor(accs)
            sd = float(t.std(unbiased=True)) if len(accs) > 1 else 0.0
            summary[m][n] = (float(t.mean()), sd, len(accs))
    return summary
