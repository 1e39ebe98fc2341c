"""The setup a newcomer depends on: pins in step, the two commands wired to CI."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_matches_pyproject():
    project = _pyproject()["project"]
    wanted = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {p for p in pip_section if not p.startswith("-e")}
    assert listed == wanted, (
        f"only in environment.yml: {sorted(listed - wanted)}; "
        f"only in pyproject.toml: {sorted(wanted - listed)}"
    )
    assert "python>=3.11,<3.14" in env["dependencies"], "environment.yml's Python range"


def test_supported_python_versions_agree():
    """pyproject's requires-python, the Makefile's check and the doctor's list say the same."""
    from course_lib.runtime import SUPPORTED_PYTHON

    assert _pyproject()["project"]["requires-python"] == ">=3.11,<3.14"
    assert SUPPORTED_PYTHON == ((3, 11), (3, 12), (3, 13))
    makefile = (ROOT / "Makefile").read_text()
    assert "(3, 11) <= sys.version_info[:2] < (3, 14)" in makefile
    assert "python3.13 python3.12 python3.11 python3" in makefile
    readme = (ROOT / "README.md").read_text()
    assert "Python 3.11, 3.12 or 3.13" in readme


def test_every_dependency_is_pinned_and_torch_is_the_cpu_pin():
    project = _pyproject()["project"]
    for req in project["dependencies"] + project["optional-dependencies"]["dev"]:
        assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][^\s;]*", req), f"not an exact pin: {req}"
    assert "torch==2.13.0" in project["dependencies"]


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make lab" in readme
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
    makefile = (ROOT / "Makefile").read_text()
    test_recipe = makefile.split("\ntest:")[1].split("\n\n")[0]
    assert "COURSE_FAST=1" in test_recipe and "--nbval-lax" in test_recipe
    assert "notebooks" in test_recipe and "tests" in test_recipe


def test_readme_maps_every_notebook():
    readme = (ROOT / "README.md").read_text()
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        assert nb.name in readme, f"README.md lesson map lacks {nb.name}"


def test_importing_course_lib_stays_headless():
    import subprocess
    import sys

    code = (
        "import sys, course_lib, course_lib.runtime, course_lib.data, course_lib.train, "
        "course_lib.doctor; bad = [m for m in ('matplotlib', 'ipywidgets') if m in sys.modules];"
        " print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, f"importing course_lib pulled in {r.stdout.strip()}"


def _make_python(tmp_path, *args, path=None):
    import os
    import shutil
    import subprocess

    if shutil.which("make") is None:
        import pytest

        pytest.skip("make is not installed")
    # a make above this test (CI runs `make unit PYTHON=...`) passes its command-line variables
    # down through MAKEFLAGS: the make under test must choose on its own
    drop = {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "PYTHON", "VENV"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["PATH"] = path or os.environ["PATH"]
    return subprocess.run(
        ["make", "-s", "-C", str(ROOT), "python", *args],
        capture_output=True,
        text=True,
        env=env,
    )


def test_make_tries_each_python_until_one_runs(tmp_path):
    """A python3.13 on PATH that fails when run (an inactive pyenv shim) is skipped."""
    import sys

    shim = tmp_path / "python3.13"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    (tmp_path / "python3.12").symlink_to(sys.executable)
    r = _make_python(tmp_path, path=f"{tmp_path}:/usr/bin:/bin")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Python: python3.12" in r.stdout


def test_make_says_what_to_do_with_an_unusable_python(tmp_path):
    r = _make_python(tmp_path, f"PYTHON={tmp_path / 'nowhere'}")
    assert r.returncode != 0
    assert "does not run, or is not Python 3.11, 3.12 or 3.13" in r.stdout
    assert "make test PYTHON=" in r.stdout


def test_doctor_reports_the_python_version():
    import sys

    from course_lib import doctor
    from course_lib.runtime import python_supported

    check = next(c for c in doctor.check_environment() if c.name == "python")
    assert check.ok == python_supported()
    assert f"{sys.version_info.major}.{sys.version_info.minor}" in check.detail
    assert "supports 3.11, 3.12, 3.13" in check.detail
    assert python_supported((3, 12)) and python_supported((3, 13))
    assert not python_supported((3, 10)) and not python_supported((3, 14))
