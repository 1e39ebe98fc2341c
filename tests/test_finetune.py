"""Lesson 06's library: freezing, LoRA, the classifier, the committed pre-trained checkpoint (the
exercise checks: tests/test_checks_finetune.py; the tasks' data: tests/test_data.py; the
comparison: tests/test_runs.py)."""

import copy
import subprocess
import sys

import pytest
import torch

from course_lib import finetune as ft
from course_lib.data import shakespeare_tokenizer
from course_lib.runs import PRETRAIN_RECIPE
from course_lib.runtime import REPO_ROOT
from course_lib.train import CheckpointError, load_checkpoint
from course_lib.transformer import GPT, GPTConfig

TINY = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)


def _tiny_classifier(k=3, seed=0, pooling="mean"):
    torch.manual_seed(seed)
    return ft.GPTClassifier(GPT(TINY), k, pooling)


def _toy_data(n=24, T=12, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, TINY.vocab_size, (n, T), generator=g)
    lengths = torch.randint(3, T + 1, (n,), generator=g)
    labels = torch.arange(n) % k
    return ids, lengths, labels


# --- the inputs ----------------------------------------------------------------------------


def test_encode_texts_pads_crops_and_replaces_unknown_characters():
    tok = shakespeare_tokenizer()
    ids, lengths = ft.encode_texts(tok, ["abc", "é—x", "a" * 50], max_len=10)
    assert ids.shape == (3, 10) and lengths.tolist() == [3, 3, 10]
    assert tok.decode(ids[1, :3].tolist()) == "  x"
    assert ids[0, 3:].eq(0).all()


# --- the classifier -----------------------------------------------------------------------------


def test_mean_pooling_ignores_padding():
    clf = _tiny_classifier().eval()
    ids = torch.randint(0, 11, (1, 5))
    padded = torch.cat([ids, torch.randint(0, 11, (1, 3))], dim=1)
    a = clf.features(ids)
    b = clf.features(padded, torch.tensor([5]))
    assert torch.allclose(a, b, atol=1e-6)
    last = _tiny_classifier(pooling="last").eval()
    assert torch.allclose(last.features(ids), last.features(padded, torch.tensor([5])), atol=1e-6)


def test_last_pooling_averages_the_last_position_of_every_window():
    clf = _tiny_classifier(pooling="last").eval()
    ids = torch.randint(0, 11, (2, 20))  # block_size 8: windows end at positions 7, 15 and 19
    h = clf.hidden_states(ids)
    lengths = torch.tensor([20, 13])  # the second text ends inside its second window
    want = torch.stack([h[0, [7, 15, 19]].mean(0), h[1, [7, 12]].mean(0)])
    assert torch.allclose(clf.features(ids, lengths), want, atol=1e-6)


def test_long_texts_are_read_in_separate_windows():
    clf = _tiny_classifier().eval()
    ids = torch.randint(0, 11, (2, 20))  # block_size 8: windows 0-7, 8-15, 16-19
    h = clf.hidden_states(ids)
    assert h.shape == (2, 20, TINY.n_embd)
    assert torch.allclose(h[:, 8:16], clf.gpt.features(ids[:, 8:16]), atol=1e-6)
    assert torch.allclose(h[:, 16:], clf.gpt.features(ids[:, 16:]), atol=1e-6)


# --- freezing -----------------------------------------------------------------------------------


def test_freezing_the_body_leaves_pretrained_weights_bit_identical():
    clf = _tiny_classifier()
    body = copy.deepcopy(clf.gpt.state_dict())
    head = copy.deepcopy(clf.head.state_dict())
    ft.finetune(clf, *_toy_data(), freeze="body", steps=5, lr=1e-2)
    assert all(torch.equal(body[k], v) for k, v in clf.gpt.state_dict().items())
    assert not torch.equal(head["weight"], clf.head.weight)


def test_all_but_last_block_trains_only_the_top():
    clf = _tiny_classifier()
    before = copy.deepcopy(clf.state_dict())
    ft.finetune(clf, *_toy_data(), freeze="all_but_last_block", steps=5, lr=1e-2)
    after = clf.state_dict()
    changed = {k for k in after if not torch.equal(before[k], after[k])}
    assert changed, "nothing trained"
    assert all(k.startswith(("gpt.blocks.1.", "gpt.ln_f.", "head.")) for k in changed), changed
    assert "gpt.blocks.1.mlp.fc.weight" in changed


def test_full_finetuning_changes_the_body():
    clf = _tiny_classifier()
    before = copy.deepcopy(clf.gpt.tok_emb.weight)
    ft.finetune(clf, *_toy_data(), freeze="none", steps=5, lr=1e-2)
    assert not torch.equal(before, clf.gpt.tok_emb.weight)


def test_unknown_freeze_option_is_an_error():
    with pytest.raises(ValueError, match="freeze must be one of"):
        ft.set_trainable(_tiny_classifier(), "half")
    with pytest.raises(ValueError, match="apply_lora"):
        ft.set_trainable(_tiny_classifier(), "lora")


# --- LoRA ---------------------------------------------------------------------------------------


def test_lora_with_zero_B_equals_the_frozen_layer_exactly():
    base = torch.nn.Linear(7, 5)
    lora = ft.LoRALinear(copy.deepcopy(base), r=3, alpha=6)
    x = torch.randn(4, 2, 7)
    assert torch.equal(lora(x), base(x))
    clf = _tiny_classifier()
    ids = torch.randint(0, 11, (3, 8))
    expected = clf(ids)
    ft.apply_lora(clf, r=2)
    assert torch.equal(clf(ids), expected)


def test_lora_forward_and_merge():
    base = torch.nn.Linear(6, 4).double()
    lora = ft.LoRALinear(base, r=2, alpha=8).double()
    with torch.no_grad():
        lora.B.normal_()
    x = torch.randn(5, 6, dtype=torch.float64)
    want = x @ base.weight.T + base.bias + 4.0 * (x @ lora.A.T @ lora.B.T)
    assert torch.allclose(lora(x), want)
    assert torch.allclose(lora.merged()(x), want)
    assert sum(p.numel() for p in lora.parameters() if p.requires_grad) == 2 * (6 + 4)


def test_only_lora_parameters_and_the_head_get_gradients():
    clf = _tiny_classifier()
    layers = ft.apply_lora(clf, r=2)
    assert len(layers) == 4 * TINY.n_layer
    with torch.no_grad():
        for m in layers:
            m.B.normal_()  # so that A gets a gradient too
    ids, lengths, labels = _toy_data()
    ft.classification_loss(clf, (ids, lengths, labels)).backward()
    lora = {id(p) for p in ft.lora_parameters(clf)} | {id(p) for p in clf.head.parameters()}
    for name, p in clf.named_parameters():
        if id(p) in lora:
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert p.grad is None and not p.requires_grad, name


def test_lora_finetuning_keeps_the_pretrained_weights():
    clf = _tiny_classifier()
    body = copy.deepcopy(clf.gpt.state_dict())
    ft.apply_lora(clf, r=2)
    ft.finetune(clf, *_toy_data(), freeze="lora", steps=5, lr=1e-2)
    state = clf.gpt.state_dict()
    for k, v in body.items():
        k2 = k if k in state else k.replace("_proj.", "_proj.base.")
        assert torch.equal(state[k2], v), k
    assert any(m.B.abs().sum() > 0 for m in clf.modules() if isinstance(m, ft.LoRALinear))


# --- evaluation and the comparison --------------------------------------------------------------


def test_accuracy_and_confusion_matrix():
    labels, pred = torch.tensor([0, 0, 1, 2, 2]), torch.tensor([0, 1, 1, 2, 0])
    assert ft.accuracy(pred, labels) == pytest.approx(0.6)
    cm = ft.confusion_matrix(labels, pred, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert cm.sum() == 5 and cm.trace() == 3


def test_linear_probe_fits_separable_features():
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(60, 5, generator=g)
    labels = (feats[:, 0] > 0).long() + (feats[:, 1] > 1).long()
    probe = ft.linear_probe(feats, labels, 3, weight_decay=1e-4)
    assert ft.accuracy(probe.predict(feats), labels) > 0.9


def test_probe_copied_into_a_head_gives_the_same_logits():
    g = torch.Generator().manual_seed(1)
    feats = 3 * torch.randn(40, 16, generator=g) + 2
    labels = torch.arange(40) % 3
    probe = ft.linear_probe(feats, labels, 3)
    head = probe.copy_into(torch.nn.Linear(16, 3))
    assert torch.allclose(head(feats), probe(feats), atol=1e-4)


def test_balanced_subset_is_balanced_and_seeded():
    labels = [0] * 50 + [1] * 30 + [2] * 20
    a = ft.balanced_subset(labels, 10, seed=3)
    assert sorted(labels[i] for i in a) == [0, 0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert a == ft.balanced_subset(labels, 10, seed=3) != ft.balanced_subset(labels, 10, seed=4)


# --- the committed checkpoint -------------------------------------------------------------------


def test_committed_checkpoint_loads_safely_and_is_small():
    assert ft.PRETRAINED_PATH.stat().st_size < 5_000_000
    raw = torch.load(ft.PRETRAINED_PATH, weights_only=True)
    assert raw["optimizer"] is None  # weights only: no optimizer state to ship
    model, tok, ckpt = ft.load_pretrained()
    assert len(tok) == model.config.vocab_size == 84
    assert tok.chars == shakespeare_tokenizer().chars
    assert model.config.block_size == PRETRAIN_RECIPE.block_size
    assert ckpt["extra"]["val_loss"] < 2.0  # it learned something: lesson 05 reaches ~1.75


def test_checkpoint_into_a_different_config_names_the_differing_fields():
    config = GPTConfig(**load_checkpoint(ft.PRETRAINED_PATH)["config"])
    other = GPTConfig(**{**config.__dict__, "n_layer": config.n_layer + 1, "n_embd": 64})
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(ft.PRETRAINED_PATH, GPT(other), config=other)
    msg = str(e.value)
    assert "n_layer: checkpoint 2, model 3" in msg and "n_embd: checkpoint 128, model 64" in msg
    assert "block_size" not in msg  # only the fields that differ


def test_pretrain_script_writes_a_loadable_checkpoint(tmp_path):
    out = tmp_path / "tiny.pt"
    r = subprocess.run(
        [
            sys.executable,
            "data/pretrain_gpt.py",
            "--steps",
            "2",
            "--out",
            str(out),
            "--no-progress",
            "--threads",
            "1",
            "--val-chars",
            "5000",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    model, tok, ckpt = ft.load_pretrained(out)
    assert ckpt["step"] == 2 and len(tok) == 84
    # the same model as the committed checkpoint's (whose config predates "activation")
    committed = load_checkpoint(ft.PRETRAINED_PATH)["config"]
    assert GPTConfig(**ckpt["config"]) == GPTConfig(**committed)
