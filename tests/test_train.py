import math

import pytest
import torch
from torch import nn

from course_lib.data import LMBatcher
from course_lib.runtime import seed_everything
from course_lib.train import (
    CheckpointError,
    History,
    TrainConfig,
    evaluate,
    load_checkpoint,
    lr_at,
    save_checkpoint,
    train,
)

V = 12


class TinyLM(nn.Module):
    """Embedding -> dropout -> linear: small, but with dropout, so resume must restore RNG."""

    def __init__(self, vocab=V, dim=16, p=0.1):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.drop = nn.Dropout(p)
        self.head = nn.Linear(dim, vocab)

    def forward(self, x):
        return self.head(self.drop(self.emb(x)))


def batcher(seed=0):
    g = torch.Generator().manual_seed(0)
    # a learnable sequence: mostly "next id", with some noise
    ids = torch.arange(3000) % V
    noise = torch.rand(3000, generator=g) < 0.1
    ids[noise] = torch.randint(V, (int(noise.sum()),), generator=g)
    return LMBatcher(ids[:2500], ids[2500:], block_size=8, batch_size=16, seed=seed)


def cfg(**kw):
    base = dict(
        max_steps=60, lr=1e-2, warmup_steps=5, eval_every=20, eval_batches=4, progress=False
    )
    base.update(kw)
    return TrainConfig(**base)


def test_loss_falls_on_a_tiny_problem():
    seed_everything(0)
    model, history = train(TinyLM(), batcher(), cfg(max_steps=150))
    assert history.val_loss[0] > math.log(V) - 0.5  # starts near chance
    assert history.val_loss[-1] < 1.0 < history.val_loss[0]
    assert history.steps_done == 150 and len(history.train_loss) == 150
    assert history.eval_step == [0, 20, 40, 60, 80, 100, 120, 140, 150]
    assert not model.training


def test_lr_schedule_warmup_then_cosine():
    c = TrainConfig(max_steps=100, lr=1.0, warmup_steps=10, min_lr=0.1)
    lrs = [lr_at(s, c) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and lrs[9] == pytest.approx(1.0)
    assert all(a <= b for a, b in zip(lrs[:10], lrs[1:10], strict=False))
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:], strict=False))
    assert lr_at(100, c) == pytest.approx(0.1)
    assert lr_at(55, c) == pytest.approx(0.55)  # half way down the cosine
    const = TrainConfig(max_steps=100, lr=1.0, schedule="constant")
    assert {lr_at(s, const) for s in range(100)} == {1.0}


def test_config_errors_are_clear():
    with pytest.raises(ValueError, match="max_steps must be >= 1"):
        TrainConfig(max_steps=0)
    with pytest.raises(ValueError, match="schedule must be"):
        TrainConfig(schedule="linear")
    with pytest.raises(ValueError, match="warmup_steps must be between"):
        TrainConfig(max_steps=10, warmup_steps=20)


def test_gradient_clipping_records_norm_and_limits_update():
    seed_everything(0)
    _, h = train(TinyLM(), batcher(), cfg(max_steps=5, grad_clip=1e-3, eval_every=0))
    assert len(h.grad_norm) == 5 and all(n > 1e-3 for n in h.grad_norm)
    _, h2 = train(TinyLM(), batcher(), cfg(max_steps=5, grad_clip=None, eval_every=0))
    assert all(math.isnan(n) for n in h2.grad_norm)


def _interrupt_at(k):
    def on_step(step, loss):
        if step == k:
            raise KeyboardInterrupt

    return on_step


def test_param_group_lr_scale_multiplies_the_schedule():
    seed_everything(0)
    model = TinyLM()
    frozen = model.emb.weight.detach().clone()
    opt = torch.optim.AdamW(
        [
            {"params": model.emb.parameters(), "lr_scale": 0.0},  # steps of size 0
            {"params": model.head.parameters(), "lr_scale": 2.5},
        ]
    )
    _, history = train(model, batcher(), cfg(max_steps=12, eval_every=0), optimizer=opt)
    assert torch.equal(model.emb.weight, frozen)
    assert history.lr[-1] == lr_at(11, cfg(max_steps=12))  # the history keeps the schedule
    assert opt.param_groups[1]["lr"] == history.lr[-1] * 2.5
    # no lr_scale is a scale of 1: the same run as without groups
    seed_everything(0)
    a, _ = train(TinyLM(), batcher(), cfg(max_steps=12, eval_every=0))
    seed_everything(0)
    b = TinyLM()
    groups = [{"params": b.parameters(), "lr_scale": 1.0}]
    opt = torch.optim.AdamW(groups, betas=(0.9, 0.99), weight_decay=0.0)
    train(b, batcher(), cfg(max_steps=12, eval_every=0), optimizer=opt)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_ctrl_c_returns_model_and_history_so_far(capsys):
    seed_everything(0)
    model = TinyLM()
    result = train(model, batcher(), cfg(), on_step=_interrupt_at(25))
    assert result.interrupted and result.history.interrupted
    assert result.model is model and result.step == 25
    assert result.history.steps_done == 25 and len(result.history.train_loss) == 25
    assert "Interrupted at step 25/60" in capsys.readouterr().out
    # continuing in memory gives the uninterrupted run's losses
    cont = train(model, batcher(), cfg(), resume=result)
    seed_everything(0)
    _, full = train(TinyLM(), batcher(), cfg())
    assert cont.history.train_loss == full.train_loss
    assert cont.history.val_loss == full.val_loss
    assert not cont.interrupted


def test_interrupt_then_resume_from_checkpoint_equals_uninterrupted(tmp_path):
    seed_everything(0)
    _, full = train(TinyLM(), batcher(), cfg())

    seed_everything(0)
    path = tmp_path / "run" / "ckpt.pt"
    first = train(TinyLM(), batcher(), cfg(checkpoint_path=str(path)), on_step=_interrupt_at(33))
    assert first.interrupted and path.exists()
    # a fresh process would start from other weights and another random state
    seed_everything(999)
    model = TinyLM()
    second = train(model, batcher(), cfg(checkpoint_path=str(path)), resume=path)
    assert second.history.train_loss == full.train_loss  # bitwise: same floats
    assert second.history.val_loss == full.val_loss
    assert second.history.step == list(range(1, 61))
    seed_everything(0)
    ref_model, _ = train(TinyLM(), batcher(), cfg())
    for a, b in zip(model.state_dict().values(), ref_model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_checkpoint_round_trip(tmp_path):
    seed_everything(0)
    model = TinyLM()
    opt = torch.optim.AdamW(model.parameters())
    model(torch.arange(V)[None]).sum().backward()
    opt.step()
    hist = History(step=[1], time=[0.1], train_loss=[2.0], lr=[1e-3], grad_norm=[0.5])
    p = save_checkpoint(
        tmp_path / "c.pt",
        model,
        opt,
        step=1,
        history=hist,
        config={"vocab": V, "dim": 16},
        extra={"note": "hi"},
    )
    assert [f.name for f in tmp_path.iterdir()] == ["c.pt"]  # no temp file left behind
    other = TinyLM()
    opt2 = torch.optim.AdamW(other.parameters())
    ckpt = load_checkpoint(p, other, opt2, config={"vocab": V, "dim": 16})
    assert ckpt["step"] == 1 and ckpt["extra"] == {"note": "hi"}
    assert History.from_dict(ckpt["history"]) == hist
    for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert all(torch.equal(s1[k]["exp_avg"], s2[k]["exp_avg"]) for k in s1)


def test_missing_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at .*nothing.pt"):
        load_checkpoint(tmp_path / "nothing.pt")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_or_truncated_checkpoint(tmp_path, damage):
    p = save_checkpoint(tmp_path / "c.pt", TinyLM())
    raw = p.read_bytes()
    p.write_bytes(
        {"truncate": raw[: len(raw) // 2], "garbage": b"not a checkpoint" * 10, "empty": b""}[
            damage
        ]
    )
    with pytest.raises(CheckpointError, match="c.pt is corrupt or truncated.*Delete it"):
        load_checkpoint(p, TinyLM())


def test_not_a_course_checkpoint(tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="not a course_lib checkpoint"):
        load_checkpoint(tmp_path / "x.pt")


def test_mismatched_model_and_config_say_what_differs(tmp_path):
    p = save_checkpoint(tmp_path / "c.pt", TinyLM(dim=16), config={"vocab": V, "dim": 16})
    with pytest.raises(CheckpointError, match=r"fields that differ: dim: checkpoint 16, model 32"):
        load_checkpoint(p, TinyLM(dim=32), config={"vocab": V, "dim": 32})
    with pytest.raises(
        CheckpointError, match=r"emb.weight: checkpoint \(12, 16\), model \(12, 32\)"
    ):
        load_checkpoint(p, TinyLM(dim=32))
    with pytest.raises(CheckpointError, match="not in the model: extra"):
        m = TinyLM()
        state = m.state_dict()
        state["extra"] = torch.zeros(1)
        torch.save(torch.load(p, weights_only=True) | {"model": state}, p)
        load_checkpoint(p, TinyLM())


def test_failed_save_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    p = save_checkpoint(tmp_path / "c.pt", TinyLM(), step=7)

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(p, TinyLM(), step=8)
    monkeypatch.undo()
    assert load_checkpoint(p)["step"] == 7
    assert [f.name for f in tmp_path.iterdir()] == ["c.pt"]


def test_evaluate_is_deterministic_and_restores_mode():
    model = TinyLM(p=0.5)
    model.train()
    a = evaluate(model, batcher(), n_batches=3)
    b = evaluate(model, batcher(), n_batches=3)
    assert a == b and model.training


def test_history_eval_curve_leaves_out_evaluation_time():
    h = History(
        step=[1, 2, 3, 4],
        time=[1.0, 2.0, 5.0, 6.0],  # evaluation at step 2 took 2 s (2.0 -> 4.0)
        train_loss=[0.0] * 4,
        lr=[0.0] * 4,
        grad_norm=[0.0] * 4,
        eval_step=[0, 2, 4],
        eval_time=[0.5, 4.0, 6.5],  # the first evaluation took 0.5 s, the last 0.5 s
        val_loss=[3.0, 2.0, 1.5],
    )
    assert h.eval_curve() == [[0.0, 3.0], [1.5, 2.0], [3.5, 1.5]]
    assert h.eval_curve(exclude_eval=False) == [[0.5, 3.0], [4.0, 2.0], [6.5, 1.5]]
    assert h.training_seconds() == pytest.approx(3.5)
    assert h.first_time_below(2.0) == 1.5
    assert h.first_time_below(2.0, exclude_eval=False) == 4.0
    assert h.first_time_below(1.0) is None
    assert History().training_seconds() == 0.0 and History().eval_curve() == []


def test_history_plot_and_repr():
    import matplotlib

    matplotlib.use("Agg")
    seed_everything(0)
    _, h = train(TinyLM(), batcher(), cfg(max_steps=20, eval_every=10))
    fig = h.plot(bits=True, title="tiny")
    ax = fig.axes[0]
    assert ax.get_ylabel() == "bits per token" and len(ax.lines) == 3
    assert "steps=20" in repr(h) and "val_loss=" in repr(h)
    fig2 = h.plot(x="time")
    assert fig2.axes[0].get_xlabel() == "training time (s)"
    with pytest.raises(ValueError, match="x must be"):
        h.plot(x="epoch")
