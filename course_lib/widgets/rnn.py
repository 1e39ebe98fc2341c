"""Lesson 03's explorer: browse what every LSTM unit and gate does over a passage of text.

The static fallback is :func:`course_lib.viz.rnn.plot_lstm_activations`, drawn in the notebook
for readers without live widgets.

Drawing from a callback: the explorer's callbacks run on a kernel thread, maybe while a cell is
drawing with pyplot (global state, not thread-safe). So the explorer never uses pyplot: it builds
a ``matplotlib.figure.Figure``, renders it to PNG under the lock every widget shares
(:func:`course_lib.viz.style.figure_png`) and shows the bytes in an ``Image`` widget. A picture
is kept (the last ``cache_size``) only once it rendered and is not blank; a failed draw says so
under the picture and is tried again the next time that unit is chosen.
"""

from __future__ import annotations

import html
import threading

QUANTITIES = {
    "h": "hidden state h",
    "c": "cell state c",
    "f": "forget gate f",
    "i": "input gate i",
    "o": "output gate o",
    "g": "candidate g",
}


class LSTMUnitExplorer:
    """Pick a quantity (h, c or a gate) and a unit; see its value on every character.

    Args:
        trace: :func:`course_lib.rnn.trace_lstm`'s output, ``{"h": (T, H), ...}``.
        text: the T characters the trace was computed on.
        presets: optional ``{label: (quantity, unit)}`` shown as a dropdown of interesting units.

    ``explorer.show(quantity, unit)`` sets the controls from code; display the explorer (last
    line of a cell) to get them on screen. ``explorer.shown`` is the ``(quantity, unit)`` of the
    picture on screen, ``explorer.picture(quantity, unit)`` its PNG bytes.
    """

    dpi = 100
    cache_size = 32  # pictures kept, the most recently drawn

    def __init__(self, trace: dict, text: str, presets: dict | None = None, width: int = 64):
        missing = [q for q in QUANTITIES if q not in trace]
        if missing:
            raise ValueError(f"trace lacks {missing}: pass the output of trace_lstm(model, ids)")
        if trace["h"].shape[0] != len(text):
            raise ValueError(
                f"the trace has {trace['h'].shape[0]} steps but the text {len(text)} characters"
            )
        import ipywidgets as W

        self.trace, self.text, self.width = trace, text, width
        self.presets = dict(presets or {})
        H = trace["h"].shape[1]
        self.quantity = W.Dropdown(
            options=[(v, k) for k, v in QUANTITIES.items()], value="h", description="show"
        )
        self.unit = W.IntSlider(value=0, min=0, max=H - 1, description="unit")
        self.preset = W.Dropdown(
            options=[("(choose)", None)] + [(k, k) for k in self.presets], description="units"
        )
        self.image = W.Image(format="png")
        self.status = W.HTML()
        self.shown: tuple[str, int] | None = None
        self._pictures: dict[tuple[str, int], bytes] = {}
        self._state_lock = threading.Lock()  # the cache and what is shown (drawing: DRAW_LOCK)
        self._busy = False
        self.quantity.observe(self._redraw, "value")
        self.unit.observe(self._redraw, "value")
        self.preset.observe(self._pick, "value")
        self.widget = W.VBox(
            [W.HBox([self.preset, self.quantity, self.unit]), self.image, self.status]
        )
        self.widget.add_class("lstm-unit-explorer")
        self._redraw()

    def _pick(self, change=None):
        if self.preset.value is not None:
            self._set(*self.presets[self.preset.value])

    def figure(self, quantity: str, unit: int):
        """The character heatmap of ``quantity`` for ``unit``: a matplotlib ``Figure`` made
        without pyplot, so any thread may draw it (a notebook shows it as a cell's last line)."""
        from matplotlib.figure import Figure

        from ..viz.rnn import char_heatmap_size, plot_char_heatmap

        v = self.trace[quantity][:, unit].numpy()
        gate = quantity in "ifo"
        lim = max(float(abs(v).max()), 1e-6) if quantity == "c" else 1.0
        fig = Figure(figsize=char_heatmap_size(self.text, self.width))
        plot_char_heatmap(
            self.text,
            v,
            fig.add_subplot(),
            width=self.width,
            vmin=0.0 if gate else -lim,
            vmax=1.0 if gate else lim,
            cmap="viridis" if gate else "RdBu_r",
            label=QUANTITIES[quantity],
            title=f"{QUANTITIES[quantity]}, unit {unit}: mean {v.mean():+.2f}, "
            f"range {v.min():+.2f} to {v.max():+.2f}",
        )
        return fig

    def picture(self, quantity: str, unit: int) -> bytes:
        """:meth:`figure` as PNG bytes, rendered under the shared drawing lock and kept for the
        next time; a draw that fails (or comes out blank) raises and keeps nothing."""
        from ..viz.style import figure_png

        key = (quantity, unit)
        with self._state_lock:
            png = self._pictures.get(key)
        if png is None:
            png = figure_png(self.figure(quantity, unit), dpi=self.dpi)
            with self._state_lock:
                self._pictures[key] = png
                while len(self._pictures) > self.cache_size:
                    del self._pictures[next(iter(self._pictures))]  # the oldest
        return png

    def _set(self, quantity, unit):
        self._busy = True  # one redraw for both changes
        try:
            self.quantity.value, self.unit.value = quantity, unit
        finally:
            self._busy = False
        self._redraw()

    def _redraw(self, change=None):
        if self._busy:
            return
        wanted = (self.quantity.value, self.unit.value)
        try:
            png = self.picture(*wanted)
        except Exception as e:  # shown under the picture: a callback's traceback is invisible
            still = (
                f"the picture is still {self.shown[0]}, unit {self.shown[1]}; "
                if self.shown
                else ""
            )
            self.status.value = (
                f"<b>could not draw {wanted[0]}, unit {wanted[1]}</b>: {html.escape(str(e))}. "
                f"{still}choose the unit again to retry."
            )
            return
        with self._state_lock:
            if (self.quantity.value, self.unit.value) == wanted:  # else a newer redraw is due
                self.image.value, self.shown = png, wanted
                self.status.value = ""

    def show(self, quantity: str = "h", unit: int = 0):
        """Set the controls (and redraw)."""
        if quantity not in QUANTITIES:
            raise ValueError(f"quantity must be one of {list(QUANTITIES)}, got {quantity!r}")
        self._set(quantity, unit)
        if self.preset.value is not None and self.presets[self.preset.value] != (quantity, unit):
            self.preset.value = None  # the dropdown names a preset only while it is the one shown
        return self

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
