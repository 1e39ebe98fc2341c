"""Widget callbacks draw on kernel threads while a cell draws with pyplot: neither may break the
other, and no blank or stale picture is ever stored (issue 18: 2 blank pictures in 8 tries)."""

import io
import random
import threading

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.image import imread  # noqa: E402

from course_lib import rnn  # noqa: E402
from course_lib.viz.style import DRAW_LOCK, BlankFigureError, figure_png  # noqa: E402
from course_lib.widgets.rnn import LSTMUnitExplorer  # noqa: E402

TEXT = "to be, or\nnot"
STATES = [(q, u) for q in ("h", "c", "f") for u in (0, 3)]
TRIES = 50


@pytest.fixture(scope="module")
def explorer():
    torch.manual_seed(0)
    model = rnn.CharRNN(rnn.CharRNNConfig(30, 6))
    trace = rnn.trace_lstm(model, torch.tensor([ord(c) % 30 for c in TEXT]))
    ex = LSTMUnitExplorer(trace, TEXT, width=10)
    ex.dpi = 30  # small pictures: the test is about who draws what, not about looks
    return ex


def _colours(png: bytes) -> int:
    img = imread(io.BytesIO(png))
    return len(np.unique(img.reshape(-1, img.shape[-1]), axis=0))


def _cell_draws(k: int) -> bytes:
    """What a running cell does: pyplot's implicit current figure and axes, then a render (the
    inline backend's savefig at the end of the cell)."""
    plt.figure(figsize=(1.5, 1.5))
    plt.plot([0, 1, 2], [k % 3, 2, 0])
    plt.title(f"cell {k % 3}")
    buf = io.BytesIO()
    plt.gcf().savefig(buf, format="png", dpi=30)
    plt.close("all")
    return buf.getvalue()


def test_a_blank_figure_is_an_error_not_a_picture():
    with pytest.raises(BlankFigureError, match="rendered blank"):
        figure_png(Figure(figsize=(1, 1)), dpi=20)
    assert not DRAW_LOCK.locked()


def test_a_failed_draw_is_reported_and_not_kept(explorer, monkeypatch):
    explorer.show("h", 0)
    good = explorer.image.value
    explorer._pictures.clear()
    monkeypatch.setattr(explorer, "figure", lambda q, u: Figure(figsize=(1, 1)))  # draws nothing
    explorer.show("o", 1)
    assert "could not draw o, unit 1" in explorer.status.value
    assert "rendered blank" in explorer.status.value
    assert explorer.image.value == good and explorer.shown == ("h", 0)  # not the blank one
    assert ("o", 1) not in explorer._pictures
    monkeypatch.undo()
    explorer.show("h", 1)
    explorer.show("o", 1)  # tried again: now it draws
    assert explorer.shown == ("o", 1) and explorer.status.value == ""
    assert explorer.image.value == explorer.picture("o", 1)


def test_redraws_from_threads_while_a_cell_draws_with_pyplot(explorer):
    """50 tries: two threads each set the explorer's controls (its callback redraws) and ask for
    that picture while the main thread draws with pyplot. Every picture the explorer stores or shows
    is the one drawn alone for the same state, and the cell's figures come out whole."""
    reference = {s: figure_png(explorer.figure(*s), dpi=30) for s in STATES}
    assert min(_colours(p) for p in reference.values()) > 10  # real pictures, not blank ones
    cell_reference = [_cell_draws(k) for k in range(3)]
    rng = random.Random(0)
    for attempt in range(TRIES):
        explorer._pictures.clear()  # every try draws afresh
        asked = rng.sample(STATES, 2)
        got, errors = [], []

        def redraw(s, got=got, errors=errors):
            try:
                explorer.show(*s)
                got.append((s, explorer.picture(*s)))
            except Exception as err:  # pragma: no cover - the failure this test is about
                errors.append(err)

        threads = [threading.Thread(target=redraw, args=(a,)) for a in asked]
        for t in threads:
            t.start()
        cell = _cell_draws(attempt)
        for t in threads:
            t.join()
        assert errors == [], f"try {attempt}: {errors}"
        assert cell == cell_reference[attempt % 3], f"try {attempt}: the cell's figure changed"
        assert all(png == reference[s] for s, png in got), f"try {attempt}: a wrong picture"
        assert all(explorer._pictures[s] == reference[s] for s in explorer._pictures)
        on_screen = (explorer.quantity.value, explorer.unit.value)
        assert explorer.shown == on_screen, f"try {attempt}: a stale picture"
        assert explorer.image.value == reference[on_screen]
        assert explorer.status.value == ""
    assert not plt.get_fignums()
