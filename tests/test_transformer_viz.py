"""Lesson 05's figures and attention explorer: they draw, the explorer's controls redraw, and
bad input is a clear error."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_lib import transformer as tfm  # noqa: E402
from course_lib.tokenize import CharTokenizer  # noqa: E402
from course_lib.viz import transformer as viz  # noqa: E402

TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\n"


@pytest.fixture(scope="module")
def tiny_model():
    tok = CharTokenizer().train(TEXT)
    torch.manual_seed(0)
    config = tfm.GPTConfig(vocab_size=len(tok), block_size=24, n_layer=2, n_head=2, n_embd=8)
    return tfm.GPT(config), tok


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_explorer_sends_every_head_of_every_text(tiny_model):
    from course_lib.widgets.attention_view import decode_weights
    from course_lib.widgets.transformer import GPTAttentionExplorer

    model, tok = tiny_model
    explorer = GPTAttentionExplorer(model, tok, [TEXT[:20], TEXT[20:44]], title="test")
    assert explorer.examples[1]["weights"].shape == (2, 2, 24, 24)  # cropped to block_size
    w = explorer.widget
    assert (w.n_layers, w.n_heads, w.title) == (2, 2, "test")
    sent = decode_weights(w.weights, w.examples, 2, 2)
    maps = tfm.attention_maps(model, tok.encode(TEXT[20:44]))
    assert torch.allclose(torch.tensor(sent[1]).nan_to_num(), maps.double(), atol=2e-5)
    explorer.example, explorer.layer, explorer.head = 1, 1, 1
    assert explorer.selection == {"example": 1, "layer": 1, "head": 1, "query": 19}  # kept
    fig = explorer.static_figure(example=0, layer=1)
    assert len([ax for ax in fig.axes if ax.images]) == 1 + 4  # the head, and every head
    assert repr(explorer) == "GPTAttentionExplorer(2 examples, 2 layers, 2 heads)"


def test_plot_layer_heads_checks_shapes(tiny_model):
    model, tok = tiny_model
    maps = tfm.attention_maps(model, tok.encode(TEXT[:10]))
    fig = viz.plot_layer_heads(maps, list(TEXT[:10]), layer=1, query=3)
    assert len([ax for ax in fig.axes if ax.images]) == 2
    with pytest.raises(ValueError, match="len\\(tokens\\)"):
        viz.plot_layer_heads(maps, list(TEXT[:9]))


def test_figures_draw(tiny_model):
    model, tok = tiny_model
    assert viz.plot_gpt_diagram().axes
    fig = viz.plot_positions(torch.randn(24, 8), tfm.sinusoidal_positions(24, 8))
    assert len([ax for ax in fig.axes if ax.images]) == 4  # vectors and similarities, twice
    fig = viz.plot_curves({"a": [[0, 3.0], [1, 2.0]], "b": []}, target=2.5, bits=True)
    assert fig.axes[0].get_ylabel().endswith("bits per character")
    logits = torch.randn(len(tok))
    fig = viz.plot_sampling(
        logits,
        tok.chars,
        {"t=1": logits.softmax(-1), "top-2": tfm.next_token_probs(logits, top_k=2)},
    )
    assert len(fig.axes) == 2
    assert viz.plot_kv_cache_timing([1, 2], [1.0, 1.0], [1.0, 2.0]).axes
    fig = viz.plot_scaling({"s": {"flops": [0, 1e9, 2e9], "val_loss": [4.0, 3.0, 2.5]}})
    assert fig.axes[0].get_xscale() == "log"
