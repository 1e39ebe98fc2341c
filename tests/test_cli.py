"""The `course` command: student versions, check, grade, run, doctor."""

import copy
import csv
import json
import re
from pathlib import Path

import nbformat
import pytest

from course_lib import cli

ROOT = Path(__file__).resolve().parent.parent
LESSONS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def tiny_lesson(body: str | None = None, extra_first: str | None = None):
    """A three-cell lesson with one exercise, checked by course_lib.checks.basics."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    cells = [nbformat.v4.new_code_cell("import math\nx = 1")]
    if extra_first:
        cells.append(nbformat.v4.new_code_cell(extra_first))
    cells.append(
        nbformat.v4.new_code_cell(
            "def bits_per_char(loss):\n    ### BEGIN SOLUTION\n"
            f"    {body or 'return loss / math.log(2)'}\n    ### END SOLUTION"
        )
    )
    cells.append(
        nbformat.v4.new_code_cell(
            "from course_lib.checks.basics import check_bits_per_char\n"
            "check_bits_per_char(bits_per_char)"
        )
    )
    teacher = nbformat.v4.new_markdown_cell("Answer key: divide by ln 2.")
    teacher.metadata["tags"] = ["instructor"]
    cells.append(teacher)
    nb.cells = cells
    return nb


def test_lesson_names_resolve():
    assert cli.lesson_paths(["00"]) == [ROOT / "notebooks" / "00_start_here.ipynb"]
    assert cli.lesson_paths(["00_start_here.ipynb"]) == cli.lesson_paths(["0"])
    with pytest.raises(SystemExit, match="no lesson called '99'"):
        cli.lesson_paths(["99"])


def test_student_version_strips_solutions_outputs_and_instructor_cells():
    nb = cli.make_student_notebook(tiny_lesson())
    sources = "\n".join(c.source for c in nb.cells)
    assert "return loss / math.log(2)" not in sources and "BEGIN SOLUTION" not in sources
    assert "raise NotImplementedError()" in sources
    assert "Answer key" not in sources
    assert all(
        not c.get("outputs") and c.get("execution_count") is None
        for c in nb.cells
        if c.cell_type == "code"
    )


def test_student_refuses_to_overwrite(tmp_path, capsys):
    assert cli.main(["student", str(tmp_path), "00"]) == 0
    target = tmp_path / "00_start_here.ipynb"
    target.write_text("my work")
    assert cli.main(["student", str(tmp_path), "00"]) == 1
    assert "already holds 00_start_here.ipynb; nothing was written" in capsys.readouterr().err
    assert target.read_text() == "my work"
    assert cli.main(["student", str(tmp_path), "00", "--force"]) == 0
    assert "NotImplementedError" in target.read_text()


def test_committed_lessons_pass_all_their_checks():
    """Every exercise check in the committed (full-mode) notebooks printed a pass."""
    for path in LESSONS:
        nb = nbformat.read(path, as_version=4)
        report = cli.verdicts_of(nb)
        assert report.status == "ok", f"{path.name}: {report.detail}"
        failing = {k: v for k, v in report.verdicts.items() if v != "passed"}
        assert not failing, f"{path.name}: checks not passing: {failing}"


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda p: p.stem)
def test_student_version_stops_at_first_exercise_with_not_implemented_only(lesson, tmp_path):
    """Every lesson's student version runs up to its first exercise and fails there, with
    NotImplementedError and nothing else. Executed (fast mode) up to the first code cell after
    the first stub, as "Run All" in Jupyter stops at the first error."""
    source = nbformat.read(lesson, as_version=4)
    has_exercise = any("### BEGIN SOLUTION" in c.source for c in source.cells)
    assert has_exercise, f"{lesson.name}: no exercise"
    nb = cli.make_student_notebook(source)
    stub = next(
        i
        for i, c in enumerate(nb.cells)
        if c.cell_type == "code" and "raise NotImplementedError" in c.source
    )
    after = next(
        (i for i in range(stub + 1, len(nb.cells)) if nb.cells[i].cell_type == "code"), stub
    )
    nb.cells = nb.cells[: after + 1]
    path = tmp_path / lesson.name
    nbformat.write(nb, path)
    executed = cli.execute_notebook(path, timeout=300, fast=True, workdir=tmp_path)
    errors = [
        (i, o)
        for i, c in enumerate(executed.cells)
        for o in c.get("outputs", [])
        if o.output_type == "error"
    ]
    assert errors, f"{lesson.name}: the student version should fail at its first exercise"
    assert [(o.ename, i in (stub, after)) for i, o in errors] == [("NotImplementedError", True)], [
        (i, o.ename, o.evalue) for i, o in errors
    ]
    ran = [c.execution_count for c in executed.cells if c.cell_type == "code"]
    assert all(n is not None for n in ran), f"{lesson.name}: some cells did not run"


def test_check_reports_each_exercise(tmp_path, capsys):
    good, wrong = tmp_path / "good.ipynb", tmp_path / "wrong.ipynb"
    nbformat.write(tiny_lesson(), good)
    nbformat.write(tiny_lesson("return loss * math.log(2)"), wrong)
    before = good.read_bytes()
    assert cli.main(["check", str(good)]) == 0
    assert good.read_bytes() == before  # the submission itself is never modified
    assert re.search(r"PASS\s+check_bits_per_char\s+passed", capsys.readouterr().out)
    assert cli.main(["check", str(wrong)]) == 1
    assert re.search(r"FAIL\s+check_bits_per_char\s+failed", capsys.readouterr().out)


def test_grade_writes_one_row_per_submission_even_when_it_crashes_or_hangs(tmp_path, capsys):
    lesson = tiny_lesson()
    lesson_path = tmp_path / "lesson.ipynb"
    nbformat.write(lesson, lesson_path)

    def answer(source):
        sub = copy.deepcopy(lesson)
        sub.cells[1].source = source
        return sub

    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(lesson, subs / "ada.ipynb")
    nbformat.write(cli.make_student_notebook(copy.deepcopy(lesson)), subs / "bob.ipynb")
    nbformat.write(answer("raise ValueError('oops')"), subs / "cy.ipynb")
    nbformat.write(answer("while True:\n    pass"), subs / "dee.ipynb")
    (subs / "eve.ipynb").write_text("{ not a notebook")
    originals = {p.name: p.read_bytes() for p in subs.iterdir()}
    out = tmp_path / "grades.csv"
    argv = ["grade", str(subs), "--out", str(out), "--timeout", "5", "--lesson", str(lesson_path)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert re.search(r"^ada\s+1/1\s+ok", printed, re.M)  # one line per student as it goes
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert set(rows) == {"ada", "bob", "cy", "dee", "eve"}
    assert rows["ada"]["check_bits_per_char"] == "passed" and rows["ada"]["status"] == "ok"
    assert (rows["ada"]["score"], rows["ada"]["max"]) == ("1", "1")
    assert rows["bob"]["check_bits_per_char"] == "not attempted"
    assert rows["cy"]["check_bits_per_char"] == "error (NameError)"
    assert rows["dee"]["status"] == "timeout"
    assert rows["eve"]["status"] == "crashed" and rows["eve"]["score"] == "0"
    assert {p.name: p.read_bytes() for p in subs.iterdir()} == originals


def test_run_writes_executed_copy_and_html(tmp_path, monkeypatch):
    lesson_dir = tmp_path / "notebooks"
    lesson_dir.mkdir()
    nbformat.write(tiny_lesson(), lesson_dir / "00_tiny.ipynb")
    monkeypatch.setattr(cli, "NOTEBOOKS", lesson_dir)
    out = tmp_path / "runs"
    assert cli.main(["run", "00", "--fast", "--out", str(out)]) == 0
    executed = json.loads((out / "00_tiny.ipynb").read_text())
    assert executed["cells"][0]["execution_count"] == 1
    assert "check_bits_per_char" in (out / "00_tiny.html").read_text()


def test_doctor_exit_code(capsys):
    assert cli.main(["doctor"]) == 0
    assert "checks passed" in capsys.readouterr().out
