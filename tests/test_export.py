"""course_lib.export: an executed notebook as HTML whose scripts all come from a vendor/ folder
beside it (relative URLs), so its maths and widgets render with no network. The browser half
(the page really renders offline) is tests/test_export_browser.py."""

import re
from pathlib import Path

import nbformat
import pytest

from course_lib import export

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _notebook():
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(
            "Softmax: $w_i = e^{s_i} / \\sum_j e^{s_j}$, see https://example.org/paper."
        ),
        nbformat.v4.new_code_cell("explorer", execution_count=1),
    ]
    model_id = "0123456789abcdef"
    nb.cells[1].outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={WIDGET_VIEW: {"model_id": model_id, "version_major": 2, "version_minor": 0}},
        )
    ]
    state = {
        "model_name": "AnyModel",
        "model_module": "anywidget",
        "model_module_version": "~0.11.*",
        "state": {"_esm": "export default {render() {}}", "_model_module": "anywidget"},
    }
    nb.metadata["widgets"] = {
        WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": {model_id: state}}
    }
    return nb


def _scripts(html: str) -> list[tuple[str, str]]:
    """(opening tag, body) of every <script> element."""
    return re.findall(r"(<script\b[^>]*>)(.*?)</script>", html, flags=re.S)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "lesson.html"
    assert export.export_html(_notebook(), out) == out
    return out, out.read_text(encoding="utf-8")


def test_every_script_is_a_relative_url_to_a_file_written_beside_the_page(page):
    out, html = page
    srcs = [m for tag, _ in _scripts(html) for m in re.findall(r'\bsrc="([^"]*)"', tag)]
    assert srcs == ["vendor/require.js", "vendor/mathjax/tex-chtml-full.js"]
    assert "'vendor/html-manager/embed-amd.js'" in html  # added by the widget renderer's loader
    assert 'paths: {anywidget: "vendor/anywidget"}' in html
    wanted = [*srcs, "vendor/html-manager/embed-amd.js", "vendor/anywidget.js"]
    for rel in wanted:
        assert (out.parent / rel).is_file(), rel
    fonts = out.parent / "vendor" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2"
    assert (fonts / "MathJax_Main-Regular.woff").is_file()
    assert not (out.parent / "vendor" / "README.md").exists()


def test_no_script_or_stylesheet_is_fetched_from_the_network(page):
    _, html = page
    for tag, body in _scripts(html):
        if WIDGET_STATE in tag or WIDGET_VIEW in tag:
            continue  # data, not code: the notebook's own text may hold any URL
        assert not re.search(r"https?://", tag + body), tag + body[:300]
    assert not re.search(r"<link\b[^>]*href=\"https?://", html)
    assert not re.search(r"@import\s+url\(['\"]?https?://", html)
    assert "https://example.org/paper" in html  # the notebook's text is untouched
    assert WIDGET_STATE in html  # the saved widget state goes into the page
    assert "$w_i = e^{s_i} / \\sum_j e^{s_j}$" in html  # TeX left for MathJax


def test_the_vendored_files_are_those_the_readme_lists():
    readme = (export.VENDOR / "README.md").read_text()
    files = [p.relative_to(export.VENDOR) for p in export.VENDOR.rglob("*") if p.is_file()]
    for rel in files:
        if rel.suffix in (".js",) and rel.parent.name != "woff-v2":
            assert f"`{rel.as_posix()}`" in readme, f"{rel} is not in the vendor README"
    size = sum((export.VENDOR / rel).stat().st_size for rel in files)
    assert size < 6_000_000, f"the vendored files grew to {size / 1e6:.1f} MB"
    assert "5.6 MB" in readme


def test_a_second_page_in_the_same_folder_shares_the_vendor_folder(page):
    out, _ = page
    embed = out.parent / "vendor" / "html-manager" / "embed-amd.js"
    before = embed.stat().st_mtime_ns
    export.export_html(_notebook(), out.parent / "other.html")
    assert embed.stat().st_mtime_ns == before  # identical: not copied again
    assert (out.parent / "other.html").read_text(encoding="utf-8").count("vendor/require.js") == 1


def test_it_reads_a_path_and_says_what_is_wrong(tmp_path):
    path = tmp_path / "n.ipynb"
    nbformat.write(_notebook(), path)
    assert export.export_html(path, tmp_path / "n.html").is_file()
    with pytest.raises(FileNotFoundError, match="no notebook at"):
        export.export_html(tmp_path / "missing.ipynb", tmp_path / "m.html")
    with pytest.raises(ValueError, match=r"should end in \.html"):
        export.export_html(_notebook(), tmp_path / "n.pdf")
    (tmp_path / "dir.html").mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder"):
        export.export_html(_notebook(), Path(tmp_path / "dir.html"))
