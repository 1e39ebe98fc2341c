"""Lesson 05's attention explorer in a real browser: JupyterLab on 127.0.0.1, headless Chromium.

Reuses the harness of ``tests/test_browser.py`` (its fixtures and helpers), so it is marked
``browser`` and skipped, with the same message, where Debian's Chromium is missing. The lesson's
own cells (in fast mode) train the model the explorer shows; then the test hovers a character and
clicks another head's thumbnail, as a learner would, and checks that the view follows, drawn in
the browser. Every request that is not to 127.0.0.1 is blocked: the explorer works offline. (The
explorer itself is tested in depth, on a scratch notebook, by ``test_attention_view_browser.py``.)
"""

from __future__ import annotations

import pytest
from test_browser import (  # noqa: F401  (browser, lab and page are fixtures used below)
    CHROMIUM,
    ENABLE,
    browser,
    lab,
    page,
    run_through,
    shot,
)

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=ENABLE)]

VIEW = "document.querySelector('.attn-view')"


def test_lesson_05_explorer_follows_the_mouse_and_the_thumbnails(page, lab):  # noqa: F811
    run_through(page, lab, "05_transformer.ipynb", "GPTAttentionExplorer(", timeout_s=300)
    view = page.locator(".attn-view").first
    view.wait_for(timeout=60_000)
    view.scroll_into_view_if_needed()
    assert view.get_attribute("data-query") == "63"  # opens at the last position (block 64)
    thumbs = view.locator(".attn-thumb")
    assert thumbs.count() == 8  # 2 layers x 4 heads
    shot(page, "attention-explorer-before")

    view.locator(".attn-strip-self .attn-tok").nth(10).hover()
    page.wait_for_function(f"() => {VIEW}.dataset.query === '10'", timeout=5_000)
    assert view.locator(".attn-sentence").inner_text().startswith("position 10 ")

    view.locator(".attn-thumb[data-layer='1'][data-head='1']").click()
    assert view.locator(".attn-panel-title").inner_text().startswith("layer 1, head 1")
    assert view.locator(".attn-thumb.attn-selected").get_attribute("data-layer") == "1"
    shot(page, "attention-explorer-after")
    assert not [u for u in page.blocked if "127.0.0.1" in u]
