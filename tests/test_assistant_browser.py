"""Lesson 07's AssistantPlayground in a real browser: JupyterLab on 127.0.0.1, headless Chromium.

Reuses the harness of ``tests/test_browser.py`` (its fixtures and helpers), so it is marked
``browser`` and skipped, with the same message, where Debian's Chromium is missing. Every request
that is not to 127.0.0.1 is blocked: the playground works offline. The lesson's own cells, up to
the one that builds the playground, make the model it asks.
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

ANSWERED = (
    "() => { const a = document.querySelector('.assistant-playground .assistant-answer');"
    " return !!a && a.dataset.ending !== 'writing'"
    " && a.querySelectorAll('.answer-token').length > 0; }"
)
"""JavaScript: the playground shows a finished answer (ended or cut) of at least one token."""

COUNT_TOKENS = (
    "() => { window.__tokenCounts = [];"
    " const box = document.querySelector('.assistant-playground');"
    " new MutationObserver(() => window.__tokenCounts.push("
    "box.querySelectorAll('.answer-token').length))"
    ".observe(box, {childList: true, subtree: true, characterData: true}); }"
)
"""JavaScript: record how many token spans the playground shows after every change of its DOM."""


def test_assistant_playground_answers_a_typed_instruction(page, lab):  # noqa: F811
    run_through(page, lab, "07_assistant.ipynb", "AssistantPlayground(", timeout_s=300)
    box = page.locator(".assistant-playground").first
    box.wait_for(timeout=60_000)
    assert box.locator(".answer-token").count() == 0  # nothing is asked before the button
    page.evaluate(COUNT_TOKENS)
    box.locator("textarea").first.fill("the small dog sees a black cat")
    instruction = box.locator("input[type='text']").first
    instruction.fill("Translate into French.")
    box.locator("button", has_text="ask").click()
    page.wait_for_function(ANSWERED, timeout=60_000)
    tokens = box.locator(".answer-token")
    n = tokens.count()
    assert n >= 1 and tokens.first.get_attribute("title").startswith("p = ")
    counts = page.evaluate("() => window.__tokenCounts")
    assert counts and max(counts) == n, counts
    assert n < 2 or any(0 < c < n for c in counts), counts  # it grew on screen: it streamed
    print(f"token spans seen after each DOM change: {counts}")
    shot(page, "assistant-playground")

    instruction.fill("")
    instruction.press("Enter")  # Enter asks too: an empty instruction gets a message
    page.wait_for_function(
        "() => document.querySelector('.assistant-playground').innerText"
        ".includes('Type an instruction')",
        timeout=20_000,
    )
    assert box.locator(".answer-token").count() == 0
    assert not [u for u in page.blocked if "127.0.0.1" in u]
