"""The exercise-check machinery itself: passes on the reference, fails with the right hint."""

import pytest
import torch

from course_lib.checks import (
    check_function,
    compare,
    off_by_one,
    scaled_by,
    transposed,
)


def ref_softmax_scores(q, k):
    return q @ k.transpose(-2, -1) / q.size(-1) ** 0.5


def inputs(rng):
    g = torch.Generator().manual_seed(rng.randrange(2**31))
    t, d = rng.randint(2, 5), rng.randint(3, 8)
    return torch.randn(t, d, generator=g), torch.randn(t + 1, d, generator=g)


HINTS = [scaled_by("sqrt(d)"), transposed()]


def test_passes_on_reference(capsys):
    assert check_function(ref_softmax_scores, ref_softmax_scores, inputs, name="check_scores")
    assert "\u2705 check_scores: passed on 20 random inputs" in capsys.readouterr().out


def test_missing_scaling_gets_the_scaling_hint(capsys):
    ok = check_function(
        lambda q, k: q @ k.T, ref_softmax_scores, inputs, name="check_scores", hints=HINTS
    )
    out = capsys.readouterr().out
    assert not ok and "\u274c check_scores: failed" in out
    assert (
        "hint:     your result is the expected one times a constant: check the scaling by sqrt(d)"
        in out
    )
    assert "input:" in out and "expected: tensor of shape" in out and "got:" in out


def test_wrong_axis_gets_the_axis_hint(capsys):
    ok = check_function(
        lambda q, k: k @ q.T / q.size(-1) ** 0.5,
        ref_softmax_scores,
        inputs,
        name="check_scores",
        hints=HINTS,
    )
    out = capsys.readouterr().out
    assert not ok and "expected shape" in out and "axes are swapped" in out


def test_off_by_one_hint(capsys):
    ok = check_function(
        lambda xs: xs[1:], lambda xs: xs, [([1, 2, 3],)], name="check_copy", hints=[off_by_one()]
    )
    assert not ok and "off by one" in capsys.readouterr().out


def test_not_implemented_and_crash_are_reported(capsys):
    def stub(q, k):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):  # stops Run All at the first unwritten exercise
        check_function(stub, ref_softmax_scores, inputs, name="check_scores")
    assert "\u274c check_scores: not attempted" in capsys.readouterr().out

    def crash(q, k):
        return torch.cat([q, k], dim=1)  # T and T + 1 rows: always a RuntimeError

    assert not check_function(crash, ref_softmax_scores, inputs, name="check_scores")
    assert "raised RuntimeError" in capsys.readouterr().out


def test_learner_cannot_change_the_reference_inputs():
    def mutating(xs):
        xs.append(99)
        return sorted(xs[:-1])

    assert check_function(mutating, sorted, [([3, 1, 2],)], name="check_sort", verbose=False)


def test_compare_rules():
    assert compare(1.0 + 1e-9, 1.0) is None
    assert compare([1, 2], [1, 2, 3]) == "expected 3 items, got 2"
    assert compare({"a": 1}, {"a": 2}) == "key 'a': values differ"
    assert "shape" in compare(torch.zeros(2, 3), torch.zeros(3, 2))
    assert compare([0.0, 0.0], torch.zeros(2)) == "expected a Tensor, got a list"
