"""The environment check: is everything the course needs here, and if not, what to do.

``check_environment()`` returns one :class:`Check` per item; ``print_report()`` prints them with
plain advice for anything that is wrong. Lesson 00 runs it; so does ``course doctor``.
"""

from __future__ import annotations

import importlib.metadata as md
import os
import re
import sys
from dataclasses import dataclass

from . import data
from .runtime import FAST, SUPPORTED_PYTHON, get_device, num_threads, python_supported, relpath

FIX_INSTALL = "run `make venv` in the repository root (or `pip install -e '.[dev]'` in your venv)"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    advice: str = ""


def check_environment() -> list[Check]:
    """Python, pinned packages, device and threads, data files, gensim data, widgets."""
    return [
        *_python_checks(),
        *_installed_package_checks(),
        *_machine_checks(),
        *_data_file_checks(),
        *_gensim_data_checks(),
        *_widget_checks(),
    ]


def _python_checks() -> list[Check]:
    v = sys.version_info
    supported = ", ".join(f"{a}.{b}" for a, b in SUPPORTED_PYTHON)
    ok = python_supported(v)
    return [
        Check(
            "python",
            ok,
            f"{v.major}.{v.minor}.{v.micro} ({'supported' if ok else 'not supported'}; "
            f"the course supports {supported})",
            ""
            if ok
            else f"install Python {supported} and rebuild the venv "
            "(make venv PYTHON=python3.12, say)",
        )
    ]


def _installed_package_checks() -> list[Check]:
    """One check per pinned package, or one saying course_lib itself is not installed."""
    try:
        return _package_checks()
    except md.PackageNotFoundError:
        return [Check("course_lib", False, "not installed as a package", FIX_INSTALL)]


def _pins() -> dict[str, str]:
    """The exact versions course_lib pins, read from its installed metadata."""
    pins = {}
    for req in md.requires("course_lib") or []:
        m = re.match(r"^([A-Za-z0-9_.\-]+)==([^;\s]+)\s*(;.*)?$", req)
        if m and not (m.group(3) and "extra" in m.group(3)):
            pins[m.group(1).lower()] = m.group(2)
    return pins


def _package_checks() -> list[Check]:
    checks = []
    for name, pin in _pins().items():
        try:
            have = md.version(name)
        except md.PackageNotFoundError:
            checks.append(
                Check(name, False, "not installed", f"{name}=={pin} is missing: {FIX_INSTALL}")
            )
            continue
        same = have.split("+")[0] == pin
        checks.append(
            Check(
                name,
                same,
                have if same else f"{have} (course pins {pin})",
                "" if same else f"other versions may give other numbers: {FIX_INSTALL}",
            )
        )
    return checks


def _machine_checks() -> list[Check]:
    """The device torch will use, its threads, and the mode (fast or full)."""
    device = get_device()
    threads = num_threads()
    cores = os.cpu_count() or 1
    no_gpu_needed = " (no GPU needed: every lesson is sized for a laptop CPU)"
    return [
        Check("device", True, f"{device}" + ("" if device.type != "cpu" else no_gpu_needed)),
        Check(
            "threads",
            threads >= min(2, cores),
            f"torch uses {threads} of {cores} cores",
            ""
            if threads >= min(2, cores)
            else "torch uses one thread: unset "
            "OMP_NUM_THREADS / MKL_NUM_THREADS or call torch.set_num_threads(2)",
        ),
        Check(
            "mode",
            True,
            "fast (COURSE_FAST=1): fewer steps, for tests" if FAST else "full: what learners run",
        ),
    ]


def _data_file_checks() -> list[Check]:
    checks = []
    for name in ("shakespeare.txt", "tiny_shakespeare.txt"):
        path = data.data_path(name)
        ok = path.exists()
        checks.append(
            Check(
                relpath(path),
                ok,
                f"{path.stat().st_size:,} bytes" if ok else "missing",
                "" if ok else f"build it with `{data.BUILD_SHAKESPEARE}`",
            )
        )
    return checks


def _gensim_data_checks() -> list[Check]:
    checks = []
    for key in ("wiki", "analogies", "wordsim353", "simlex999", "lee", "polarity"):
        try:
            data.gensim_path(key)
            checks.append(Check(f"gensim data: {key}", True, data.GENSIM_FILES[key]))
        except data.DataNotFoundError as e:
            checks.append(Check(f"gensim data: {key}", False, "missing", str(e)))
    return checks


def _widget_checks() -> list[Check]:
    try:
        import ipywidgets

        md.version("jupyterlab_widgets")
        detail = f"ipywidgets {ipywidgets.__version__} with the JupyterLab extension"
        return [Check("widgets", True, detail)]
    except (ImportError, md.PackageNotFoundError):
        return [
            Check(
                "widgets",
                False,
                "ipywidgets or its JupyterLab extension is missing",
                f"interactive explorers will show static figures only: {FIX_INSTALL}",
            )
        ]


def print_report(checks: list[Check] | None = None) -> bool:
    """Print the checks as a table; return True when all passed."""
    checks = check_environment() if checks is None else checks
    width = max(len(c.name) for c in checks)
    for c in checks:
        print(f"{'ok ' if c.ok else 'FIX'}  {c.name:<{width}}  {c.detail}")
    bad = [c for c in checks if not c.ok]
    if bad:
        print("\nWhat to do:")
        for c in bad:
            print(f"- {c.name}: {c.advice}")
    else:
        print(f"\nAll {len(checks)} checks passed: you are ready for the course.")
    return not bad
