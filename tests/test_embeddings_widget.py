"""The embedding explorer, driven from the kernel, and lesson 02's figures."""

from __future__ import annotations

import subprocess
import sys

import matplotlib
import numpy as np
import pytest

from course_lib.embeddings import WordVectors
from course_lib.viz.embeddings import plot_neighbours, plot_projection, plot_word_map, project_2d
from course_lib.widgets.embeddings import EmbeddingExplorer, analogy_html, neighbours_html

matplotlib.use("Agg")


@pytest.fixture
def wv():
    words = ["man", "woman", "king", "queen", "apple", "pear", "plum", "prince"]
    man, woman, royal, fruit = np.eye(4)
    vecs = [
        man, woman, man + 2 * royal, woman + 2 * royal, 2 * fruit + 0.1,
        2 * fruit - 0.1 * man, 2 * fruit + 0.3 * woman, man + 1.5 * royal + 0.2 * fruit,
    ]  # fmt: skip
    return WordVectors(words, np.array(vecs, dtype=np.float32))


def test_html_pieces(wv):
    html = neighbours_html(wv, "apple", topn=3)
    assert html.count("class='neighbour'") == 3 and "pear" in html
    assert "not in the vocabulary" in neighbours_html(wv, "aple") and "apple" in neighbours_html(
        wv, "aple"
    )
    assert "type a word" in neighbours_html(wv, "  ")
    assert "<b class='answer'>queen</b>" in analogy_html(wv, "man", "king", "woman")
    assert "fill in" in analogy_html(wv, "man", "", "woman")
    assert "<script" not in neighbours_html(wv, "<script>")  # typed text is escaped


def test_explorer_reacts_to_its_controls(wv):
    ex = EmbeddingExplorer(wv, word="king", topn=3, analogy=("man", "king", "woman"))
    assert "embedding-explorer" in ex._dom_classes
    assert ex.neighbours.value.count("class='neighbour'") == 3
    assert "prince" in ex.neighbours.value
    ex.word.value = "apple"
    assert "nearest to apple" in ex.neighbours.value and "pear" in ex.neighbours.value
    ex.topn.value = 5
    assert ex.neighbours.value.count("class='neighbour'") == 5
    ex.word.value = "quen"
    assert "not in the vocabulary" in ex.neighbours.value and "queen" in ex.neighbours.value
    assert "<b class='answer'>queen</b>" in ex.answer.value
    ex.a.value, ex.b.value, ex.c.value = "woman", "queen", "man"
    assert "<b class='answer'>prince</b>" in ex.answer.value and "king (0.86)" in ex.answer.value
    ex.c.value = "emperor"
    assert "not in the vocabulary" in ex.answer.value


def test_figures(wv):
    groups = {"royal": ["king", "queen", "prince", "emperor"], "fruit": ["apple", "pear", "plum"]}
    for method in ("pca", "tsne"):
        fig = plot_word_map(wv, groups, method=method)
        assert "emperor" in fig.axes[0].get_xlabel()
        assert len(fig.axes[0].texts) == 6
    assert project_2d(wv.vectors.numpy(), "pca").shape == (8, 2)
    with pytest.raises(ValueError, match="pca' or 'tsne"):
        project_2d(wv.vectors.numpy(), "umap")
    fig = plot_neighbours(wv, ["king", "apple", "unknown"], topn=3, ncols=2)
    assert [ax.get_title() for ax in fig.axes[:2]] == ["king", "apple"]
    fig = plot_projection({"a": {"x": 1.0, "y": -1.0}, "b": {"x": 0.5, "y": 0.2}})
    assert len(fig.axes[0].patches) == 4


def test_widget_module_import_is_light():
    code = (
        "import sys, course_lib.widgets.embeddings, course_lib.viz.embeddings; "
        "print(any(m in sys.modules for m in ('matplotlib', 'ipywidgets', 'sklearn')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
