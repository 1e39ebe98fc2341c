"""The attention explorer's component, drawn in the browser: :class:`AttentionView`, an
anywidget whose JavaScript and CSS ship inside course_lib (``widgets/static/attention_view.js``
and ``.css``; nothing is fetched from a CDN, no JS framework).

Python sends the data once, as synced traits; every later interaction (the query, the head, the
layer, the example, hovering, the shared colour scale, the heatmap or lines view) is handled in
the browser, with no kernel round trip: it keeps working while a cell trains, or after the
kernel died. The browser writes the current selection back to the traits ``example``,
``layer``, ``head`` and ``query`` (and ``shared_scale``, ``view``), so code can read it; setting
one from Python (``view.query = 3``) redraws the view. Only the text box asks the kernel (the
``text`` and ``text_submits`` traits; a Python callback answers in ``text_status``).

Conventions:

* The data is a list of examples (:func:`course_lib.viz.attention.attention_example`): tokens
  and weights ``(L, H, T_q, T_k)`` (layers, heads, queries, keys; each row sums to 1).
* ``weights`` travels as one binary buffer (little-endian uint16, ``round(w * 65535)``:
  steps of 1.5e-5), example after example, layer after layer, head after head, row after row. A
  *causal* example (self-attention where position ``i`` sees ``0..i``) stores only each row's
  ``i + 1`` visible keys: half the bytes, and the browser knows which positions are masked (it
  greys them; they are not zero weights). :func:`encode_weights` and :func:`decode_weights`
  are the two directions.
* The colours are the course heatmap's (``viz.style.HEATMAP_CMAP``, 256 steps): the heatmap,
  the thumbnails, the coloured text and the legend use the same scale.

anywidget (and so ipywidgets) is imported when :class:`AttentionView` is first used, not when
this module is imported: the library stays headless.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ..viz.attention import is_causal

__all__ = [
    "AttentionView",  # noqa: F822 (built on first use, by __getattr__)
    "STATIC",
    "SELECTION",
    "encode_weights",
    "decode_weights",
    "example_payload",
    "colormap",
    "standalone_html",
]

STATIC = Path(__file__).resolve().parent / "static"
"""The folder of the widgets' JavaScript and CSS (package data: see pyproject.toml)."""

SELECTION = ("example", "layer", "head", "query")
"""The synced traits that say what is shown."""

SCALE = 65535  # weights travel as round(w * SCALE), uint16


# --- the data sent to the browser -------------------------------------------------------------


def encode_weights(examples) -> tuple[bytes, list[int]]:
    """The weights of every example as one uint16 buffer; returns it and where each example
    starts (in weights, not bytes). A causal example (:func:`is_causal`) keeps each row's
    visible keys only."""
    parts, offsets, at = [], [], 0
    for e in examples:
        w = np.clip(np.asarray(e["weights"], dtype=np.float64), 0.0, 1.0)
        if is_causal(e):
            rows, cols = np.tril_indices(w.shape[-1])
            flat = w[..., rows, cols].reshape(-1)  # (L, H, T(T+1)/2), row after row
        else:
            flat = w.reshape(-1)
        parts.append(np.round(flat * SCALE).astype("<u2"))
        offsets.append(at)
        at += flat.size
    return (np.concatenate(parts).tobytes() if parts else b""), offsets


def decode_weights(buffer: bytes, examples: list[dict], n_layers: int, n_heads: int):
    """The inverse of :func:`encode_weights`, as the browser reads it: one array
    ``(L, H, T_q, T_k)`` per example payload (:func:`example_payload`), NaN where masked."""
    values = np.frombuffer(buffer, dtype="<u2").astype(np.float64) / SCALE
    out = []
    for e in examples:
        T_q, T_k = len(e["queries"]), len(e["keys"])
        w = np.full((n_layers, n_heads, T_q, T_k), np.nan)
        if e["causal"]:
            n = T_q * (T_q + 1) // 2
            rows, cols = np.tril_indices(T_q)
            block = values[e["offset"] : e["offset"] + n_layers * n_heads * n]
            w[..., rows, cols] = block.reshape(n_layers, n_heads, n)
        else:
            n = n_layers * n_heads * T_q * T_k
            w[:] = values[e["offset"] : e["offset"] + n].reshape(w.shape)
        out.append(w)
    return out


def example_payload(
    example: dict, offset: int, *, query_name: str = "target", key_name: str = "source"
) -> dict:
    """What the browser needs of one example besides its weights: its tokens with whitespace
    visible (``·``, ``↵``), title, note (e.g. what was cut), whether it is causal and whether
    it is self-attention (then the text is shown once and positions say "1 back")."""
    from ..viz.style import visible

    self_attention = example["source"] == example["target"]
    return {
        "title": str(example.get("title", "")),
        "note": str(example.get("note", "") or ""),
        "queries": [visible(t) for t in example["target"]],
        "keys": [visible(t) for t in example["source"]],
        "causal": is_causal(example),
        "self_attention": self_attention,
        "query_name": "position" if self_attention else query_name,
        "key_name": "position" if self_attention else key_name,
        "offset": int(offset),
    }


def standalone_html(view, title: str = "attention explorer") -> str:
    """An HTML page that shows ``view`` (an :class:`AttentionView`) in any browser, offline and
    without Jupyter: the JavaScript, the CSS and the data inlined, a small stand-in for the
    widget model, no text box (there is no kernel to ask). The page's model is
    ``window.attnModel`` (its ``set`` acts as a change made in Python would)."""
    import base64
    import html
    import json

    state = {k: getattr(view, k) for k in view.keys if not k.startswith("_") and k in _DATA}
    state["weights"] = base64.b64encode(bytes(view.weights)).decode("ascii")
    state["text_box"] = False

    def js(x):  # JSON that is safe inside a <script> element
        return json.dumps(x).replace("</", "<\\/")

    return _PAGE.format(
        title=html.escape(title),
        css=view._css,
        esm=js(view._esm),
        state=js(state),
    )


_DATA = (
    "title examples weights n_layers n_heads scores colors example layer head query "
    "shared_scale view text text_status"
).split()

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>body {{ margin: 12px; }}
{css}</style></head>
<body><div id="root"></div>
<script type="module">
const state = {state};
const raw = Uint8Array.from(atob(state.weights), (c) => c.charCodeAt(0));
state.weights = new DataView(raw.buffer);
const listeners = {{}};
const model = {{
  get: (k) => state[k],
  set(k, v) {{
    const changes = typeof k === "object" ? k : {{ [k]: v }};
    const changed = Object.keys(changes).filter((a) => state[a] !== changes[a]);
    for (const a of changed) state[a] = changes[a];
    for (const a of changed) for (const f of listeners["change:" + a] || []) f();
  }},
  on(names, f) {{ for (const n of names.split(" ")) (listeners[n] ||= []).push(f); }},
  off(names, f) {{
    for (const n of names.split(" ")) listeners[n] = (listeners[n] || []).filter((g) => g !== f);
  }},
  save_changes() {{}},
  send() {{}},
}};
window.attnModel = model;
const url = URL.createObjectURL(new Blob([{esm}], {{ type: "text/javascript" }}));
const mod = await import(url);
mod.default.render({{ model, el: document.getElementById("root") }});
window.attnReady = true;
</script></body></html>
"""


def colormap(n: int = 256) -> list[str]:
    """The course heatmap's colours (``viz.style.HEATMAP_CMAP``), ``n`` CSS hex strings from
    weight 0 to the largest."""
    import matplotlib
    from matplotlib.colors import to_hex

    from ..viz.style import HEATMAP_CMAP

    cmap = matplotlib.colormaps[HEATMAP_CMAP]
    return [to_hex(cmap((i + 0.5) / n)) for i in range(n)]


# --- the widget -------------------------------------------------------------------------------


@functools.cache
def _view_class():
    import anywidget
    import traitlets as t

    class AttentionView(anywidget.AnyWidget):
        """The browser-drawn attention explorer (see the module docstring); build it with
        :meth:`course_lib.widgets.attention.AttentionExplorer`, which fills these traits."""

        _esm = (STATIC / "attention_view.js").read_text(encoding="utf-8")
        _css = (STATIC / "attention_view.css").read_text(encoding="utf-8")

        # the data, sent once (again only when a typed text adds an example)
        title = t.Unicode("").tag(sync=True)
        examples = t.List(t.Dict()).tag(sync=True)
        weights = t.Bytes(b"").tag(sync=True)
        n_layers = t.Int(1).tag(sync=True)
        n_heads = t.Int(1).tag(sync=True)
        scores = t.List(t.Dict()).tag(sync=True)
        colors = t.List(t.Unicode()).tag(sync=True)
        # the selection: set by the browser, readable and settable from Python
        example = t.Int(0).tag(sync=True)
        layer = t.Int(0).tag(sync=True)
        head = t.Int(0).tag(sync=True)
        query = t.Int(0).tag(sync=True)
        shared_scale = t.Bool(False).tag(sync=True)
        view = t.Enum(["heatmap", "lines"], default_value="heatmap").tag(sync=True)
        # the text box: the browser sends text and counts submissions; Python answers
        text_box = t.Bool(False).tag(sync=True)
        text = t.Unicode("").tag(sync=True)
        text_submits = t.Int(0).tag(sync=True)
        text_status = t.Unicode("").tag(sync=True)

        @t.validate("example")
        def _valid_example(self, proposal):
            return _check_index("example", proposal["value"], len(self.examples))

        @t.validate("layer")
        def _valid_layer(self, proposal):
            return _check_index("layer", proposal["value"], self.n_layers)

        @t.validate("head")
        def _valid_head(self, proposal):
            return _check_index("head", proposal["value"], self.n_heads)

        @t.validate("query")
        def _valid_query(self, proposal):
            T_q = len(self.examples[self.example]["queries"]) if self.examples else 1
            return _check_index(f"query (of example {self.example})", proposal["value"], T_q)

        @t.observe("example")
        def _keep_query_in_range(self, change):
            T_q = len(self.examples[change["new"]]["queries"])
            if self.query >= T_q:
                self.query = T_q - 1

        def __repr__(self) -> str:
            return (
                f"AttentionView({len(self.examples)} examples, {self.n_layers} layers, "
                f"{self.n_heads} heads)"
            )

    return AttentionView


def __getattr__(name: str):
    if name == "AttentionView":  # built on first use: importing anywidget imports ipywidgets
        return _view_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# --- checks -----------------------------------------------------------------------------------


def _check_index(what: str, value: int, n: int) -> int:
    import traitlets

    if not 0 <= value < n:
        raise traitlets.TraitError(f"{what} must be in 0..{n - 1}, got {value}")
    return value
