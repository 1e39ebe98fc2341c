"""Rebuild notebooks/08_inside.ipynb from tools/build_lesson08.py and keep the executed outputs.

    python tools/patches/lesson08_keep_outputs.py REPO_ROOT

For a change to the builder that only edits markdown or moves cells, without changing any code
cell's source: the notebook is rebuilt, and every code cell takes its outputs, execution count
and metadata from the executed cell with the same source (a cell's id is kept too, markdown
included, where the source is unchanged). Fails loudly, writing nothing, when a code cell of the
new build has no executed twin (the lesson must then be run again). Idempotent: a second run
writes the same file. Run ``tools/patches/nbgrader_metadata.py`` afterwards.
"""

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
PATH = ROOT / "notebooks" / "08_inside.ipynb"


def source(cell: dict) -> str:
    return "".join(cell["source"])


def main() -> None:
    executed = json.loads(PATH.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "notebooks").mkdir()
        builder = ROOT / "tools" / "build_lesson08.py"
        subprocess.run([sys.executable, str(builder), tmp], check=True, capture_output=True)
        built = json.loads((Path(tmp) / "notebooks" / PATH.name).read_text(encoding="utf-8"))
    old = {(c["cell_type"], source(c)): c for c in executed["cells"]}
    code = [c for c in built["cells"] if c["cell_type"] == "code"]
    missing = [source(c)[:70] for c in code if ("code", source(c)) not in old]
    if missing:
        raise SystemExit(f"{len(missing)} code cells changed, run the lesson again: {missing}")
    cells = []
    for cell in built["cells"]:
        twin = old.get((cell["cell_type"], source(cell)))
        if twin is not None:
            cell = {**cell, "id": twin["id"]}
            if cell["cell_type"] == "code":
                for key in ("outputs", "execution_count", "metadata"):
                    cell[key] = twin[key]
        cells.append(cell)
    executed["cells"] = cells
    text = json.dumps(executed, indent=1, ensure_ascii=False) + "\n"
    if text == PATH.read_text(encoding="utf-8"):
        print(f"{PATH.name}: already done")
        return
    PATH.write_text(text, encoding="utf-8")
    print(f"{PATH.name}: rebuilt, outputs kept")


if __name__ == "__main__":
    main()
