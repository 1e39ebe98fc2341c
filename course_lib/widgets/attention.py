"""Attention explorer: pick an example, a layer, a head and a query position; see the weights.

It takes plain data, not a model: a list of examples built by
:func:`course_lib.viz.attention.attention_example` (tokens and weights ``(layers, heads, T_q,
T_k)``), so the same explorer serves lesson 04's seq2seq model (one layer, one head, target words
attending to source words) and lesson 05's transformer (several layers and heads, a text
attending to itself). :class:`AttentionExplorer` shows the heatmap of one head
(:func:`course_lib.viz.attention.draw_attention`) with the chosen query's row outlined, and the
source tokens coloured by that query's weights. Its static fallback, for readers without live
widgets (GitHub, exported HTML, PDF), is :func:`course_lib.viz.attention.plot_attention_grid`.

matplotlib and ipywidgets are imported inside functions: importing this module stays headless.
"""

from __future__ import annotations

import html
import io

import numpy as np

from ..viz.attention import attention_example, draw_attention, example_list, plot_attention_grid
from ..viz.style import QUERY_OUTLINE, visible

__all__ = ["AttentionExplorer", "attention_example"]


def _tokens_html(example, layer, head, query) -> str:
    w = example["weights"][layer, head, query]  # (T_k,)
    top = max(float(w.max()), 1e-9)
    spans = []
    for tok, a in zip(example["source"], w, strict=True):
        alpha = float(a) / top
        colour = "white" if alpha > 0.6 else "black"
        spans.append(
            f'<span title="{a:.3f}" style="background: rgba(68, 1, 84, {alpha:.3f}); '
            f"color: {colour}; padding: 2px 4px; margin: 1px; border-radius: 3px; "
            f'font-family: monospace; display: inline-block">{html.escape(visible(tok))}</span>'
        )
    q_tok = html.escape(visible(example["target"][query]))
    best = int(np.argmax(w))
    return (
        f'<div class="attn-tokens"><b>query {query}: <code>{q_tok}</code></b> attends most to '
        f"<code>{html.escape(visible(example['source'][best]))}</code> "
        f"(weight {float(w[best]):.2f})<br>{''.join(spans)}</div>"
    )


class AttentionExplorer:
    """Interactive view of attention weights (ipywidgets, works offline).

    Args:
        examples: a list of :func:`attention_example` dicts (all with the same layers and heads).
        title: a line shown above the controls.
        dpi: resolution of the heatmap image.

    The controls are ``Dropdown``s described ``"example"``, ``"layer"`` and ``"head"`` and an
    ``IntSlider`` described ``"query"`` (attributes ``example``, ``layer``, ``head``,
    ``query``); the picture is an ``Image`` widget (``image``) and the coloured tokens an
    ``HTML`` widget (``tokens``). The root box (``widget``) has the CSS class ``attn-explorer``.
    Display the explorer as the last expression of a cell; :meth:`static_figure` draws the
    fallback figure.
    """

    def __init__(self, examples, *, title: str = "", dpi: int = 90):
        import ipywidgets as widgets

        self.examples = example_list(examples)
        self.dpi = dpi
        self._cache: dict = {}  # (example, layer, head) -> rendered heatmap
        self.renders = 0  # how many times the picture was drawn (tests watch it)
        L, H = self.examples[0]["weights"].shape[:2]
        self.example = widgets.Dropdown(
            options=[(f"{i}: {e['title']}", i) for i, e in enumerate(self.examples)],
            value=0,
            description="example",
            layout=widgets.Layout(width="min(100%, 640px)"),
        )
        self.layer = widgets.Dropdown(options=list(range(L)), value=0, description="layer")
        self.head = widgets.Dropdown(options=list(range(H)), value=0, description="head")
        self.query = widgets.IntSlider(value=0, min=0, max=0, description="query")
        for w in (self.layer, self.head):
            w.layout.width = "160px"
            w.add_class(f"attn-{w.description}")
        self.example.add_class("attn-example")
        self.query.add_class("attn-query")
        self.image = widgets.Image(format="png")
        self.image.add_class("attn-heatmap")
        self.tokens = widgets.HTML()
        parts = [widgets.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        self.widget = widgets.VBox(
            parts
            + [
                self.example,
                widgets.HBox([self.layer, self.head, self.query]),
                self.tokens,
                self.image,
            ]
        )
        self.widget.add_class("attn-explorer")
        self._set_query_range()
        self.example.observe(self._on_example, names="value")
        for w in (self.layer, self.head, self.query):
            w.observe(self._redraw, names="value")
        self._redraw()

    # --- callbacks ---
    def _set_query_range(self):
        T_q = self.examples[self.example.value]["weights"].shape[2]
        self.query.max = T_q - 1
        self.query.value = min(self.query.value, T_q - 1)

    def _on_example(self, change=None):
        with self.query.hold_trait_notifications():
            self._set_query_range()
        self._redraw()

    def _redraw(self, change=None):
        ex = self.examples[self.example.value]
        layer, head, query = self.layer.value, self.head.value, self.query.value
        self.tokens.value = _tokens_html(ex, layer, head, query)
        self.image.value = self._png(ex, layer, head, query)
        self.renders += 1

    def _base(self, layer, head):
        """The heatmap of the current example, layer and head, drawn once and cached as pixels,
        with the pixel rows and columns of its cells (moving the query only recolours pixels)."""
        key = (self.example.value, layer, head)
        if key not in self._cache:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure

            ex = self.examples[key[0]]
            T_q, T_k = ex["weights"].shape[2:]
            fig = Figure(
                figsize=(min(2.5 + 0.3 * T_k, 12), min(1.5 + 0.28 * T_q, 10)), dpi=self.dpi
            )
            canvas = FigureCanvasAgg(fig)
            ax = fig.add_subplot()
            im = draw_attention(ax, ex["weights"][layer, head], ex["source"], ex["target"])
            fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
            ax.set_title(f"layer {layer}, head {head}", fontsize=10)
            fig.tight_layout()
            canvas.draw()
            pixels = np.asarray(canvas.buffer_rgba()).copy()  # (height, width, 4), top row first
            (x0, y0), (x1, y1) = ax.transData.transform([(-0.5, -0.5), (T_k - 0.5, T_q - 0.5)])
            height = pixels.shape[0]
            rows = height - np.linspace(y0, y1, T_q + 1)  # pixel row of each cell edge
            if len(self._cache) >= 64:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = (pixels, rows, (x0, x1))
        return self._cache[key]

    def _png(self, ex, layer, head, query) -> bytes:
        from matplotlib.colors import to_rgba
        from matplotlib.image import imsave

        pixels, rows, (x0, x1) = self._base(layer, head)
        img = pixels.copy()
        r0, r1 = sorted((int(round(rows[query])), int(round(rows[query + 1]))))
        c0, c1 = int(round(x0)), int(round(x1))
        # outline the query's row by recolouring pixels: no redraw while the slider moves
        red, t = np.round(np.array(to_rgba(QUERY_OUTLINE)) * 255).astype(img.dtype), 2
        img[max(r0 - t, 0) : r0 + t, c0:c1] = red
        img[max(r1 - t, 0) : r1 + t, c0:c1] = red
        img[r0:r1, max(c0 - t, 0) : c0 + t] = red
        img[r0:r1, max(c1 - t, 0) : c1 + t] = red
        buf = io.BytesIO()
        imsave(buf, img, format="png")
        return buf.getvalue()

    # --- display ---
    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def static_figure(self, n: int = 4, ncols: int = 2):
        """The fallback figure: the first ``n`` examples for the selected layer and head."""
        return plot_attention_grid(
            self.examples[:n], layer=self.layer.value, head=self.head.value, ncols=ncols
        )

    def __repr__(self) -> str:
        L, H = self.examples[0]["weights"].shape[:2]
        return f"AttentionExplorer({len(self.examples)} examples, {L} layers, {H} heads)"
