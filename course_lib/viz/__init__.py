"""Every static figure of the course, one module per idea, named as the idea's module:
``viz.rnn`` draws what ``course_lib.rnn`` computes. ``viz.style`` holds the look they share (the
palette, font sizes, how whitespace is shown).

A function that returns a figure starts with ``plot_``. matplotlib (and scikit-learn, for the
word maps) is imported inside the functions, so importing this package, or any module in it,
stays headless. Use it as ``from course_lib.viz import rnn as viz_rnn`` or
``from course_lib import viz`` and then ``viz.rnn.plot_unrolled_rnn()``.
"""

from __future__ import annotations

import importlib

__all__ = [
    "style",
    "tokenize",
    "embeddings",
    "rnn",
    "attention",
    "transformer",
    "finetune",
    "train",
    "autograd",
]


def __getattr__(name: str):
    # ``viz.rnn`` without importing every figure module (and torch) up front
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
