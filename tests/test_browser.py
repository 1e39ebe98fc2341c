"""Widgets in a real browser: JupyterLab on 127.0.0.1, headless Chromium driven by Playwright.

Marked ``browser``. Needs ``/usr/bin/chromium`` (Debian's ``chromium`` package; `.ci/run`
installs it). Without it the tests are skipped with a message saying how to enable them. Every
request that is not to 127.0.0.1 is blocked, so the tests also prove the widgets work offline.
Screenshots are written to ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser_harness import (  # noqa: F401  (CHROMIUM and ENABLE: other browser tests import them)
    CHROMIUM,
    ENABLE,
    KERNEL_BUSY,
    KERNEL_IDLE,
    block_non_local,
    launch,
)

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
TOKEN = "course-browser-test"
if not CHROMIUM.exists() and os.environ.get("COURSE_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"COURSE_REQUIRE_BROWSER=1 but the browser tests {ENABLE}")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=ENABLE)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server over a scratch copy of the notebooks; yields its base URL."""
    tmp = tmp_path_factory.mktemp("lab")
    root = tmp / "notebooks"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns("results"))
    for path in root.glob("*.ipynb"):  # no saved outputs: only live widgets can match
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.outputs, cell.execution_count = [], None
        nb.metadata.pop("widgets", None)
        nbformat.write(nb, path)
    cfg = tmp / "config"
    (cfg / "labconfig").mkdir(parents=True)
    (cfg / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
    )
    port = _free_port()
    env = dict(
        os.environ,
        COURSE_FAST="1",
        JUPYTER_CONFIG_DIR=str(cfg),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--port-retries=0",
        f"--IdentityProvider.token={TOKEN}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        "--LabApp.expose_app_in_browser=True",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = (tmp / "lab.log").open("w")
    proc = subprocess.Popen(
        cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(
                        "JupyterLab did not start:\n" + (tmp / "lab.log").read_text()[-3000:]
                    ) from None
                time.sleep(0.5)
        yield {"base": base, "root": root}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    blocked = block_non_local(context)
    pg = context.new_page()
    pg.blocked = blocked
    yield pg
    context.close()


def open_and_run(page, lab, name: str, timeout_s: int = 240, upto: int | None = None):
    """Open notebooks/NAME in JupyterLab, run all cells (or cells 0..upto), wait until the kernel
    is idle again."""
    # a fresh workspace: JupyterLab would otherwise restore the previous test's notebook
    workspace = f"t{time.time_ns()}"
    page.goto(f"{lab['base']}/lab/workspaces/{workspace}/tree/{name}?token={TOKEN}&reset")
    page.wait_for_function(KERNEL_IDLE, timeout=120_000)
    if upto is None:
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    else:
        page.evaluate(
            "async (i) => { const w = window.jupyterapp.shell.currentWidget;"
            " w.content.activeCellIndex = i;"
            " await window.jupyterapp.commands.execute('notebook:run-all-above');"
            " w.content.activeCellIndex = i;"
            " await window.jupyterapp.commands.execute('notebook:run-cell'); }",
            upto,
        )
    time.sleep(3.0)  # let the queued cells show their [*] prompts before polling
    deadline = time.time() + timeout_s
    while page.evaluate(KERNEL_BUSY):
        assert time.time() < deadline, f"{name} did not finish running in {timeout_s} s"
        time.sleep(1.0)


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def test_widgets_render_and_respond_offline(page, lab):
    """The widget manager works in this JupyterLab with no internet: a slider drives a label."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import ipywidgets as w\n"
            "s = w.IntSlider(value=3, max=10, description='n')\n"
            "lab = w.Label(value='value 3')\n"
            "s.observe(lambda ch: setattr(lab, 'value', f'value {ch.new}'), 'value')\n"
            "box = w.VBox([s, lab])\nbox.add_class('smoke-widget')\nbox"
        )
    ]
    nbformat.write(nb, lab["root"] / "smoke.ipynb")
    open_and_run(page, lab, "smoke.ipynb", timeout_s=60)
    box = page.locator(".smoke-widget")
    box.wait_for(timeout=30_000)
    assert "value 3" in box.inner_text()
    box.locator(".noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "() => document.querySelector('.smoke-widget').innerText.includes('value 4')",
        timeout=10_000,
    )
    shot(page, "smoke-widget")
    assert not [u for u in page.blocked if "127.0.0.1" in u]


def run_through(page, lab, name: str, marker: str, timeout_s: int = 240) -> None:
    """Open notebooks/NAME and run every cell up to and including the first whose source
    contains ``marker`` (the widget's cell): the lesson's own cells build what it shows."""
    nb = nbformat.read(lab["root"] / name, as_version=4)
    index = next(
        (i for i, c in enumerate(nb.cells) if c.cell_type == "code" and marker in c.source), None
    )
    assert index is not None, f"{name} has no cell with {marker!r}"
    open_and_run(page, lab, name, timeout_s=timeout_s, upto=index)


def _image_src(locator) -> str:
    return locator.locator("img").first.get_attribute("src") or ""


def test_tokenizer_playground_shows_tokens_as_you_type(page, lab):
    run_through(page, lab, "01_tokenization.ipynb", "TokenizerPlayground(")
    box = page.locator(".tokenizer-playground").first
    box.wait_for(timeout=180_000)
    area = box.locator("textarea")
    area.fill("")
    area.type("Wherefore art thou Romeo? 🙂")
    # 27 characters, 30 bytes once the whole text (the emoji is 4 bytes) has reached the kernel
    page.wait_for_function(
        "() => { const b = document.querySelector('.tokenizer-playground');"
        " return b && b.innerText.includes('27 characters, 30 bytes'); }",
        timeout=20_000,
    )
    n_tokens = box.locator(".token").count()
    assert n_tokens >= 5
    assert "Rom" in box.locator(".tokens").inner_text()
    ids = [
        int(t.split()[-1])
        for t in box.locator(".token").evaluate_all("els => els.map(e => e.getAttribute('title'))")
    ]
    assert all(i >= 0 for i in ids)
    shot(page, "tokenizer-playground")
