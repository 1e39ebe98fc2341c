"""The browser-drawn attention explorer in a real browser: JupyterLab on 127.0.0.1, headless
Chromium at 1280x720, every request that is not to 127.0.0.1 blocked.

Reuses the harness of ``tests/test_browser.py`` (its ``lab`` and ``browser`` fixtures), so it is
marked ``browser`` and skipped, with the same message, where Debian's Chromium is missing. A
scratch notebook builds a GPT explorer (an untrained GPT of lesson 05's shape on Shakespeare:
what the drawing does does not depend on training) and a seq2seq explorer of lesson 04's kind,
then the tests act as a teacher would: hover and click tokens, click a head's thumbnail, type a
text with a curly apostrophe, drive the explorer from code as lesson 04 does, and use it while
the kernel is busy. Each interaction's redraw time is measured in the browser
(``benchmarks/attention_view_probe.js``) and written to
``test-artifacts/attention_view_timings.json``; it is reported, not asserted (a timed assertion
would fail on a busy machine): ``benchmarks/bench_attention_view.py`` is its benchmark.
"""

from __future__ import annotations

import json
import statistics
import time

import nbformat
import pytest
from browser_harness import block_non_local, kernel_idle, run_cell, wait_idle
from test_browser import (  # noqa: F401  (browser and lab are fixtures used below)
    ARTIFACTS,
    CHROMIUM,
    ENABLE,
    ROOT,
    TOKEN,
    browser,
    lab,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=ENABLE)]

PROBE = (ROOT / "benchmarks" / "attention_view_probe.js").read_text()
NOTEBOOK = "attention_view.ipynb"
CELLS = [
    # 0: the GPT explorer, lesson 05's shape
    "import time\n"
    "import numpy as np\nimport torch\n"
    "from course_lib.data import load_shakespeare\n"
    "from course_lib.tokenize import CharTokenizer\n"
    "from course_lib.transformer import GPT, GPTConfig\n"
    "from course_lib.widgets.transformer import GPTAttentionExplorer\n"
    "text = load_shakespeare()\n"
    "tok = CharTokenizer().train(text)\n"
    "torch.manual_seed(0)\n"
    "model = GPT(GPTConfig(vocab_size=len(tok), block_size=64, n_layer=2, n_head=4, n_embd=32))\n"
    "gpt = GPTAttentionExplorer(model, tok, [text[1000:1064], text[6000:6064]],\n"
    "                           title='GPT explorer', titles=['first text', 'second text'])\n"
    "gpt",
    # 1: a seq2seq explorer, lesson 04's kind: 1 layer, 1 head, examples of different lengths
    "from course_lib.viz.attention import attention_example\n"
    "from course_lib.widgets.attention import AttentionExplorer\n"
    "rng = np.random.default_rng(0)\n"
    "pairs = []\n"
    "for n in (4, 7, 11):\n"
    "    w = rng.random((n + 1, n))\n"
    "    pairs.append(attention_example([f's{j}' for j in range(n)], [f't{j}' for j in "
    "range(n + 1)], w / w.sum(-1, keepdims=True)))\n"
    "seq = AttentionExplorer(pairs, title='seq2seq explorer')\n"
    "seq",
    # 2: lesson 04's code-driven cell
    "seq.example, seq.query = 1, 3",
    # 3: what the kernel sees
    "print('GPT', gpt.selection)\nprint('SEQ', seq.selection)\nprint('SAYS', gpt.describe())",
    # 4: a busy kernel
    "time.sleep(15)",
]
GPT_VIEW, SEQ_VIEW = ".attn-view >> nth=0", ".attn-view >> nth=1"


# --- the notebook, opened once for the module -----------------------------------------------


@pytest.fixture(scope="module")
def nb(browser, lab):  # noqa: F811
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    notebook.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nbformat.write(notebook, lab["root"] / NOTEBOOK)
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    blocked = block_non_local(context)
    page = context.new_page()
    page.blocked = blocked
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(f"{lab['base']}/lab/workspaces/v{time.time_ns()}/tree/{NOTEBOOK}?token={TOKEN}&reset")
    wait_idle(page, 120)
    for i in (0, 1, 2):
        run_cell(page, i)
    wait_idle(page, 180)
    page.locator(SEQ_VIEW).wait_for(timeout=60_000)
    yield page
    context.close()


def _probe(page) -> str:
    """Run cell 3 and return its output: the kernel's view of both explorers."""
    run_cell(page, 3)
    wait_idle(page, 60)
    return page.evaluate(
        "() => window.jupyterapp.shell.currentWidget.content.widgets[3].outputArea.node.innerText"
    )


def _attr(page, view: str, name: str) -> str:
    return page.locator(view).get_attribute(f"data-{name}")


def _token(page, view: str, i: int):
    return (
        page.locator(view)
        .locator(".attn-strip-self .attn-tok, .attn-strip-queries .attn-tok")
        .nth(i)
    )


# --- the tests ------------------------------------------------------------------------------


def test_it_fits_the_screen_opens_at_the_last_position_and_hides_single_choices(nb):
    gpt, seq = nb.locator(GPT_VIEW), nb.locator(SEQ_VIEW)
    assert _attr(nb, GPT_VIEW, "query") == "63" == _attr(nb, GPT_VIEW, "pinned")
    assert nb.locator(GPT_VIEW).locator(".attn-sentence").inner_text().startswith("position 63 ")
    gpt.scroll_into_view_if_needed()
    box = gpt.bounding_box()
    panel = nb.locator(".jp-NotebookPanel-notebook").bounding_box()
    shot(nb, "attention-view-1280x720")
    assert box["height"] <= panel["height"], (box, panel)  # all of it on screen at once
    assert box["width"] <= panel["width"], (box, panel)
    smallest = gpt.evaluate(
        "(root) => Math.min(...[...root.querySelectorAll('*')]"
        ".filter(e => e.offsetParent !== null && e.childElementCount === 0"
        " && e.textContent.trim())"
        ".map(e => parseFloat(getComputedStyle(e).fontSize)))"
    )
    assert smallest >= 12, f"a label of {smallest} px"
    # 2 layers x 4 heads: the grid and the shared-scale box; one layer and head: neither
    assert gpt.locator(".attn-thumb").count() == 8 and gpt.locator(".attn-shared").is_visible()
    assert not seq.locator(".attn-grid").is_visible()
    assert not seq.locator(".attn-shared").is_visible()
    assert seq.locator(".attn-example select").is_visible()  # 3 examples
    assert not seq.locator(".attn-text").is_visible()  # no text callback: no text box


def test_hover_and_click_set_the_query_and_a_thumbnail_selects_its_head(nb):
    gpt = nb.locator(GPT_VIEW)
    _token(nb, GPT_VIEW, 10).hover()
    nb.wait_for_function(
        "() => document.querySelectorAll('.attn-view')[0].dataset.query === '10'", timeout=5_000
    )
    assert gpt.locator(".attn-sentence").inner_text().startswith("position 10 ")
    assert _token(nb, GPT_VIEW, 10).get_attribute("class").count("attn-query") == 1
    _token(nb, GPT_VIEW, 19).click()
    assert _attr(nb, GPT_VIEW, "pinned") == "19"
    nb.keyboard.press("ArrowRight")  # the clicked view has the focus: the arrows move the query
    assert _attr(nb, GPT_VIEW, "pinned") == "20"
    gpt.locator(".attn-thumb[data-layer='1'][data-head='2']").click()
    assert gpt.locator(".attn-thumb.attn-selected").get_attribute("data-head") == "2"
    assert gpt.locator(".attn-panel-title").inner_text().startswith("layer 1, head 2")
    nb.mouse.move(5, 5)  # leave: the pinned query comes back
    nb.wait_for_function(
        "() => document.querySelectorAll('.attn-view')[0].dataset.query === '20'", timeout=5_000
    )
    shown = gpt.locator(".attn-sentence").inner_text()
    out = _probe(nb)
    assert "GPT {'example': 0, 'layer': 1, 'head': 2, 'query': 20}" in out
    assert f"SAYS {shown}" in out  # the browser and Python say the same sentence
    shot(nb, "attention-view-head-1-2")


def test_lesson_04s_code_driven_cell_ends_where_it_says(nb):
    time.sleep(1.0)  # anything the browser would send back has arrived by now
    assert _attr(nb, SEQ_VIEW, "query") == "3"
    assert nb.locator(SEQ_VIEW).locator(".attn-example select").input_value() == "1"
    assert "SEQ {'example': 1, 'layer': 0, 'head': 0, 'query': 3}" in _probe(nb)


def test_typing_a_curly_apostrophe_is_fixed_not_a_traceback(nb):
    gpt = nb.locator(GPT_VIEW)
    box = gpt.locator(".attn-text")
    box.fill("It\u2019s a dog\u2019s life")
    box.press("Enter")
    nb.wait_for_function(
        "() => document.querySelector('.attn-view .attn-text-status').textContent"
        ".includes('replaced')",
        timeout=30_000,
    )
    status = gpt.locator(".attn-text-status").get_attribute("title")
    assert status == "replaced '\u2019' with \"'\" (2 times)"
    options = gpt.locator(".attn-example option").all_inner_texts()
    assert options[-1] == "2: typed: It's a dog's life"
    assert gpt.locator(".attn-sentence").inner_text().startswith("position 16 ")
    assert nb.locator("[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
    shot(nb, "attention-view-typed")


def test_the_view_answers_while_the_kernel_is_busy(nb):
    gpt = nb.locator(GPT_VIEW)
    gpt.locator(".attn-example select").select_option("0")
    run_cell(nb, 4)  # time.sleep(15)
    nb.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.status"
        " === 'busy'",
        timeout=10_000,
    )
    gpt.scroll_into_view_if_needed()
    t0 = time.time()
    for i in (5, 30, 50):
        _token(nb, GPT_VIEW, i).hover()
        nb.wait_for_function(
            f"() => document.querySelectorAll('.attn-view')[0].dataset.query === '{i}'",
            timeout=2_000,
        )
    _token(nb, GPT_VIEW, 40).click()
    gpt.locator(".attn-thumb[data-layer='0'][data-head='3']").click()
    assert gpt.locator(".attn-panel-title").inner_text().startswith("layer 0, head 3")
    assert not kernel_idle(nb) and time.time() - t0 < 10  # all of it while the kernel slept
    latencies = gpt.evaluate("(r) => r._timings.filter(t => t.latency).map(t => t.latency)")
    print(f"\nwhile the kernel was busy: {len(latencies)} events, input to DOM "
          f"median {statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms")  # fmt: skip
    wait_idle(nb, 60)
    assert "GPT {'example': 0, 'layer': 0, 'head': 3, 'query': 40}" in _probe(nb)


def test_redraw_times_are_measured_in_the_browser(nb):
    """Reported, not asserted: written to test-artifacts/attention_view_timings.json."""
    timings = nb.evaluate(PROBE, {"selector": ".attn-view", "n": 20})
    assert all(len(t["sync"]) == 20 for t in timings.values()) and len(timings) >= 6
    summary = {
        name: {
            "sync_median_ms": round(statistics.median(t["sync"]), 2),
            "sync_max_ms": round(max(t["sync"]), 2),
            "frame_median_ms": round(statistics.median(t["frame"]), 2),
        }
        for name, t in timings.items()
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "attention_view_timings.json").write_text(json.dumps(summary, indent=1))
    print("\nredraw times in JupyterLab (median of 20, ms):")
    for name, s in summary.items():
        print(f"  {name:26s} sync {s['sync_median_ms']:6.2f}  frame {s['frame_median_ms']:6.2f}")
    assert nb.errors == [], nb.errors
    assert not [u for u in nb.blocked if "127.0.0.1" in u]
