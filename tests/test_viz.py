"""Every figure in course_lib.viz draws on tiny inputs and returns a figure that a reader can
read: every data axes has a title and axis labels, heatmaps have colorbars, tick labels are big
enough, legends are not pinned onto the data; the shared style (the palette, visible whitespace,
the one attention heatmap) is what every figure uses; importing the package stays headless."""

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

from course_lib.autograd import MLP, Value, xor_blobs  # noqa: E402
from course_lib.embeddings import WordVectors  # noqa: E402
from course_lib.tokenize import BPETokenizer  # noqa: E402
from course_lib.train import History  # noqa: E402
from course_lib.viz import style  # noqa: E402
from course_lib.viz.attention import attention_example, draw_attention  # noqa: E402

MODULES = [
    "tokenize",
    "embeddings",
    "rnn",
    "attention",
    "transformer",
    "finetune",
    "train",
    "autograd",
]
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
        [
            {
                "n": n,
                "kn_val": 3.0,
                "kn_train": 2.0,
                "addk_val": 3.1,
                "unseen_val_fraction": 0.1,
                "singleton_fraction": 0.2,
            }
            for n in (1, 2)
        ]
    ),  # fmt: skip
    "rnn.plot_gradient_decay": lambda m: m.plot_gradient_decay({"LSTM": [1.0, 0.5]}),
    "rnn.plot_char_heatmap": lambda m: m.plot_char_heatmap(TEXT, np.linspace(-1, 1, len(TEXT))),
    "rnn.plot_lstm_activations": lambda m: m.plot_lstm_activations(
        _trace(), TEXT, [("t", "h", 0)], gate_units=2
    ),
    "rnn.plot_results": lambda m: m.plot_results(
        [{"model": n, "val_bpc": 2.0, "params": 10, "seconds": 1.0} for n in ("LSTM", "m")]
    ),
    "attention.plot_attention": lambda m: m.plot_attention(EXAMPLE, query=1),
    "attention.plot_attention_grid": lambda m: m.plot_attention_grid([EXAMPLE, EXAMPLE]),
    "attention.plot_attention_view": lambda m: m.plot_attention_view(
        m.attention_example(list("ab\nc"), list("ab\nc"), np.tril(np.full((1, 2, 4, 4), 0.25))),
        head=1,
        scores={"prev": np.full((1, 2), 0.5)},
    ),
    "attention.plot_seq2seq_diagram": lambda m: m.plot_seq2seq_diagram(["a"], ["b"]),
    "attention.plot_accuracy_by_length": lambda m: m.plot_accuracy_by_length(
        {"with attention": ([1, 2], [1.0, 1.0]), "x": ([1, 2], [1.0, 0.5])}
    ),
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
        {k: {int(n): v for n, v in CURVE.items()} for k in ("fine-tune", "x")}, chance=0.5
    ),
    "finetune.plot_confusion_matrix": lambda m: m.plot_confusion_matrix([[2, 1], [0, 3]], "ab"),
    "finetune.plot_group_accuracy": lambda m: m.plot_group_accuracy({"g": (0.5, 4)}, chance=0.5),
    "train.plot_history": lambda m: m.plot_history(_history(), bits=True, label="fine-tune"),
    "train.plot_overlay": lambda m: m.plot_overlay(_run(1, [3.0, 2.0]), _run(2, [3.0, 2.0001])),
    "autograd.plot_graph": lambda m: m.plot_graph((Value(2.0) * Value(-3.0) + 1.0).tanh()),
    "autograd.plot_decision_boundary": lambda m: m.plot_decision_boundary(
        MLP(2, [4, 1], seed=0), *xor_blobs(8), resolution=20
    ),
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


def test_history_plot_is_viz_plot_history():
    fig = _history().plot(x="time", title="t", unit="character")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "training time (s)" and len(ax.lines) == 3
    assert ax.get_ylabel() == "loss (nats per character)"
    fig = _history().plot(ylabel="weighted squared error")  # GloVe's loss is not in nats
    assert fig.axes[0].get_ylabel() == "weighted squared error"


def test_importing_viz_stays_headless():
    code = (
        "import sys, course_lib.viz, course_lib.viz.style; "
        + "".join(f"import course_lib.viz.{m}; " for m in MODULES)
        + "import course_lib.widgets.tokenize, course_lib.widgets.attention; "
        "print(','.join(m for m in ('matplotlib', 'ipywidgets', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# --- figures a reader can read ------------------------------------------------------------


def _shows_data(ax):
    return bool(ax.lines or ax.images or ax.collections or ax.patches or ax.containers)


def _labelled(ax, which, axes):
    """``ax`` has its x (or y) label, or shares one: another panel of the same grid column (or
    row) has it, or the figure has a supxlabel (supylabel)."""
    if (ax.get_xlabel() if which == "x" else ax.get_ylabel()).strip():
        return True
    sup = getattr(ax.figure, f"_sup{which}label", None)
    if sup is not None and sup.get_text().strip():
        return True
    ss = ax.get_subplotspec()
    if ss is None:
        return False
    span = "colspan" if which == "x" else "rowspan"
    return any(
        (o.get_xlabel() if which == "x" else o.get_ylabel()).strip()
        for o in axes
        if o is not ax
        and o.get_subplotspec() is not None
        and o.get_subplotspec().get_gridspec() is ss.get_gridspec()
        and getattr(o.get_subplotspec(), span) == getattr(ss, span)
    )


def _problems(fig):
    """What a reader misses on each visible data axes of ``fig`` (axes turned off, diagrams,
    and colorbars are exempt)."""
    fig.canvas.draw()
    colorbars = [ax._colorbar for ax in fig.axes if hasattr(ax, "_colorbar")]
    axes = [ax for ax in fig.axes if ax.axison and not hasattr(ax, "_colorbar")]
    axes = [ax for ax in axes if _shows_data(ax)]
    suptitle = fig._suptitle.get_text() if fig._suptitle else ""
    out = []
    for k, ax in enumerate(axes):
        name = f"axes {k} ({ax.get_title()!r})"
        if not (suptitle or any(ax.get_title(loc=loc) for loc in ("left", "center", "right"))):
            out.append(f"{name}: no title")
        out += [f"{name}: no {w} label" for w in "xy" if not _labelled(ax, w, axes)]
        ticks = [t for t in ax.get_xticklabels() + ax.get_yticklabels() if t.get_text()]
        small = [t.get_text() for t in ticks if t.get_visible() and t.get_fontsize() < 6]
        if small:
            out.append(f"{name}: tick labels under {style.SMALL_SIZE} pt: {small[:3]}")
        for im in ax.images:
            if not any(
                cb.mappable.get_cmap().name == im.get_cmap().name
                and cb.mappable.get_clim() == im.get_clim()
                for cb in colorbars
            ):
                out.append(f"{name}: a heatmap without a colorbar")
        legend = ax.get_legend()
        if legend is not None and legend._loc != 0 and legend._bbox_to_anchor is None:
            out.append(f"{name}: legend pinned inside the axes (use loc='best' or place it out)")
    return out


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_data_axes_has_a_title_labels_and_a_colorbar(name):
    assert _problems(_draw(name)) == []


def test_the_readability_check_fails_on_a_bare_figure():
    fig, (a, b) = plt.subplots(1, 2)
    a.plot([1, 2])
    a.legend(["x"], loc="upper right")
    b.imshow(np.eye(3))
    b.set_xticks([0], ["t"], fontsize=4)
    assert _problems(fig) == [
        "axes 0 (''): no title",
        "axes 0 (''): no x label",
        "axes 0 (''): no y label",
        "axes 0 (''): legend pinned inside the axes (use loc='best' or place it out)",
        "axes 1 (''): no title",
        "axes 1 (''): no x label",
        "axes 1 (''): no y label",
        "axes 1 (''): tick labels under 6 pt: ['t']",
        "axes 1 (''): a heatmap without a colorbar",
    ]


# --- one colour per method ------------------------------------------------------------------

LESSON_NAMES = {
    "02": ["ours", "gensim"],
    "03": ["bigram", "n-gram", "MLP", "RNN", "LSTM"],
    "04": ["without attention", "with attention", "ours", "PyTorch"],
    "05": ["bigram", "n-gram", "RNN", "LSTM", "GPT"],
    "06": ["scratch", "linear probe", "fine-tune", "LoRA", "TF-IDF + logistic regression"],
    "07": [
        "majority answer",
        "base, k=0",
        "base, k=1",
        "base, k=4",
        "base, plain text, k=4",
        "full fine-tuning",
        "LoRA",
        "greedy",
        "sampled",
    ],  # fmt: skip
}


def test_each_lesson_has_one_colour_per_name():
    hexes = {n: matplotlib.colors.to_hex(c) for n, c in style.PALETTE.items()}
    for lesson, names in LESSON_NAMES.items():
        assert len({hexes[n] for n in names}) == len(names), lesson
    assert set(style.PALETTE) == {n for names in LESSON_NAMES.values() for n in names}
    assert hexes["TF-IDF + logistic regression"] != hexes["scratch"]


@pytest.mark.parametrize(
    "name, key",
    [
        ("6-gram (Kneser-Ney)", "n-gram"),
        ("3-gram", "n-gram"),
        ("n-gram", "n-gram"),
        ("bigram (Kneser-Ney)", "bigram"),
        ("2-gram (add-k)", "bigram"),
        ("RNN (256 units, 2700 steps)", "RNN"),
        ("LSTM: whole validation split, as a stream", "LSTM"),
        ("lstm", "LSTM"),
        ("GPT (validation sample)", "GPT"),
        ("with additive attention", "with attention"),
        ("fine-tune (3 seeds)", "fine-tune"),
        ("TF-IDF + logistic regression", "TF-IDF + logistic regression"),
        ("ours (5 epochs)", "ours"),
        ("GPT-2 split BPE 1024", None),
        ("pre-norm, lr 3e-3", None),
        ("RNN, spectral radius 0.5", None),
        ("20-grams of the text", None),
    ],
)
def test_names_are_matched_to_the_palette(name, key):
    assert style.palette_name(name) == key
    assert style.color_of(name, "k") == (style.PALETTE[key] if key else "k")


def test_unknown_names_never_take_a_known_colour():
    colors = style.colors_for(["fine-tune", "x", "LoRA", "y"], taken=["tab:green"])
    hexes = [matplotlib.colors.to_hex(c) for c in colors.values()]
    assert len(set(hexes)) == 4 and colors["fine-tune"] == "tab:blue"
    assert matplotlib.colors.to_hex("tab:green") not in hexes
    assert style.color_of("unknown") is None
    # two variants of one model are told apart, not both drawn in the model's colour
    colors = style.colors_for(["GPT (2 layers)", "GPT (4 layers)", "LSTM"])
    assert len(set(colors.values())) == 3 and colors["LSTM"] == "tab:purple"


def test_a_colour_given_for_one_curve_keeps_the_others_clear_of_it():
    from course_lib.viz.rnn import plot_gradient_decay

    styles = {"b": {"color": "tab:blue", "ls": "--"}}
    ax = plot_gradient_decay({"a": [1.0, 0.5], "b": [1.0, 0.1]}, styles=styles).axes[0]
    a, b = (matplotlib.colors.to_hex(line.get_color()) for line in ax.lines)
    assert b == matplotlib.colors.to_hex("tab:blue") != a and ax.lines[1].get_linestyle() == "--"


NAMES = ["LSTM", "GPT", "fine-tune", "6-gram (Kneser-Ney)", "mystery"]
CURVE_FIGURES = {
    "transformer.plot_curves": lambda m: m.plot_curves({n: [[0, 2.0], [1, 1.0]] for n in NAMES}),
    "transformer.plot_scaling": lambda m: m.plot_scaling(
        {n: {"flops": [1, 2], "val_loss": [2, 1]} for n in NAMES}
    ),
    "attention.plot_accuracy_by_length": lambda m: m.plot_accuracy_by_length(
        {n: ([1, 2], [1.0, 0.5]) for n in NAMES}
    ),
    "rnn.plot_gradient_decay": lambda m: m.plot_gradient_decay({n: [1.0, 0.5] for n in NAMES}),
    "finetune.plot_learning_curve": lambda m: m.plot_learning_curve(
        {n: {1: (0.5, 0.1, 2), 10: (0.7, 0.1, 2)} for n in NAMES}
    ),
    "embeddings.plot_projection": lambda m: m.plot_projection(
        {n: {"a": 1, "b": -1} for n in NAMES}
    ),
    "rnn.plot_results": lambda m: m.plot_results(
        [{"model": n, "val_bpc": 2.0, "params": 10, "seconds": 1.0} for n in NAMES]
    ),
}


def _history_overlay(m):
    _, ax = plt.subplots()
    for n in NAMES:
        m.plot_history(_history(), ax, label=n)
    return ax.figure


CURVE_FIGURES["train.plot_history"] = _history_overlay


def _series_colours(ax):
    """``{label: colour}`` of the named series of ``ax``: lines, bars, error bars."""
    out = {}
    for c in ax.containers:
        artist = c.lines[0] if hasattr(c, "has_xerr") else c.patches[0]
        out[c.get_label()] = artist.get_color() if hasattr(c, "has_xerr") else artist.get_fc()
    if len(ax.containers) == 1 and ax.containers[0].get_label().startswith("_"):  # bar per name
        names = [t.get_text() for t in ax.get_yticklabels()]
        out = {n: p.get_fc() for n, p in zip(names, ax.containers[0].patches, strict=True)}
    for line in ax.lines:
        if not line.get_label().startswith("_"):
            out.setdefault(line.get_label(), line.get_color())
    return {k: matplotlib.colors.to_hex(v, keep_alpha=False) for k, v in out.items()}


@pytest.mark.parametrize("name", sorted(CURVE_FIGURES))
def test_a_name_has_its_palette_colour_in_every_figure(name):
    module = importlib.import_module(f"course_lib.viz.{name.split('.')[0]}")
    colours = _series_colours(CURVE_FIGURES[name](module).axes[0])
    for n in NAMES:
        drawn = {c for label, c in colours.items() if label.startswith(n)}
        assert len(drawn) == 1, (n, colours)  # one colour per name, train and validation alike
        if style.color_of(n):
            assert drawn == {matplotlib.colors.to_hex(style.color_of(n))}, n
        else:  # an unknown name: a colour no known name of the figure has
            known = {matplotlib.colors.to_hex(style.color_of(k)) for k in NAMES[:-1]}
            assert not drawn & known, (n, colours)
