"""course_lib.runs: the recipes share one pattern, each lesson's run trains with the shared loop
and reports what the lesson reads, and lesson 06's comparison runs every method."""

import math

import pytest
import torch

from course_lib import runs
from course_lib.data import LMBatcher, TextTask, shakespeare_tokenizer
from course_lib.finetune import PRETRAINED_PATH
from course_lib.rnn import evaluate_lm
from course_lib.tokenize import CharTokenizer
from course_lib.train import load_checkpoint, save_checkpoint
from course_lib.transformer import GPT, GPTConfig

TEXT = "to be or not to be, that is the question. "

# --- the recipe pattern -------------------------------------------------------------------------


def test_recipes_share_one_pattern():
    for recipe in (runs.RECIPES["lstm"], runs.GPTRecipe(), runs.PRETRAIN_RECIPE):
        assert isinstance(recipe, runs.Recipe)
        changed = recipe.replace(lr=1e-3, steps=10)
        assert (changed.lr, changed.steps, recipe.lr) == (1e-3, 10, 3e-3)
        assert type(changed) is type(recipe) and changed.to_dict()["lr"] == 1e-3
        config = recipe.train_config(100, desc="x", eval_every=7)
        assert (config.max_steps, config.lr, config.desc, config.eval_every) == (
            100,
            recipe.lr,
            "x",
            7,
        )
        assert config.warmup_steps == min(recipe.warmup_steps, 20)  # at most a fifth of the run
    with pytest.raises(TypeError):
        runs.GPTRecipe(cell="lstm")  # each recipe has only its own fields


def test_recipe_defaults_are_the_lessons_runs():
    gpt, lstm = runs.GPTRecipe(), runs.RECIPES["lstm"]
    assert (gpt.block_size, gpt.batch_size, gpt.warmup_steps, gpt.steps, gpt.fast_steps) == (
        64,
        32,
        50,
        3500,
        40,
    )
    assert (lstm.block_size, lstm.warmup_steps, lstm.steps, lstm.fast_steps) == (128, 100, 2700, 60)
    assert runs.CharRNNRecipe().steps == 3000 and runs.RECIPES["rnn"].lr == 2e-3
    assert gpt.train_config(1000).desc == "GPT" and lstm.train_config(1000).desc == "LSTM"
    assert lstm.train_config(1000).eval_every == 100 and gpt.train_config(1000).eval_every == 100


def test_committed_checkpoint_was_made_by_the_pretrain_recipe():
    saved = load_checkpoint(PRETRAINED_PATH)["extra"]["recipe"]
    recipe = runs.PRETRAIN_RECIPE
    assert {k: getattr(recipe, k) for k in saved} == saved  # every field it was made with
    # fields added since keep the behaviour of that run: GELU, AdamW alone, no ablation
    added = {"activation", "optim", "muon_lr", "residual", "mlp"}
    assert set(recipe.to_dict()) - set(saved) == added
    assert (recipe.activation, recipe.optim) == ("gelu", "adamw")
    assert recipe.residual and recipe.mlp


def test_gpt_recipe_validation_sample_ignores_the_training_batch_size():
    ids = torch.arange(3000) % 50
    a = runs.GPTRecipe(batch_size=32).batcher(ids[:2000], ids[2000:])
    b = runs.GPTRecipe(batch_size=8).batcher(ids[:2000], ids[2000:])
    assert a("train", 0)[0].shape == (32, 64) and b("train", 0)[0].shape == (8, 64)
    for step in range(3):
        assert a("val", step)[0].shape == (64, 64)
        assert torch.equal(a("val", step)[0], b("val", step)[0])
        # the windows lesson 05's curves were measured on: a batcher of the validation ids alone
        alone = LMBatcher(ids[2000:], block_size=64, batch_size=64, seed=1337)
        assert torch.equal(a("val", step)[0], alone("train", step)[0])


# --- lesson 03 and lesson 05 --------------------------------------------------------------------


def test_train_char_model_runs_end_to_end():
    tok = CharTokenizer().train("to be or not to be, that is the question\n")
    ids = torch.tensor(tok.encode("to be or not to be, that is the question\n" * 20))
    recipe = runs.CharRNNRecipe(cell="lstm", hidden_size=8, block_size=16, batch_size=4)
    out = runs.train_char_model(recipe, data=(tok, ids, ids), steps=5, progress=False)
    assert out["steps"] == 5 and len(out["history"].train_loss) == 5
    assert out["val_loss"] == pytest.approx(evaluate_lm(out["model"], ids, 16, carry_state=True))
    assert out["val_loss_windows"] == pytest.approx(evaluate_lm(out["model"], ids, 16))
    assert out["params"] == out["model"].num_parameters() and out["model"].tokenizer is tok
    assert set(runs.RECIPES) == {"rnn", "lstm"}
    assert runs.RECIPES["lstm"].train_config(steps=100).max_steps == 100


def test_load_results_says_how_to_make_the_file(monkeypatch, tmp_path):
    monkeypatch.setattr(runs, "RESULTS_PATH", tmp_path / "missing.json")
    with pytest.raises(FileNotFoundError, match="run notebooks/03_rnn_lstm.ipynb in full mode"):
        runs.load_results()
    (tmp_path / "r.json").write_text('{"lstm_val_loss": 1.5}')
    monkeypatch.setattr(runs, "RESULTS_PATH", tmp_path / "r.json")
    assert runs.load_results() == {"lstm_val_loss": 1.5}


def test_train_gpt_runs_the_shared_loop_and_reports():
    text = TEXT * 40
    tok = CharTokenizer().train(text)
    ids = torch.tensor(tok.encode(text))
    recipe = runs.GPTRecipe(
        n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=8, eval_batch_size=8, eval_every=5
    )
    out = runs.train_gpt(recipe, data=(tok, ids[:1400], ids[1400:]), steps=20, progress=False)
    assert out["steps"] == 20 and out["tokens"] == 20 * 8 * 16
    assert len(out["curve"]) == 5  # steps 0, 5, 10, 15, 20
    assert out["curve"] == out["history"].eval_curve()
    times = [t for t, _ in out["curve"]]
    assert times == sorted(times) and times[0] == 0.0
    assert out["curve"][-1][1] < out["curve"][0][1]
    assert out["val_loss"] < math.log(len(tok))
    assert 0 < out["train_seconds"] <= out["seconds"]
    assert out["config"] == recipe.gpt_config(len(tok))
    assert runs.seconds_per_step(out["model"], recipe.batcher(ids[:1400], ids[1400:]), steps=2) > 0


def test_recipe_muon_optimizer_groups_and_checkpoint(tmp_path):
    recipe = runs.GPTRecipe(n_layer=1, n_embd=16, n_head=2, block_size=8, optim="muon")
    model = recipe.build_model(11)
    opt = recipe.optimizer(model)
    muon_group = next(g for g in opt.param_groups if g["muon"])
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in muon_group["params"]) == sorted(
        n for n, p in model.named_parameters() if n.startswith("blocks.") and p.dim() == 2
    )
    # the shared loop steps this group at the scheduled rate times its lr_scale
    assert recipe.lr * muon_group["lr_scale"] == pytest.approx(recipe.muon_lr)
    x = torch.randint(0, 11, (2, 8))
    model(x, x)[1].backward()
    opt.step()
    save_checkpoint(tmp_path / "m.pt", model, opt, step=1, config=model.config)
    load_checkpoint(tmp_path / "m.pt", recipe.build_model(11), recipe.optimizer(model))
    with pytest.raises(ValueError, match="optim"):
        runs.GPTRecipe(optim="sgd").optimizer(model)


# --- lesson 06's comparison ---------------------------------------------------------------------


def test_learning_curve_runs_every_method():
    tok = shakespeare_tokenizer()
    config = GPTConfig(vocab_size=len(tok), block_size=16, n_layer=1, n_head=2, n_embd=16)
    torch.manual_seed(0)
    task = TextTask(
        "toy",
        ("a", "b"),
        ["aaaa" * 8, "bbbb" * 8] * 6,
        [0, 1] * 6,
        ["aaab" * 8, "bbba" * 8],
        [0, 1],
    )
    settings = runs.MethodSettings(steps=3, max_chars=24)
    rows = runs.learning_curve(
        task, GPT(config), tok, sizes=(4,), seeds=(0, 1), settings=settings, progress=False
    )
    assert len(rows) == 2 * len(runs.METHODS)
    assert {r["method"] for r in rows} == set(runs.METHODS)
    assert all(0.0 <= r["accuracy"] <= 1.0 and r["n"] == 4 for r in rows)
    summary = runs.summarise_curve(rows)
    assert set(summary) == set(runs.METHODS) and summary["LoRA"][4][2] == 2
    trainable = {r["method"]: r["trainable"] for r in rows}
    assert trainable["LoRA"] < trainable["fine-tune"] == trainable["scratch"]


def test_run_method_errors_name_the_choices():
    config = GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16)
    data = (torch.randint(0, 11, (4, 8)), torch.full((4,), 8), torch.tensor([0, 1, 0, 1]))
    with pytest.raises(ValueError, match="unknown method 'probe'"):
        runs.run_method("probe", GPT(config), 2, data, data)
    with pytest.raises(ValueError, match="head_init"):
        runs.run_method(
            "LoRA", GPT(config), 2, data, data, settings=runs.MethodSettings(head_init="x")
        )


def test_learning_curve_runs_the_tfidf_baseline_on_the_texts():
    tok = shakespeare_tokenizer()
    task = TextTask(
        "toy",
        ("a", "b"),
        ["the king the crown", "a ship at sea", "the king's crown", "the sea, a ship"] * 3,
        [0, 1, 0, 1] * 3,
        ["crown of the king", "ship on the sea"],
        [0, 1],
    )
    rows = runs.learning_curve(
        task, None, tok, sizes=(8,), seeds=(0, 1), methods=(runs.BASELINE,), progress=False
    )
    assert [r["method"] for r in rows] == [runs.BASELINE] * 2
    assert all(r["accuracy"] == 1.0 and r["n"] == 8 and r["trainable"] > 0 for r in rows)
    one = runs.run_baseline(task, [0, 1, 2, 3], settings=runs.MethodSettings(max_chars=6))
    assert one["model"].predict(["the king"]).tolist() == [0]  # fitted on 6-character crops


# --- lesson 05's comparison at a budget ----------------------------------------------------------


def test_compare_at_budget_times_once_and_trains_every_model_per_seed(monkeypatch):
    text = TEXT * 40
    tok = CharTokenizer().train(text)
    ids = torch.tensor(tok.encode(text))
    data = (tok, ids[:1400], ids[1400:])
    gpt = runs.GPTRecipe(
        n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=8, eval_batch_size=8
    )
    rnn = runs.CharRNNRecipe(cell="rnn", hidden_size=8, block_size=16, batch_size=4)
    timed = []

    def fake_budget_steps(recipe, budget, data, **kw):
        timed.append(type(recipe).__name__)
        return 8

    monkeypatch.setattr(runs, "budget_steps", fake_budget_steps)
    out = runs.compare_at_budget({"GPT": gpt, "RNN": rnn}, 2.0, (0, 1), data=data, progress=False)
    assert timed == ["GPTRecipe", "GPTRecipe", "CharRNNRecipe"]  # a warm-up, then once each
    assert out["steps"] == {"GPT": 8, "RNN": 8}
    assert [(r["model"], r["seed"]) for r in out["rows"]] == [
        ("GPT", 0), ("RNN", 0), ("GPT", 1), ("RNN", 1)
    ]  # fmt: skip
    assert all(r["steps"] == 8 and r["val_loss"] > 0 and r["curve"] for r in out["rows"])
    gpt_losses = [r["val_loss"] for r in out["rows"] if r["model"] == "GPT"]
    assert gpt_losses[0] != gpt_losses[1]  # the seed changes the run
    stats = runs.summarise_seeds(out["rows"])
    assert stats["GPT"]["n"] == 2 and stats["GPT"]["min"] == min(gpt_losses)
    assert stats["GPT"]["mean"] == pytest.approx(sum(gpt_losses) / 2)
    assert stats["GPT"]["std"] == pytest.approx(abs(gpt_losses[0] - gpt_losses[1]) / math.sqrt(2))
    assert runs.summarise_seeds(out["rows"][:1])["GPT"]["std"] == 0.0
    kept = out["first_seed"]  # the first seed's trained models, for a closer look afterwards
    assert set(kept) == {"GPT", "RNN"} and kept["GPT"]["history"].steps_done == 8
    first_gpt = next(r for r in out["rows"] if r["model"] == "GPT" and r["seed"] == 0)
    tok_, _, val = data
    assert runs.evaluate_gpt(kept["GPT"]["model"], val, stride=8) == pytest.approx(
        first_gpt["val_loss"]
    )


def test_seconds_per_step_uses_the_given_optimizer():
    text = TEXT * 20
    tok = CharTokenizer().train(text)
    ids = torch.tensor(tok.encode(text))
    recipe = runs.GPTRecipe(n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4)
    model = recipe.build_model(len(tok))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    made = []

    def make(m):
        made.append(m)
        return recipe.optimizer(m)

    assert runs.seconds_per_step(model, recipe.batcher(ids, ids), steps=2, make_optimizer=make) > 0
    assert len(made) == 1 and made[0] is not model  # built on the copy
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert runs.budget_steps(recipe, 1e-9, (tok, ids, ids), probe_steps=8) == 5  # `minimum`
    rnn = runs.CharRNNRecipe(cell="rnn", hidden_size=8, block_size=16, batch_size=4)
    assert runs.budget_steps(rnn, 3600.0, (tok, ids, ids), probe_steps=8) > 1000  # 1 h: many
