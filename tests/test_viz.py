"""Every figure in course_lib.viz draws on tiny inputs and returns a figure; the shared style (the
palette, visible whitespace, the one attention heatmap) is what every figure uses; importing the
package stays headless."""

import importlib
import inspect
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_lib.embeddings import WordVectors  # noqa: E402
from course_lib.tokenize import BPETokenizer  # noqa: E402
from course_lib.train import History  # noqa: E402
from course_lib.viz import style  # noqa: E402
from course_lib.viz.attention import attention_example, draw_attention  # noqa: E402

MODULES = ["tokenize", "embeddings", "rnn", "attention", "transformer", "finetune", "train"]
TEXT = "ab c\nd"


def _wv():
    return WordVectors(["a", "b", "c", "d"], np.eye(4, 3, dtype=np.float32) + 0.1)


def _history():
    return History(
        step=[1, 2, 3], time=[0.1, 0.2, 0.3], train_loss=[3.0, 2.5, 2.0], lr=[1e-3] * 3,
        grad_norm=[1.0] * 3, eval_step=[3], eval_time=[0.3], val_loss=[2.2],
    )  # fmt: skip


def _run(world_size, losses):
    return {"history": {"step": [1, 2], "loss": losses}, "world_size": world_size, "seconds": 1.0}


def _trace(H=3):
    g = torch.Generator().manual_seed(0)
    return {q: torch.rand(len(TEXT), H, generator=g) for q in "hcfiog"}


EXAMPLE = attention_example(list("abc"), list("xy"), np.full((2, 3), 1 / 3))
CURVE = {"1": (0.5, 0.1, 2), "10": (0.7, 0.05, 2)}
TINY = {
    "tokenize.plot_tokens": lambda m: m.plot_tokens(BPETokenizer(), TEXT, width=20),
    "embeddings.plot_word_map": lambda m: m.plot_word_map(_wv(), {"x": ["a", "b"], "y": ["c"]}),
    "embeddings.plot_neighbours": lambda m: m.plot_neighbours(_wv(), ["a"], topn=2),
    "embeddings.plot_projection": lambda m: m.plot_projection({"m": {"a": 1.0, "b": -1.0}}),
    "rnn.plot_unrolled_rnn": lambda m: m.plot_unrolled_rnn("a b"),
    "rnn.plot_lstm_diagram": lambda m: m.plot_lstm_diagram(),
    "rnn.plot_ngram_curves": lambda m: m.plot_ngram_curves(
        [{"n": 1, "kn_val": 3.0, "kn_train": 3.0, "addk_val": 3.0}]
    ),
    "rnn.plot_gradient_decay": lambda m: m.plot_gradient_decay({"LSTM": [1.0, 0.5]}),
    "rnn.plot_char_heatmap": lambda m: m.plot_char_heatmap(TEXT, np.linspace(-1, 1, len(TEXT))),
    "rnn.plot_lstm_activations": lambda m: m.plot_lstm_activations(
        _trace(), TEXT, [("t", "h", 0)], gate_units=2
    ),
    "rnn.plot_results": lambda m: m.plot_results(
        [{"model": "m", "val_bpc": 2.0, "params": 10, "seconds": 1.0}]
    ),
    "attention.plot_attention": lambda m: m.plot_attention(EXAMPLE, query=1),
    "attention.plot_attention_grid": lambda m: m.plot_attention_grid([EXAMPLE, EXAMPLE]),
    "attention.plot_seq2seq_diagram": lambda m: m.plot_seq2seq_diagram(["a"], ["b"]),
    "attention.plot_accuracy_by_length": lambda m: m.plot_accuracy_by_length({"x": ([1], [1.0])}),
    "transformer.plot_gpt_diagram": lambda m: m.plot_gpt_diagram(),
    "transformer.plot_positions": lambda m: m.plot_positions(np.ones((4, 2)), np.eye(4, 2)),
    "transformer.plot_curves": lambda m: m.plot_curves({"a": [[0, 2.0], [1, 1.0]]}),
    "transformer.plot_sampling": lambda m: m.plot_sampling(
        torch.tensor([1.0, 0.0]), ["a", " "], {"t": torch.tensor([0.7, 0.3])}, top=2
    ),
    "transformer.plot_kv_cache_timing": lambda m: m.plot_kv_cache_timing([1, 2], [1, 1], [1, 2]),
    "transformer.plot_layer_heads": lambda m: m.plot_layer_heads(
        np.full((1, 2, 3, 3), 1 / 3), list("a\nb"), query=1
    ),
    "transformer.plot_scaling": lambda m: m.plot_scaling(
        {"s": {"flops": [1, 2], "val_loss": [2, 1]}}
    ),
    "finetune.plot_learning_curve": lambda m: m.plot_learning_curve(
        {"fine-tune": {int(k): v for k, v in CURVE.items()}}, chance=0.5
    ),
    "finetune.plot_confusion_matrix": lambda m: m.plot_confusion_matrix([[2, 1], [0, 3]], "ab"),
    "finetune.plot_group_accuracy": lambda m: m.plot_group_accuracy({"g": (0.5, 4)}, chance=0.5),
    "train.plot_history": lambda m: m.plot_history(_history(), bits=True, label="fine-tune"),
    "train.plot_overlay": lambda m: m.plot_overlay(_run(1, [3.0, 2.0]), _run(2, [3.0, 2.0001])),
}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_every_plot_function_has_a_tiny_case():
    found = {
        f"{name}.{f}"
        for name in MODULES
        for f, obj in vars(importlib.import_module(f"course_lib.viz.{name}")).items()
        if f.startswith("plot_") and inspect.isfunction(obj) and obj.__module__.endswith(name)
    }
    assert found == set(TINY)


def _draw(name):
    return TINY[name](importlib.import_module(f"course_lib.viz.{name.split('.')[0]}"))


@pytest.mark.parametrize("name", sorted(TINY))
def test_plot_functions_return_a_figure(name):
    fig = _draw(name)
    assert isinstance(fig, matplotlib.figure.Figure) and fig.axes


def test_whitespace_is_shown_one_way():
    assert style.visible("a b\n\tc") == "a\u00b7b\u21b5\u2192c" and style.visible("") == "\u2205"
    fig = _draw("rnn.plot_char_heatmap")
    assert [t.get_text() for t in fig.axes[0].texts] == ["a", "b", "\u00b7", "c", "\u21b5", "d"]
    fig = _draw("transformer.plot_layer_heads")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["a", "\u21b5", "b"]


def test_one_heatmap_with_the_query_outlined():
    _, ax = plt.subplots()
    im = draw_attention(ax, np.eye(3), list("abc"), list("xyz"), query=2)
    assert im.get_clim() == (0, 1.0) and ax.get_ylabel() == "attending (queries)"
    (box,) = ax.patches
    assert box.get_y() == 1.5 and matplotlib.colors.same_color(box.get_edgecolor(), "#d62728")
    _, ax = plt.subplots()
    draw_attention(ax, np.eye(50), list("a" * 50), list("b" * 50), max_labels=10)
    assert len(ax.get_xticks()) == 10 and "a label every 5 tokens" in ax.get_xlabel()


def test_palette_colours_methods_in_every_figure():
    assert style.color_of("fine-tune") == "tab:blue" and style.color_of("unknown") is None
    fig = _draw("finetune.plot_learning_curve")
    line = fig.axes[0].lines[0]
    assert matplotlib.colors.same_color(line.get_color(), "tab:blue")
    fig = _draw("train.plot_history")
    assert matplotlib.colors.same_color(fig.axes[0].lines[0].get_color(), "tab:blue")


def test_history_plot_is_viz_plot_history():
    fig = _history().plot(x="time", title="t")
    assert fig.axes[0].get_xlabel() == "seconds" and len(fig.axes[0].lines) == 3


def test_importing_viz_stays_headless():
    code = (
        "import sys, course_lib.viz, course_lib.viz.style; "
        + "".join(f"import course_lib.viz.{m}; " for m in MODULES)
        + "import course_lib.widgets.tokenize, course_lib.widgets.attention; "
        "print(','.join(m for m in ('matplotlib', 'ipywidgets', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
