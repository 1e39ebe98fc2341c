"""What every browser test and the explorer's benchmark share: Debian's Chromium and how to launch
it headless, the filter that blocks every request that is not local, and how to tell (and wait
until) a JupyterLab notebook's kernel is idle.

Plain functions, no fixtures (those are in ``tests/test_browser.py``), so that
``benchmarks/bench_attention_view.py`` can import it too (it puts ``tests/`` on ``sys.path``).
"""

from __future__ import annotations

import time
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
ENABLE = (
    "needs Debian's Chromium at /usr/bin/chromium: `sudo apt-get install chromium` enables them"
)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL = ("http://127.0.0.1", "ws://127.0.0.1", "file:", "data:", "blob:")
"""URL prefixes a page may load: everything else is blocked, so a test also proves it is offline."""


def launch(playwright):
    """Headless Debian Chromium (playwright's ``sync_playwright()`` object in, a browser out)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


def block_non_local(context) -> list[str]:
    """Abort every request of ``context`` (a browser context) whose URL is not :data:`LOCAL`.
    Returns the list the blocked URLs are appended to."""
    blocked: list[str] = []

    def only_local(route):
        url = route.request.url
        if url.startswith(LOCAL):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", only_local)
    return blocked


# --- JupyterLab: the notebook in the main area and its kernel --------------------------------

KERNEL_IDLE = (
    "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
    " const k = w && w.sessionContext && w.sessionContext.session &&"
    " w.sessionContext.session.kernel; return !!k && k.status === 'idle'; }"
)
"""JavaScript: the current notebook has a kernel and it says idle (cells may still be queued)."""

KERNEL_BUSY = (
    "() => { const w = window.jupyterapp.shell.currentWidget;"
    " return w.sessionContext.session.kernel.status !== 'idle'"
    " || w.content.widgets.some(c => c.model.type === 'code'"
    " && c.promptNode && c.promptNode.textContent.includes('*')); }"
)
"""JavaScript: the kernel is working, or a cell still shows ``[*]`` (JupyterLab's status can say
idle between two queued cells: the prompts are the truth)."""


def kernel_idle(page) -> bool:
    """The kernel is idle and no cell is waiting to run."""
    return page.evaluate(KERNEL_IDLE) and not page.evaluate(KERNEL_BUSY)


def wait_idle(page, timeout_s: float, settle_s: float = 1.0) -> None:
    """Wait ``settle_s`` (for queued cells to show ``[*]``), then until :func:`kernel_idle`."""
    time.sleep(settle_s)
    deadline = time.time() + timeout_s
    while not kernel_idle(page):
        assert time.time() < deadline, f"the kernel was still busy after {timeout_s} s"
        time.sleep(0.5)


def run_cell(page, i: int) -> None:
    """Run cell ``i`` of the current notebook; returns at once (not when the cell is done)."""
    page.evaluate(
        "(i) => { const w = window.jupyterapp.shell.currentWidget;"
        " w.content.activeCellIndex = i;"
        " window.jupyterapp.commands.execute('notebook:run-cell'); }",
        i,
    )
