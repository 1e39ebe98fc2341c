"""The browser-drawn attention explorer, from the kernel's side: the traits carry the data the
JavaScript draws, the selection syncs both ways, typed text is made safe, the static figure is
readable, and drawing it from threads while a cell draws with pyplot gives the same picture."""

import re
import subprocess
import sys
import threading
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import traitlets  # noqa: E402

from course_lib import heads  # noqa: E402
from course_lib import transformer as tfm  # noqa: E402
from course_lib.tokenize import CharTokenizer  # noqa: E402
from course_lib.viz.attention import attention_example, describe_query, figure_png  # noqa: E402
from course_lib.widgets import attention_view as av  # noqa: E402
from course_lib.widgets.attention import AttentionExplorer  # noqa: E402
from course_lib.widgets.transformer import GPTAttentionExplorer, check_text  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TEXT = "First Citizen:\nBefore we proceed any further, hear me speak.\nAll: Speak, speak.\n"


def _causal(L, H, T, seed=0):
    rng = np.random.default_rng(seed)
    logits = np.where(np.tri(T, dtype=bool), rng.normal(size=(L, H, T, T)), -np.inf)
    w = np.exp(logits - logits.max(-1, keepdims=True))
    return w / w.sum(-1, keepdims=True)


def _text_examples():
    texts = ["to be or not", "that is the question"]
    return [
        attention_example(list(t), list(t), _causal(2, 3, len(t), seed=i), title=f"text {i}")
        for i, t in enumerate(texts)
    ]


def _word_examples():
    rng = np.random.default_rng(1)
    out = []
    for n in (3, 6):
        src, tgt = [f"s{j}" for j in range(n)], [f"t{j}" for j in range(n + 2)]
        w = rng.random((len(tgt), len(src)))
        out.append(attention_example(src, tgt, w / w.sum(-1, keepdims=True)))
    return out


@pytest.fixture(scope="module")
def gpt():
    tok = CharTokenizer().train(TEXT + "'")
    torch.manual_seed(0)
    config = tfm.GPTConfig(vocab_size=len(tok), block_size=24, n_layer=2, n_head=2, n_embd=8)
    return tfm.GPT(config), tok


# --- the data the browser gets --------------------------------------------------------------


def test_weights_travel_compactly_and_decode_to_the_examples():
    exs = _text_examples() + [_word_examples()[0] | {"weights": np.ones((2, 3, 5, 3)) / 3}]
    ex = AttentionExplorer(exs)
    w = ex.widget
    assert (w.n_layers, w.n_heads) == (2, 3)
    assert [e["causal"] for e in w.examples] == [True, True, False]
    # a causal text keeps each row's visible keys only: T(T+1)/2 per head, 2 bytes each
    sizes = [12 * 13 // 2, 20 * 21 // 2, 5 * 3]
    assert len(w.weights) == 2 * 2 * 3 * sum(sizes)
    assert [e["offset"] for e in w.examples] == [0, 6 * sizes[0], 6 * (sizes[0] + sizes[1])]
    decoded = av.decode_weights(w.weights, w.examples, 2, 3)
    for got, e in zip(decoded, exs, strict=True):
        future = np.isnan(got)
        assert np.array_equal(future, np.triu(np.ones_like(got, bool), 1)) or not future.any()
        assert np.allclose(np.nan_to_num(got), e["weights"], atol=1 / 65535)


def test_tokens_titles_colours_and_scores_are_sent():
    ex = AttentionExplorer(_text_examples(), title="T", titles=["first", "second"])
    w = ex.widget
    first = w.examples[0]
    assert first["keys"] == list("to\u00b7be\u00b7or\u00b7not") == first["queries"]  # spaces ·
    assert first["self_attention"] and first["query_name"] == "position"
    assert [e["title"] for e in w.examples] == ["first", "second"] and w.title == "T"
    assert len(w.colors) == 256 and w.colors[0] == "#440154"  # viridis: the course's heatmap
    by_key = {s["key"]: s for s in w.scores}
    assert {k for k, s in by_key.items() if s["show"]} == {"previous", "first"}
    prev = heads.previous_token_score(_text_examples()[1]["weights"])  # (2, 3)
    assert np.allclose(by_key["previous"]["values"][1], prev, atol=1e-3)
    chance = heads.chance_scores(list("that is the question"))["previous"]
    assert by_key["previous"]["chance"][1] == pytest.approx(chance, abs=1e-3)
    assert set(ex.scores()) == {"prev", "first"} and ex.scores()["prev"].shape == (2, 3)
    # seq2seq examples: queries and keys are different texts, no head scores
    words = AttentionExplorer(_word_examples(), query_name="target word")
    assert words.widget.scores == [] and not words.widget.examples[0]["causal"]
    assert words.widget.examples[0]["query_name"] == "target word"


def test_it_opens_at_the_last_position_and_syncs_the_selection():
    ex = AttentionExplorer(_word_examples())  # T_q = 5 and 8
    assert ex.selection == {"example": 0, "layer": 0, "head": 0, "query": 4}
    ex.query = 2
    assert ex.widget.query == 2
    # lesson 04's code-driven cell: example first, then a query only the new example has
    ex.example, ex.query = 1, 7
    assert ex.selection == {"example": 1, "layer": 0, "head": 0, "query": 7}
    ex.example = 0  # a shorter example: the query moves to its last position
    assert ex.query == 4
    with pytest.raises(traitlets.TraitError, match=r"query \(of example 0\) must be in 0..4"):
        ex.query = 5
    with pytest.raises(traitlets.TraitError, match="head must be in 0..0, got 1"):
        ex.head = 1
    # what the browser sends (one message, several traits) arrives as the selection
    ex.widget.set_state({"example": 1, "query": 6})
    assert ex.selection["example"] == 1 and ex.query == 6
    assert ex.describe() == describe_query(ex.examples[1], 0, 0, 6)


def test_the_sentence_names_positions_and_distances():
    T = 5
    w = np.zeros((1, 1, T, T))
    w[0, 0, np.arange(T), np.arange(T)] = 0.1
    w[0, 0, :, 0] += 0.2
    w[0, 0, np.arange(1, T), np.arange(T - 1)] += 0.7
    w[0, 0, 0, 0] = 1.0
    e = attention_example(list("ab cd"), list("ab cd"), np.tril(w))
    assert describe_query(e, 0, 0, 4) == (
        "position 4 'd' attends most to position 3 'c' (1 back, 0.70), "
        "then 0 'a' (4 back, 0.20) and 4 'd' (itself, 0.10)."
    )
    first = "position 0 'a' attends most to position 0 'a' (itself, 1.00)."
    assert describe_query(e, 0, 0, 0) == first
    cross = attention_example(["x", "y"], ["u"], np.array([[0.25, 0.75]]))
    assert describe_query(cross, 0, 0, 0) == (
        "target 0 'u' attends most to source 1 'y' (0.75), then 0 'x' (0.25)."
    )


# --- text in, safely -------------------------------------------------------------------------


def test_check_text_fixes_quotes_lists_unknowns_and_says_what_was_cut(gpt):
    _, tok = gpt
    c = check_text("Speak\u2019s \u201cfirst\u201d", tok, 24)
    assert c.text == "Speak's first" and c.fixed == {"\u2019": 1}
    assert c.unknown == ["\u201c", "\u201d"]  # no '"' in this vocabulary: left out, listed
    assert "replaced '\u2019' with \"'\"" in c.message and "'\u201c', '\u201d'" in c.message
    c = check_text("Before we proceed any further, hear me speak.", tok, 24)
    assert c.text == "Before we proceed any fu" and c.cut == "rther, hear me speak."
    assert "cut at the block size (24 tokens): left out 'rther, hear me speak.'" in c.message
    assert check_text("hear me", tok, 24).message == ""


def test_typed_text_becomes_an_example_with_no_traceback(gpt):
    model, tok = gpt
    ex = GPTAttentionExplorer(model, tok, [TEXT[:20], TEXT[15:60]], titles=["a", "b"])
    assert ex.widget.text_box and ex.examples[1]["note"].startswith("cut at the block size")
    assert ex.widget.examples[1]["note"] == ex.examples[1]["note"]
    # the browser sends the text and a new submission count
    ex.widget.set_state({"text": "hear me\u2019 speak \U0001f642", "text_submits": 1})
    assert "replaced '\u2019'" in ex.widget.text_status and "'\U0001f642'" in ex.widget.text_status
    assert len(ex.examples) == 3 and ex.examples[2]["source"] == list("hear me' speak ")
    assert ex.selection == {"example": 2, "layer": 0, "head": 0, "query": 14}
    assert ex.widget.examples[2]["title"].startswith("typed: hear me'")
    ex.widget.set_state({"text": "speak", "text_submits": 2})  # replaces the typed example
    assert len(ex.examples) == 3 and ex.examples[2]["source"] == list("speak")
    assert ex.widget.text_status == "showing your text (5 tokens)"
    ex.widget.set_state({"text": "\U0001f642\U0001f642", "text_submits": 3})
    assert ex.widget.text_status.startswith("nothing to show: left out characters")
    assert len(ex.examples) == 3
    induction = next(s for s in ex.widget.scores if s["key"] == "induction")
    assert np.array(induction["values"][0]).shape == (2, 2) and induction["show"]
    with pytest.raises(ValueError, match="nothing left of the text"):
        GPTAttentionExplorer(model, tok, ["\U0001f642"])
    with pytest.raises(ValueError, match="one title per text: 1 texts, 2 titles"):
        GPTAttentionExplorer(model, tok, ["hear"], titles=["a", "b"])


# --- the static fallback, and drawing from threads ---------------------------------------------


def test_static_figure_shows_the_selection_with_every_head():
    ex = AttentionExplorer(_text_examples(), induction=np.full((2, 3), 0.5), induction_chance=0.1)
    ex.layer, ex.head, ex.query = 1, 2, 5
    fig = ex.static_figure()
    titles = [a.get_title() for a in fig.axes]
    assert "layer 1, head 2: query 5 outlined" in titles
    thumbs = [t for t in titles if t.startswith("layer ") and "\n" in t]
    assert len(thumbs) == 6 and all("prev" in t and "ind 0.50" in t for t in thumbs)
    assert fig.get_suptitle() == "text 0"
    assert ex.describe() in [t.get_text() for sf in fig.subfigs for t in sf.texts]
    words = AttentionExplorer(_word_examples()).static_figure(example=1)
    assert sum(1 for a in words.axes if a.images) == 1  # one head: no thumbnails
    bundle = ex._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("AttentionExplorer(2 examples, 2 layers, 3 heads): ")


def test_drawing_from_threads_while_a_cell_draws_gives_the_same_picture():
    e = attention_example(list("abcdef"), list("abcdef"), _causal(1, 2, 6))
    ex = AttentionExplorer([e])
    reference = figure_png(ex.static_figure(), dpi=30)
    pictures, errors = [], []

    def draw():
        try:
            for _ in range(2):
                pictures.append(figure_png(ex.static_figure(), dpi=30))
        except Exception as err:  # pragma: no cover - the failure this test is about
            errors.append(err)

    threads = [threading.Thread(target=draw) for _ in range(3)]
    for t in threads:
        t.start()
    for _ in range(3):  # the running cell, drawing with pyplot meanwhile
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1], [1, 0])
        fig.savefig(__import__("io").BytesIO(), dpi=30)
        plt.close(fig)
    for t in threads:
        t.join()
    assert errors == [] and len(pictures) == 6
    assert all(p == reference for p in pictures)
    from matplotlib.image import imread

    img = imread(__import__("io").BytesIO(reference))
    assert len(np.unique(img.reshape(-1, img.shape[-1]), axis=0)) > 20  # not a blank picture


# --- packaging and the page ------------------------------------------------------------------


def test_the_javascript_and_css_ship_as_package_data():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"
    ]["course_lib.widgets"]
    # vendor/ (a folder) holds course_lib.export's scripts
    shipped = sorted(p.name for p in av.STATIC.iterdir() if p.is_file())
    assert shipped == ["attention_view.css", "attention_view.js"]
    assert all(any(fnmatch(f"static/{name}", g) for g in globs) for name in shipped)
    js = (av.STATIC / "attention_view.js").read_text()
    assert "export default { render }" in js and "import " not in js.split("export")[0]


def test_standalone_page_is_offline(tmp_path):
    ex = AttentionExplorer(_text_examples(), title="page </script> test")
    page = ex.to_html(tmp_path / "x.html")
    assert (tmp_path / "x.html").read_text() == page
    urls = set(re.findall(r"https?://[^\s\"'`\\]*", page))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace, never fetched
    assert page.count("</script>") == 1  # the title's tag is escaped inside the script
    assert '"text_box": false' in page and "attn-view" in page


def test_importing_the_explorers_is_headless():
    code = (
        "import sys, course_lib.widgets.attention, course_lib.widgets.transformer, "
        "course_lib.widgets.attention_view, course_lib.heads; "
        "print(','.join(m for m in ('matplotlib', 'ipywidgets', 'anywidget') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
