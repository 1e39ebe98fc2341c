"""An exported lesson renders offline: its maths, the attention explorer and an ipywidgets control,
in headless Chromium with every request that is not to 127.0.0.1 (or the page's own folder)
blocked, and no kernel anywhere.

A scratch notebook (a maths cell, an attention explorer built from small random weights, a
slider) is executed as ``course run`` executes a lesson (:func:`course_lib.cli.execute_notebook`,
which saves the widget state), exported with :func:`course_lib.export.export_html`, then opened
from a local HTTP server and from disk. Reuses ``tests/test_browser.py``'s ``browser`` fixture, so
it is marked ``browser`` and skipped, with the same message, where Debian's Chromium is missing.
"""

from __future__ import annotations

import functools
import http.server
import threading

import nbformat
import pytest
from browser_harness import CHROMIUM, ENABLE, block_non_local
from test_browser import browser, shot  # noqa: F401  (browser: a fixture)

from course_lib.cli import execute_notebook
from course_lib.export import export_html

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=ENABLE)]

MATHS = (
    "The weights of query $i$: $w_{ij} = e^{s_{ij}} / \\sum_k e^{s_{ik}}$, and\n\n"
    "$$\\sum_j w_{ij} = 1$$"
)
EXPLORER = (
    "import numpy as np\n"
    "import ipywidgets as W\n"
    "from course_lib.viz.attention import attention_example\n"
    "from course_lib.widgets.attention import AttentionExplorer\n"
    "rng = np.random.default_rng(0)\n"
    "toks = list('to be or not')\n"
    "T = len(toks)\n"
    "w = rng.random((2, 2, T, T)) * np.tril(np.ones((T, T)))\n"
    "explorer = AttentionExplorer([attention_example(toks, toks, w / w.sum(-1, keepdims=True))],\n"
    "                             title='offline explorer')\n"
    "explorer"
)
SLIDER = "W.IntSlider(value=7, max=20, description='unit')"
VIEW = ".attn-view"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The scratch notebook, executed and exported: the HTML file's path."""
    tmp = tmp_path_factory.mktemp("export_browser")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell(MATHS),
        nbformat.v4.new_code_cell(EXPLORER),
        nbformat.v4.new_code_cell(SLIDER),
    ]
    path = tmp / "offline.ipynb"
    nbformat.write(nb, path)
    executed = execute_notebook(path, timeout=120, workdir=tmp, allow_errors=False)
    assert "widgets" in executed.metadata, "nbclient saved no widget state"
    return export_html(executed, tmp / "out" / "offline.html")


@pytest.fixture(scope="module")
def server(exported):
    """A local HTTP server over the export folder; yields its base URL."""
    handler = functools.partial(Quiet, directory=str(exported.parent))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _open(browser, url: str):  # noqa: F811
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    blocked, errors, failed = block_non_local(context), [], []
    page = context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: failed.append(f"{r.url}: {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and failed.append(f"{r.url}: {r.status}"))
    page.goto(url)
    return context, page, blocked, errors, failed


def _check_page(page, name: str) -> dict:
    """The explorer, the maths and the slider rendered; a hover moves the query. Returns what
    was seen, for the message of a failing assertion."""
    view = page.locator(VIEW)
    view.wait_for(timeout=60_000)
    page.locator("mjx-container").first.wait_for(timeout=30_000)
    seen = {
        "maths": page.locator("mjx-container").count(),
        "maths errors": page.locator("mjx-merror").count(),
        "first": view.locator(".attn-sentence").inner_text(),
        "slider": page.locator(".widget-readout").first.inner_text(),
    }
    token = view.locator(".attn-strip-self .attn-tok, .attn-strip-queries .attn-tok").nth(3)
    token.hover()
    page.wait_for_function(
        "() => document.querySelector('.attn-view').dataset.query === '3'", timeout=5_000
    )
    seen["hovered"] = view.locator(".attn-sentence").inner_text()
    shot(page, name)
    return seen


def test_the_exported_page_renders_maths_and_widgets_with_no_network(browser, server):  # noqa: F811
    context, page, blocked, errors, failed = _open(browser, f"{server}/offline.html")
    try:
        seen = _check_page(page, "export-offline-http")
    finally:
        context.close()
    assert blocked == [], blocked
    assert errors == [] and failed == [], (errors, failed)
    assert seen["maths"] == 3 and seen["maths errors"] == 0, seen  # $i$, $w_{ij}...$, $$...$$
    assert seen["first"].startswith("position 11 "), seen  # opens at the last position
    assert seen["hovered"].startswith("position 3 "), seen  # a hover, answered with no kernel
    assert seen["slider"] == "7", seen  # the saved value of an ipywidgets control


def test_it_renders_opened_from_disk_too(browser, exported):  # noqa: F811
    context, page, blocked, errors, failed = _open(browser, exported.as_uri())
    try:
        seen = _check_page(page, "export-offline-file")
    finally:
        context.close()
    assert blocked == [] and errors == [] and failed == [], (blocked, errors, failed)
    assert seen["maths"] == 3 and seen["hovered"].startswith("position 3 "), seen
