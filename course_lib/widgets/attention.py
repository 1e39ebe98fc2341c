"""Attention explorer: pick an example, a layer, a head and a query position; see the weights.

It takes plain data, not a model: a list of examples built by
:func:`course_lib.viz.attention.attention_example` (tokens and weights ``(layers, heads, T_q,
T_k)``), so the same explorer serves lesson 04's seq2seq model (one layer, one head, target words
attending to source words) and lesson 05's transformer (several layers and heads, a text
attending to itself; :class:`course_lib.widgets.transformer.GPTAttentionExplorer` builds its
examples from a model).

:class:`AttentionExplorer` is drawn in the browser (:mod:`course_lib.widgets.attention_view`):
the data is sent once and every interaction happens there, with no kernel round trip. What it
shows:

* the text coloured by the query's weights, with the query outlined (hover a token to look at
  it, click to keep it; the arrow keys move it); future positions are grey, not zero;
* a sentence: "position 27 't' attends most to position 26 'h' (1 back, 0.31), then ...";
* the chosen head's heatmap (same colour scale as the text, with a legend) or a lines view;
* for several heads, a layers x heads grid of thumbnails, each with its head scores
  (:mod:`course_lib.heads`); one click selects a head. A checkbox puts every head on one
  colour scale.

It opens at the last position of the first example. The selection is readable and settable from
Python: ``explorer.example, explorer.query = 1, 3``. Its static fallback, for readers without
live widgets (GitHub, exported HTML, PDF), is :meth:`AttentionExplorer.static_figure`
(:func:`course_lib.viz.attention.plot_attention_view`).

ipywidgets, anywidget and matplotlib are imported inside functions: importing this module stays
headless.
"""

from __future__ import annotations

import math

import numpy as np

from .. import heads
from ..viz.attention import attention_example, describe_query, example_list
from .attention_view import SELECTION, decode_weights, encode_weights, example_payload

__all__ = ["AttentionExplorer", "attention_example"]

SHOWN = {"previous": "prev", "first": "first", "induction": "ind"}
"""Head scores printed on each thumbnail (the others are in its tooltip), and their labels."""
LABELS = {**SHOWN, "line_start": "line", "duplicate": "dup"}


class AttentionExplorer:
    """Interactive view of attention weights, drawn in the browser (works offline).

    Args:
        examples: a list of :func:`attention_example` dicts (all with the same layers and heads).
        title: a line shown above the view.
        titles: one title per example (shown in its menu and above it), e.g. lesson 06's
            true and predicted play; default: each example's own.
        induction: optional ``(L, H)`` induction scores of the model's heads
            (:func:`course_lib.heads.induction_scores`), shown on the thumbnails, with
            ``induction_chance`` (the score of a head that does not choose).
        query_name, key_name: what queries and keys are called when they are different texts
            (lesson 04: ``"target"`` words attending to ``"source"`` words).
        text_callback: ``f(text) -> (example or None, message)``; given, the view has a text
            box, and a typed text (Enter) becomes a new example (the only interaction that asks
            the kernel).

    The selection is the properties ``example``, ``layer``, ``head`` and ``query`` (and
    ``shared_scale``, ``view``: ``"heatmap"`` or ``"lines"``): clicking in the browser sets
    them, setting them redraws the browser's view. ``widget`` is the
    :class:`~course_lib.widgets.attention_view.AttentionView` (CSS class ``attn-view``
    inside). Display the explorer as the last expression of a cell; :meth:`static_figure`
    draws the fallback figure, :meth:`describe` says the sentence.
    """

    def __init__(
        self,
        examples,
        *,
        title: str = "",
        titles=None,
        induction=None,
        induction_chance: float | None = None,
        query_name: str = "target",
        key_name: str = "source",
        text_callback=None,
    ):
        from .attention_view import AttentionView, colormap

        self.examples = _with_titles(example_list(examples), titles)
        self.induction = None if induction is None else np.asarray(induction, dtype=float)
        self.induction_chance = induction_chance
        self.query_name, self.key_name = query_name, key_name
        self.text_callback = text_callback
        self.typed: int | None = None  # index of the example made from typed text
        L, H = self.examples[0]["weights"].shape[:2]
        _check_induction(self.induction, (L, H))
        self.widget = AttentionView(title=title, n_layers=L, n_heads=H, colors=colormap())
        self.widget.text_box = text_callback is not None
        self._send(example=0, query=self._last(0))
        self.widget.observe(self._on_text, names="text_submits")

    # --- the selection -------------------------------------------------------------------------
    example = property(lambda self: self.widget.example, lambda self, v: self._set("example", v))
    layer = property(lambda self: self.widget.layer, lambda self, v: self._set("layer", v))
    head = property(lambda self: self.widget.head, lambda self, v: self._set("head", v))
    query = property(lambda self: self.widget.query, lambda self, v: self._set("query", v))
    shared_scale = property(
        lambda self: self.widget.shared_scale, lambda self, v: self._set("shared_scale", v)
    )
    view = property(lambda self: self.widget.view, lambda self, v: self._set("view", v))

    def _set(self, name, value):
        setattr(self.widget, name, value)

    @property
    def selection(self) -> dict:
        """``{"example": ..., "layer": ..., "head": ..., "query": ...}``: what is shown."""
        return {k: getattr(self.widget, k) for k in SELECTION}

    def describe(self, k: int = 3) -> str:
        """The sentence the view shows for the current selection (the top ``k`` keys), from
        the weights as the browser has them (to 1.5e-5), so both say the same."""
        ex = dict(self.examples[self.example], weights=self._sent[self.example])
        return describe_query(ex, self.layer, self.head, self.query, k)

    # --- the data sent to the browser ----------------------------------------------------------
    def _last(self, example: int) -> int:
        return self.examples[example]["weights"].shape[2] - 1

    def _send(self, example: int, query: int) -> None:
        """Send every example (weights, tokens, scores) and select ``example`` and ``query``."""
        buffer, offsets = encode_weights(self.examples)
        payloads = [
            example_payload(e, o, query_name=self.query_name, key_name=self.key_name)
            for e, o in zip(self.examples, offsets, strict=True)
        ]
        L, H = self.examples[0]["weights"].shape[:2]
        sent = decode_weights(buffer, payloads, L, H)  # what the browser reads, NaN: masked
        self._sent = [np.nan_to_num(w).astype(np.float32).astype(float) for w in sent]
        with self.widget.hold_sync():
            self.widget.examples = payloads
            self.widget.weights = buffer
            self.widget.scores = self._scores()
            self.widget.example = example
            self.widget.query = query

    def _scores(self) -> list[dict]:
        """Head scores per example: ``{"key", "label", "help", "show", "values", "chance"}``,
        ``values[example][layer][head]`` rounded to 3 decimals (None where undefined)."""
        per_example = [_example_scores(e) for e in self.examples]
        out = []
        for key, help_text in heads.SCORES.items():
            if key == "induction":
                if self.induction is None:
                    continue
                values = [_rounded(self.induction) for _ in self.examples]
                chance = [self.induction_chance for _ in self.examples]
            else:
                if all(s is None for s in per_example):
                    continue
                values = [None if s is None else _rounded(s[0][key]) for s in per_example]
                chance = [None if s is None else _round1(s[1][key]) for s in per_example]
            out.append(
                {
                    "key": key,
                    "label": LABELS[key],
                    "help": help_text,
                    "show": key in SHOWN,
                    "values": values,
                    "chance": chance,
                }
            )
        return out

    def scores(self, example: int | None = None) -> dict[str, np.ndarray]:
        """The head scores shown for ``example`` (default: the current one), ``{label: (L,
        H)}``, as on the thumbnails."""
        example = self.example if example is None else example
        return {
            s["label"]: np.array(s["values"][example], dtype=float)
            for s in self.widget.scores
            if s["show"] and s["values"][example] is not None
        }

    # --- the text box ----------------------------------------------------------------------------
    def _on_text(self, change=None):
        """A text typed in the browser: the callback turns it into an example (or says why
        not); it replaces the previous typed example and is selected at its last position."""
        try:
            example, message = self.text_callback(self.widget.text)
        except Exception as e:  # a message in the view, never a traceback in the log
            example, message = None, f"could not show this text: {e}"
        if example is not None:
            example = _with_titles(example_list([example]), None)[0]
            if self.typed is None:
                self.typed = len(self.examples)
                self.examples.append(example)
            else:
                self.examples[self.typed] = example
            self._send(example=self.typed, query=self._last(self.typed))
        self.widget.text_status = message

    # --- display -------------------------------------------------------------------------------
    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs)
        if isinstance(bundle, tuple):
            bundle = bundle[0]
        bundle = dict(bundle)
        bundle["text/plain"] = (
            f"{self!r}: a live explorer (open the notebook in JupyterLab to use it; "
            "static_figure() draws the same view as a picture)"
        )
        return bundle

    def to_html(self, path=None) -> str:
        """The explorer as one HTML page that works offline in any browser, without Jupyter
        (data, JavaScript and CSS inlined; no text box: there is no kernel). Written to
        ``path`` when given; returns the HTML."""
        from pathlib import Path

        from .attention_view import standalone_html

        page = standalone_html(self.widget, title=self.widget.title or repr(self))
        if path is not None:
            Path(path).write_text(page, encoding="utf-8")
        return page

    def static_figure(self, example=None, layer=None, head=None, query=None):
        """The fallback figure: the view of the current selection (or of the given one), with
        every head as a thumbnail and its scores (:func:`~course_lib.viz.attention.
        plot_attention_view`)."""
        from ..viz.attention import plot_attention_view

        example = self.example if example is None else example
        if query is None:
            query = self.query if example == self.example else self._last(example)
        layer = self.layer if layer is None else layer
        head = self.head if head is None else head
        scores = self.scores(example) or None
        return plot_attention_view(self.examples[example], layer, head, query, scores=scores)

    def __repr__(self) -> str:
        L, H = self.examples[0]["weights"].shape[:2]
        n = len(self.examples)
        return (
            f"{type(self).__name__}({n} example{'s' * (n != 1)}, {L} layer{'s' * (L != 1)}, "
            f"{H} head{'s' * (H != 1)})"
        )


# --- helpers ----------------------------------------------------------------------------------


def _with_titles(examples: list[dict], titles) -> list[dict]:
    """Copies of ``examples`` with ``titles`` (and the keys the explorer reads) set."""
    if titles is not None:
        _check_titles(titles, examples)
    out = []
    for i, e in enumerate(examples):
        e = dict(e)
        e.setdefault("causal", None)
        e.setdefault("note", "")
        if titles is not None:
            e["title"] = str(titles[i])
        out.append(e)
    return out


def _example_scores(example):
    """``(scores, chance)`` of a self-attention example (:func:`course_lib.heads.head_scores`,
    each ``(L, H)``), or None when queries and keys are different texts."""
    if example["source"] != example["target"]:
        return None
    return (
        heads.head_scores(example["weights"], example["source"]),
        heads.chance_scores(example["source"]),
    )


def _round1(x):
    return None if x is None or math.isnan(x) else round(float(x), 3)


def _rounded(a) -> list | None:
    a = np.asarray(a, dtype=float)
    if np.all(np.isnan(a)):
        return None
    return [[_round1(v) for v in row] for row in a]


def _check_titles(titles, examples) -> None:
    if len(titles) != len(examples):
        raise ValueError(
            f"titles= needs one title per example: {len(examples)} examples, {len(titles)} titles"
        )


def _check_induction(induction, shape) -> None:
    if induction is not None and induction.shape != shape:
        raise ValueError(
            f"induction= needs one score per head, shape (layers, heads) = {shape}; "
            f"got {induction.shape}"
        )
