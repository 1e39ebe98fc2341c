"""The attention explorer, driven from the kernel: every control redraws the picture."""

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


def test_every_head_and_layer_redraws_the_picture():
    ex = AttentionExplorer(_examples(), title="test")
    assert "attn-explorer" in ex.widget._dom_classes
    assert (ex.layer.description, ex.head.description) == ("layer", "head")
    assert ex.head.options == (0, 1, 2) and ex.layer.options == (0, 1)
    pictures = {bytes(ex.image.value)}
    texts = {ex.tokens.value}
    for layer in ex.layer.options:
        ex.layer.value = layer
        for head in ex.head.options:
            before, changed = ex.renders, head != ex.head.value
            ex.head.value = head
            assert ex.renders == before + changed  # one redraw per change, none otherwise
            pictures.add(bytes(ex.image.value))
            texts.add(ex.tokens.value)
    # 2 layers x 3 heads, each a different map: 6 different pictures and token colourings
    assert len(pictures) == 6 and len(texts) == 6
    assert all(p.startswith(b"\x89PNG") for p in pictures)


def test_query_and_example_controls():
    ex = AttentionExplorer(_examples())
    assert ex.query.max == 3  # first example: T_q = 4
    ex.query.value = 3
    ex.example.value = 2
    assert ex.query.max == 5 and ex.query.value == 3
    before_img, before_html = ex.image.value, ex.tokens.value
    ex.query.value = 1
    assert ex.image.value != before_img and ex.tokens.value != before_html
    assert "query 1" in ex.tokens.value and "\u00b7" in ex.tokens.value  # space made visible
    ex.example.value = 0  # a shorter example clamps the query position
    assert ex.query.value == 1 and ex.query.max == 3
    assert "3 examples, 2 layers, 3 heads" in repr(ex)
    assert "application/vnd.jupyter.widget-view+json" in ex._repr_mimebundle_()


def test_tokens_are_coloured_by_the_chosen_row():
    w = np.array([[0.7, 0.2, 0.1], [0.0, 0.0, 1.0]])
    ex = AttentionExplorer([attention_example(["a", "b", "c"], ["x", "y"], w)])
    assert "attends most to <code>a</code>" in ex.tokens.value
    assert "rgba(68, 1, 84, 1.000)" in ex.tokens.value
    ex.query.value = 1
    assert "attends most to <code>c</code>" in ex.tokens.value


def test_static_figures():
    exs = _examples(n=3)
    fig = plot_attention_grid(exs, layer=1, head=2, ncols=2)
    heatmaps = [ax for ax in fig.axes if ax.images and not hasattr(ax, "_colorbar")]
    assert len(heatmaps) == 3 and len(fig.axes) == 4 + 3  # a colorbar per heatmap
    assert fig.axes[0].get_title() == "example 0"
    fig = plot_attention(exs[0], layer=1, head=2, query=1)
    assert fig.axes[0].get_title() == "layer 1, head 2" and len(fig.axes[0].patches) == 1
    ex = AttentionExplorer(exs)
    ex.head.value = 1
    fig = ex.static_figure(n=2)
    assert len([ax for ax in fig.axes if ax.images and not hasattr(ax, "_colorbar")]) == 2


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


def _red_rows(png: bytes):
    import io

    from matplotlib.image import imread

    img = imread(io.BytesIO(png))  # floats in 0..1, (height, width, 4)
    red = (img[..., 0] > 0.8) & (img[..., 1] < 0.2) & (img[..., 2] < 0.2)
    return np.nonzero(red.any(axis=1))[0]


def test_query_outline_moves_down_the_rows_and_cache_stays_consistent():
    ex = AttentionExplorer(_examples(n=1))
    first = bytes(ex.image.value)
    centres = []
    for q in range(ex.query.max + 1):
        ex.query.value = q
        rows = _red_rows(bytes(ex.image.value))
        assert len(rows) > 0
        centres.append(rows.mean())
    assert centres == sorted(centres) and len(set(centres)) == len(centres)
    ex.head.value = 1
    ex.head.value = 0
    ex.query.value = 0
    assert bytes(ex.image.value) == first  # the cached picture is the same as a fresh one


def test_lesson_figures():
    from course_lib.viz.attention import plot_accuracy_by_length, plot_seq2seq_diagram

    fig = plot_seq2seq_diagram(["a", "b"], ["x", "y", "z"], np.array([[1, 0], [0, 1], [0.5, 0.5]]))
    assert len(fig.axes) == 2 and "one vector" in fig.axes[0].get_title()
    assert len(fig.axes[1].lines) == 6  # one line per (target, source) pair
    fig = plot_accuracy_by_length({"a": ([5, 6], [1.0, 0.5]), "b": ([5, 6], [1.0, 1.0])})
    assert [line.get_ydata().tolist() for line in fig.axes[0].lines] == [[100, 50], [100, 100]]
