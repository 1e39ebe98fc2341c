"""course_lib.train_ddp and ddp_launch: sharding, options, error messages, and a real two-process
run under torchrun.

The two-process run (gloo on the CPU, the ``tiny`` model, 12 steps) must log the same per-step
global-mean losses as one process on the same global batch. Measured here: largest relative
difference 1.1e-7 (float rounding: the two halves' gradients are averaged instead of computed in
one pass); the test allows REL_TOL = 1e-4.
"""

import sys

import pytest
import torch

from course_lib import ddp_launch, train_ddp
from course_lib.data import LMBatcher
from course_lib.train import lm_loss, load_checkpoint
from course_lib.transformer import GPT, GPTConfig

STEPS = 12
REL_TOL = 1e-4


# --- sharding -------------------------------------------------------------------------------


@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
def test_rank_shards_together_are_the_global_batch(world_size):
    global_batches = LMBatcher(torch.arange(500) % 37, block_size=8, batch_size=12, seed=3)
    for step in (0, 1, 17):
        x, y = global_batches("train", step)
        shards = [
            train_ddp.ShardedBatches(global_batches, r, world_size)("train", step)
            for r in range(world_size)
        ]
        assert all(sx.shape == (12 // world_size, 8) for sx, _ in shards)
        # put the rows back where they came from: row i of the batch is on rank i % world_size
        rx, ry = torch.empty_like(x), torch.empty_like(y)
        for r, (sx, sy) in enumerate(shards):
            rx[r::world_size], ry[r::world_size] = sx, sy
        assert torch.equal(rx, x) and torch.equal(ry, y)
        assert sum(len(sx) for sx, _ in shards) == len(x)  # each row exactly once


def test_same_step_same_batch_on_every_rank():
    """The global batch is a function of (seed, step): two ranks drawing separately agree."""
    a = LMBatcher(torch.arange(500) % 37, block_size=8, batch_size=6, seed=5)
    b = LMBatcher(torch.arange(500) % 37, block_size=8, batch_size=6, seed=5)
    sa = train_ddp.ShardedBatches(a, 0, 2)("train", 9)
    sb = train_ddp.shard(b("train", 9), 0, 2)
    assert all(torch.equal(u, v) for u, v in zip(sa, sb, strict=True))


def test_mean_of_shard_gradients_is_the_global_gradient():
    """What DDP computes (the average of each rank's gradient of its own mean loss) is the
    gradient of the global batch's mean loss, because every shard has as many rows."""
    torch.set_num_threads(1)  # tiny tensors: a second thread only waits
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16))
    batch = LMBatcher(torch.arange(300) % 11, block_size=8, batch_size=6, seed=1)("train", 0)

    def grads(b):
        model.zero_grad()
        loss = lm_loss(model, b)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters()]

    full_loss, full = grads(batch)
    parts = [grads(train_ddp.shard(batch, r, 3)) for r in range(3)]
    mean_loss = sum(loss for loss, _ in parts) / 3
    mean = [sum(g[i] for _, g in parts) / 3 for i in range(len(full))]
    torch.testing.assert_close(mean_loss, full_loss, rtol=1e-6, atol=1e-7)
    for g, f in zip(mean, full, strict=True):
        torch.testing.assert_close(g, f, rtol=1e-5, atol=1e-7)


# --- clear errors ---------------------------------------------------------------------------


def test_batch_not_divisible_names_the_numbers():
    with pytest.raises(ValueError, match=r"global batch size \(15\).*processes \(2\).*14 or 16"):
        train_ddp.check_world(15, 2)
    with pytest.raises(ValueError, match=r"\(15\).*\(2\)"):
        ddp_launch.launch(nproc=2, steps=1, out_dir="unused", model="tiny", global_batch_size=15)
    with pytest.raises(ValueError, match=r"batch size \(5\).*processes \(2\)"):
        train_ddp.shard(torch.zeros(5, 3), 0, 2)


@pytest.mark.parametrize("nproc", [0, -1])
def test_nproc_below_one(nproc, tmp_path):
    with pytest.raises(ValueError, match=r"number of processes must be an int >= 1"):
        ddp_launch.launch(nproc=nproc, steps=1, out_dir=tmp_path, model="tiny")
    assert not any(tmp_path.iterdir())  # nothing was started


def test_torchrun_missing_says_so(monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "torch.distributed.run" else real(name, *a),
    )
    with pytest.raises(RuntimeError, match=r"torchrun.*missing.*train_single"):
        ddp_launch.launch(nproc=2, steps=1, out_dir=tmp_path, model="tiny")
    monkeypatch.setattr(torch.distributed, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match=r"no torch.distributed"):
        ddp_launch.launch(nproc=2, steps=1, out_dir=tmp_path, model="tiny")


def test_command_line_rejects_a_batch_the_world_cannot_split(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    with pytest.raises(SystemExit) as e:
        ddp_launch.main(["--model", "tiny", "--global-batch-size", "7", "--out", str(tmp_path)])
    assert e.value.code == 2
    assert "(7) is not divisible by the number of processes (2)" in capsys.readouterr().err


def test_unknown_model_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown model 'huge'.*lesson05.*tiny"):
        train_ddp.DDPOptions(model="huge")
    with pytest.raises(ValueError, match=r"steps must be >= 1"):
        train_ddp.train_single(steps=0, model="tiny")


def test_options_survive_the_command_line():
    """What launch() passes to each rank: the flags give the same DDPOptions back."""
    options = train_ddp.DDPOptions(
        steps=7,
        out_dir="/tmp/x",
        model="tiny",
        global_batch_size=12,
        lr=2.5e-3,
        seed=3,
        eval_every=0,
        log_every=0,
        threads=1,
        progress=True,
        checkpoint=False,
        verbose=False,
    )
    args = ddp_launch._cli_args(options)
    assert train_ddp.DDPOptions(**vars(ddp_launch._parser().parse_args(args))) == options
    assert ddp_launch._parser().parse_args(["--out", "d"]).device == "auto"  # GPUs when there


def test_recipe_takes_the_changes_and_checks_the_world():
    recipe = train_ddp.DDPOptions(model="tiny", global_batch_size=12, lr=1e-4).recipe(world_size=2)
    base = train_ddp.RECIPES["tiny"]
    assert base.min_lr < 1e-4  # so the cosine keeps the recipe's floor
    assert (recipe.batch_size, recipe.lr, recipe.min_lr) == (12, 1e-4, base.min_lr)
    small = train_ddp.DDPOptions(model="tiny", global_batch_size=12, lr=1e-5).recipe(world_size=2)
    assert small.min_lr == pytest.approx(1e-6)  # a floor above the lr drops to a tenth of it
    assert recipe.n_embd == train_ddp.RECIPES["tiny"].n_embd
    with pytest.raises(ValueError, match=r"validation batch size \(16\).*processes \(3\)"):
        train_ddp.DDPOptions(model="tiny", global_batch_size=12).recipe(world_size=3)


def test_torchrun_command_stays_on_loopback():
    cmd = ddp_launch.torchrun_command(2, ["--steps", "3"], port=29999)
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc_per_node=2" in cmd and "--master_addr=127.0.0.1" in cmd
    assert "--master_port=29999" in cmd and "--local_addr=127.0.0.1" in cmd
    assert cmd[-4:] == ["-m", "course_lib.train_ddp", "--steps", "3"]


def test_launch_timeout_stops_the_run(tmp_path):
    with pytest.raises(RuntimeError, match=r"did not finish within 0.5 s and was stopped"):
        ddp_launch.launch(nproc=2, steps=1000, out_dir=tmp_path, model="tiny", timeout=0.5)
    assert not (tmp_path / "history.json").exists()


# --- one process from the command line ------------------------------------------------------


def test_command_line_single_process_writes_history_and_checkpoint(tmp_path, capsys):
    import json

    torch.set_num_threads(1)
    assert ddp_launch.main(["--model", "tiny", "--steps", "3", "--out", str(tmp_path)]) == 0
    out = json.loads((tmp_path / "history.json").read_text())
    assert out["world_size"] == 1 and out["history"]["step"] == [1, 2, 3]
    assert len(out["history"]["loss"]) == 3 and out["global_batch_size"] == 8
    assert "1 process" in capsys.readouterr().out
    ckpt = load_checkpoint(tmp_path / "checkpoint.pt")
    assert ckpt["step"] == 3


def test_quiet_single_run_prints_nothing(capsys):
    torch.set_num_threads(2)
    r = train_ddp.train_single(steps=2, model="tiny", threads=1, progress=False, verbose=False)
    assert capsys.readouterr().out == ""
    assert r["threads"] == 1 and torch.get_num_threads() == 2  # for the run only
    assert r["checkpoint"] is None and r["log"] == "" and len(r["history"]["loss"]) == 2


# --- two processes under torchrun against one -------------------------------------------------


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each of the two ranks: the same arithmetic, no oversubscription
    try:
        root = tmp_path_factory.mktemp("ddp")
        ddp = ddp_launch.launch(nproc=2, steps=STEPS, out_dir=root / "ddp", model="tiny")
        single = train_ddp.train_single(
            steps=STEPS, out_dir=root / "single", model="tiny", progress=False
        )
    finally:
        torch.set_num_threads(threads)
    return single, ddp, root


def test_two_process_run_matches_one_process(runs):
    single, ddp, _ = runs
    for r in (single, ddp):  # the keys lesson 06 reads
        assert {"step", "loss", "lr"} <= set(r["history"])
        assert isinstance(r["seconds"], float) and isinstance(r["log"], str)
        assert r["checkpoint"].endswith("checkpoint.pt")
        assert not r["checkpoint"].startswith("/")  # never a machine path in a notebook
    assert ddp["world_size"] == 2 and single["world_size"] == 1
    assert ddp["backend"] == "gloo" and ddp["per_rank_batch_size"] == 4
    assert single["global_batch_size"] == ddp["global_batch_size"] == 8
    assert ddp["history"]["step"] == single["history"]["step"] == list(range(1, STEPS + 1))
    d = train_ddp.loss_difference(single, ddp)
    assert d["steps"] == STEPS
    assert d["max_rel"] < REL_TOL, d
    # the loss went down: the two processes trained, not merely agreed at the start
    assert ddp["history"]["loss"][-1] < ddp["history"]["loss"][0] - 0.2
    assert ddp["history"]["lr"] == pytest.approx(single["history"]["lr"])
    # the validation loss (each rank scores half of every validation batch) agrees too
    assert ddp["history"]["val_step"] == single["history"]["val_step"]
    assert ddp["history"]["val_loss"] == pytest.approx(single["history"]["val_loss"], rel=REL_TOL)
    # each rank takes its share of the cores (1 of 2 here)
    assert f"2 processes (gloo, cpu, {ddp['threads']} thread(s) each)" in ddp["log"]
    assert ddp["threads"] == max(1, train_ddp._cpu_cores() // 2)


def test_rank_zero_checkpoint_holds_the_unwrapped_model(runs):
    single, ddp, root = runs
    ckpt = load_checkpoint(root / "ddp" / "checkpoint.pt")
    assert not any(k.startswith("module.") for k in ckpt["model"])
    model = GPT(GPTConfig(**ckpt["config"]))
    load_checkpoint(root / "ddp" / "checkpoint.pt", model)  # fits the plain model
    assert ckpt["step"] == STEPS and ckpt["extra"]["world_size"] == 2
    # the same weights as the one-process run, up to float rounding
    for p, q in zip(model.parameters(), single["model_object"].parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)


def test_plot_overlay_draws_both_curves(runs):
    viz_train = pytest.importorskip("course_lib.viz.train")  # the figure lives with the viz
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    single, ddp, _ = runs
    fig = viz_train.plot_overlay(single, ddp)
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels[0].startswith("1 process") and labels[1].startswith("2 processes x 4 rows")
    assert list(ax.get_lines()[1].get_ydata()) == ddp["history"]["loss"]
    assert "largest difference" in ax.get_title()
    plt.close(fig)
