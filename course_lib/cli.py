"""The ``course`` command: student versions, checking and grading, headless runs, environment check.

    course student OUTDIR [LESSON ...] [--force]   learner versions of the lessons
    course check NOTEBOOK                          run a learner's notebook; one line per exercise
    course grade DIR --out grades.csv [--lesson L] grade a folder of submissions (see grading.py)
    course nbgrader DEST [LESSON ...]              an nbgrader course directory of the lessons
    course run [LESSON ...] [--fast] [--out DIR]   execute lessons headless; executed copy + HTML
    course doctor                                  the environment check of lesson 00
    course timings                                 minutes per lesson, from the committed runs

Nothing a learner or instructor wrote is ever modified: ``student`` refuses to overwrite files
without ``--force``; ``check`` and ``grade`` execute copies; a crashing or endless submission is
reported as such (per-cell timeout) and grading goes on with the next. ``grade`` runs the
instructor's lesson with the learner's answers put in and reads the marks from a channel the
notebook cannot print to (:mod:`course_lib.grading`); ``check`` is the learner's quick look and
reads the printed verdicts.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from .grading import CHECK_CALL, DEFAULT_SEED, Limits, exercises_of, grade_submission
from .runtime import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
INSTRUCTOR_TAG = "instructor"
VERDICT = re.compile(
    r"^(?:\u2705|\u274c|\u26a0\ufe0f?) (check_\w+): "
    r"(passed|failed|not attempted|uses the library version)",
    re.M,
)


def lesson_paths(names: list[str] | None = None) -> list[Path]:
    """The lesson notebooks, in order; ``names`` may be numbers (``01``), stems or file names."""
    lessons = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return lessons
    chosen = []
    for name in names:
        stem = Path(name).stem
        hits = [p for p in lessons if p.stem == stem or p.stem.split("_")[0] == stem.zfill(2)]
        if not hits:
            known = ", ".join(p.stem for p in lessons)
            raise SystemExit(f"course: no lesson called {name!r}; the lessons are: {known}")
        chosen.extend(hits)
    return chosen


# --- student versions -----------------------------------------------------------------------


def make_student_notebook(nb):
    """A learner's copy of a lesson notebook (an ``nbformat`` node, changed in place and returned):
    solutions replaced by a stub raising ``NotImplementedError`` (nbgrader's ClearSolutions),
    outputs and execution counts cleared, cells tagged ``instructor`` removed."""
    from nbconvert.preprocessors import ClearOutputPreprocessor, TagRemovePreprocessor
    from nbgrader.preprocessors import ClearSolutions

    resources: dict = {}
    remove = TagRemovePreprocessor(remove_cell_tags={INSTRUCTOR_TAG}, enabled=True)
    nb, resources = remove.preprocess(nb, resources)
    nb, resources = ClearSolutions(enforce_metadata=False).preprocess(nb, resources)
    nb, resources = ClearOutputPreprocessor().preprocess(nb, resources)
    nb.metadata.pop("widgets", None)
    return nb


def cmd_student(args) -> int:
    import nbformat

    out = Path(args.outdir)
    lessons = lesson_paths(args.lessons)
    targets = [out / p.name for p in lessons]
    existing = [t for t in targets if t.exists()]
    if existing and not args.force:
        names = ", ".join(t.name for t in existing)
        print(
            f"course student: {out} already holds {names}; nothing was written. Use --force to "
            "overwrite them, or choose another folder.",
            file=sys.stderr,
        )
        return 1
    out.mkdir(parents=True, exist_ok=True)
    for src, dst in zip(lessons, targets, strict=True):
        nb = make_student_notebook(nbformat.read(src, as_version=4))
        nbformat.write(nb, dst)
        print(f"wrote {dst}")
    return 0


# --- running notebooks ----------------------------------------------------------------------


@dataclass
class RunReport:
    """What happened when a notebook ran: per-exercise verdicts and the run's status."""

    path: Path
    verdicts: dict[str, str] = field(default_factory=dict)  # check name -> passed/failed/...
    status: str = "ok"  # ok, error, timeout, crashed
    detail: str = ""


def execute_notebook(
    path: Path,
    *,
    timeout: int = 120,
    fast: bool = True,
    workdir: Path | None = None,
    allow_errors: bool = True,
    progress: bool = False,
):
    """Execute a copy of ``path`` (the original is never touched) and return the executed node.

    Each cell may run for ``timeout`` seconds; a cell over time is interrupted and recorded, and
    execution goes on (``allow_errors``). The kernel runs in the lesson folder so relative paths
    work, with ``COURSE_FAST=1`` when ``fast``."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env_before = os.environ.get("COURSE_FAST")
    os.environ["COURSE_FAST"] = "1" if fast else "0"
    try:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            allow_errors=allow_errors,
            interrupt_on_timeout=True,
            record_timing=False,
            store_widget_state=True,  # saved in the notebook: exported HTML draws the widgets
            resources={"metadata": {"path": str(workdir or NOTEBOOKS)}},
        )
        if progress:
            from tqdm.auto import tqdm

            code_cells = sum(c.cell_type == "code" for c in nb.cells)
            bar = tqdm(total=code_cells, desc=path.stem, leave=True)
            client.on_cell_executed = lambda **kw: bar.update(1)
            try:
                client.execute()
            finally:
                bar.close()
        else:
            client.execute()
    finally:
        if env_before is None:
            os.environ.pop("COURSE_FAST", None)
        else:
            os.environ["COURSE_FAST"] = env_before
    return nb


def verdicts_of(nb) -> RunReport:
    """Read the exercise verdicts and errors out of an executed notebook."""
    report = RunReport(path=Path("."))
    expected = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        called = CHECK_CALL.findall(cell.source)
        expected.extend(c for c in called if c not in expected)
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                for name, verdict in VERDICT.findall(out.text):
                    report.verdicts[name] = verdict
            elif out.output_type == "error":
                ename = out.get("ename", "Error")
                for name in called:
                    if name not in report.verdicts:
                        report.verdicts[name] = (
                            "not attempted"
                            if ename == "NotImplementedError"
                            else f"error ({ename})"
                        )
                # on a timeout nbclient interrupts the kernel: the cell ends in KeyboardInterrupt
                if ename in ("KeyboardInterrupt", "CellTimeoutError"):
                    report.status, report.detail = "timeout", "a cell ran past the time limit"
                elif ename != "NotImplementedError" and report.status == "ok":
                    report.status, report.detail = (
                        "error",
                        f"{ename}: {out.get('evalue', '')}"[:200],
                    )
    for name in expected:
        report.verdicts.setdefault(name, "not run")
    return report


def check_notebook(path: Path, *, timeout: int = 120, fast: bool = True) -> RunReport:
    """Execute a copy of a learner's notebook in a scratch folder and collect its verdicts."""
    path = Path(path)
    if not path.exists():
        raise SystemExit(f"course: no notebook at {path}")
    with tempfile.TemporaryDirectory(prefix="course-check-") as tmp:
        copy = Path(tmp) / path.name
        shutil.copyfile(path, copy)
        try:
            nb = execute_notebook(copy, timeout=timeout, fast=fast, workdir=Path(tmp))
        except Exception as e:  # the kernel died or the file is not a notebook
            return RunReport(path=path, status="crashed", detail=f"{type(e).__name__}: {e}"[:300])
    report = verdicts_of(nb)
    report.path = path
    return report


def _print_report(report: RunReport) -> None:
    width = max((len(n) for n in report.verdicts), default=0)
    for name, verdict in report.verdicts.items():
        mark = "PASS" if verdict == "passed" else "FAIL"
        print(f"{mark}  {name:<{width}}  {verdict}")
    passed = sum(v == "passed" for v in report.verdicts.values())
    print(
        f"{report.path.name}: {passed}/{len(report.verdicts)} exercises passed; "
        f"run {report.status}{': ' + report.detail if report.detail else ''}"
    )


def cmd_check(args) -> int:
    report = check_notebook(Path(args.notebook), timeout=args.timeout, fast=not args.full)
    _print_report(report)
    return 0 if report.verdicts and all(v == "passed" for v in report.verdicts.values()) else 1


def _submissions(folder: Path) -> list[tuple[str, Path]]:
    """(student, notebook) for one notebook per student, or one folder per student."""
    subs = sorted(folder.glob("*.ipynb")) + sorted(folder.glob("*/*.ipynb"))
    return [(p.stem if p.parent == folder else p.parent.name, p) for p in subs]


def _lesson_for(sub: Path, chosen: str | None) -> Path:
    """The instructor's lesson a submission answers: ``--lesson`` (a lesson name or number, or a
    notebook's path), else the lesson whose file name the submission has."""
    if chosen:
        return (
            Path(chosen)
            if chosen.endswith(".ipynb") and Path(chosen).exists()
            else (lesson_paths([chosen])[0])
        )
    hits = [p for p in lesson_paths() if p.name == sub.name]
    if not hits:
        raise SystemExit(
            f"course grade: {sub.name} is not named after a lesson; say which lesson the "
            "submissions answer with --lesson (e.g. --lesson 04)"
        )
    return hits[0]


def cmd_grade(args) -> int:
    folder = Path(args.dir)
    subs = _submissions(folder)
    if not subs:
        print(
            f"course grade: no .ipynb files in {folder} (one per student, or one folder per "
            "student)",
            file=sys.stderr,
        )
        return 1
    import nbformat

    lessons = {sub: _lesson_for(sub, args.lesson) for _, sub in subs}
    exercises = []  # the columns: every lesson's exercises, from the instructor's copy
    for lesson in dict.fromkeys(lessons.values()):
        names = [e.check for e in exercises_of(nbformat.read(lesson, as_version=4))]
        exercises.extend(n for n in names if n not in exercises)
    limits = Limits(timeout=args.timeout, memory_mb=args.memory_mb, cpu_seconds=args.cpu_seconds)

    def one(student: str, sub: Path):
        return grade_submission(
            sub,
            lessons[sub],
            student=student,
            fast=not args.full,
            exercises_only=args.exercises_only,
            seed=args.seed,
            limits=limits,
            feedback_dir=Path(args.feedback) if args.feedback else None,
        )

    grades = {}
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        futures = {pool.submit(one, student, sub): (student, sub) for student, sub in subs}
        for future in as_completed(futures):
            student, sub = futures[future]
            grade = grades[sub] = future.result()
            print(_grade_line(grade), flush=True)
    _write_grades_csv(Path(args.out), folder, [(s, sub, grades[sub]) for s, sub in subs], exercises)
    print(f"wrote {args.out}: {len(subs)} submissions, {len(exercises)} exercises")
    return 0


def _grade_line(g) -> str:
    """One console line per student: score, status, time, and what failed."""
    failing = [f"{c} {v}" for c, v in g.verdicts.items() if v != "passed"]
    return (
        f"{g.student:<16} {g.score:g}/{g.max_points:g}  {g.status:<8} {g.seconds:6.1f} s"
        + (f"  {'; '.join(failing)}" if failing else "")
        + (f"  [{g.detail}]" if g.detail else "")
        + (f"  review: {', '.join(g.flags)}" if g.flags else "")
    )


def _write_grades_csv(out: Path, folder: Path, rows: list, exercises: list[str]) -> None:
    """One row per submission: score, max, seconds, each exercise's verdict and points, the
    reasons (with the hints) for what failed, the run's status, flags for review."""
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        per_exercise = [col for e in exercises for col in (e, f"{e} points")]
        writer.writerow(
            ["student", "notebook", "lesson", "status", "score", "max", "seconds"]
            + per_exercise
            + ["reasons", "detail", "flags"]
        )
        for student, sub, g in rows:
            cells = []
            for e in exercises:
                cells += [g.verdicts.get(e, ""), f"{g.points[e]:g}" if e in g.points else ""]
            reasons = "\n\n".join(f"{c}: {g.verdicts[c]}\n{m}" for c, m in g.reasons.items())
            writer.writerow(
                [student, sub.relative_to(folder).as_posix(), g.lesson, g.status]
                + [f"{g.score:g}", f"{g.max_points:g}", f"{g.seconds:.1f}"]
                + cells
                + [reasons, g.detail, "; ".join(g.flags)]
            )


def cmd_nbgrader(args) -> int:
    from .grading import write_nbgrader_course

    dest = Path(args.dest)
    if (dest / "source").exists() and not args.force:
        print(
            f"course nbgrader: {dest} already holds a source/ folder; nothing was written. Use "
            "--force to overwrite the lessons in it.",
            file=sys.stderr,
        )
        return 1
    for path in write_nbgrader_course(dest, lesson_paths(args.lessons), seed=args.seed):
        print(f"wrote {path}")
    print(
        f"wrote {dest / 'nbgrader_config.py'}; next: cd {dest} && nbgrader generate_assignment "
        "<lesson>"
    )
    return 0


def cmd_run(args) -> int:
    import nbformat

    from .export import export_html

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    failed = []
    for path in lesson_paths(args.lessons):
        nb = execute_notebook(
            path, timeout=args.timeout, fast=args.fast, allow_errors=args.keep_going, progress=True
        )
        nbformat.write(nb, out / path.name)
        export_html(nb, out / f"{path.stem}.html")  # renders offline: scripts in out/vendor/
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
        if errors:
            failed.append(path.name)
        print(
            f"{path.name}: {'errors' if errors else 'ok'} -> {out / path.name}, "
            f"{out / (path.stem + '.html')}"
        )
    return 1 if failed else 0


# --- the committed notebooks: how long their run took, and what a reader would trip over --------

PROGRESS = re.compile(r"(\d{1,3})%\|")
LOCAL_PATH = re.compile(r"(/work/|/root/|/tmp/|/home/[a-z]|/Users/|[A-Z]:\\Users)")
ECHOES = {"True", "False", "0"}  # what a cell run for its side effect should not show


def _code_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def committed_run_seconds(path: Path) -> float:
    """Wall-clock seconds of a notebook's committed run: from the first code cell's start to the
    last one's end, as nbclient recorded them in each cell's ``metadata.execution``."""
    import json
    from datetime import datetime

    cells = _code_cells(json.loads(Path(path).read_text(encoding="utf-8")))
    stamps = [c.get("metadata", {}).get("execution", {}) for c in cells]
    if not cells or any(
        "iopub.execute_input" not in t or "shell.execute_reply" not in t for t in stamps
    ):
        raise ValueError(
            f"{Path(path).name} has code cells without timing metadata: execute it top to bottom "
            "with `jupyter nbconvert --to notebook --execute --inplace` (nbclient records it)"
        )
    start = datetime.fromisoformat(stamps[0]["iopub.execute_input"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(stamps[-1]["shell.execute_reply"].replace("Z", "+00:00"))
    return (end - start).total_seconds()


def notebook_problems(path: Path) -> list[str]:
    """What a reader of a committed lesson would trip over: execution counts not 1..n, errors,
    stderr (unless the cell is tagged ``expected-stderr``), progress bars short of 100%, bare
    ``True``/``False``/``0`` echoes, local paths. An empty list means it reads cleanly."""
    import json

    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    cells = _code_cells(nb)
    problems = []
    counts = [c.get("execution_count") for c in cells]
    if counts != list(range(1, len(cells) + 1)):
        problems.append(f"execution counts are {counts}, not 1..{len(cells)}: run it top to bottom")
    for n, cell in enumerate(cells, 1):
        tags = cell.get("metadata", {}).get("tags", [])
        for out in cell.get("outputs", []):
            kind = out["output_type"]
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            if kind == "error":
                problems.append(f"code cell {n}: an error ({out.get('ename')})")
            if out.get("name") == "stderr" and "expected-stderr" not in tags:
                problems.append(f"code cell {n}: stderr output {text.strip()[:80]!r}")
            unfinished = [int(p) for p in PROGRESS.findall(text) if int(p) < 100]
            if unfinished:
                problems.append(f"code cell {n}: a progress bar shows {unfinished[0]}%")
            if kind == "execute_result" and text.strip() in ECHOES:
                problems.append(f"code cell {n}: a bare {text.strip()} echo (assign the result)")
            if LOCAL_PATH.search(text):
                problems.append(f"code cell {n}: a local path in the output")
    return problems


def cmd_timings(args) -> int:
    total = 0.0
    print(f"{'lesson':<30} {'full-mode minutes':>18}")
    for path in lesson_paths(args.lessons):
        seconds = committed_run_seconds(path)
        total += seconds
        print(f"{path.name:<30} {seconds / 60:>18.1f}")
    print(f"{'total':<30} {total / 60:>18.1f}")
    return 0


def cmd_doctor(args) -> int:
    from .doctor import print_report

    return 0 if print_report() else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="course", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("student", help="write learner versions of the lessons")
    p.add_argument("outdir")
    p.add_argument("lessons", nargs="*", help="lesson numbers or names (default: all)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.set_defaults(func=cmd_student)

    for name, helptext in (
        ("check", "run a learner's notebook and report each exercise"),
        ("grade", "grade every submission in a folder against the lesson, write a CSV"),
    ):
        p = sub.add_parser(name, help=helptext)
        if name == "check":
            p.add_argument("notebook")
            p.set_defaults(func=cmd_check)
        else:
            p.add_argument("dir")
            p.add_argument("--out", required=True, help="CSV file to write")
            p.add_argument(
                "--lesson", help="the lesson answered: name, number or path (default: file name)"
            )
            p.add_argument("--feedback", help="folder for each executed copy and its HTML")
            p.add_argument("-j", "--jobs", type=int, default=1, help="submissions in parallel")
            p.add_argument(
                "--exercises-only",
                action="store_true",
                help="skip the cells tagged exercises-only-skip (long runs no exercise needs)",
            )
            p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the checks' seed")
            p.add_argument("--memory-mb", type=int, default=8192, help="per run (default 8192)")
            p.add_argument(
                "--cpu-seconds", type=int, default=1800, help="CPU time per run (default 1800)"
            )
            p.set_defaults(func=cmd_grade)
        p.add_argument("--timeout", type=int, default=120, help="seconds per cell (default 120)")
        p.add_argument("--full", action="store_true", help="run in full mode (default: fast)")

    p = sub.add_parser("nbgrader", help="write an nbgrader course directory of the lessons")
    p.add_argument("dest")
    p.add_argument("lessons", nargs="*", help="lesson numbers or names (default: all)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="the checks' seed when grading")
    p.add_argument("--force", action="store_true", help="overwrite lessons already there")
    p.set_defaults(func=cmd_nbgrader)

    p = sub.add_parser("run", help="execute lessons headless, write executed copies and HTML")
    p.add_argument("lessons", nargs="*")
    p.add_argument("--fast", action="store_true", help="COURSE_FAST=1: fewer steps")
    p.add_argument("--out", default="runs", help="output folder (default: runs/)")
    p.add_argument("--timeout", type=int, default=1800, help="seconds per cell")
    p.add_argument("--keep-going", action="store_true", help="record errors and go on")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("doctor", help="check the environment")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("timings", help="minutes per lesson in full mode, from the committed runs")
    p.add_argument("lessons", nargs="*")
    p.set_defaults(func=cmd_timings)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
