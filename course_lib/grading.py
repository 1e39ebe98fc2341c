"""Grading submissions against the instructor's lesson, and the lessons' nbgrader metadata.

Conventions, stated once:

- A lesson's cells are of three kinds. A *solution cell* holds ``### BEGIN SOLUTION`` (or carries
  nbgrader's ``solution: true``): the learner writes it. A *check cell* calls one or more
  ``check_...()`` functions: an exercise per call, one point each (nbgrader scores the cell:
  ``points`` = its number of checks). Every other cell is the lesson's own.
- A cell is known by its nbgrader ``grade_id`` when it has one, else by its cell id. Both come
  from the instructor's lesson and survive ``course student`` and ``nbgrader generate_assignment``.
- What runs when a submission is graded is the instructor's lesson with the learner's solution
  cells put in (matched by id), as nbgrader's OverwriteCells does: a check cell or setup cell the
  learner edited or deleted is restored; cells the learner added are kept, after the cell they
  followed. With ``exercises_only`` the cells tagged ``exercises-only-skip`` (long training runs
  no exercise depends on) are left out.
- Marks never come from what the notebook printed. The checks append each verdict to a file the
  grader names (``COURSE_VERDICTS``), one JSON line carrying a secret token the grader wrote to a
  file that ``course_lib.runtime`` reads and deletes when the kernel starts, before any cell runs.
  A verdict counts only when it carries the token and was written while the instructor's check
  cell that calls that check was running (the grader notes the file's length as each cell
  starts), so a learner's cell that calls a check on some other function earns nothing.
- Each run gets a fixed seed (``COURSE_GRADE_SEED``: a regrade draws the same inputs), strict mode
  (``COURSE_STRICT=1``: a failing check raises ``AssertionError``, as under nbgrader), its own
  temporary folder and output folder (``COURSE_OUTPUT_DIR``), and, set inside the kernel before any
  cell runs, limits on memory and CPU time and a refusal of network connections from Python.

What this does not protect against: code written to attack the grader from inside the kernel
(it runs as the instructor's user and could read the token from memory, or patch the checks).
Answers that touch the grader's machinery are flagged for review (the ``flags`` column); for
hostile code, run ``course grade`` inside a container with no network.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SOLUTION_MARK = "### BEGIN SOLUTION"
SKIP_TAG = "exercises-only-skip"
CHECK_CALL = re.compile(r"^\s*(?:ok\s*=\s*)?(check_\w+)\(", re.M)
DEFINES = re.compile(r"^(?:def|class)\s+(\w+)|^(\w+)\s*=", re.M)
SUSPICIOUS = re.compile(
    r"COURSE_|course_lib\.checks|record_verdict|_GRADE_TOKEN|sys\.modules|builtins|os\.environ"
)
DEFAULT_SEED = 20261129


# --- the cells of a lesson ----------------------------------------------------------------------


@dataclass
class Exercise:
    """One ``check_...()`` call of the instructor's lesson and what it is worth."""

    check: str
    points: float
    cell: str  # the key of the check cell that calls it


def cell_keys(cell) -> list[str]:
    """The names a cell is known by: its nbgrader ``grade_id``, then its cell id."""
    keys = [cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")]
    keys.append(cell.get("id"))
    return [k for k in keys if k]


def is_solution_cell(cell) -> bool:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell["cell_type"] == "code" and (
        bool(meta.get("solution")) or SOLUTION_MARK in _source(cell)
    )


def checks_called(cell) -> list[str]:
    """The ``check_...`` functions a code cell calls, in order, each once."""
    if cell["cell_type"] != "code" or is_solution_cell(cell):
        return []
    return list(dict.fromkeys(CHECK_CALL.findall(_source(cell))))


def exercises_of(nb) -> list[Exercise]:
    """The exercises of an instructor's lesson, in order: one per check call, worth the cell's
    nbgrader ``points`` shared among its checks (default one point each)."""
    out = []
    for cell in nb["cells"]:
        checks = checks_called(cell)
        if not checks:
            continue
        points = cell.get("metadata", {}).get("nbgrader", {}).get("points", len(checks))
        out.extend(Exercise(c, points / len(checks), cell_keys(cell)[0]) for c in checks)
    return out


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


# --- nbgrader metadata --------------------------------------------------------------------------


def nbgrader_metadata(nb) -> int:
    """Give a lesson (a notebook dict or node, changed in place) nbgrader's cell metadata: solution
    cells ``solution: true``, check cells ``grade: true, locked: true, points`` (one per check),
    every other code cell ``locked: true`` (nbgrader restores it from the source when grading);
    ``grade_id`` stable: ``answer_<name it defines>``, the check names, ``cell_<cell id>``.
    Markdown cells are left as they are. Returns how many cells changed; a second run changes none.
    """
    changed, used = 0, set()
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        old = cell.get("metadata", {}).get("nbgrader")
        meta = {"schema_version": 3, "task": False, "solution": False, "grade": False}
        checks = checks_called(cell)
        if is_solution_cell(cell):
            before = _source(cell).split(SOLUTION_MARK)[0]
            found = DEFINES.search(before) or DEFINES.search(_source(cell))
            name = next((g for g in (found.groups() if found else ()) if g), cell.get("id"))
            meta.update(solution=True, locked=False, grade_id=_unique(f"answer_{name}", used))
        elif checks:
            grade_id = _unique("_and_".join(checks), used)
            meta.update(grade=True, locked=True, points=len(checks), grade_id=grade_id)
        else:
            meta.update(locked=True, grade_id=_unique(f"cell_{cell.get('id')}", used))
        if old != meta:
            cell.setdefault("metadata", {})["nbgrader"] = meta
            changed += 1
    return changed


def _unique(name: str, used: set) -> str:
    name = re.sub(r"[^A-Za-z0-9_-]", "_", name)
    out, n = name, 2
    while out in used:
        out, n = f"{name}_{n}", n + 1
    used.add(out)
    return out


# --- what runs: the instructor's lesson with the learner's answers --------------------------------


def graded_notebook(lesson, submission, *, exercises_only: bool = False):
    """The notebook to run for ``submission`` (nbformat nodes; neither is changed): the
    ``lesson``'s cells in order, with the learner's version of each solution cell (the stub when
    the learner deleted it) and the learner's own added cells after the cell they followed."""
    import copy

    from .cli import make_student_notebook

    lesson_keys = {k for c in lesson.cells for k in cell_keys(c)}
    theirs, extras, last = {}, {}, None
    for cell in submission.cells:
        keys = cell_keys(cell)
        known = next((k for k in keys if k in lesson_keys), None)
        if known is None:
            extras.setdefault(last, []).append(cell)
        else:
            for k in keys:
                theirs.setdefault(k, cell)
            last = known
    out = copy.deepcopy(lesson)
    out.cells = []
    for cell in extras.get(None, []):
        out.cells.append(copy.deepcopy(cell))
    for cell in lesson.cells:
        keys = cell_keys(cell)
        if exercises_only and SKIP_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        if is_solution_cell(cell):
            mine = next((theirs[k] for k in keys if k in theirs), None)
            if mine is None:
                stub = make_student_notebook(_one_cell_notebook(cell))
                mine = stub.cells[0]
            new = copy.deepcopy(cell)
            new.source = _source(mine)
        else:
            new = copy.deepcopy(cell)
        if new.cell_type == "code":
            new.outputs, new.execution_count = [], None
        out.cells.append(new)
        for key in keys:
            for cell_after in extras.pop(key, []):
                out.cells.append(copy.deepcopy(cell_after))
    return out


def _one_cell_notebook(cell):
    import copy

    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [copy.deepcopy(cell)]
    return nb


def flags_of(lesson, submission) -> list[str]:
    """Reasons to look at a submission by hand: learner code that touches the grader."""
    lesson_sources = {_source(c) for c in lesson.cells}
    found = set()
    for cell in submission.cells:
        src = _source(cell)
        if cell.cell_type == "code" and src not in lesson_sources:
            found |= set(SUSPICIOUS.findall(src))
    return [f"touches {name}" for name in sorted(found)]


# --- one submission ------------------------------------------------------------------------------


@dataclass
class Limits:
    """What one graded run may use: seconds per cell, memory (MiB) and CPU seconds per kernel."""

    timeout: int = 120
    memory_mb: int = 8192
    cpu_seconds: int = 1800


@dataclass
class Grade:
    """The result of grading one submission."""

    student: str
    notebook: str
    lesson: str
    status: str = "ok"  # ok, error, timeout, crashed
    detail: str = ""
    seconds: float = 0.0
    verdicts: dict[str, str] = field(default_factory=dict)  # check -> passed, failed, ...
    reasons: dict[str, str] = field(default_factory=dict)  # check -> message with the hint
    points: dict[str, float] = field(default_factory=dict)
    max_points: float = 0.0
    flags: list[str] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(self.points.values())


def grade_submission(
    path: Path,
    lesson_path: Path,
    *,
    student: str,
    fast: bool = True,
    exercises_only: bool = False,
    seed: int = DEFAULT_SEED,
    limits: Limits | None = None,
    feedback_dir: Path | None = None,
) -> Grade:
    """Grade one submission against the instructor's lesson (see the module's conventions).

    Runs in its own temporary folder; writes the executed copy and its HTML to
    ``feedback_dir/<student>/`` when given. Never raises for a broken submission: a file that is
    not a notebook, a crash, a hang are reported in the grade's ``status`` and ``detail``."""
    import nbformat

    limits = limits or Limits()
    lesson = nbformat.read(lesson_path, as_version=4)
    exercises = exercises_of(lesson)
    grade = Grade(student, Path(path).name, Path(lesson_path).stem)
    start = time.perf_counter()
    try:
        submission = nbformat.read(path, as_version=4)
    except Exception as e:  # not a notebook at all
        grade.status, grade.detail = "crashed", f"not a notebook: {type(e).__name__}: {e}"[:300]
        _finish(grade, exercises, {}, None, start)
        return grade
    grade.flags = flags_of(lesson, submission)
    nb = graded_notebook(lesson, submission, exercises_only=exercises_only)
    with tempfile.TemporaryDirectory(prefix="course-grade-") as tmp:
        work, private = Path(tmp) / "work", Path(tmp) / "grader"
        work.mkdir()
        private.mkdir(mode=0o700)
        token = secrets.token_hex(16)
        token_file = private / "token"
        token_file.write_text(token, encoding="utf-8")
        verdict_file = private / "verdicts.jsonl"
        verdict_file.touch()
        env = {
            **os.environ,
            "COURSE_FAST": "1" if fast else "0",
            "COURSE_STRICT": "1",
            "COURSE_GRADE_SEED": str(seed),
            "COURSE_VERDICTS": str(verdict_file),
            "COURSE_GRADE_TOKEN_FILE": str(token_file),
            "COURSE_OUTPUT_DIR": str(work / "output"),
            "MPLBACKEND": "Agg",
        }
        starts: list[tuple[int, int]] = []  # (cell index, verdict file length as it started)
        nb = _run(nb, work, env, limits, starts, verdict_file, grade)
        accepted = _accepted_verdicts(nb, starts, verdict_file, token)
    _finish(grade, exercises, accepted, nb, start)
    if feedback_dir is not None:
        _write_feedback(nb, Path(feedback_dir) / student, Path(lesson_path).stem)
    return grade


def _run(nb, work: Path, env: dict, limits: Limits, starts: list, verdict_file: Path, grade):
    """Execute ``nb`` in ``work`` with ``env`` given to the kernel (never to this process, so runs
    can go in parallel); note each cell's start; record a crash or a timeout in ``grade``."""
    from nbclient import NotebookClient

    client = NotebookClient(
        nb,
        timeout=limits.timeout,
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=True,
        record_timing=False,
        resources={"metadata": {"path": str(work)}},
        extra_arguments=_kernel_setup_args(limits),
    )
    client.on_cell_execute = lambda cell, cell_index: starts.append(
        (cell_index, verdict_file.stat().st_size)
    )
    try:
        client.execute(env=env)
    except Exception as e:  # the kernel died (memory, CPU time, os._exit) or would not start
        grade.status = "crashed"
        grade.detail = f"the kernel stopped: {type(e).__name__}: {str(e).strip()[:200]}"
    return client.nb


def _kernel_setup_args(limits: Limits) -> list[str]:
    """The kernel's start-up line: :func:`confine_kernel`, before any cell runs."""
    call = (
        "from course_lib.grading import confine_kernel; "
        f"confine_kernel({limits.memory_mb}, {limits.cpu_seconds})"
    )
    return [f"--IPKernelApp.exec_lines={call}", "--IPKernelApp.log_level=ERROR"]


def confine_kernel(memory_mb: int, cpu_seconds: int) -> None:
    """Run inside a grading kernel at start: cap its memory and CPU time (hard limits: code run
    later cannot raise them) and refuse network connections made through Python's ``socket``
    (the kernel's own channels are ZeroMQ's, not these); first, import ``course_lib.runtime``,
    which takes the grader's token."""
    import resource
    import socket

    from . import runtime  # noqa: F401 (importing it takes the grader's token)

    # RLIMIT_DATA, not RLIMIT_AS: a CUDA build of torch maps gigabytes of address space (its
    # libraries) on import, and an address-space cap kills the kernel before any cell runs;
    # the data limit counts what the code allocates (heap and anonymous maps, Linux 4.7+)
    resource.setrlimit(resource.RLIMIT_DATA, (memory_mb * 2**20,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds,) * 2)
    connect = socket.socket.connect

    def refuse(self, address, *args):
        if self.family != getattr(socket, "AF_UNIX", None):
            raise PermissionError(f"no network while grading (connect to {address!r} refused)")
        return connect(self, address, *args)

    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse


def _accepted_verdicts(nb, starts: list, verdict_file: Path, token: str) -> dict:
    """check -> (verdict, message) for the verdicts that carry ``token`` and were written while
    a check cell calling that check ran; the last such verdict of each check wins."""
    data = verdict_file.read_bytes()
    bounds = sorted(starts, key=lambda s: s[1])
    accepted = {}
    for n, (index, begin) in enumerate(bounds):
        end = bounds[n + 1][1] if n + 1 < len(bounds) else len(data)
        allowed = set(checks_called(nb.cells[index]))
        for raw in data[begin:end].decode("utf-8", errors="replace").splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if (
                isinstance(line, dict)
                and line.get("token") == token
                and line.get("check") in allowed
            ):
                accepted[line["check"]] = (str(line.get("verdict")), str(line.get("message", "")))
    return accepted


def _finish(grade: Grade, exercises: list[Exercise], accepted: dict, nb, start: float) -> None:
    """Fill in verdicts, reasons, points and the run's status."""
    errors = _cell_errors(nb) if nb is not None else {}
    grade.max_points = sum(e.points for e in exercises)
    for ex in exercises:
        verdict, message = accepted.get(ex.check, (None, ""))
        if verdict is None:
            verdict, message = _missing_verdict(ex, errors)
        grade.verdicts[ex.check] = verdict
        grade.points[ex.check] = ex.points if verdict == "passed" else 0.0
        if verdict != "passed":
            grade.reasons[ex.check] = message
    timeouts = [e for e in errors.values() if e[0] in ("KeyboardInterrupt", "CellTimeoutError")]
    if grade.status == "ok" and timeouts:
        grade.status, grade.detail = "timeout", "a cell ran past the time limit"
    grade.seconds = time.perf_counter() - start


def _cell_errors(nb) -> dict:
    """cell key -> (ename, evalue) of every cell that ended in an error."""
    out = {}
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                keys = cell_keys(cell) or [None]
                out[keys[0]] = (o.get("ename", "Error"), str(o.get("evalue", ""))[:300])
    return out


def _missing_verdict(ex: Exercise, errors: dict) -> tuple[str, str]:
    """The verdict of an exercise whose check recorded none: the check cell's error says why."""
    if ex.cell not in errors:
        return "not run", "the check did not run (an earlier cell stopped the run?)"
    ename, evalue = errors[ex.cell]
    if ename == "NotImplementedError":
        return "not attempted", "the function is not written yet (it raises NotImplementedError)"
    if ename in ("KeyboardInterrupt", "CellTimeoutError"):
        return "timeout", "the check cell ran past the time limit"
    if ename == "AssertionError":  # strict mode: a failing check stops its cell
        return "not run", "not checked: a check before it in the same cell failed"
    return f"error ({ename})", f"the check cell raised {ename}: {evalue}"


def _write_feedback(nb, folder: Path, stem: str) -> None:
    """The executed copy and its HTML: what the learner gets back."""
    import nbformat
    from nbconvert import HTMLExporter

    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{stem}.ipynb")
    body, _ = HTMLExporter().from_notebook_node(nb)
    (folder / f"{stem}.html").write_text(body, encoding="utf-8")


# --- an nbgrader course directory ----------------------------------------------------------------

NBGRADER_CONFIG = '''"""nbgrader's settings for the llm-course lessons, from `course nbgrader`.

Loading it sets, for every kernel nbgrader starts: strict checks (a failing check raises
AssertionError, so its grade cell scores 0; nbgrader's NBGRADER_EXECUTION turns them on too),
a fixed seed for the checks' inputs (a regrade gives the same marks), fast mode (exercises need
no long training), and a folder for the lessons' checkpoints.
"""

import os

HERE = os.path.dirname(os.path.abspath(__file__))
os.environ.setdefault("COURSE_STRICT", "1")
os.environ.setdefault("COURSE_GRADE_SEED", "{seed}")
os.environ.setdefault("COURSE_FAST", "1")
os.environ.setdefault("COURSE_OUTPUT_DIR", os.path.join(HERE, "outputs"))
os.environ.setdefault("MPLBACKEND", "Agg")

c = get_config()  # noqa: F821 (nbgrader provides it)
c.CourseDirectory.root = HERE
c.CourseDirectory.course_id = "llm-course"
c.Execute.timeout = {timeout}
c.ClearSolutions.code_stub = {{"python": "# YOUR CODE HERE\\nraise NotImplementedError()"}}
'''


def write_nbgrader_course(
    dest: Path, lessons: list[Path], *, seed: int = DEFAULT_SEED, timeout: int = 300
) -> list[Path]:
    """Write an nbgrader course directory: ``nbgrader_config.py`` and
    ``source/<lesson>/<lesson>.ipynb`` (with nbgrader metadata; cells tagged ``instructor``
    removed: they are the teacher's notes, not the learner's). The lessons find their data
    through ``course_lib`` (installed from the repository), so nothing else is copied."""
    import nbformat
    from nbconvert.preprocessors import TagRemovePreprocessor

    from .cli import INSTRUCTOR_TAG

    dest = Path(dest)
    written = []
    for path in lessons:
        nb = nbformat.read(path, as_version=4)
        nb, _ = TagRemovePreprocessor(remove_cell_tags={INSTRUCTOR_TAG}, enabled=True).preprocess(
            nb, {}
        )
        nbgrader_metadata(nb)
        folder = dest / "source" / path.stem
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / path.name)
        written.append(folder / path.name)
    config = NBGRADER_CONFIG.format(seed=seed, timeout=timeout)
    (dest / "nbgrader_config.py").write_text(config, encoding="utf-8")
    return written


__all__ = [
    "Exercise",
    "Grade",
    "Limits",
    "exercises_of",
    "grade_submission",
    "graded_notebook",
    "nbgrader_metadata",
    "write_nbgrader_course",
]
