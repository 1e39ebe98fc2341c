"""Lesson 02's EmbeddingExplorer in a real browser: JupyterLab on 127.0.0.1, headless Chromium.

Reuses the harness of ``tests/test_browser.py`` (its fixtures and helpers), so it is marked
``browser`` and skipped, with the same message, where Debian's Chromium is missing. Every request
that is not to 127.0.0.1 is blocked: the explorer works offline.
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


def _wait_for_text(pg, text: str) -> None:
    pg.wait_for_function(
        f"() => {{ const b = document.querySelector('.embedding-explorer');"
        f" return b && b.innerText.includes({text!r}); }}",
        timeout=20_000,
    )


def test_embedding_explorer_answers_words_and_analogies(page, lab):  # noqa: F811
    run_through(page, lab, "02_embeddings.ipynb", "EmbeddingExplorer(", timeout_s=300)
    box = page.locator(".embedding-explorer").first
    box.wait_for(timeout=60_000)
    _wait_for_text(page, "nearest to king")
    assert box.locator(".neighbour").count() == 10
    word, a, b, c = (box.locator("input[type='text']").nth(i) for i in range(4))
    word.fill("france")
    word.press("Enter")
    _wait_for_text(page, "nearest to france")
    word.fill("frnace")
    word.press("Enter")
    _wait_for_text(page, "not in the vocabulary")
    for field, value in ((a, "man"), (b, "king"), (c, "woman")):
        field.fill(value)
        field.press("Enter")
    _wait_for_text(page, "man : king :: woman :")
    assert box.locator(".answer").count() == 1
    shot(page, "embedding-explorer")
    assert not [u for u in page.blocked if "127.0.0.1" in u]
