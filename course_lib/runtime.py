"""Where and how the course runs: seeding, device, fast mode, data and output paths, threads,
and the settings a grader gives a run.

This module imports nothing else of ours, so every other module may import it.

Environment variables it reads (all optional):

    COURSE_FAST=1           fast mode: fewer steps, same code paths
    COURSE_ROOT             the repository root (default: the folder above ``course_lib``)
    COURSE_OUTPUT_DIR       where lessons write checkpoints (default ``checkpoints/`` in the repo)
    COURSE_STRICT=1         a failing exercise check raises ``AssertionError`` (also on when
                            nbgrader runs the notebook: it sets ``NBGRADER_EXECUTION``)
    COURSE_GRADE_SEED       a fixed seed for the checks' inputs: a regrade gives the same marks
    COURSE_VERDICTS         a file the checks append their verdicts to, one JSON line each
    COURSE_GRADE_TOKEN_FILE a file holding the grader's secret for this run: read once, at import,
                            then deleted, so code run later in the kernel cannot read it
"""

from __future__ import annotations

import os
import platform
import random
from pathlib import Path

import numpy as np
import torch

FAST: bool = os.environ.get("COURSE_FAST", "0") == "1"
"""True when ``COURSE_FAST=1``: the test run, with fewer steps. Same code paths as full mode."""

REPO_ROOT: Path = Path(os.environ.get("COURSE_ROOT", Path(__file__).resolve().parent.parent))
DATA_DIR: Path = REPO_ROOT / "data"
CACHE_DIR: Path = DATA_DIR / "cache"
OUTPUT_DIR: Path = Path(os.environ.get("COURSE_OUTPUT_DIR") or REPO_ROOT / "checkpoints")
"""Where lessons write what they produce (checkpoints): one folder per grading run."""


def _take_grade_token() -> str | None:
    """The grader's secret for this run, read from ``COURSE_GRADE_TOKEN_FILE`` and deleted."""
    path = os.environ.pop("COURSE_GRADE_TOKEN_FILE", None)
    if not path:
        return None
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
        Path(path).unlink()
    except OSError:
        return None
    return token or None


_GRADE_TOKEN: str | None = _take_grade_token()

_DEVICES = ("cuda", "mps", "cpu")

SUPPORTED_PYTHON: tuple[tuple[int, int], ...] = ((3, 11), (3, 12), (3, 13))
"""The Python versions the course is tested on (pyproject.toml's requires-python says the same)."""


def python_supported(version: tuple[int, ...] | None = None) -> bool:
    """Whether ``version`` (default: the running Python) is one the course supports."""
    import sys

    return tuple((version or sys.version_info)[:2]) in SUPPORTED_PYTHON


def by_mode(full, fast):
    """The full-mode or fast-mode value of a setting: ``steps = by_mode(full=3000, fast=60)``."""
    return fast if FAST else full


def seed_everything(seed: int) -> int:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and every GPU).

    On the CPU, the same seed then gives bitwise-identical results run after run (same thread
    count, same PyTorch build). Returns the seed so a notebook can print it.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return seed


def _available(name: str) -> bool:
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    return name == "cpu"


def get_device(prefer: str | None = None) -> torch.device:
    """The device to train on: cuda, then mps, then cpu.

    ``COURSE_DEVICE=cpu`` (or cuda, mps) in the environment, or ``prefer``, overrides the choice;
    asking for a device this machine lacks is an error that says what is available.
    """
    wanted = prefer or os.environ.get("COURSE_DEVICE")
    if wanted:
        name = wanted.strip().lower()
        base = name.split(":")[0]
        if base not in _DEVICES:
            raise ValueError(
                f"unknown device {wanted!r}: use one of {', '.join(_DEVICES)} "
                "(set COURSE_DEVICE or pass prefer=...)"
            )
        if not _available(base):
            have = [d for d in _DEVICES if _available(d)]
            raise RuntimeError(
                f"device {wanted!r} was asked for (COURSE_DEVICE or prefer=) but is "
                f"not available here; available: {', '.join(have)}. Unset "
                "COURSE_DEVICE to pick automatically."
            )
        return torch.device(name)
    return torch.device(next(d for d in _DEVICES if _available(d)))


def progress_bar(iterable=None, **kwargs):
    """A tqdm progress bar: ``tqdm.auto``'s widget in a notebook, text in a terminal.

    Takes tqdm's arguments (``total``, ``desc``, ``disable``, ``initial``, ...; ``leave`` defaults
    to True). In a notebook the bar's output also carries the finished bar as text once it closes,
    so a saved notebook (GitHub, HTML, PDF, a reader who has not run it) shows the finished run,
    ``100%|██████████| 800/800 [...]``, not the ``0%`` the widget started at.
    """
    from tqdm.auto import tqdm

    kwargs.setdefault("leave", True)
    in_notebook = any(c.__module__ == "tqdm.notebook" for c in tqdm.__mro__)
    if not in_notebook or kwargs.get("disable"):
        return tqdm(iterable, **kwargs)
    return _notebook_bar()(iterable, **kwargs)


def _notebook_bar():
    from IPython.display import display
    from tqdm.notebook import tqdm as notebook_tqdm

    class NotebookBar(notebook_tqdm):
        """tqdm's notebook bar, shown under a display id so that closing it can replace the
        output's text (``text/plain``, what a saved notebook shows without the live widget) with
        the finished bar; the widget itself stays in place."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, display=False, **kwargs)
            self._handle = None if self.disable else display(self.container, display_id=True)

        def close(self):
            if self.disable:  # already closed, or never shown
                return
            text = _bar_text(self)
            super().close()
            if self._handle is not None:
                bundle = self.container._repr_mimebundle_()
                bundle["text/plain"] = text
                self._handle.update(bundle, raw=True)

    return NotebookBar


def _bar_text(bar) -> str:
    """The text a tqdm bar shows now: ``desc: 100%|██████████| 800/800 [00:12<00:00, ...]``."""
    return bar.format_meter(**bar.format_dict)


def num_threads() -> int:
    """Threads PyTorch uses for CPU work (set with ``torch.set_num_threads``)."""
    return torch.get_num_threads()


def output_path(*parts: str) -> Path:
    """A path inside the output folder (``COURSE_OUTPUT_DIR``, default ``checkpoints/`` in the
    repository), e.g. ``output_path("05_gpt.pt")``: a grader gives each submission its own."""
    return OUTPUT_DIR.joinpath(*parts)


def strict_checks() -> bool:
    """Whether a failing exercise check raises ``AssertionError`` (under ``course grade`` and
    nbgrader) instead of only printing its verdict (for learners)."""
    return os.environ.get("COURSE_STRICT", "0") == "1" or bool(os.environ.get("NBGRADER_EXECUTION"))


def grade_seed() -> int | None:
    """``COURSE_GRADE_SEED`` as an int (the checks then draw the same inputs every run), or None."""
    value = os.environ.get("COURSE_GRADE_SEED", "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise ValueError(f"COURSE_GRADE_SEED must be a non-negative integer, got {value!r}")
    return int(value)


def data_path(*parts: str) -> Path:
    """A path inside ``data/`` (repo-relative; ``COURSE_ROOT`` moves the repo root)."""
    return DATA_DIR.joinpath(*parts)


def relpath(path: str | os.PathLike) -> str:
    """``path`` relative to the repository root when inside it: what notebooks print, so outputs
    never show a local path."""
    p = Path(path).resolve()
    try:
        return p.relative_to(REPO_ROOT.resolve()).as_posix()
    except ValueError:
        return p.name


def runtime_summary() -> dict:
    """The facts a lesson prints at its top: versions, device, threads and mode."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(get_device()),
        "threads": num_threads(),
        "cpu_cores": os.cpu_count(),
        "mode": "fast" if FAST else "full",
    }


def describe() -> str:
    """One line for the top of a notebook: versions, device, threads and mode."""
    s = runtime_summary()
    return (
        f"Python {s['python']} | torch {s['torch']} | device {s['device']} | "
        f"{s['threads']} threads | {s['mode']} mode"
    )
