"""The committed lessons read cleanly before anyone runs them, and their stated times are true.

A reader opens a committed notebook on GitHub or in JupyterLab without running it: it must show a
finished run (no stale progress bars, no stderr noise, counts 1..n), and every "runs in about N
minutes" it or README.md states must agree with how long that committed run took.
"""

import json
import re
from pathlib import Path

import pytest

from course_lib.cli import committed_run_seconds, lesson_paths, notebook_problems

ROOT = Path(__file__).resolve().parent.parent
LESSONS = lesson_paths()
TOLERANCE = 0.25  # a stated time may differ from the committed run by at most 25%


def _close(stated: float, measured: float) -> bool:
    return abs(stated - measured) <= TOLERANCE * measured


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_committed_notebook_reads_cleanly(path):
    problems = notebook_problems(path)
    assert not problems, f"{path.name}:\n  " + "\n  ".join(problems)


def _readme_minutes() -> dict[str, float]:
    rows = {}
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\| \d\d \| \[`(\d\d_\w+\.ipynb)`\].*\| ([\d.]+) \|$", line)
        if m:
            rows[m.group(1)] = float(m.group(2))
    return rows


def test_readme_lesson_minutes_match_the_committed_runs():
    stated = _readme_minutes()
    assert set(stated) == {p.name for p in LESSONS}, "README's lesson map needs a row per lesson"
    wrong = []
    for path in LESSONS:
        measured = committed_run_seconds(path) / 60
        if not _close(stated[path.name], measured):
            wrong.append(f"{path.name}: README {stated[path.name]}, committed run {measured:.1f}")
    assert not wrong, "README's minutes disagree with the committed runs (`course timings`):\n" + (
        "\n".join(wrong)
    )


def test_readme_states_the_whole_course_total():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"All lessons together take about ([\d.]+) minutes in full mode", readme)
    assert m, "README must state the whole course's full-mode total ('All lessons together ...')"
    measured = sum(committed_run_seconds(p) for p in LESSONS) / 60
    assert _close(float(m.group(1)), measured), (
        f"README says {m.group(1)} minutes in all; the committed runs take {measured:.1f}"
    )


def _stated_time(path: Path) -> tuple[float, str]:
    """The '| **Time** | about N minutes ...' row of a lesson's first cell, in seconds."""
    first = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
    m = re.search(r"\*\*Time\*\*\s*\|\s*about ([\d.]+) (minutes?|seconds)", first)
    assert m, f"{path.name}: the first cell needs a '| **Time** | about N minutes ...' row"
    value = float(m.group(1)) * (60 if m.group(2).startswith("minute") else 1)
    return value, m.group(0)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_states_its_own_committed_time(path):
    stated, sentence = _stated_time(path)
    measured = committed_run_seconds(path)
    assert _close(stated, measured), (
        f"{path.name} says {sentence!r}; its committed run took {measured:.0f} s"
    )


def _notebook(cells: list[dict]) -> dict:
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _code(n, outputs, tags=(), source="x = 1"):
    return {
        "cell_type": "code",
        "execution_count": n,
        "metadata": {"tags": list(tags)},
        "outputs": outputs,
        "source": source,
    }


def test_the_hygiene_check_catches_each_problem(tmp_path):
    """The check above could pass by finding nothing; here each problem is planted once."""
    stderr = {"output_type": "stream", "name": "stderr", "text": "findfont: Font family not found"}
    stale = {
        "output_type": "display_data",
        "data": {"text/plain": "bigram:   0%|          | 0/3000 [00:00<?, ?it/s]"},
        "metadata": {},
    }
    done = dict(stale, data={"text/plain": "bigram: 100%|██████████| 3000/3000 [00:01<00:00]"})
    echo = {"output_type": "execute_result", "data": {"text/plain": "True"}, "metadata": {}}
    path = tmp_path / "nb.ipynb"

    def problems(cells):
        path.write_text(json.dumps(_notebook(cells)))
        return notebook_problems(path)

    assert problems([_code(1, [done]), _code(2, [stderr], tags=["expected-stderr"])]) == []
    assert "stderr" in " ".join(problems([_code(1, [stderr])]))
    assert "0%" in " ".join(problems([_code(1, [stale])]))
    assert "echo" in " ".join(problems([_code(1, [echo])]))
    assert "execution counts" in " ".join(problems([_code(2, []), _code(1, [])]))
    local = {"output_type": "stream", "name": "stdout", "text": "saved /home/ann/x.pt"}
    assert "local path" in " ".join(problems([_code(1, [local])]))


def test_committed_run_seconds_reads_nbclient_timing(tmp_path):
    def timed(start, end):
        cell = _code(1, [])
        cell["metadata"]["execution"] = {
            "iopub.execute_input": start,
            "shell.execute_reply": end,
        }
        return cell

    path = tmp_path / "nb.ipynb"
    cells = [timed("2026-01-01T10:00:00.000Z", "2026-01-01T10:00:05.000Z")]
    cells.append(timed("2026-01-01T10:00:05.100Z", "2026-01-01T10:01:30.000Z"))
    path.write_text(json.dumps(_notebook(cells)))
    assert committed_run_seconds(path) == pytest.approx(90.0)
    path.write_text(json.dumps(_notebook([_code(1, [])])))
    with pytest.raises(ValueError, match="without timing metadata"):
        committed_run_seconds(path)
