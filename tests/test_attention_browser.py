"""Lesson 05's attention-map explorer in a real browser: JupyterLab on 127.0.0.1, headless Chromium.

Reuses the harness of ``tests/test_browser.py`` (its fixtures and helpers), so it is marked
``browser`` and skipped, with the same message, where Debian's Chromium is missing. The lesson's
own cells (in fast mode) train the model the explorer shows; then the test picks another head and
another layer in the dropdowns, as a learner would, and checks that the heatmap is redrawn each
time. Every request that is not to 127.0.0.1 is blocked: the explorer works offline.
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

HEATMAP = (
    "document.querySelector('.attn-explorer img.attn-heatmap, .attn-explorer .attn-heatmap img')"
)
ALL_HEADS = "document.querySelector('img.gpt-attn-heads, .gpt-attn-heads img')"


def _src(pg, query: str) -> str:
    return pg.evaluate(f"() => {{ const i = {query}; return i ? i.src : ''; }}")


def _wait_changed(pg, query: str, old: str) -> None:
    pg.wait_for_function(
        f"(old) => {{ const i = {query}; return !!i && !!i.src && i.src !== old; }}",
        arg=old,
        timeout=30_000,
    )


def test_attention_explorer_redraws_for_another_head_and_layer(page, lab):  # noqa: F811
    run_through(page, lab, "05_transformer.ipynb", "GPTAttentionExplorer(", timeout_s=300)
    explorer = page.locator(".attn-explorer").first
    explorer.wait_for(timeout=60_000)
    _wait_changed(page, HEATMAP, "")  # the first picture is there (a blob: URL per picture)
    shot(page, "attention-explorer-before")
    first_heatmap, first_heads = _src(page, HEATMAP), _src(page, ALL_HEADS)
    assert first_heads.startswith(("blob:", "data:")), "the all-heads picture is missing"

    head = explorer.locator(".attn-head select")
    assert head.locator("option").count() >= 2
    head.select_option(index=1)
    _wait_changed(page, HEATMAP, first_heatmap)
    after_head = _src(page, HEATMAP)

    layer = explorer.locator(".attn-layer select")
    assert layer.locator("option").count() >= 2
    layer.select_option(index=1)
    _wait_changed(page, HEATMAP, after_head)
    _wait_changed(page, ALL_HEADS, first_heads)  # all heads of the new layer at a glance
    assert len({first_heatmap, after_head, _src(page, HEATMAP)}) == 3
    shot(page, "attention-explorer-after")
    assert not [u for u in page.blocked if "127.0.0.1" in u]
