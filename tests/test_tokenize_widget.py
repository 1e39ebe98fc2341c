"""The tokenizer playground, its HTML and its static fallback figure; the library stays headless."""

import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

from course_lib.tokenize import BPETokenizer, CharTokenizer  # noqa: E402
from course_lib.viz.tokenize import plot_tokens, token_label  # noqa: E402
from course_lib.widgets.tokenize import TokenizerPlayground, render_tokens_html  # noqa: E402

BPE = BPETokenizer().train("the cat sat on the mat; the cat 🙂 the mat 🙂", 270)


def test_token_labels_show_whitespace_and_partial_bytes():
    byte_tok = BPETokenizer()
    assert [token_label(byte_tok, i) for i in byte_tok.encode("a b\n")] == ["a", "·", "b", "↵"]
    assert token_label(byte_tok, 0xF0) == "\\xf0"  # the first byte of an emoji, alone
    assert token_label(CharTokenizer().train("ab"), 1) == "b"


def test_html_has_one_box_per_token_with_its_id():
    text = "the cat 🙂"
    out = render_tokens_html(BPE, text)
    ids = BPE.encode(text)
    assert out.count('class="token"') == len(ids)
    assert all(f'title="id {i}"' in out for i in ids)
    assert "characters not in the vocabulary" in render_tokens_html(CharTokenizer().train("a"), "b")


def test_playground_updates_when_text_or_tokenizer_changes():
    w = TokenizerPlayground({"bpe": BPE, "bytes": BPETokenizer()}, text="the cat")
    assert "tokenizer-playground" in w._dom_classes
    before = w.tokens.value
    w.text_box.value = "the mat 🙂"
    assert w.tokens.value != before and "9 characters, 12 bytes" in w.stats.value
    n_bpe = w.tokens.value.count('class="token"')
    w.choice.value = "bytes"
    assert w.tokens.value.count('class="token"') == 12 > n_bpe


def test_static_fallback_figure():
    fig = plot_tokens({"bytes": BPETokenizer(), "bpe": BPE}, "the cat 🙂", width=30)
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles == ["bytes: 12 tokens", f"bpe: {len(BPE.encode('the cat 🙂'))} tokens"]
    assert any(t.get_text() == "\\xf0" for t in fig.axes[0].texts)
    matplotlib.pyplot.close(fig)


def test_importing_the_library_stays_headless():
    code = (
        "import sys, course_lib.tokenize, course_lib.checks.tokenize, course_lib.widgets.tokenize;"
        "print('matplotlib' in sys.modules, 'ipywidgets' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
