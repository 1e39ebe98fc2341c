"""The lessons' training runs: recipes, the runs they make, and lesson 06's comparison.

A *recipe* is a frozen dataclass that names one training run: the model's sizes, the batches
and the schedule. Every recipe is a :class:`Recipe` and makes what the shared loop
(:func:`course_lib.train.train`) needs in the same way:

- ``recipe.build_model(...)``: the model, built after ``seed_everything(recipe.seed)``;
- ``recipe.batcher(train_ids, val_ids)``: an :class:`~course_lib.data.LMBatcher`;
- ``recipe.train_config(steps)``: a :class:`~course_lib.train.TrainConfig` (``steps`` in full
  mode, ``fast_steps`` with ``COURSE_FAST=1``, unless ``steps`` is given);
- ``recipe.replace(**changes)`` a changed copy, ``recipe.to_dict()`` its fields.

The runs: lesson 03's recurrent models (:class:`CharRNNRecipe`, :data:`RECIPES`,
:func:`train_char_model`), lesson 05's GPT (:class:`GPTRecipe`, :func:`train_gpt`,
:func:`seconds_per_step`), lesson 06's pre-training run (:data:`PRETRAIN_RECIPE`) and its
comparison of four ways to train a classifier (:func:`run_method`, :func:`learning_curve`).
The notebooks and ``benchmarks/`` share them, so a lesson and its benchmark run the same thing.

Layering: runs sits above the model modules (rnn, transformer, finetune), train and data; no
model module imports it.
"""

from __future__ import annotations

import copy
import json
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

import torch
from torch import nn

from .data import (
    PASSAGE_CHARS,
    LMBatcher,
    TextTask,
    encode_split,
    shakespeare_char_data,
    shakespeare_split,
)
from .finetune import (
    GPTClassifier,
    accuracy,
    apply_lora,
    balanced_subset,
    count_trainable,
    encode_texts,
    evaluate_classifier,
    extract_features,
    finetune,
    linear_probe,
    tfidf_baseline,
)
from .mlp_lm import MLPLM, MLPLMConfig
from .rnn import CharRNN, CharRNNConfig, evaluate_lm
from .runtime import REPO_ROOT, by_mode, progress_bar, relpath, seed_everything
from .tokenize import BPETokenizer, CharTokenizer
from .train import Muon, TrainConfig, evaluate, lm_loss, train
from .transformer import GPT, GPTConfig, evaluate_gpt, generate

# --- the recipe pattern ---------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """What every lesson's recipe has: windows of ``block_size`` tokens in batches of
    ``batch_size``, a peak learning rate ``lr`` reached after ``warmup_steps`` (at most a fifth
    of the run), gradient clipping at ``grad_clip``, ``steps`` optimisation steps in full mode
    and ``fast_steps`` in fast mode, and the ``seed`` for the model and the batches. The
    defaults are lesson 03's; :class:`GPTRecipe` sets its own. A recipe adds ``build_model``
    and, if it needs them, more :class:`~course_lib.train.TrainConfig` fields (``_own_config``).
    """

    block_size: int = 128
    batch_size: int = 32
    lr: float = 3e-3
    warmup_steps: int = 100
    steps: int = 3000  # full mode
    fast_steps: int = 60  # fast mode (COURSE_FAST=1)
    grad_clip: float = 1.0
    seed: int = 1337

    def batcher(self, train_ids, val_ids, **options) -> LMBatcher:
        """Training and validation windows of the recipe's sizes, drawn with its seed;
        ``options`` go to :class:`~course_lib.data.LMBatcher`."""
        return LMBatcher(
            train_ids,
            val_ids,
            block_size=self.block_size,
            batch_size=self.batch_size,
            seed=self.seed,
            **options,
        )

    def train_config(self, steps: int | None = None, **overrides) -> TrainConfig:
        """The shared loop's settings for ``steps`` steps (default: the mode's); ``overrides``
        replace any :class:`~course_lib.train.TrainConfig` field."""
        steps = steps or by_mode(full=self.steps, fast=self.fast_steps)
        kw = dict(
            max_steps=steps,
            lr=self.lr,
            warmup_steps=min(self.warmup_steps, steps // 5),
            grad_clip=self.grad_clip,
            **self._own_config(steps),
        )
        kw.update(overrides)
        return TrainConfig(**kw)

    def _own_config(self, steps: int) -> dict:
        """The TrainConfig fields a kind of run sets itself (evaluation, schedule, label)."""
        return {}

    def to_dict(self) -> dict:
        return asdict(self)

    def replace(self, **changes):
        """A copy with ``changes`` (field names as keywords)."""
        return replace(self, **changes)


# --- lesson 03: recurrent character models --------------------------------------------------


@dataclass(frozen=True)
class CharRNNRecipe(Recipe):
    """One training run of lesson 03: a :class:`~course_lib.rnn.CharRNN` of ``cell``
    (``"lstm"`` or ``"rnn"``) with ``hidden_size`` units in ``n_layer`` layers, trained with
    AdamW, evaluated ten times on 20 fixed validation batches (4 in fast mode)."""

    cell: str = "lstm"
    hidden_size: int = 256
    n_layer: int = 1
    dropout: float = 0.0
    forget_bias: float | None = None

    def build_model(self, tokenizer) -> CharRNN:
        config = CharRNNConfig(
            len(tokenizer),
            self.hidden_size,
            self.n_layer,
            cell=self.cell,
            fused=True,
            dropout=self.dropout,
            forget_bias=self.forget_bias,
        )
        return CharRNN(config, tokenizer=tokenizer)

    def _own_config(self, steps: int) -> dict:
        return dict(
            eval_every=max(1, steps // 10),
            eval_batches=by_mode(full=20, fast=4),
            desc=self.cell.upper(),
        )


RECIPES: dict[str, CharRNNRecipe] = {
    "rnn": CharRNNRecipe(cell="rnn", hidden_size=256, lr=2e-3, steps=2700),
    "lstm": CharRNNRecipe(cell="lstm", hidden_size=256, lr=3e-3, steps=2700),
}
"""The two recurrent runs of lesson 03 (full-mode steps; ``fast_steps`` in fast mode). The LSTM's
learning rate was chosen among 2e-3, 3e-3 and 6e-3 by validation loss at 3000 steps; 2700 LSTM
steps take about 4.5 minutes on 2 quiet CPU cores (0.1 s a step), inside the lesson's 5-minute
training budget, and the RNN gets the same number of steps."""


@dataclass(frozen=True)
class MLPLMRecipe(Recipe):
    """Lesson 03's fixed-context neural model: an :class:`~course_lib.mlp_lm.MLPLM` (Bengio et
    al. 2003) that sees the last ``context`` characters, each embedded in ``n_embd`` numbers,
    through one tanh layer of ``hidden`` units, with ``dropout`` on the embeddings and the hidden
    layer; trained and evaluated as :class:`CharRNNRecipe` (AdamW, ten evaluations on 20 fixed
    validation batches, 4 in fast mode), on windows of ``block_size`` characters: every position
    of a window is a training example, the first ``context - 1`` padded with the start token."""

    context: int = 8
    n_embd: int = 24
    hidden: int = 256
    dropout: float = 0.0
    steps: int = 2700  # as lesson 03's RNN and LSTM

    def build_model(self, tokenizer) -> MLPLM:
        config = MLPLMConfig(
            len(tokenizer),
            context=self.context,
            n_embd=self.n_embd,
            hidden=self.hidden,
            dropout=self.dropout,
        )
        return MLPLM(config, tokenizer=tokenizer)

    def _own_config(self, steps: int) -> dict:
        return dict(
            eval_every=max(1, steps // 10),
            eval_batches=by_mode(full=20, fast=4),
            desc="MLP",
        )


def train_char_model(
    recipe: CharRNNRecipe | MLPLMRecipe,
    *,
    data=None,
    steps: int | None = None,
    progress: bool = True,
    track_train: bool = False,
) -> dict:
    """Train ``recipe`` on the Shakespeare split with the shared loop; evaluate on all of val.

    Returns ``{"model", "history", "seconds", "steps", "val_loss", "val_bpc",
    "val_loss_windows", "params"}``: ``val_loss`` is :func:`~course_lib.rnn.evaluate_lm` on the
    whole validation split reading it as a stream (``carry_state=True``), ``val_loss_windows``
    the same from a fresh state every ``block_size`` characters; nats per character.

    ``track_train=True`` also measures, at each evaluation, the loss on fixed *training* batches
    in eval mode: dropout off, the run's first ``eval_batches`` training batches (as many as the
    validation sample), the same at every evaluation, and outside the training clock like the
    evaluation itself. It adds ``"train_curve": [[step, loss], ...]`` and ``"val_curve"``, the
    history's validation losses as ``[[step, loss], ...]`` at the same steps: the gap between
    the two is overfitting. (The history's own ``train_loss`` is measured
    in training mode, with dropout on, on a different batch every step.)"""
    tok, train_ids, val_ids = data or shakespeare_char_data()
    seed_everything(recipe.seed)
    model = recipe.build_model(tok)
    config = recipe.train_config(steps, progress=progress)
    batches = recipe.batcher(train_ids, val_ids)
    train_curve = []

    def measure_train(step: int, _val_loss: float) -> None:
        loss = evaluate(model, batches, n_batches=config.eval_batches, split="train")
        train_curve.append([step, loss])

    start = time.perf_counter()
    model, history = train(model, batches, config, on_eval=measure_train if track_train else None)
    seconds = time.perf_counter() - start
    val = evaluate_lm(model, val_ids, recipe.block_size, carry_state=True)
    out = {
        "model": model,
        "history": history,
        "seconds": seconds,
        "steps": config.max_steps,
        "val_loss": val,
        "val_bpc": val / math.log(2),
        "val_loss_windows": evaluate_lm(model, val_ids, recipe.block_size),
        "params": model.num_parameters(),
    }
    if track_train:
        out["train_curve"] = train_curve
        val_points = zip(history.eval_step, history.val_loss, strict=True)
        out["val_curve"] = [[step, loss] for step, loss in val_points]
    return out


RESULTS_PATH = REPO_ROOT / "notebooks" / "results" / "03_rnn_lstm.json"
"""Lesson 03's results table (written by the notebook in full mode): validation losses of the
bigram, n-gram, RNN and LSTM, for later lessons to compare against."""


def load_results() -> dict:
    """Lesson 03's saved results: ``{"bigram_val_loss", "ngram_val_loss", "rnn_val_loss",
    "lstm_val_loss", "models": [...], ...}``, losses in nats per character."""
    if not RESULTS_PATH.exists():
        raise FileNotFoundError(
            f"{relpath(RESULTS_PATH)} is missing: run notebooks/03_rnn_lstm.ipynb in full mode "
            "(it writes the file), or benchmarks/bench_rnn.py for the same numbers"
        )
    return json.loads(RESULTS_PATH.read_text(encoding="utf-8"))


# --- lesson 05: the GPT ---------------------------------------------------------------------


@dataclass(frozen=True)
class GPTRecipe(Recipe):
    """One training run of lesson 05: the GPT's sizes, the batches and the schedule.

    The defaults are the lesson's full-mode run, tuned for a 2-core laptop CPU, where the
    clock, not the data, is the limit:

    * a shallow model (2 layers of width 128): a deeper or wider model costs more per step, and
      with three minutes of CPU that cost weighs more than what it learns per step (lesson 05's
      section 9 measures three sizes at the same compute);
    * short windows (64 characters) in batches of 32, 3500 steps (about 3 minutes of training
      on 2 quiet cores);
    * no dropout: a few minutes are too short to overfit a million characters (dropout 0.1
      cost 0.17 nats in the recipe search below);
    * Muon (:class:`~course_lib.train.Muon`, lr 0.02) for the weight matrices inside the blocks
      and AdamW (lr 3e-3) for the embeddings, gains and biases, after a short warmup, cosine
      decay to a hundredth. ``benchmarks/bench_transformer.py --baselines`` trains the same model
      with AdamW alone (``optim="adamw"``) at the same training time, to measure what Muon buys.

    The search that chose it (2026-11-29, one seed each, the steps that a timing probe said fit
    in 170 s of training on 2 shared cores, whole-split validation loss through a sliding window,
    nats per character): the learning rate decayed to a tenth 1.525, to a hundredth 1.513
    (chosen), to 1e-5 1.514; 3 layers 1.523 (1.515 decayed to a hundredth); width 192 1.542;
    batches of 64 1.529; windows of 128 1.553; ReLU squared 1.561; rotary positions 1.539; Muon
    lr 0.03 1.534; dropout 0.1 1.688. ``benchmarks/bench_transformer.py --seeds 3`` measures the
    chosen recipe over three seeds against the best Kneser-Ney n-gram.

    ``norm="none"``, ``residual=False`` and ``mlp=False`` are the ablations of
    :class:`~course_lib.transformer.GPTConfig`: the same run with one part of the model taken away.
    """

    block_size: int = 64  # the lesson's values of Recipe's fields
    warmup_steps: int = 50
    steps: int = 3500
    fast_steps: int = 40
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    pos_emb: str = "learned"
    norm: str = "pre"  # or "post", or "none" (an ablation: no LayerNorm)
    tie_weights: bool = True
    activation: str = "gelu"
    residual: bool = True  # ablations (GPTConfig): False replaces the stream, no residual sum
    mlp: bool = True  # False: attention-only blocks
    min_lr: float = 3e-5
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.99)
    optim: str = "muon"  # Muon for the blocks' matrices, AdamW for the rest; or "adamw"
    muon_lr: float = 0.02
    eval_every: int = 100
    eval_batches: int = 4  # a fixed sample of the validation split: eval_batches x
    eval_batch_size: int = 64  # eval_batch_size windows of block_size tokens (16,384 tokens)

    def gpt_config(self, vocab_size: int) -> GPTConfig:
        return GPTConfig(
            vocab_size=vocab_size,
            block_size=self.block_size,
            n_layer=self.n_layer,
            n_head=self.n_head,
            n_embd=self.n_embd,
            dropout=self.dropout,
            pos_emb=self.pos_emb,
            norm=self.norm,
            tie_weights=self.tie_weights,
            activation=self.activation,
            residual=self.residual,
            mlp=self.mlp,
        )

    def build_model(self, vocab_size: int) -> GPT:
        return GPT(self.gpt_config(vocab_size))

    def batcher(self, train_ids, val_ids) -> LMBatcher:
        """As :meth:`Recipe.batcher`, with validation batches of ``eval_batch_size`` windows,
        drawn as training windows of the recipe's seed are: the same validation sample whatever
        the training batch size."""
        return super().batcher(
            train_ids, val_ids, val_batch_size=self.eval_batch_size, val_seed=self.seed
        )

    def optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """AdamW with weight decay on the weight matrices only (not on biases and LayerNorm
        gains, which set scales rather than store knowledge). With ``optim="muon"``, the weight
        matrices inside the blocks are trained by :class:`~course_lib.train.Muon` at
        ``muon_lr`` (their group's ``lr_scale``, no weight decay) instead, and the rest by AdamW
        as before."""
        if self.optim not in ("adamw", "muon"):
            raise ValueError(f"optim must be 'adamw' or 'muon', got {self.optim!r}")
        if self.optim == "muon":
            groups: dict[str, list] = {"muon": [], "decay": [], "no_decay": []}
            for name, p in model.named_parameters():
                kind = "no_decay" if p.dim() < 2 else "decay"
                if p.dim() == 2 and name.startswith("blocks."):
                    kind = "muon"
                groups[kind].append(p)
            return Muon(
                [
                    {"params": groups["muon"], "muon": True, "lr_scale": self.muon_lr / self.lr},
                    {"params": groups["decay"], "weight_decay": self.weight_decay},
                    {"params": groups["no_decay"], "weight_decay": 0.0},
                ],
                lr=self.lr,
                betas=self.betas,
            )
        decay = [p for p in model.parameters() if p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.dim() < 2]
        return torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": self.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=self.lr,
            betas=self.betas,
        )

    def _own_config(self, steps: int) -> dict:
        return dict(
            min_lr=self.min_lr,
            betas=self.betas,
            weight_decay=self.weight_decay,
            eval_every=min(self.eval_every, max(1, steps // 4)),
            eval_batches=by_mode(full=self.eval_batches, fast=2),
            desc="GPT",
        )


def seconds_per_step(
    model: nn.Module, batches, *, steps: int = 20, warmup: int = 3, make_optimizer=None
) -> float:
    """Median wall time of one training step (forward, backward, clipping, optimizer step) of
    ``model`` on ``batches("train", i)``, measured on a copy, so ``model`` itself is left
    untouched. ``make_optimizer(model)`` builds the optimizer the run will use (default AdamW;
    a Muon step costs more: pass ``recipe.optimizer``). Use it to give models the same
    wall-clock budget: ``steps = int(budget / seconds_per_step(...))``."""
    clone = copy.deepcopy(model).train()
    opt = (make_optimizer or (lambda m: torch.optim.AdamW(m.parameters(), lr=1e-4)))(clone)
    device = next(clone.parameters()).device
    times = []
    for i in range(warmup + steps):
        x, y = (t.to(device) for t in batches("train", 10_000 + i))
        start = time.perf_counter()
        loss = lm_loss(clone, (x, y))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(clone.parameters(), 1.0)
        opt.step()
        loss.item()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def train_gpt(
    recipe: GPTRecipe,
    *,
    model: GPT | None = None,
    data=None,
    steps: int | None = None,
    progress: bool = True,
    on_eval=None,
    final_eval: bool = True,
    **train_overrides,
) -> dict:
    """Train ``recipe`` on the Shakespeare split with the shared loop and evaluate it.

    ``model``: a model you built (``recipe.build_model(vocab_size)``, e.g. for an ``on_eval``
    callback); by default the recipe builds one after seeding with ``recipe.seed``. ``data``:
    ``(tokenizer, train_ids, val_ids)`` (default :func:`~course_lib.data.shakespeare_char_data`);
    ``steps`` and ``train_overrides`` override the recipe's steps and any TrainConfig field.

    Returns ``{"model", "history", "config", "recipe", "seconds", "train_seconds", "steps",
    "tokens", "tokens_per_second", "curve", "val_loss", "val_bpc", "val_loss_windows",
    "params"}``: ``seconds`` is the wall time of ``train``, ``train_seconds`` the training clock
    (evaluations left out), ``curve`` the history's ``eval_curve()`` on the recipe's fixed
    validation sample; ``val_loss`` the loss on the whole validation split read with a sliding
    window (stride ``block_size // 2``: every character predicted from at least half a block of
    context, as a recurrent model reads the split as one stream), ``val_loss_windows`` from
    separate windows of ``block_size`` characters (as in training); nats per character."""
    tok, train_ids, val_ids = data or shakespeare_char_data()
    seed_everything(recipe.seed)
    model = recipe.build_model(len(tok)) if model is None else model
    config = recipe.train_config(steps, progress=progress, **train_overrides)
    optimizer, batches = recipe.optimizer(model), recipe.batcher(train_ids, val_ids)
    start = time.perf_counter()
    model, history = train(
        model, batches, config, optimizer=optimizer, model_config=model.config, on_eval=on_eval
    )
    seconds = time.perf_counter() - start
    train_seconds = history.training_seconds()
    tokens = history.steps_done * recipe.batch_size * recipe.block_size
    val = val_windows = float("nan")
    if final_eval:
        val = evaluate_gpt(model, val_ids, stride=max(1, recipe.block_size // 2))
        val_windows = evaluate_gpt(model, val_ids)
    return {
        "model": model,
        "history": history,
        "config": model.config,
        "recipe": recipe,
        "seconds": seconds,
        "train_seconds": train_seconds,
        "steps": history.steps_done,
        "tokens": tokens,
        "tokens_per_second": tokens / train_seconds if train_seconds > 0 else float("nan"),
        "curve": history.eval_curve(),
        "val_loss": val,
        "val_bpc": val / math.log(2),
        "val_loss_windows": val_windows,
        "params": model.num_parameters(),
    }


# --- lesson 05: models compared at the same wall-clock budget, over seeds --------------------


def budget_steps(
    recipe: Recipe, budget_seconds: float, data=None, *, minimum: int = 5, probe_steps: int = 40
) -> int:
    """How many steps of ``recipe`` fit in ``budget_seconds`` of training on this machine,
    measured the way the run will spend them: a short run of the shared loop
    (``probe_steps`` steps, no evaluation) with the recipe's own model, batches and optimizer,
    timed per step from its history (the median step after the first five)."""
    tok, train_ids, val_ids = data or shakespeare_char_data()
    config = recipe.train_config(probe_steps, progress=False, eval_every=0)
    if isinstance(recipe, GPTRecipe):
        model = recipe.build_model(len(tok))
        _, history = train(model, recipe.batcher(train_ids, val_ids), config,
                           optimizer=recipe.optimizer(model))  # fmt: skip
    else:
        model = recipe.build_model(tok)
        _, history = train(model, recipe.batcher(train_ids, val_ids), config)
    steps = [b - a for a, b in zip(history.time, history.time[1:], strict=False)][5:]
    return max(minimum, int(budget_seconds / statistics.median(steps)))


def compare_at_budget(
    recipes: dict[str, Recipe],
    budget_seconds: float,
    seeds: Sequence[int] = (0, 1, 2),
    *,
    data=None,
    progress: bool = True,
) -> dict:
    """Train every recipe (a :class:`GPTRecipe` or a :class:`CharRNNRecipe`) once per seed, each
    for the steps that fit in ``budget_seconds`` on this machine (:func:`budget_steps`: timed
    once per recipe before any training, then the same for every seed). Seeds are the outer
    loop, so a change in the machine's load touches every model alike. A seed sets the initial
    weights and the batches.

    Returns ``{"budget_seconds", "steps": {name: steps}, "rows": [{"model", "seed", "steps",
    "seconds", "val_loss", "params", "curve"}, ...], "first_seed": {name: {"model", "history"}}}``;
    ``seconds`` is the training clock (evaluations left out), ``val_loss`` the whole validation
    split as :func:`train_gpt` and :func:`train_char_model` read it, in nats per character;
    ``curve`` the run's ``History.eval_curve()`` (on its recipe's validation sample);
    ``first_seed`` keeps the trained model and history of each recipe's run with the first seed,
    for a closer look after the comparison."""
    data = data or shakespeare_char_data()
    budget_steps(next(iter(recipes.values())), 1.0, data)  # a warm-up: the first probe is not cold
    steps = {name: budget_steps(r, budget_seconds, data) for name, r in recipes.items()}
    jobs = [(seed, name) for seed in seeds for name in recipes]
    rows, first_seed = [], {}
    desc = f"{len(recipes)} models x {len(seeds)} seeds"
    for seed, name in progress_bar(jobs, desc=desc, disable=not progress):
        r = recipes[name].replace(seed=seed)
        if isinstance(r, GPTRecipe):
            out = train_gpt(r, data=data, steps=steps[name], progress=False)
            seconds = out["train_seconds"]
        else:
            out = train_char_model(r, data=data, steps=steps[name], progress=False)
            seconds = out["history"].training_seconds()
        rows.append(
            {
                "model": name,
                "seed": seed,
                "steps": steps[name],
                "seconds": seconds,
                "val_loss": out["val_loss"],
                "params": out["params"],
                "curve": out["history"].eval_curve(),
            }
        )
        if seed == seeds[0]:
            first_seed[name] = {"model": out["model"], "history": out["history"]}
    return {
        "budget_seconds": budget_seconds,
        "steps": steps,
        "rows": rows,
        "first_seed": first_seed,
    }


def summarise_seeds(rows: list[dict]) -> dict:
    """``{model: {"mean", "std", "min", "max", "n", "seconds", "steps", "params"}}`` of
    :func:`compare_at_budget`'s rows: the validation loss's mean, standard deviation (``n - 1``;
    0 for one seed), range and seed count, the mean training seconds."""
    out = {}
    for name in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == name]
        losses = [r["val_loss"] for r in mine]
        out[name] = {
            "mean": statistics.fmean(losses),
            "std": statistics.stdev(losses) if len(losses) > 1 else 0.0,
            "min": min(losses),
            "max": max(losses),
            "n": len(losses),
            "seconds": statistics.fmean(r["seconds"] for r in mine),
            "steps": mine[0]["steps"],
            "params": mine[0]["params"],
        }
    return out


# --- lesson 06: pre-training, and four ways to train a classifier ---------------------------

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
:func:`~course_lib.data.pretraining_text`."""

METHODS = ("scratch", "linear probe", "fine-tune", "LoRA")
"""The four ways the lesson compares, on the same examples and the same test set."""

BASELINE = "TF-IDF + logistic regression"
"""The non-neural baseline (:func:`~course_lib.finetune.tfidf_baseline`): a method name
:func:`learning_curve` accepts beside :data:`METHODS`."""


@dataclass
class MethodSettings:
    """How each method trains in :func:`run_method` (steps, learning rates, LoRA's rank).

    The defaults are starting points; lesson 06 chooses the pooling, the learning rates and
    ``baseline_C`` on a validation set carved from the training pool
    (:func:`~course_lib.data.validation_split`), never on the test set."""

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
    baseline_C: float = 10.0  # the TF-IDF baseline's inverse L2 strength


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
    (``model``: the trained :class:`~course_lib.finetune.GPTClassifier`, or the
    :class:`~course_lib.finetune.LinearProbe`)."""
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
        model = linear_probe(features[0], labels, n_classes, weight_decay=s.probe_weight_decay)
        pred = model.predict(features[1])
        trainable = sum(p.numel() for p in model.linear.parameters())
    else:
        model = _trained_classifier(method, pretrained, n_classes, train_data, seed, s, features)
        trainable = count_trainable(model)
        pred = evaluate_classifier(model, *test_data)["pred"]
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


def _trained_classifier(method, pretrained, n_classes, train_data, seed, s, features):
    """:func:`run_method`'s "scratch", "fine-tune" and "LoRA": a classifier on a fresh or a
    copied GPT, its head fitted first (``head_init="probe"``), then trained."""
    ids, lengths, labels = train_data
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
        # the head starts as a linear probe on this model's own features (Kumar et al. 2022: a
        # fitted head does not tear up the pre-trained features in the first steps)
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
    return finetune(
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
    every seed. ``methods`` may include :data:`BASELINE`. Returns one row per run (see
    :func:`run_method`; without the model)."""
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
    if set(methods) - {"scratch", BASELINE}:  # the frozen features, once per example that is used
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
        if method == BASELINE:
            row = run_baseline(task, idx_list, seed=seed, settings=s)
        else:
            row = run_method(
                method, pretrained, K, train_data, test, seed=seed, settings=s, features=f
            )
        del row["model"]  # keep the rows light: one number per run is what the curve needs
        rows.append(row)
    return rows


def run_baseline(
    task: TextTask,
    train_idx: Sequence[int],
    *,
    seed: int = 0,
    settings: MethodSettings | None = None,
) -> dict:
    """:data:`BASELINE` trained on ``task``'s train-pool passages ``train_idx`` (cropped to
    ``settings.max_chars`` characters, as the GPT reads them) and scored on its test set. Returns
    the keys of :func:`run_method` (``trainable``: the model's weights)."""
    s = settings or MethodSettings()
    start = time.perf_counter()
    texts = [task.train_texts[i][: s.max_chars] for i in train_idx]
    labels = [task.train_labels[i] for i in train_idx]
    model = tfidf_baseline(texts, labels, C=s.baseline_C)
    pred = torch.as_tensor(model.predict([t[: s.max_chars] for t in task.test_texts]))
    clf = model[-1]
    return {
        "method": BASELINE,
        "n": len(labels),
        "seed": seed,
        "accuracy": accuracy(pred, task.test_labels),
        "pred": pred,
        "seconds": time.perf_counter() - start,
        "trainable": int(clf.coef_.size + clf.intercept_.size),
        "model": model,
    }


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


# --- subword tokens: the GPT on BPE ---------------------------------------------------------
#
# Lessons 05 and 06 train the same GPT on characters and on byte-level BPE tokens (lesson 01's
# BPETokenizer) for the same wall-clock time, and compare them in bits per character.
#
# Why per character: nats per token are not comparable across tokenizers. A BPE token of vocab
# 1024 holds about 2.3 characters of this text, so guessing it is harder and its loss is larger,
# yet each guess covers more text. What is comparable is the cost of the *same text*: the total
# nats a model spends on the whole validation split, divided by the split's characters. That
# total is -ln p(text), a code length (Shannon 1948), so bits per character is the rate at which
# the model would compress the validation text, whatever it cuts the text into. Two details:
#
# - the first token of the split is not predicted (nothing precedes it): one character for the
#   character model, and one for BPE here too (the split starts mid-word, "sheth you in
#   Heaven", and its first BPE token is "s"): 1 of 111,540 characters, and leaving its few
#   bits out changes bits per character by less than 0.0001;
# - a BPE model gives a probability to the text's one canonical tokenization, not to the other
#   token sequences that spell the same text, so its p(text) is a slight underestimate and its
#   bits per character a slight overestimate: if anything, the comparison is tilted against BPE.

SAMPLE_PROMPT = "\n"
"""The prompt of :func:`compare_tokenizers`' samples: a new line, the same text for every
tokenizer."""

SAMPLE_TEMPERATURE = 0.8
"""The sampling temperature of :func:`compare_tokenizers`' samples."""


def train_shakespeare_bpe(vocab_size: int, *, pattern="gpt2") -> BPETokenizer:
    """A byte-level BPE tokenizer (:class:`~course_lib.tokenize.BPETokenizer`, GPT-2's pre-split
    by default) with ``vocab_size`` ids, trained on the TRAINING part of the course's Shakespeare
    split only.

    The validation text is never read: a merge learned from it would make the text the models
    are scored on cheaper to encode, a leak from the test into the model. Training takes well
    under a second (measured on one CPU thread: 0.3 s for vocabulary 512, 0.4 s for 1024, plus
    0.4 s once per process to build GPT-2's regex), so the merges are not cached."""
    train_text, _ = shakespeare_split()
    return BPETokenizer(pattern).train(train_text, vocab_size)


def bits_per_character(total_nats: float, n_chars: int) -> float:
    """``total_nats / n_chars / ln 2``: a text's total cross-entropy in nats, as bits per
    character of that text. ``bits_per_character(2 * math.log(2), 2) == 1.0``."""
    _check_n_chars(n_chars)
    return total_nats / n_chars / math.log(2)


def evaluate_bpc(
    model: GPT, tokenizer, ids, *, stride: int | None = None, batch_size: int = 32
) -> dict:
    """Bits per character of the text that ``ids`` ``(N,)`` spell (``tokenizer.decode(ids)``,
    the validation text itself for the course's lossless tokenizers), comparable across
    tokenizers (see this section's opening comment).

    The total nats come from :func:`~course_lib.transformer.evaluate_gpt` with a sliding window
    (``stride``, default ``block_size // 2``: every token after the first window predicted from
    at least half a block of context): it predicts every token after the first exactly once, so
    the total is its mean times ``N - 1``. A block of ``block_size`` BPE tokens covers more
    characters than a block of characters: ``chars_per_token`` says how many more.

    Returns ``{"bpc", "nats", "nats_per_token", "n_tokens", "n_scored", "n_chars",
    "chars_per_token", "unscored_chars", "stride"}``: ``nats`` the total over the ``n_scored =
    N - 1`` predicted tokens, ``bpc`` = ``nats / n_chars / ln 2`` over all ``n_chars``
    characters, ``unscored_chars`` the characters of the first token, which is not predicted."""
    ids = torch.as_tensor(ids, dtype=torch.long)
    _check_bpc_ids(ids)
    T = model.config.block_size
    stride = max(1, T // 2) if stride is None else stride
    n_chars = len(tokenizer.decode(ids.tolist()))
    nats_per_token = evaluate_gpt(model, ids, batch_size, stride=stride)
    n_scored = len(ids) - 1  # evaluate_gpt returns its total over these divided by their number
    nats = nats_per_token * n_scored
    return {
        "bpc": bits_per_character(nats, n_chars),
        "nats": nats,
        "nats_per_token": nats_per_token,
        "n_tokens": len(ids),
        "n_scored": n_scored,
        "n_chars": n_chars,
        "chars_per_token": n_chars / len(ids),
        "unscored_chars": len(tokenizer.decode(ids[:1].tolist())),
        "stride": stride,
    }


def compare_tokenizers(
    vocab_sizes: Sequence[int] = (512, 1024),
    budget_seconds: float = 45.0,
    seeds: Sequence[int] = (0, 1, 2),
    recipe: GPTRecipe | None = None,
    *,
    texts: tuple[str, str] | None = None,
    sample_chars: int = 200,
    progress: bool = True,
) -> list[dict]:
    """The same GPT (``recipe``, default :class:`GPTRecipe`) trained on characters and on BPE
    tokens of each of ``vocab_sizes``, each for the steps that fit in ``budget_seconds`` of
    training on this machine, once per seed, scored in bits per character of the validation
    split (:func:`evaluate_bpc`).

    - Tokenizers: the characters of the text (the course's 77, all of which occur in the training
      part), and BPE trained on the training text only (:func:`train_shakespeare_bpe`). ``texts``
      ``(train_text, val_text)`` replaces the course's split (default
      :func:`~course_lib.data.shakespeare_split`), e.g. for a small test.
    - Same clock: :func:`budget_steps` per tokenizer, timed once before any training, since a
      bigger vocabulary costs more per step (its embedding and output layer have ``V`` rows).
      Seeds are the outer loop, as in :func:`compare_at_budget`.
    - Same architecture, same ``block_size`` in *tokens*: a BPE window therefore covers more
      characters (``context_chars`` = ``block_size * chars_per_token``), one of the things
      subwords buy.

    Returns one row per run: ``{"tokenizer"`` (``"characters"``, ``"BPE 512"``, ...),
    ``"vocab_size", "seed", "steps", "train_seconds", "val_bpc", "val_nats_per_token",
    "chars_per_token", "context_chars", "params", "sample"}``; ``train_seconds`` is the
    training clock (evaluations left out), ``sample`` ``sample_chars`` characters sampled after
    :data:`SAMPLE_PROMPT` at temperature :data:`SAMPLE_TEMPERATURE`, seeded with the run's seed."""
    recipe = recipe or GPTRecipe()
    train_text, val_text = texts or shakespeare_split()
    _check_vocab_sizes(vocab_sizes)
    tokenizers = {"characters": CharTokenizer().train(train_text + val_text)}
    for V in vocab_sizes:
        tokenizers[f"BPE {V}"] = BPETokenizer("gpt2").train(train_text, V)
    data = {name: encode_split(tok, train_text, val_text) for name, tok in tokenizers.items()}
    budget_steps(recipe, 1.0, data["characters"])  # a warm-up: the first probe is not cold
    steps = {name: budget_steps(recipe, budget_seconds, d) for name, d in data.items()}
    jobs = [(seed, name) for seed in seeds for name in data]
    rows = []
    desc = f"{len(data)} tokenizers x {len(seeds)} seeds"
    for seed, name in progress_bar(jobs, desc=desc, disable=not progress):
        tok, _, val_ids = data[name]
        out = train_gpt(
            recipe.replace(seed=seed),
            data=data[name],
            steps=steps[name],
            progress=False,
            final_eval=False,
        )
        ev = evaluate_bpc(out["model"], tok, val_ids)
        rows.append(
            {
                "tokenizer": name,
                "vocab_size": len(tok),
                "seed": seed,
                "steps": steps[name],
                "train_seconds": out["train_seconds"],
                "val_bpc": ev["bpc"],
                "val_nats_per_token": ev["nats_per_token"],
                "chars_per_token": ev["chars_per_token"],
                "context_chars": recipe.block_size * ev["chars_per_token"],
                "params": out["params"],
                "sample": _sample_text(out["model"], tok, sample_chars, seed),
            }
        )
    return rows


def summarise_tokenizers(rows: list[dict]) -> dict:
    """``{tokenizer: {"mean", "std", "min", "max", "n", "steps", "train_seconds", "vocab_size",
    "params", "chars_per_token", "context_chars"}}`` of :func:`compare_tokenizers`' rows: the
    validation bits per character's mean, standard deviation (``n - 1``; 0 for one seed), range
    and seed count, and the mean training seconds."""
    out = {}
    for name in dict.fromkeys(r["tokenizer"] for r in rows):
        mine = [r for r in rows if r["tokenizer"] == name]
        bpc = [r["val_bpc"] for r in mine]
        first = mine[0]
        out[name] = {
            "mean": statistics.fmean(bpc),
            "std": statistics.stdev(bpc) if len(bpc) > 1 else 0.0,
            "min": min(bpc),
            "max": max(bpc),
            "n": len(bpc),
            "steps": first["steps"],
            "train_seconds": statistics.fmean(r["train_seconds"] for r in mine),
            **{k: first[k] for k in ("vocab_size", "params", "chars_per_token", "context_chars")},
        }
    return out


def _sample_text(model: GPT, tokenizer, n_chars: int, seed: int) -> str:
    """``n_chars`` characters sampled after :data:`SAMPLE_PROMPT` (each token holds at least one
    character of this ASCII text, so ``n_chars`` tokens are enough; the rest is cut off)."""
    prompt = tokenizer.encode(SAMPLE_PROMPT)
    out = generate(model, prompt, n_chars, temperature=SAMPLE_TEMPERATURE, seed=seed)
    return tokenizer.decode(out[len(prompt) :].tolist())[:n_chars]


def _check_n_chars(n_chars) -> None:
    if not isinstance(n_chars, int) or isinstance(n_chars, bool) or n_chars < 1:
        raise ValueError(
            f"n_chars must be a positive int (the characters of the scored text), got {n_chars!r}"
        )


def _check_bpc_ids(ids: torch.Tensor) -> None:
    if ids.dim() != 1 or len(ids) < 2:
        raise ValueError(
            f"ids must be 1-D with at least 2 tokens (the first is never predicted), got shape "
            f"{tuple(ids.shape)}: pass the validation split's ids, e.g. data[2] of "
            "shakespeare_token_data(tokenizer)"
        )


def _check_vocab_sizes(vocab_sizes: Sequence[int]) -> None:
    bad = [v for v in vocab_sizes if not isinstance(v, int) or isinstance(v, bool) or v <= 256]
    if bad:
        raise ValueError(
            f"BPE vocabulary sizes must be ints above 256 (the 256 bytes plus at least one "
            f"merge), got {bad}"
        )
