"""Give every lesson nbgrader's cell metadata; tag the cells `course grade --exercises-only` skips.

    python tools/patches/nbgrader_metadata.py REPO_ROOT

Metadata only: no source, output or execution count changes, so no lesson needs re-running.
- solution cells: ``solution: true``; check cells: ``grade: true, locked: true, points`` (one per
  check); every other code cell ``locked: true``; stable ``grade_id``s
  (``course_lib.grading.nbgrader_metadata`` decides, the same function ``course nbgrader`` uses);
- in the lessons listed in SKIPPABLE, the tag ``exercises-only-skip`` on the code cells no
  exercise depends on: those between the set-up cell and the "## Exercises" heading, and those
  after the last check cell. (Checked by grading the lesson's own answers with
  ``course grade --exercises-only``: every check passes.)

Idempotent: a second run writes nothing. Fails loudly when a lesson lacks the "## Exercises"
heading it relies on.
"""

import json
import sys
from pathlib import Path

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
sys.path.insert(0, str(ROOT))

from course_lib.grading import SKIP_TAG, checks_called, nbgrader_metadata  # noqa: E402

SKIPPABLE = {"04_attention"}  # lessons whose skippable cells were verified


def skippable_cells(nb: dict) -> list[int]:
    """Code cells between the set-up cell and "## Exercises", and after the last check cell."""
    cells = nb["cells"]
    code = [i for i, c in enumerate(cells) if c["cell_type"] == "code"]
    heading = [
        i
        for i, c in enumerate(cells)
        if c["cell_type"] == "markdown" and "".join(c["source"]).startswith("## Exercises")
    ]
    if not heading:
        raise SystemExit('no "## Exercises" heading: cannot tell which cells to skip')
    last_check = max(i for i, c in enumerate(cells) if checks_called(c))
    return [i for i in code if code[0] < i < heading[0] or i > last_check]


def patch(path: Path) -> bool:
    raw = path.read_text(encoding="utf-8")
    nb = json.loads(raw)
    nbgrader_metadata(nb)
    if path.stem in SKIPPABLE:
        for i in skippable_cells(nb):
            tags = nb["cells"][i].setdefault("metadata", {}).setdefault("tags", [])
            if SKIP_TAG not in tags:
                tags.append(SKIP_TAG)
    new = json.dumps(nb, indent=1, ensure_ascii=False, sort_keys=True) + "\n"
    if new == raw:
        return False
    path.write_text(new, encoding="utf-8")
    return True


if __name__ == "__main__":
    lessons = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not lessons:
        raise SystemExit(f"no lessons under {ROOT / 'notebooks'}")
    for lesson in lessons:
        print(f"{lesson.name}: {'patched' if patch(lesson) else 'already done'}")
