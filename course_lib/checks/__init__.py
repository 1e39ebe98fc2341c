"""Exercise checks: run the learner's function on fresh random inputs against the reference.

A lesson's exercise cell ends with a call such as ``check_merge(merge)``. The check calls the
learner's function and the reference on the same fresh inputs and compares the results. On
success it prints one line; on failure it prints, in plain words, the input, the expected and the
received value, and a hint aimed at the usual mistake, never the solution code. Checks return
``True``/``False`` rather than raising, so a learner sees every exercise's status; only a function
that is not written yet (it raises ``NotImplementedError``, the student version's stub) stops the
run there, as nbgrader's stubs do::

    ✅ check_merge: passed on 20 random inputs
    ❌ check_merge: failed ...

Under grading (settings in :mod:`course_lib.runtime`) three things change:

- strict mode (``COURSE_STRICT=1``, or nbgrader running the notebook): a failing check raises
  ``AssertionError`` carrying its message and hint, so nbgrader's grade cell scores 0;
- ``COURSE_GRADE_SEED``: every check draws the same inputs each run (seeded per check name), so
  a regrade gives the same marks;
- ``COURSE_VERDICTS``: every verdict is also appended to that file as one JSON line carrying the
  grader's secret token for the run. ``course grade`` reads marks from there, never from what the
  notebook printed: a submission can print a ✅, not write a line the grader accepts.

Lesson-specific checks live in submodules (``course_lib.checks.tokenize`` and so on), each built
with :func:`check_function` and :class:`Hint`.
"""

from __future__ import annotations

import copy
import json
import math
import os
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .. import runtime

PASS_MARK, FAIL_MARK, LIBRARY_MARK = "\u2705", "\u274c", "\u26a0\ufe0f"
USES_LIBRARY = "uses the library version"


@dataclass
class Hint:
    """A hint shown when ``applies(args, got, expected)`` is true for a failing case.

    ``applies`` recognises a typical mistake from the wrong answer (for example: the result is
    the expected one times a constant, i.e. a missing scaling)."""

    applies: Callable[[tuple, Any, Any], bool]
    message: str


def _short(value: Any, limit: int = 300) -> str:
    if isinstance(value, torch.Tensor):
        torch.set_printoptions(precision=4, threshold=40, edgeitems=3)
        try:
            text = f"tensor of shape {tuple(value.shape)}, dtype {value.dtype}:\n{value}"
        finally:
            torch.set_printoptions(profile="default")
    elif isinstance(value, np.ndarray):
        text = f"array of shape {value.shape}:\n{np.array2string(value, precision=4, threshold=40)}"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + " ..."


def _as_array(x: Any):
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().double().numpy()
    if isinstance(x, np.ndarray):
        return x.astype(float)
    return None


def compare(got: Any, expected: Any, *, atol: float = 1e-6, rtol: float = 1e-5) -> str | None:
    """``None`` when ``got`` matches ``expected`` (numbers and tensors to tolerance, everything else
    exactly); otherwise a short reason."""
    exp_arr = _as_array(expected)
    if exp_arr is not None:
        got_arr = _as_array(got)
        if got_arr is None:
            return f"expected a {type(expected).__name__}, got a {type(got).__name__}"
        if got_arr.shape != exp_arr.shape:
            return f"expected shape {tuple(exp_arr.shape)}, got shape {tuple(got_arr.shape)}"
        if not np.allclose(got_arr, exp_arr, atol=atol, rtol=rtol, equal_nan=True):
            diff = np.abs(got_arr - exp_arr)
            err = float("nan") if np.isnan(diff).all() else float(np.nanmax(diff))
            return f"values differ (largest difference {err:.3g})"
        return None
    if isinstance(expected, float) and isinstance(got, int | float) and not isinstance(got, bool):
        return None if math.isclose(got, expected, rel_tol=rtol, abs_tol=atol) else "values differ"
    if isinstance(expected, tuple | list) and isinstance(got, tuple | list):
        if len(got) != len(expected):
            return f"expected {len(expected)} items, got {len(got)}"
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            reason = compare(g, e, atol=atol, rtol=rtol)
            if reason:
                return f"item {i}: {reason}"
        return None
    if isinstance(expected, dict) and isinstance(got, dict):
        if set(got) != set(expected):
            return (
                f"expected keys {sorted(expected, key=str)[:10]}, got {sorted(got, key=str)[:10]}"
            )
        for k in expected:
            reason = compare(got[k], expected[k], atol=atol, rtol=rtol)
            if reason:
                return f"key {k!r}: {reason}"
        return None
    return None if got == expected else "values differ"


# --- hints that recognise the usual mistakes ------------------------------------------------


def scaled_by(factor_name: str) -> Hint:
    """The result is the expected one times a constant factor: a missing or extra scaling."""

    def applies(args, got, expected):
        g, e = _as_array(got), _as_array(expected)
        if g is None or e is None or g.shape != e.shape or not np.any(e):
            return False
        mask = np.abs(e) > 1e-9
        ratio = g[mask] / e[mask]
        return bool(np.allclose(ratio, ratio.flat[0], rtol=1e-4)) and abs(ratio.flat[0] - 1) > 1e-3

    return Hint(
        applies,
        f"your result is the expected one times a constant: check the scaling by {factor_name}",
    )


def transposed() -> Hint:
    """The result has the expected shape reversed in its last two axes: a wrong axis."""

    def applies(args, got, expected):
        g, e = _as_array(got), _as_array(expected)
        return (
            g is not None
            and e is not None
            and g.ndim >= 2
            and e.ndim >= 2
            and g.shape[:-2] == e.shape[:-2]
            and g.shape[-2:] == e.shape[-2:][::-1]
        )

    return Hint(
        applies,
        "your result's last two axes are swapped: check which axis you reduce or transpose over",
    )


def off_by_one(length_of: Callable[[Any], int] = len) -> Hint:
    """The result is one element too long or too short."""

    def applies(args, got, expected):
        try:
            return abs(length_of(got) - length_of(expected)) == 1
        except TypeError:
            return False

    return Hint(
        applies,
        "your result is off by one in length: check where your loop or slice starts and stops",
    )


# --- an answer that only calls the library's --------------------------------------------


def _code_names(code) -> set[str]:
    """Every global or attribute name a code object uses, nested functions included."""
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _code_names(const)
    return names


def uses_library(fn: Callable, library: Callable | Sequence[Callable]) -> str | None:
    """The name of the library function in ``library`` that ``fn`` *is*, or calls through a name
    (``encode(...)`` after ``from ... import encode``, or ``module.encode(...)``); else None.

    An exercise asks the learner to write a function the library already has; an answer that
    merely calls the library's version would pass every numerical test, so the checks call this
    first and report "uses the library version" instead of a pass."""
    libs = [library] if callable(library) else list(library)
    target = getattr(fn, "__func__", fn)
    for lib in libs:
        lib_fn = getattr(lib, "__func__", lib)
        if target is lib_fn:
            return _qualified(lib_fn)
    code = getattr(target, "__code__", None)
    if code is None:
        return None
    names = _code_names(code)
    scope = getattr(target, "__globals__", {})
    for lib in libs:
        lib_fn = getattr(lib, "__func__", lib)
        short = getattr(lib_fn, "__name__", None)
        for name in names:
            value = scope.get(name)
            if value is lib_fn:
                return _qualified(lib_fn)
            if short in names and getattr(value, short, None) is not None:
                attr = getattr(value, short)
                if getattr(attr, "__func__", attr) is lib_fn:
                    return _qualified(lib_fn)
    return None


def _qualified(fn: Callable) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def library_verdict(fn: Callable, library, name: str, verbose: bool = True) -> bool | None:
    """``False`` (after printing the verdict) when ``fn`` only uses the library's answer, else
    ``None``: the check goes on."""
    used = uses_library(fn, library) if library is not None else None
    return None if used is None else report_library_use(used, name, verbose)


def report_library_use(used: str, name: str, verbose: bool = True) -> bool:
    """Report the "uses the library version" verdict for an answer found to use ``used`` (a
    qualified name); return False (raise ``AssertionError`` in strict mode). For checks that find
    the use their own way."""
    return library_use_verdict(
        name,
        f"your function calls {used}, the course's own answer: write the steps yourself "
        "(the lesson shows them)",
        verbose,
    )


def library_use_verdict(name: str, message: str, verbose: bool = True) -> bool:
    """Report "uses the library version" with ``message`` saying what was called; return False
    (raise ``AssertionError`` in strict mode). The answer gets no points."""
    return _verdict(name, USES_LIBRARY, message, verbose, mark=LIBRARY_MARK)


# --- the check ------------------------------------------------------------------------------


def check_function(
    fn: Callable,
    reference: Callable,
    make_inputs: Callable[[random.Random], tuple] | Iterable[tuple],
    *,
    name: str,
    trials: int = 20,
    hints: Sequence[Hint] = (),
    seed: int | None = None,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    verbose: bool = True,
    library: Callable | Sequence[Callable] | None = None,
) -> bool:
    """Compare ``fn`` with ``reference`` and print a verdict; return True when they agree.

    Args:
        fn: the learner's function.
        reference: the course's solution (never shown to the learner).
        make_inputs: ``make_inputs(rng) -> args tuple`` drawing fresh random inputs, or a fixed
            iterable of argument tuples (edge cases first is a good order).
        name: the exercise's name, e.g. ``"check_merge"``, printed in the verdict.
        trials: how many random inputs to try.
        hints: typical mistakes to recognise in a wrong answer; the first that applies is shown.
        seed: fix the inputs (default: fresh ones each run).
        library: the course library's version of the answer: an ``fn`` that is it, or calls
            it, gets the verdict "uses the library version" (:func:`uses_library`), not a pass.
    """
    if library_verdict(fn, library, name, verbose) is False:
        return False
    n = 0
    for args in _cases(make_inputs, trials, seed, name):
        args = args if isinstance(args, tuple) else (args,)
        n += 1
        expected = reference(*copy.deepcopy(args))
        shown_args = ", ".join(_short(a, 200) for a in args)
        try:
            got = fn(*copy.deepcopy(args))
        except NotImplementedError:
            # Stop "Run All" here, as an nbgrader stub does: later cells may need this answer.
            _fail(name, _NOT_WRITTEN, verbose, verdict="not attempted", strict=False)
            raise
        except Exception as e:  # the learner's code crashed: say where, not how to fix it
            return _fail(
                name, f"calling it on input ({shown_args}) raised {type(e).__name__}: {e}", verbose
            )
        reason = compare(got, expected, atol=atol, rtol=rtol)
        if reason:
            return _fail(
                name, _wrong_result(reason, args, shown_args, expected, got, hints), verbose
            )
    drawn = "random " if callable(make_inputs) else ""
    return _pass(name, f"passed on {n} {drawn}input{'s' if n != 1 else ''}", verbose)


_NOT_WRITTEN = (
    "the function is not written yet (it raises NotImplementedError): "
    "replace the `raise NotImplementedError()` line with your code"
)


def _cases(
    make_inputs: Callable[[random.Random], tuple] | Iterable[tuple],
    trials: int,
    seed: int | None,
    name: str,
) -> Iterable[tuple]:
    """The inputs to try: ``trials`` fresh ones drawn by ``make_inputs(rng)`` (lazily, one per
    case), or the fixed iterable itself."""
    if callable(make_inputs):
        rng = check_rng(name, seed)
        return (make_inputs(rng) for _ in range(trials))
    return make_inputs


def check_rng(name: str, seed: int | None = None) -> random.Random:
    """The random generator a check draws its inputs from: seeded with ``seed`` when given, else
    with ``COURSE_GRADE_SEED`` and the check's ``name`` when grading (the same inputs every run,
    different ones per check), else fresh (a learner sees new inputs each run)."""
    if seed is not None:
        return random.Random(seed)
    graded = runtime.grade_seed()
    return random.Random(f"{graded}:{name}") if graded is not None else random.Random()


def _wrong_result(
    reason: str, args: tuple, shown_args: str, expected: Any, got: Any, hints: Sequence[Hint]
) -> str:
    """What went wrong on one input: the reason, the input, both values, the first hint that
    applies."""
    hint = next((h.message for h in hints if _safe(h.applies, args, got, expected)), None)
    lines = [
        f"wrong result: {reason}",
        f"input:    {shown_args}",
        f"expected: {_short(expected)}",
        f"got:      {_short(got)}",
    ]
    if hint:
        lines.append(f"hint:     {hint}")
    return "\n".join(lines)


def _safe(pred, *args) -> bool:
    try:
        return bool(pred(*args))
    except Exception:
        return False


def _fail(
    name: str, message: str, verbose: bool, verdict: str = "failed", *, strict: bool = True
) -> bool:
    """Report a failing verdict; return False, or raise ``AssertionError`` in strict mode (unless
    ``strict=False``: the caller re-raises the learner's ``NotImplementedError`` itself)."""
    return _verdict(name, verdict, message, verbose, mark=FAIL_MARK, strict=strict)


def _pass(name: str, message: str, verbose: bool) -> bool:
    """Report a pass (``message`` is the verdict line, e.g. "passed on 20 random inputs")."""
    record_verdict(name, "passed", message)
    if verbose:
        print(f"{PASS_MARK} {name}: {message}")
    return True


def _verdict(
    name: str, verdict: str, message: str, verbose: bool, *, mark: str, strict: bool = True
) -> bool:
    """Record, print and (in strict mode) raise a verdict that is not a pass; return False."""
    record_verdict(name, verdict, message)
    if verbose:
        lines = "\n".join("   " + line for line in message.splitlines())
        print(f"{mark} {name}: {verdict}\n{lines}")
    if strict and runtime.strict_checks():
        raise AssertionError(f"{name}: {verdict}\n{message}")
    return False


def record_verdict(name: str, verdict: str, message: str = "") -> None:
    """Append a verdict to the grader's file (``COURSE_VERDICTS``), if grading: one JSON line
    with the check's name, the verdict, the message (input, expected, received, hint) and the
    grader's token for this run (``course_lib.runtime`` took it at import). Learners: no-op."""
    path = os.environ.get("COURSE_VERDICTS")
    if not path:
        return
    line = {"check": name, "verdict": verdict, "message": message, "token": runtime._GRADE_TOKEN}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line) + "\n")


# --- predict, then measure ----------------------------------------------------------------


def check_prediction(
    prediction: Any,
    measured: Any,
    *,
    name: str,
    explain: str,
    tolerance: float | None = None,
    relative: bool = False,
    choices: Sequence[Any] | None = None,
    verbose: bool = True,
) -> bool:
    """A "predict, then measure" exercise: compare the learner's ``prediction``, written down
    before the experiment ran, with what it ``measured``, and explain the result.

    The exercise is passed by making a prediction of the right form: a number, or one of
    ``choices``; ``None`` (the prediction cell was not written) is "not attempted". Being right
    is not required, being told is: a number counts as right within ``tolerance`` (a fraction of
    ``measured`` when ``relative``), a choice when it equals ``measured``. The measurement and
    ``explain`` (why the result is what it is) are printed either way. Returns whether the
    prediction was right (False when not attempted or malformed)."""
    if prediction is None or prediction is Ellipsis:
        return _fail(name, "write your prediction in the cell above", verbose, "not attempted")
    if choices is not None:
        if prediction not in choices:
            return _fail(name, f"predict one of {list(choices)!r}, got {prediction!r}", verbose)
        right = prediction == measured
    else:
        if not isinstance(prediction, int | float) or isinstance(prediction, bool):
            return _fail(name, f"write your prediction as a number, got {prediction!r}", verbose)
        if tolerance is None:
            raise ValueError("a numerical prediction needs a tolerance")
        allowed = tolerance * abs(measured) if relative else tolerance
        right = abs(prediction - measured) <= allowed
    shown = f"{measured:.4g}" if isinstance(measured, float) else repr(measured)
    verdict = "right" if right else "not what happened: read why below"
    _pass(
        name,
        f"passed (prediction made)\n   you predicted {prediction!r}; the experiment measured "
        f"{shown}: {verdict}\n   why: {explain}",
        verbose,
    )
    return right
