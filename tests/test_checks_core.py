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


# --- an answer that only calls the library's version ------------------------------------------

import course_lib.checks as checks_module  # noqa: E402
from course_lib import finetune as ft_module  # noqa: E402
from course_lib.checks import USES_LIBRARY, uses_library  # noqa: E402
from course_lib.finetune import accuracy  # noqa: E402


def own_accuracy(pred, labels):
    return float((torch.as_tensor(pred) == torch.as_tensor(labels)).float().mean())


def calls_imported(pred, labels):
    return accuracy(pred, labels)


def calls_through_module(pred, labels):
    return ft_module.accuracy(pred, labels)


def calls_in_nested_helper(pred, labels):
    def inner():
        return accuracy(pred, labels)

    return inner()


def test_uses_library_sees_the_library_answer_however_it_is_reached():
    assert uses_library(accuracy, accuracy) == "course_lib.finetune.accuracy"
    for fn in (calls_imported, calls_through_module, calls_in_nested_helper):
        assert uses_library(fn, accuracy) == "course_lib.finetune.accuracy", fn.__name__
    assert uses_library(own_accuracy, accuracy) is None
    assert uses_library(own_accuracy, [accuracy, checks_module.compare]) is None
    assert uses_library(len, accuracy) is None  # a builtin has no code to read


def test_check_reports_the_library_version_not_a_pass(capsys):
    def inputs(rng):
        return [rng.randint(0, 2) for _ in range(5)], [rng.randint(0, 2) for _ in range(5)]

    ok = check_function(calls_imported, own_accuracy, inputs, name="check_acc", library=accuracy)
    out = capsys.readouterr().out
    assert ok is False and f"check_acc: {USES_LIBRARY}" in out and "accuracy" in out
    assert check_function(own_accuracy, own_accuracy, inputs, name="check_acc", library=accuracy)


def test_course_check_reads_the_library_verdict():
    import nbformat

    from course_lib import cli

    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("ok = check_acc(f)")
    cell.outputs = [
        nbformat.v4.new_output(
            "stream", name="stdout", text=f"\u26a0\ufe0f check_acc: {USES_LIBRARY}\n"
        )
    ]
    nb.cells = [cell]
    assert cli.verdicts_of(nb).verdicts == {"check_acc": USES_LIBRARY}


def test_check_prediction_passes_any_made_prediction_and_says_whether_it_was_right(capsys):
    from course_lib.checks import check_prediction

    kw = dict(name="check_guess", explain="because")
    assert check_prediction(2.0, 2.05, tolerance=0.1, **kw) is True
    assert "\u2705 check_guess: passed" in (out := capsys.readouterr().out) and ": right" in out
    assert check_prediction(5.0, 2.05, tolerance=0.1, **kw) is False
    out = capsys.readouterr().out
    assert (
        "\u2705 check_guess: passed" in out and "not what happened" in out and "why: because" in out
    )
    assert check_prediction(2.2, 2.0, tolerance=0.15, relative=True, **kw) is True
    assert check_prediction("up", "down", choices=("up", "down"), **kw) is False
    assert "passed (prediction made)" in capsys.readouterr().out
    assert check_prediction(None, 2.0, tolerance=0.1, **kw) is False
    assert "\u274c check_guess: not attempted" in capsys.readouterr().out
    assert check_prediction("sideways", "up", choices=("up", "down"), **kw) is False
    assert "\u274c check_guess: failed" in capsys.readouterr().out
    assert check_prediction("2", 2.0, tolerance=0.1, **kw) is False
    assert "as a number" in capsys.readouterr().out
    with pytest.raises(ValueError, match="tolerance"):
        check_prediction(1.0, 2.0, **kw)
