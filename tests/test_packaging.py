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
    assert "python=3.11" in env["dependencies"]


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
