"""Lesson 03's figures draw headless, and the LSTM unit explorer's callbacks run."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_lib import rnn  # noqa: E402
from course_lib.viz import rnn as viz_rnn  # noqa: E402
from course_lib.widgets.rnn import LSTMUnitExplorer  # noqa: E402

TEXT = "HOT.\nAnd you in Hell,\nas oft as he hears.\n"


@pytest.fixture
def trace():
    torch.manual_seed(0)
    model = rnn.CharRNN(rnn.CharRNNConfig(30, 8))
    ids = torch.tensor([ord(c) % 30 for c in TEXT])
    return rnn.trace_lstm(model, ids)


def test_figures_draw(trace):
    figs = [
        viz_rnn.plot_unrolled_rnn("abc"),
        viz_rnn.plot_lstm_diagram(),
        viz_rnn.plot_ngram_curves(
            [
                {"n": 1, "kn_val": 3.0, "kn_train": 3.0, "addk_val": 3.0},
                {
                    "n": 2,
                    "kn_val": 2.5,
                    "kn_train": 2.4,
                    "addk_val": 2.5,
                    "unseen_val_fraction": 0.0,
                    "singleton_fraction": 0.1,
                },
            ]
        ),
        viz_rnn.plot_gradient_decay({"a": torch.tensor([1.0, 0.1, 0.0])}),
        viz_rnn.plot_lstm_activations(trace, TEXT, [("x", "c", 0), ("y", "f", 1)], gate_units=4),
        viz_rnn.plot_results(
            [
                {"model": "m", "val_bpc": 2.0, "params": 10, "seconds": 1.0},
                {"model": "n", "val_bpc": 3.0, "params": 20, "seconds": 2.0},
            ]
        ),
    ]
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figs)
    plt.close("all")


def test_char_heatmap_needs_one_value_per_character():
    with pytest.raises(ValueError, match="one value per character: 3 characters, 2 values"):
        viz_rnn.plot_char_heatmap("abc", [0.1, 0.2])


def test_explorer_callbacks(trace):
    ex = LSTMUnitExplorer(trace, TEXT, presets={"counter": ("c", 3)})
    ex.preset.value = "counter"
    assert (ex.quantity.value, ex.unit.value) == ("c", 3)
    ex.show("f", 7)
    assert (ex.quantity.value, ex.unit.value) == ("f", 7)
    title = ex.figure("f", 7).axes[0].get_title(loc="left")
    assert title.startswith("forget gate f, unit 7: mean")
    assert ex.widget._dom_classes == ("lstm-unit-explorer",)
    with pytest.raises(ValueError, match="quantity must be one of"):
        ex.show("z", 0)
    with pytest.raises(ValueError, match="the trace has"):
        LSTMUnitExplorer(trace, TEXT[:-1])
    plt.close("all")
