"""Lesson 07's exercise cells (``tools/lesson07_exercises.py``) run in order in one namespace, as
the notebook runs them: every check passes its solution, the cell after the loss-targets check
finds the answer's positions, the 2-shot prompt prints; with the solutions stripped (``course
student``) the first check stops the run, as nbgrader's stubs do."""

import importlib.util
import re
from pathlib import Path

import pytest

from course_lib import instruct

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = re.compile(r"( *)### BEGIN SOLUTION\n.*?### END SOLUTION", re.S)


def _cells() -> list[tuple[str, str]]:
    spec = importlib.util.spec_from_file_location(
        "lesson07_exercises", ROOT / "tools" / "lesson07_exercises.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cells: list[tuple[str, str]] = []
    module.add_exercises(
        lambda text: cells.append(("md", text)), lambda text: cells.append(("code", text))
    )
    return cells


@pytest.fixture(scope="module")
def lesson():
    """What the lesson defined before its exercises."""
    tok = instruct.load_assistant_tokenizer()
    return {"instruct": instruct, "tok": tok, "data": instruct.build_instruction_dataset(seed=0)}


def test_the_section_has_three_exercises():
    cells = _cells()
    assert cells[0][0] == "md" and cells[0][1].startswith("## Exercises")
    solutions = [text for kind, text in cells if kind == "code" and "### BEGIN SOLUTION" in text]
    checks = [
        text
        for kind, text in cells
        if kind == "code" and text.strip().startswith("# NBVAL_CHECK_OUTPUT")
    ]
    assert len(solutions) == len(checks) == 3
    for name in ("check_template_ids", "check_loss_targets", "check_k_shot_prompt"):
        assert sum(name in text for text in checks) == 1


def test_the_cells_run_in_order(lesson, capsys):
    namespace = dict(lesson)
    for kind, text in _cells():
        if kind == "code":
            exec(compile(text, "<cell>", "exec"), namespace)
    out = capsys.readouterr().out
    for name in ("check_template_ids", "check_loss_targets", "check_k_shot_prompt"):
        assert f"✅ {name}: passed on 20 random inputs" in out
    assert "their targets are exactly the answer's tokens and <|end|>: True" in out
    assert "your (ids, targets) equal instruct.encode_example's: True" in out
    two_shot = namespace["two_shot"]
    assert two_shot.count(instruct.END) == 2 and two_shot.endswith(instruct.ASSISTANT)
    assert two_shot in out


def test_the_student_version_stops_at_the_first_stub(lesson, capsys):
    namespace = dict(lesson)
    with pytest.raises(NotImplementedError):
        for kind, text in _cells():
            if kind == "code":
                stub = SOLUTION.sub(r"\1# YOUR CODE HERE\n\1raise NotImplementedError()", text)
                exec(compile(stub, "<cell>", "exec"), namespace)
    assert "check_template_ids: not attempted" in capsys.readouterr().out
