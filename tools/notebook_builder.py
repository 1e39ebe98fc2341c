"""The notebook-writing part of the lesson builders (``tools/build_lesson07.py``,
``tools/build_lesson08.py``): cells appended with ``md(text)`` and ``code(text)``, written
unexecuted as nbformat 4.5 JSON."""

from __future__ import annotations

import json
import uuid
from pathlib import Path


def _lines(text: str) -> list[str]:
    text = text.strip("\n")
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


class NotebookBuilder:
    """``nb.md(text)`` and ``nb.code(text)`` append a cell; ``nb.write(path)`` writes them."""

    def __init__(self) -> None:
        self.cells: list[dict] = []

    def md(self, text: str) -> None:
        cell = {"cell_type": "markdown", "id": uuid.uuid4().hex[:8], "metadata": {}}
        self.cells.append({**cell, "source": _lines(text)})

    def code(self, text: str) -> None:
        cell = {"cell_type": "code", "execution_count": None, "id": uuid.uuid4().hex[:8]}
        self.cells.append({**cell, "metadata": {}, "outputs": [], "source": _lines(text)})

    def write(self, path: Path, root: Path) -> None:
        nb = {
            "cells": self.cells,
            "metadata": {
                "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                "language_info": {"name": "python", "pygments_lexer": "ipython3"},
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {path.relative_to(root)} ({len(self.cells)} cells)")
