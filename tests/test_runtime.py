import importlib
import random

import numpy as np
import pytest
import torch

from course_lib import runtime


def _draw():
    return (
        random.random(),
        float(np.random.rand()),
        torch.randn(5),
        torch.nn.Linear(8, 4)(torch.randn(3, 8)),
    )


def test_seed_everything_gives_bitwise_identical_results():
    runtime.seed_everything(123)
    a = _draw()
    runtime.seed_everything(123)
    b = _draw()
    assert a[0] == b[0] and a[1] == b[1]
    assert torch.equal(a[2], b[2]) and torch.equal(a[3], b[3])
    runtime.seed_everything(124)
    c = _draw()
    assert not torch.equal(a[2], c[2])


@pytest.mark.parametrize("bad", [-1, 1.5, "1", None, True])
def test_seed_everything_rejects_bad_seeds(bad):
    with pytest.raises(ValueError, match="non-negative int"):
        runtime.seed_everything(bad)


def test_get_device_defaults_to_an_available_device(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    dev = runtime.get_device()
    expected = (
        "cuda"
        if torch.cuda.is_available()
        else ("mps" if torch.backends.mps.is_available() else "cpu")
    )
    assert dev.type == expected


def test_course_device_overrides(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert runtime.get_device() == torch.device("cpu")
    monkeypatch.setenv("COURSE_DEVICE", "tpu")
    with pytest.raises(ValueError, match="unknown device 'tpu'"):
        runtime.get_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_error_says_what_is_available(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="not available here; available: .*cpu"):
        runtime.get_device()


def test_fast_flag_follows_environment(monkeypatch):
    try:
        monkeypatch.setenv("COURSE_FAST", "1")
        assert importlib.reload(runtime).FAST is True
        assert runtime.by_mode(full=1000, fast=10) == 10
        monkeypatch.setenv("COURSE_FAST", "0")
        assert importlib.reload(runtime).FAST is False
        assert runtime.by_mode(full=1000, fast=10) == 1000
    finally:
        monkeypatch.undo()
        importlib.reload(runtime)


def test_data_paths_are_repo_relative():
    assert runtime.data_path("tiny_shakespeare.txt").exists()
    assert runtime.relpath(runtime.data_path("x.txt")) == "data/x.txt"
    assert runtime.relpath("/somewhere/else/file.pt") == "file.pt"


def test_summary_shows_threads_and_mode():
    s = runtime.runtime_summary()
    assert s["threads"] == torch.get_num_threads()
    assert f"{s['threads']} threads" in runtime.describe()
    assert s["mode"] in ("fast", "full")
