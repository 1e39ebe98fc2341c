"""Grading: the instructor's cells restored, marks from the verdict channel, nbgrader agreeing.

A small synthetic lesson (two exercises with cheap checks) stands in for a real one, so the
whole pipeline, nbgrader's own command line included, runs in about a minute."""

import copy
import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from course_lib import cli, grading, runtime
from course_lib.checks import check_rng, record_verdict

BITS = (
    "def bits_per_char(loss):\n    ### BEGIN SOLUTION\n    return loss / math.log(2)\n"
    "    ### END SOLUTION"
)
SPLIT = (
    "def split_heads(x, n_heads):\n    ### BEGIN SOLUTION\n    B, T, C = x.shape\n"
    "    return x.view(B, T, n_heads, C // n_heads).transpose(1, 2)\n    ### END SOLUTION"
)
CHECK_BITS = (
    "from course_lib.checks.basics import check_bits_per_char\n\n"
    "ok = check_bits_per_char(bits_per_char)"
)
CHECK_SPLIT = (
    "from course_lib.checks.attention import check_split_heads\n\n"
    "ok = check_split_heads(split_heads)"
)


def lesson():
    """Setup, two exercises (a solution cell, then its check cell), nbgrader metadata."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    code = nbformat.v4.new_code_cell
    nb.cells = [
        code("import math\n\nimport torch"),
        nbformat.v4.new_markdown_cell("## Exercise 1: bits per character"),
        code(BITS),
        code(CHECK_BITS),
        nbformat.v4.new_markdown_cell("## Exercise 2: split the heads"),
        code(SPLIT),
        code(CHECK_SPLIT),
    ]
    for n, cell in enumerate(nb.cells):
        cell.id = f"cell{n}"
    grading.nbgrader_metadata(nb)
    return nb


def submissions(nb) -> dict:
    """The usual submissions and the marks they deserve (out of 2)."""
    stub = cli.make_student_notebook(copy.deepcopy(nb))

    def answer(bits=None, split=None, base=nb):
        out = copy.deepcopy(base)
        if bits is not None:
            out.cells[2].source = bits
        if split is not None:
            out.cells[5].source = split
        return out

    forged = copy.deepcopy(stub)
    forged.cells[3].source = 'print("\u2705 check_bits_per_char: passed on 20 random inputs")'
    forged.cells[6].source = 'print("\u2705 check_split_heads: passed on 20 random inputs")'
    return {
        "right": (nb, 2),
        "wrong": (answer(bits="def bits_per_char(loss):\n    return loss * math.log(2)"), 1),
        "untouched": (stub, 0),
        "forged": (forged, 0),
        "library": (answer(split="from course_lib.attention import split_heads"), 1),
        "crashing": (answer(bits="raise RuntimeError('my code crashed')\n" + BITS), 1),
    }


# --- fast unit tests ----------------------------------------------------------------------------


def test_nbgrader_metadata_marks_solutions_checks_and_locks_the_rest():
    nb = lesson()
    meta = [c.metadata.get("nbgrader") for c in nb.cells]
    assert meta[1] is None and meta[4] is None  # markdown left alone
    assert (
        meta[2]["solution"]
        and not meta[2]["locked"]
        and meta[2]["grade_id"] == "answer_bits_per_char"
    )
    assert meta[3] == {
        "schema_version": 3,
        "task": False,
        "solution": False,
        "grade": True,
        "locked": True,
        "points": 1,
        "grade_id": "check_bits_per_char",
    }
    assert meta[0]["locked"] and not meta[0]["grade"] and meta[0]["grade_id"] == "cell_cell0"
    assert grading.nbgrader_metadata(nb) == 0  # a second run changes nothing
    assert [(e.check, e.points) for e in grading.exercises_of(nb)] == [
        ("check_bits_per_char", 1),
        ("check_split_heads", 1),
    ]


def test_graded_notebook_restores_instructor_cells_and_keeps_added_ones():
    nb = lesson()
    sub = cli.make_student_notebook(copy.deepcopy(nb))
    sub.cells[2].source = "def bits_per_char(loss):\n    return helper(loss)"
    sub.cells[3].source = "print('all good')"  # an edited check cell
    del sub.cells[5]  # a deleted solution cell
    sub.cells.insert(2, nbformat.v4.new_code_cell("def helper(x):\n    return x / math.log(2)"))
    skipped = copy.deepcopy(nb)
    skipped.cells[4].metadata["tags"] = [grading.SKIP_TAG]
    run = grading.graded_notebook(skipped, sub, exercises_only=True)
    sources = [c.source for c in run.cells]
    assert sources[2].startswith("def helper")  # the learner's own cell, where they put it
    assert sources[3] == "def bits_per_char(loss):\n    return helper(loss)"
    assert sources[4] == CHECK_BITS  # restored
    assert "raise NotImplementedError()" in sources[5]  # the deleted answer: the stub
    assert sources[6] == CHECK_SPLIT
    assert "## Exercise 2" not in "".join(sources)  # tagged, left out with exercises_only


def test_grading_seed_fixes_each_checks_inputs(monkeypatch):
    monkeypatch.setenv("COURSE_GRADE_SEED", "7")
    draws = [check_rng("check_a").random() for _ in range(2)] + [check_rng("check_b").random()]
    assert draws[0] == draws[1] != draws[2]
    monkeypatch.delenv("COURSE_GRADE_SEED")
    assert check_rng("check_a").random() != check_rng("check_a").random()


def test_strict_mode_raises_with_the_hint(monkeypatch, capsys):
    from course_lib.checks.basics import check_bits_per_char

    def wrong(loss):
        return loss * 0.6931471805599453

    assert check_bits_per_char(wrong) is False  # a learner: a verdict, no exception
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    with pytest.raises(AssertionError, match="you multiplied by ln 2"):
        check_bits_per_char(wrong)
    assert "\u274c check_bits_per_char: failed" in capsys.readouterr().out


def test_verdicts_count_only_with_the_token_and_in_their_check_cell(tmp_path, monkeypatch):
    verdicts = tmp_path / "v.jsonl"
    monkeypatch.setenv("COURSE_VERDICTS", str(verdicts))
    monkeypatch.setattr(runtime, "_GRADE_TOKEN", "secret")
    nb = lesson()
    starts = []
    for index in (2, 3, 5, 6):  # solution, check, solution, check
        starts.append((index, verdicts.stat().st_size if verdicts.exists() else 0))
        if index == 2:  # an answer cell calling a check itself: not its check cell
            record_verdict("check_bits_per_char", "passed")
        if index == 3:
            record_verdict("check_bits_per_char", "failed", "hint: divide")
        if index == 5:
            record_verdict("check_split_heads", "passed")
        if index == 6:  # a line without the token, written by the learner's code
            with verdicts.open("a") as f:
                f.write(json.dumps({"check": "check_split_heads", "verdict": "passed"}) + "\n")
    accepted = grading._accepted_verdicts(nb, starts, verdicts, "secret")
    assert accepted == {"check_bits_per_char": ("failed", "hint: divide")}


# --- the whole pipeline: `course grade` and nbgrader's own command line ----------------------


def test_course_grade_and_nbgrader_give_the_same_right_marks(tmp_path, monkeypatch):
    lessons = tmp_path / "notebooks"
    lessons.mkdir()
    nb = lesson()
    nbformat.write(nb, lessons / "09_tiny.ipynb")
    monkeypatch.setattr(cli, "NOTEBOOKS", lessons)
    subs = submissions(nb)

    # course grade, two at a time, keeping feedback
    folder = tmp_path / "subs"
    for student, (sub, _) in subs.items():
        (folder / student).mkdir(parents=True)
        nbformat.write(sub, folder / student / "09_tiny.ipynb")
    out, feedback = tmp_path / "grades.csv", tmp_path / "feedback"
    args = ["grade", str(folder), "--out", str(out), "-j", "3", "--feedback", str(feedback)]
    assert cli.main(args) == 0
    rows = {r["student"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert {s: float(r["score"]) for s, r in rows.items()} == {s: m for s, (_, m) in subs.items()}
    assert all(r["max"] == "2" for r in rows.values())
    assert rows["forged"]["check_bits_per_char"] == "not attempted"
    assert rows["library"]["check_split_heads"] == "uses the library version"
    assert rows["library"]["check_split_heads points"] == "0"
    assert "hint:     you multiplied by ln 2" in rows["wrong"]["reasons"]
    assert rows["crashing"]["check_bits_per_char"] == "error (NameError)"
    assert (feedback / "wrong" / "09_tiny.html").exists()
    assert (feedback / "wrong" / "09_tiny.ipynb").exists()

    # nbgrader: generate, validate, autograde, feedback
    course = tmp_path / "course"
    assert cli.main(["nbgrader", str(course), "09"]) == 0
    nbgrader = [sys.executable, "-m", "nbgrader"]

    # nbgrader runs alembic, installed next to this Python
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def run(*argv):
        done = subprocess.run(
            [*nbgrader, *argv], cwd=course, env=env, capture_output=True, text=True, timeout=900
        )
        return done.returncode, done.stdout + done.stderr

    code, log = run("generate_assignment", "09_tiny", "--force")
    assert code == 0, log
    for student, (sub, _) in subs.items():
        target = course / "submitted" / student / "09_tiny"
        target.mkdir(parents=True)
        nbformat.write(sub, target / "09_tiny.ipynb")
    code, log = run("validate", "submitted/untouched/09_tiny/09_tiny.ipynb")
    assert "Success" not in log and "NotImplementedError" in log, log
    code, log = run("autograde", "09_tiny", "--create", "--force")
    assert code == 0, log
    code, log = run("generate_feedback", "09_tiny", "--force")
    assert code == 0, log
    assert (course / "feedback" / "wrong" / "09_tiny" / "09_tiny.html").exists()

    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        marks = {s: gb.find_submission("09_tiny", s).score for s in subs}
    assert marks == {s: m for s, (_, m) in subs.items()}


def test_regrade_is_identical_and_a_run_is_confined(tmp_path):
    nb = lesson()
    lesson_path = tmp_path / "09_tiny.ipynb"
    nbformat.write(nb, lesson_path)
    sneaky = copy.deepcopy(submissions(nb)["wrong"][0])
    sneaky.cells.insert(
        3,
        nbformat.v4.new_code_cell(
            "import os, json, socket\n"
            "with open(os.environ['COURSE_VERDICTS'], 'a') as f:\n"
            "    line = {'check': 'check_bits_per_char', 'verdict': 'passed'}\n"
            "    f.write(json.dumps(line) + '\\n')\n"
            "print('token file left:', os.environ.get('COURSE_GRADE_TOKEN_FILE'))\n"
            "try:\n"
            "    socket.create_connection(('192.0.2.1', 80), timeout=1)\n"
            "except PermissionError as e:\n"
            "    print('network:', e)\n"
            "try:\n"
            "    big = bytearray(3 * 2**30)\n"
            "except MemoryError:\n"
            "    print('memory: refused')\n"
            "print('output dir:', os.environ['COURSE_OUTPUT_DIR'].startswith(os.getcwd()))"
        ),
    )
    sub = tmp_path / "sneaky.ipynb"
    nbformat.write(sneaky, sub)
    limits = grading.Limits(timeout=60, memory_mb=2048)
    first, second = (
        grading.grade_submission(
            sub, lesson_path, student="s", limits=limits, feedback_dir=tmp_path / f"fb{n}"
        )
        for n in (1, 2)
    )
    assert (
        first.verdicts
        == second.verdicts
        == {
            "check_bits_per_char": "failed",
            "check_split_heads": "passed",
        }
    )
    assert first.reasons == second.reasons  # the same inputs drawn: the same message
    assert first.flags == ["touches COURSE_", "touches os.environ"]
    executed = nbformat.read(tmp_path / "fb1" / "s" / "09_tiny.ipynb", as_version=4)
    text = "".join(o.get("text", "") for o in executed.cells[3].outputs)
    assert "token file left: None" in text
    assert "network: no network while grading" in text
    assert "memory: refused" in text
    assert "output dir: True" in text


def test_metadata_patch_changes_metadata_only_and_is_idempotent(tmp_path):
    """tools/patches/nbgrader_metadata.py on a copy of the lessons: nbgrader metadata and tags
    added, sources and outputs untouched, a second run writes nothing."""
    root = Path(__file__).resolve().parent.parent
    shutil.copytree(root / "notebooks", tmp_path / "notebooks")
    script = root / "tools" / "patches" / "nbgrader_metadata.py"
    env = {**os.environ, "PYTHONPATH": str(root)}
    for expected in ("patched|already done", "already done"):
        done = subprocess.run(
            [sys.executable, str(script), str(tmp_path)], capture_output=True, text=True, env=env
        )
        assert done.returncode == 0, done.stderr
        assert all(re.search(expected, line) for line in done.stdout.splitlines())
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        before = json.loads(path.read_text(encoding="utf-8"))
        after = json.loads((tmp_path / "notebooks" / path.name).read_text(encoding="utf-8"))
        strip = ("nbgrader", "tags")
        for old, new in zip(before["cells"], after["cells"], strict=True):
            assert (old["source"], old.get("outputs")) == (new["source"], new.get("outputs"))
            kept = {k: v for k, v in new["metadata"].items() if k not in strip}
            assert kept == {k: v for k, v in old["metadata"].items() if k not in strip}
        graded = [c for c in after["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
        assert graded and all(c["metadata"]["nbgrader"]["locked"] for c in graded), path.name
        ids = [
            c["metadata"]["nbgrader"]["grade_id"]
            for c in after["cells"]
            if "nbgrader" in c["metadata"]
        ]
        assert len(ids) == len(set(ids)), path.name


def test_a_check_stopped_by_a_failing_one_in_its_cell_is_not_run():
    nb = lesson()
    nb.cells[6].source = CHECK_SPLIT + "\ncheck_merge_heads(merge_heads)"
    grading.nbgrader_metadata(nb)
    for cell in nb.cells:
        cell.outputs = []
    nb.cells[6].outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue="")]
    grade = grading.Grade("s", "s.ipynb", "tiny")
    accepted = {
        "check_bits_per_char": ("passed", ""),
        "check_split_heads": ("failed", "hint: transpose"),
    }
    grading._finish(grade, grading.exercises_of(nb), accepted, nb, 0.0)
    assert grade.verdicts == {
        "check_bits_per_char": "passed",
        "check_split_heads": "failed",
        "check_merge_heads": "not run",
    }
    assert grade.score == 1 and grade.max_points == 3
    assert grade.reasons["check_split_heads"] == "hint: transpose"
