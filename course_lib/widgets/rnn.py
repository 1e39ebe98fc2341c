"""Lesson 03's explorer: browse what every LSTM unit and gate does over a passage of text.

The static fallback is :func:`course_lib.viz.rnn.plot_lstm_activations`, drawn in the notebook
for readers without live widgets.
"""

from __future__ import annotations

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

    ``explorer.show(quantity, unit)`` draws without the widgets; display the explorer (last
    line of a cell) to get the controls.
    """

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
        self.out = W.Output()
        self._busy = False
        self.quantity.observe(self._redraw, "value")
        self.unit.observe(self._redraw, "value")
        self.preset.observe(self._pick, "value")
        self.widget = W.VBox([W.HBox([self.preset, self.quantity, self.unit]), self.out])
        self.widget.add_class("lstm-unit-explorer")
        self._redraw()

    def _pick(self, change=None):
        if self.preset.value is not None:
            self._set(*self.presets[self.preset.value])

    def figure(self, quantity: str, unit: int):
        """The character heatmap of ``quantity`` for ``unit`` (a matplotlib figure)."""
        from ..viz.rnn import plot_char_heatmap

        v = self.trace[quantity][:, unit].numpy()
        gate = quantity in "ifo"
        lim = max(float(abs(v).max()), 1e-6) if quantity == "c" else 1.0
        return plot_char_heatmap(
            self.text,
            v,
            width=self.width,
            vmin=0.0 if gate else -lim,
            vmax=1.0 if gate else lim,
            cmap="viridis" if gate else "RdBu_r",
            title=f"{QUANTITIES[quantity]}, unit {unit}: mean {v.mean():+.2f}, "
            f"range {v.min():+.2f} to {v.max():+.2f}",
        )

    def _set(self, quantity, unit):
        self._busy = True  # one redraw for both changes
        try:
            self.quantity.value, self.unit.value = quantity, unit
        finally:
            self._busy = False
        self._redraw()

    def _redraw(self, change=None):
        import matplotlib.pyplot as plt

        if self._busy:
            return
        self.out.clear_output(wait=True)
        with self.out:
            fig = self.figure(self.quantity.value, self.unit.value)
            plt.show()
            plt.close(fig)

    def show(self, quantity: str = "h", unit: int = 0):
        """Set the controls (and redraw)."""
        if quantity not in QUANTITIES:
            raise ValueError(f"quantity must be one of {list(QUANTITIES)}, got {quantity!r}")
        self._set(quantity, unit)
        return self

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
