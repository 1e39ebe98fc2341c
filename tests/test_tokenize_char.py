import pytest
from hypothesis import given
from hypothesis import strategies as st

from course_lib.data import load_shakespeare
from course_lib.tokenize import CharTokenizer


def test_char_tokenizer_on_shakespeare():
    text = load_shakespeare()
    tok = CharTokenizer().train(text)
    assert tok.vocab_size == 77 and tok.decode(tok.encode(text[:1000])) == text[:1000]
    assert tok.encode("\n ") == [0, 1]


@given(st.text(min_size=1))
def test_round_trip_on_its_own_text(text):
    tok = CharTokenizer().train(text)
    assert tok.decode(tok.encode(text)) == text


def test_errors_name_the_problem(tmp_path):
    tok = CharTokenizer().train("abc")
    with pytest.raises(ValueError, match="not in the vocabulary: 'x', 'z'"):
        tok.encode("azbx")
    with pytest.raises(ValueError, match="id 3 is out of range"):
        tok.decode([0, 3])
    with pytest.raises(ValueError, match="empty text"):
        CharTokenizer().train("")
    with pytest.raises(ValueError, match="exactly 3 entries, not 5"):
        CharTokenizer().train("abc", vocab_size=5)
    (tmp_path / "bad.json").write_text('{"format": "other"}')
    with pytest.raises(ValueError, match="not a CharTokenizer file"):
        CharTokenizer.load(tmp_path / "bad.json")


def test_save_load(tmp_path):
    tok = CharTokenizer().train("héllo 🙂")
    again = CharTokenizer.load(tok.save(tmp_path / "t.json"))
    assert again.chars == tok.chars and "🙂" in (tmp_path / "t.json").read_text(encoding="utf-8")
