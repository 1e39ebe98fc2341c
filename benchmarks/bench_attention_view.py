"""How fast the browser-drawn attention explorer redraws, per interaction, in headless Chromium.

It builds an explorer of lesson 05's size (``--texts`` texts of ``--positions`` characters, a GPT
of ``--layers`` x ``--heads``, untrained: the drawing does not care what the weights are), saves
it as a standalone page (:meth:`AttentionExplorer.to_html`: the widget's own JavaScript and CSS,
no Jupyter, every non-local request blocked), and fires each interaction ``--repeats`` times in
the page (``benchmarks/attention_view_probe.js``, the same probe the browser test runs in
JupyterLab). It prints, per interaction, the median and the slowest of

* sync: from the event to the end of the DOM update and a forced layout (the script's work);
* frame: until the next animation frame (what a user waits for, the frame wait included).

Needs Debian's Chromium at /usr/bin/chromium and playwright (the dev extra).

    python benchmarks/bench_attention_view.py            # table
    python benchmarks/bench_attention_view.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # the browser tests' harness: Chromium, the URL filter

from browser_harness import CHROMIUM, block_non_local, launch  # noqa: E402

PROBE = (ROOT / "benchmarks" / "attention_view_probe.js").read_text()


def build_explorer(texts: int, positions: int, layers: int, heads: int):
    """A GPTAttentionExplorer of the given size over an untrained GPT."""
    import torch

    from course_lib.data import load_shakespeare
    from course_lib.tokenize import CharTokenizer
    from course_lib.transformer import GPT, GPTConfig
    from course_lib.widgets.transformer import GPTAttentionExplorer

    corpus = load_shakespeare()[:200_000]
    tok = CharTokenizer().train(corpus)
    torch.manual_seed(0)
    config = GPTConfig(
        vocab_size=len(tok), block_size=positions, n_layer=layers, n_head=heads, n_embd=32
    )
    starts = [1000 + 5000 * k for k in range(texts)]
    return GPTAttentionExplorer(
        GPT(config), tok, [corpus[s : s + positions] for s in starts], text_box=False
    )


def measure(explorer, repeats: int, viewport=(1280, 720)) -> dict:
    """{interaction: {"sync": [ms...], "frame": [ms...]}} in headless Chromium."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        page_path = Path(tmp) / "explorer.html"
        explorer.to_html(page_path)
        with sync_playwright() as p:
            browser = launch(p)
            context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
            blocked = block_non_local(context)
            page = context.new_page()
            page.goto(page_path.as_uri())
            page.wait_for_function("() => window.attnReady === true", timeout=30_000)
            timings = page.evaluate(PROBE, {"selector": ".attn-view", "n": repeats})
            size = page.evaluate(
                "() => { const r = document.querySelector('.attn-view').getBoundingClientRect();"
                " return [r.width, r.height]; }"
            )
            browser.close()
    if blocked:
        raise RuntimeError(f"the page asked for non-local URLs: {blocked[:3]}")
    return {"timings": timings, "size_px": size}


def summarise(timings: dict) -> dict:
    return {
        name: {
            f"{kind}_{stat}": round(fn(ms), 2)
            for kind, ms in t.items()
            for stat, fn in (("median_ms", statistics.median), ("max_ms", max))
        }
        for name, t in timings.items()
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--texts", type=int, default=5)
    ap.add_argument("--positions", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"needs Debian's Chromium at {CHROMIUM} (sudo apt-get install chromium)")
        return 1
    explorer = build_explorer(args.texts, args.positions, args.layers, args.heads)
    result = measure(explorer, args.repeats)
    summary = summarise(result["timings"])
    out = {
        "setup": {
            "texts": args.texts,
            "positions": args.positions,
            "layers": args.layers,
            "heads": args.heads,
            "repeats": args.repeats,
            "viewport": [1280, 720],
            "explorer_px": [round(v) for v in result["size_px"]],
            "machine": platform.platform(),
        },
        "interactions": summary,
    }
    if args.json:
        print(json.dumps(out))
        return 0
    print(
        f"attention explorer, {args.texts} texts x {args.positions} positions, "
        f"{args.layers} layers x {args.heads} heads; median / slowest of {args.repeats}, ms; "
        f"explorer {out['setup']['explorer_px'][0]} x {out['setup']['explorer_px'][1]} px"
    )
    print(f"{'interaction':28s} {'sync median':>12s} {'sync max':>9s} {'frame median':>13s}")
    for name, s in summary.items():
        print(
            f"{name:28s} {s['sync_median_ms']:12.2f} {s['sync_max_ms']:9.2f} "
            f"{s['frame_median_ms']:13.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
