"""The attention explorer over a trained GPT (lesson 05).

:class:`GPTAttentionExplorer` runs the model on a few texts, collects every layer's and head's
attention weights with :func:`course_lib.transformer.attention_maps`, and shows them with lesson
04's :class:`~course_lib.widgets.attention.AttentionExplorer` (choose the text, layer, head and
query position; see the heatmap and the text coloured by the query's weights), plus a picture of
every head of the chosen layer at once. :meth:`GPTAttentionExplorer.static_figure` is the
fallback for static copies of the notebook.

matplotlib and ipywidgets are imported inside functions: importing this module stays headless.
"""

from __future__ import annotations

import io

__all__ = ["gpt_attention_examples", "GPTAttentionExplorer"]


def gpt_attention_examples(model, tokenizer, texts) -> list[dict]:
    """One :func:`~course_lib.viz.attention.attention_example` per text: its characters (as
    keys and queries) and the model's weights ``(L, H, T, T)``. Each text is cropped to the
    model's block size."""
    from ..transformer import attention_maps
    from ..viz.attention import attention_example

    out = []
    for text in texts:
        text = text[: model.config.block_size]
        weights = attention_maps(model, tokenizer.encode(text))  # (L, H, T, T)
        chars = list(text)
        title = text[:40].replace("\n", " / ") + (" ..." if len(text) > 40 else "")
        out.append(attention_example(chars, chars, weights, title=title))
    return out


class GPTAttentionExplorer:
    """Explore a trained GPT's attention on a few texts (ipywidgets, works offline).

    Args:
        model: a :class:`~course_lib.transformer.GPT`.
        tokenizer: its character tokenizer.
        texts: the texts to look at (each cropped to ``block_size`` characters).
        title: a line above the controls.

    Attributes: ``explorer`` (the :class:`~course_lib.widgets.attention.AttentionExplorer`, with
    its ``example``, ``layer``, ``head`` and ``query`` controls), ``heads`` (an ``Image`` of all
    heads of the chosen layer, CSS class ``gpt-attn-heads``) and ``widget`` (the root box, CSS
    class ``gpt-attn-explorer``).
    """

    def __init__(self, model, tokenizer, texts, *, title: str = "", dpi: int = 72):
        import ipywidgets as widgets

        from .attention import AttentionExplorer

        self.examples = gpt_attention_examples(model, tokenizer, texts)
        self.explorer = AttentionExplorer(self.examples, title=title)
        self.dpi = dpi
        self._cache: dict = {}
        self.heads = widgets.Image(format="png")
        self.heads.add_class("gpt-attn-heads")
        self.caption = widgets.HTML()
        self.widget = widgets.VBox([self.explorer.widget, self.caption, self.heads])
        self.widget.add_class("gpt-attn-explorer")
        for w in (self.explorer.example, self.explorer.layer):
            w.observe(self._redraw_heads, names="value")
        self._redraw_heads()

    def _redraw_heads(self, change=None):
        ex, layer = self.explorer.example.value, self.explorer.layer.value
        key = (ex, layer)
        if key not in self._cache:
            import matplotlib.pyplot as plt

            from ..viz.transformer import plot_layer_heads

            e = self.examples[ex]
            fig = plot_layer_heads(e["weights"], e["source"], layer)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=self.dpi)
            plt.close(fig)
            self._cache[key] = buf.getvalue()
        self.caption.value = f"<b>All heads of layer {layer}</b> on this text:"
        self.heads.value = self._cache[key]

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def static_figure(self, example: int = 0, layer: int = 0):
        """The fallback figure: every head of ``layer`` on text ``example``."""
        from ..viz.transformer import plot_layer_heads

        e = self.examples[example]
        return plot_layer_heads(e["weights"], e["source"], layer)

    def __repr__(self) -> str:
        L, H = self.examples[0]["weights"].shape[:2]
        return f"GPTAttentionExplorer({len(self.examples)} texts, {L} layers, {H} heads)"
