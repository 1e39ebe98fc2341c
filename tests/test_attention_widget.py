"""The attention explorer driven from the kernel (every layer, head, example and query can be
chosen), its checked examples, and lesson 04's figures. The browser side is tested in
``test_attention_view.py`` and ``test_attention_view_browser.py``."""

import subprocess
import sys

import matplotlib
import numpy as np
import pytest
import torch

from course_lib.viz.attention import attention_example, plot_attention, plot_attention_grid
from course_lib.widgets.attention import AttentionExplorer

matplotlib.use("Agg")


def _examples(L=2, H=3, n=3, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        T = 4 + i
        w = rng.random((L, H, T, T))
        w /= w.sum(-1, keepdims=True)
        toks = [f"t{j}" for j in range(T - 1)] + [" "]
        out.append(attention_example(toks, toks, w, title=f"example {i}"))
    return out


def test_every_head_and_layer_can_be_chosen_from_code():
    ex = AttentionExplorer(_examples(), title="test")
    assert "attn-view" in ex.widget._esm and ex.widget.title == "test"
    assert (ex.widget.n_layers, ex.widget.n_heads) == (2, 3)
    sentences = set()
    for layer in range(2):
        for head in range(3):
            ex.layer, ex.head = layer, head
            assert (ex.widget.layer, ex.widget.head) == (layer, head)
            sentences.add(ex.describe())
    assert len(sentences) == 6  # 2 layers x 3 heads, each a different map
    assert "3 examples, 2 layers, 3 heads" in repr(ex)
    assert "application/vnd.jupyter.widget-view+json" in ex._repr_mimebundle_()


def test_query_and_example_controls():
    ex = AttentionExplorer(_examples())
    assert ex.query == 3  # opens at the last position of the first example (T_q = 4)
    ex.example = 2
    assert ex.query == 3  # still in range: kept
    ex.query = 5
    ex.example = 0  # a shorter example clamps the query position
    assert ex.query == 3 and ex.example == 0
    assert ex.describe().startswith("position 3 '\u00b7' attends most to position ")


def test_static_figures():
    exs = _examples(n=3)
    fig = plot_attention_grid(exs, layer=1, head=2, ncols=2)
    heatmaps = [ax for ax in fig.axes if ax.images and not hasattr(ax, "_colorbar")]
    assert len(heatmaps) == 3 and len(fig.axes) == 4 + 3  # a colorbar per heatmap
    assert fig.axes[0].get_title() == "example 0"
    fig = plot_attention(exs[0], layer=1, head=2, query=1)
    assert fig.axes[0].get_title() == "layer 1, head 2" and len(fig.axes[0].patches) == 1
    ex = AttentionExplorer(exs)
    ex.head = 1
    fig = ex.static_figure()
    assert "layer 0, head 1: query 3 outlined" in [a.get_title() for a in fig.axes]


def test_example_validation():
    ex = attention_example(["a", "b"], ["c"], torch.tensor([[0.4, 0.6]]))
    assert ex["weights"].shape == (1, 1, 1, 2) and ex["title"] == "a b"
    assert attention_example(["a"], ["b"], np.ones((3, 1, 1)))["weights"].shape == (1, 3, 1, 1)
    with pytest.raises(ValueError, match=r"\(T_q, T_k\) = \(1, 2\).*1 target.*3 source"):
        attention_example(["a", "b", "c"], ["x"], np.ones((1, 2)))
    with pytest.raises(ValueError, match="layers, heads, T_q, T_k"):
        attention_example(["a"], ["b"], np.ones((1, 1, 1, 1, 1)))
    with pytest.raises(ValueError, match="same \\(layers, heads\\)"):
        AttentionExplorer(_examples(H=2) + _examples(H=3))
    with pytest.raises(ValueError, match="no examples"):
        AttentionExplorer([])


def test_importing_the_widget_module_is_headless():
    code = (
        "import sys, course_lib.widgets.attention; "
        "print(','.join(m for m in ('matplotlib', 'ipywidgets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_lesson_figures():
    from course_lib.viz.attention import plot_accuracy_by_length, plot_seq2seq_diagram

    fig = plot_seq2seq_diagram(["a", "b"], ["x", "y", "z"], np.array([[1, 0], [0, 1], [0.5, 0.5]]))
    assert len(fig.axes) == 2 and "one vector" in fig.axes[0].get_title()
    assert len(fig.axes[1].lines) == 6  # one line per (target, source) pair
    fig = plot_accuracy_by_length({"a": ([5, 6], [1.0, 0.5]), "b": ([5, 6], [1.0, 1.0])})
    assert [line.get_ydata().tolist() for line in fig.axes[0].lines] == [[100, 50], [100, 100]]
