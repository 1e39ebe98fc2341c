"""Byte-level BPE: the fast trainer and encoder equal the naive reference exactly; round trips;
the GPT-2 split equals Hugging Face's; Hugging Face's merges reproduced; errors are clear."""

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from course_lib.data import load_shakespeare
from course_lib.tokenize import (
    BPETokenizer,
    CharTokenizer,
    bytes_to_unicode,
    gpt2_split_regex,
    merge_pair,
    pair_counts,
    train_bpe,
    train_bpe_naive,
)

SHAKESPEARE = load_shakespeare()
SAMPLE = SHAKESPEARE[:200_000]
# Trained once for the property tests: plain, GPT-2 split, and with special tokens.
PLAIN = BPETokenizer().train(SAMPLE, 512)
SPLIT = BPETokenizer("gpt2", special_tokens=["<|endoftext|>", "<|pad|>"]).train(SAMPLE, 514)

# Strings with everything that breaks tokenizers: emoji (with ZWJ and skin tones), combining
# marks, CJK, right-to-left scripts, odd whitespace, contractions, control characters.
NASTY = [
    "",
    "a",
    "🙂",
    "👩🏽‍💻 family: 👨‍👩‍👧‍👦",
    "e\u0301 n\u0303 a\u030a\u0327",
    "日本語のテキスト",
    "שלום עולם مرحبا",
    "  \t\n\n   x\u00a0\u2009y\u3000",
    "don't we'll I'M they've",
    "\x00\x1c\x1f\x7f\x85",
    "tokens <|endoftext|> and <|pad|><|endoftext|>",
]
SMALL_TEXTS = st.text(alphabet=st.sampled_from("ab"), min_size=1, max_size=40) | st.text(
    alphabet=st.sampled_from("aab  c.'s\n"), min_size=1, max_size=60
)


def naive_encode_chunk(ids, merges):
    """The reference encoder, written out: merge the lowest-ranked pair present, repeat."""
    ranks = dict(merges)
    while len(ids) >= 2:
        pair = min(pair_counts(ids), key=lambda p: ranks.get(p, float("inf")))
        if pair not in ranks:
            return ids
        ids = merge_pair(ids, pair, ranks[pair])
    return ids


# --- the naive building blocks ---------------------------------------------------------------


def test_pair_counts_and_merge_pair():
    counts = pair_counts([1, 1, 1, 2, 1, 1])
    assert counts == {(1, 1): 3, (1, 2): 1, (2, 1): 1}
    assert list(counts) == [(1, 1), (1, 2), (2, 1)]  # first-occurrence order decides ties
    assert merge_pair([1, 1, 1, 2, 1, 1], (1, 1), 9) == [9, 1, 2, 9]
    assert merge_pair([1, 2], (2, 1), 9) == [1, 2] and merge_pair([], (1, 1), 9) == []


def test_wikipedia_example_and_the_tie_rule():
    # "aaabdaaabac": aa (4 times) first; then Za and ab tie at 2 and Za occurs first, so
    # minbpe's rule merges (Z, a) where Wikipedia's walk-through picks ab.
    tok = BPETokenizer().train("aaabdaaabac", 259)
    assert tok.merges == [((97, 97), 256), ((256, 97), 257), ((257, 98), 258)]
    assert tok.merge_counts == [4, 2, 2]
    assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]
    assert tok.vocab[258] == b"aaab"


# --- exactness: fast == naive ----------------------------------------------------------------


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=SMALL_TEXTS,
    n_merges=st.integers(0, 25),
    pattern=st.sampled_from([None, "gpt2"]),
    ties=st.sampled_from(["first", "hf"]),
)
@example(text="aaaa", n_merges=3, pattern=None, ties="first")
@example(text="abab ab ab abab", n_merges=6, pattern="gpt2", ties="first")
def test_fast_trainer_equals_naive_on_tie_heavy_texts(text, n_merges, pattern, ties):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short texts may run out of pairs: both must stop alike
        slow = BPETokenizer(pattern).train(text, 256 + n_merges, method="naive", ties=ties)
        fast = BPETokenizer(pattern).train(text, 256 + n_merges, ties=ties)
    assert fast.merges == slow.merges and fast.merge_counts == slow.merge_counts


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300), st.integers(0, 40), st.sampled_from([None, "gpt2"]))
def test_fast_trainer_equals_naive_on_any_unicode(text, n_merges, pattern):
    text = text or "x"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert train_bpe(text, 256 + n_merges, pattern) == train_bpe_naive(
            text, 256 + n_merges, pattern
        )


@pytest.mark.parametrize("pattern", [None, "gpt2"])
def test_fast_trainer_equals_naive_on_shakespeare(pattern):
    text = SHAKESPEARE[:20_000]
    assert train_bpe(text, 356, pattern) == train_bpe_naive(text, 356, pattern)


def test_merges_are_a_prefix_and_consistent_with_vocab():
    small = BPETokenizer().train(SAMPLE, 300)
    assert small.merges == PLAIN.merges[:44]
    for k, ((a, b), new) in enumerate(PLAIN.merges):
        assert new == 256 + k and PLAIN.vocab[new] == PLAIN.vocab[a] + PLAIN.vocab[b]
    assert len(PLAIN) == PLAIN.vocab_size == 512 and len(SPLIT) == 514
    assert SPLIT.special_tokens == {"<|endoftext|>": 512, "<|pad|>": 513}


# --- encode: fast == naive, round trips ------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | st.text(alphabet=st.sampled_from(SHAKESPEARE[:3000]), max_size=300))
def test_fast_encode_equals_naive_encode(text):
    for tok in (PLAIN, SPLIT):
        ids = tok.encode(text, allowed_special="none")
        assert ids == tok.encode(text, allowed_special="none", method="naive")
    assert PLAIN.encode(text) == naive_encode_chunk(list(text.encode("utf-8")), PLAIN.merges)


def test_encode_equals_naive_on_a_shakespeare_passage():
    text = SHAKESPEARE[500_000:505_000]
    for tok in (PLAIN, SPLIT):
        ids = tok.encode(text)
        assert ids == tok.encode(text, method="naive") and tok.decode(ids) == text
    assert len(PLAIN.encode(text)) < len(text) / 1.8  # BPE compresses


@settings(max_examples=3000, deadline=None)
@given(st.text())
@example("")
@example("👩🏽‍💻 e\u0301 日本 שלום")
def test_round_trip_on_every_unicode_string(text):
    for tok in (PLAIN, SPLIT):
        assert tok.decode(tok.encode(text)) == text


@pytest.mark.parametrize("text", NASTY)
def test_round_trip_on_nasty_strings(text):
    for tok in (PLAIN, SPLIT, BPETokenizer()):
        ids = tok.encode(text)
        assert tok.decode(ids) == text and tok.decode_bytes(ids) == text.encode("utf-8")


def test_untrained_tokenizer_is_the_byte_tokenizer():
    tok = BPETokenizer()
    assert tok.vocab_size == 256 and tok.encode("é!") == [195, 169, 33]


def test_decode_accepts_arrays_and_tensors():
    ids = PLAIN.encode("To be, or not to be")
    assert PLAIN.decode(np.array(ids)) == PLAIN.decode(torch.tensor(ids)) == "To be, or not to be"


def test_decode_of_partial_characters_uses_replacement():
    ids = BPETokenizer().encode("🙂")  # four bytes, four ids
    assert BPETokenizer().decode(ids[:2]) == "\ufffd"
    assert BPETokenizer().decode_bytes(ids[:2]) == "🙂".encode()[:2]


# --- special tokens ---------------------------------------------------------------------------


def test_special_tokens():
    text = "a<|endoftext|>b<|pad|>"
    ids = SPLIT.encode(text)
    assert ids.count(512) == 1 and ids.count(513) == 1 and SPLIT.decode(ids) == text
    plain_ids = SPLIT.encode(text, allowed_special="none")
    assert 512 not in plain_ids and SPLIT.decode(plain_ids) == text
    only_eot = SPLIT.encode(text, allowed_special={"<|endoftext|>"})
    assert 512 in only_eot and 513 not in only_eot and SPLIT.decode(only_eot) == text
    assert SPLIT.special_id("<|pad|>") == 513


def test_unknown_special_token_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown special token\(s\) '<\|bos\|>'.*<\|pad\|>"):
        SPLIT.encode("x", allowed_special={"<|bos|>"})
    with pytest.raises(ValueError, match="unknown special token"):
        PLAIN.special_id("<|endoftext|>")


# --- the GPT-2 split ----------------------------------------------------------------------------


def _offsets(pieces):
    out, pos = [], 0
    for p in pieces:
        out.append((pos, pos + len(p)))
        pos += len(p)
    return out


# Characters assigned in Python's Unicode tables (14.0): HF's regex engine knows newer Unicode,
# where some then-unassigned code points became letters.
ASSIGNED = st.characters(codec="utf-8", exclude_categories=["Cn"])
SPACEY = st.sampled_from(
    list(" \t\n\r\x0b\x0c\x1c\x85\xa0\u2009\u3000's'tredlmvAb1²½.!-_🙂é\u0301")
)


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=ASSIGNED, max_size=40) | st.text(alphabet=SPACEY, max_size=40))
@example("Hello  world's 123 \n\n  x")
def test_gpt2_split_equals_hugging_face(text):
    from tokenizers.pre_tokenizers import ByteLevel

    hf = ByteLevel(add_prefix_space=False, use_regex=True)
    assert _offsets(gpt2_split_regex().findall(text)) == [o for _, o in hf.pre_tokenize_str(text)]


def test_gpt2_split_on_an_example():
    assert gpt2_split_regex().findall("I'll pay 42 dollars!!  Now") == [
        "I", "'ll", " pay", " 42", " dollars", "!!", " ", " Now"
    ]  # fmt: skip


# --- Hugging Face's merges reproduced with its tie rule ---------------------------------------


def test_hf_tie_rule_reproduces_hugging_face_merges():
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    text, vocab_size = SHAKESPEARE[:100_000], 400
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=0,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    hf.train_from_iterator([text], trainer=trainer)
    u2b = {c: b for b, c in bytes_to_unicode().items()}
    hf_merges = [
        tuple(bytes(u2b[c] for c in part) for part in (m if isinstance(m, list) else m.split(" ")))
        for m in json.loads(hf.to_str())["model"]["merges"]
    ]
    ours = BPETokenizer("gpt2").train(text, vocab_size, ties="hf")
    vocab = ours.vocab
    assert [(vocab[a], vocab[b]) for (a, b), _ in ours.merges] == hf_merges
    # Our default rule (first occurrence) parts from Hugging Face's at a tie: same count.
    first = BPETokenizer("gpt2").train(text, vocab_size)
    k = next(i for i, (m, n) in enumerate(zip(first.merges, ours.merges, strict=True)) if m != n)
    assert first.merges[:k] == ours.merges[:k] and first.merge_counts[k] == ours.merge_counts[k]
    assert sorted(first.merge_counts, reverse=True) == first.merge_counts  # counts never rise


# --- save / load --------------------------------------------------------------------------------


def test_save_load_round_trip(tmp_path):
    path = SPLIT.save(tmp_path / "tok.json")
    obj = json.loads(path.read_text(encoding="utf-8"))
    assert obj["format"] == "course_lib.BPETokenizer/1" and obj["pattern"] == "gpt2"
    assert obj["merges"][0] == [*SPLIT.merges[0][0], 256]
    again = BPETokenizer.load(path)
    assert again.merges == SPLIT.merges and again.special_tokens == SPLIT.special_tokens
    assert again.encode(NASTY[-1]) == SPLIT.encode(NASTY[-1])
    custom = BPETokenizer(r"\w+|\s+|[^\w\s]+").train("ab ab, ab!", 257)
    back = BPETokenizer.load(custom.save(tmp_path / "c.json"))
    assert back.pattern == custom.pattern and back.encode("ab ab") == custom.encode("ab ab")


def test_load_wrong_format_says_so(tmp_path):
    CharTokenizer().train("abc").save(tmp_path / "char.json")
    with pytest.raises(ValueError, match="not a BPETokenizer file.*CharTokenizer/1"):
        BPETokenizer.load(tmp_path / "char.json")
    (tmp_path / "junk.json").write_text("not json")
    with pytest.raises(ValueError, match="not a BPETokenizer file \\(not JSON"):
        BPETokenizer.load(tmp_path / "junk.json")
    (tmp_path / "bad.json").write_text(
        json.dumps(
            {
                "format": "course_lib.BPETokenizer/1",
                "pattern": None,
                "special_tokens": {},
                "merges": [[1, 2, 300]],
            }
        )  # fmt: skip
    )
    with pytest.raises(ValueError, match="damaged.*must create id 256"):
        BPETokenizer.load(tmp_path / "bad.json")


# --- errors -------------------------------------------------------------------------------------


def test_training_errors():
    with pytest.raises(ValueError, match="vocab_size=200 is too small.*at least 256"):
        BPETokenizer().train("hello", 200)
    with pytest.raises(ValueError, match="at least 258"):
        BPETokenizer(special_tokens=["<a>", "<b>"]).train("hello", 257)
    with pytest.raises(ValueError, match="empty text"):
        BPETokenizer().train("", 300)
    with pytest.raises(ValueError, match="method must be"):
        BPETokenizer().train("ab", 257, method="quick")
    with pytest.raises(ValueError, match="ties must be"):
        BPETokenizer().train("ab", 257, ties="last")
    with pytest.warns(UserWarning, match="no adjacent pairs left after 1 merges"):
        tok = BPETokenizer().train("ab", 300)
    assert tok.vocab_size == 257


def test_decode_errors():
    with pytest.raises(
        ValueError, match="id 512 is out of range: this vocabulary has ids 0 to 511"
    ):
        PLAIN.decode([1, 512])
    with pytest.raises(ValueError, match="id -1 is out of range"):
        PLAIN.decode([-1])
    with pytest.raises(TypeError, match="ids must be integers"):
        PLAIN.decode([1.5])


def test_pattern_and_text_errors():
    with pytest.raises(ValueError, match="lone surrogate"):
        PLAIN.encode("a\ud800b")
    with pytest.raises(TypeError, match="expected a str"):
        PLAIN.encode(b"bytes")
    with pytest.raises(ValueError, match=r"\\p\{...\} classes"):
        BPETokenizer(r"\p{L}+")
    with pytest.raises(ValueError, match="capturing groups"):
        BPETokenizer(r"(\w)+|\s")
    with pytest.raises(ValueError, match="does not cover the whole text"):
        BPETokenizer(r"\w+").train("ab cd", 260)


def test_from_merges_prefix_equals_smaller_training():
    prefix = BPETokenizer.from_merges(PLAIN.merges[:100])
    trained = BPETokenizer().train(SAMPLE, 356)
    text = SHAKESPEARE[600_000:602_000]
    assert prefix.merges == trained.merges and prefix.encode(text) == trained.encode(text)
    with pytest.raises(ValueError, match="merge 0 is"):
        BPETokenizer.from_merges([((1, 2), 300)])


def test_plain_tokenizer_saves_as_plain_in_a_fresh_process(tmp_path):
    # Before anything builds the GPT-2 regex (a fresh process), a plain tokenizer must still say
    # pattern=None, and save/load must keep it plain.
    code = (
        "import sys; from course_lib.tokenize import BPETokenizer as B;"
        "t = B().train('hello hello world', 260); p = t.save(sys.argv[1]);"
        "u = B.load(p); print(t.pattern, u.pattern, u.merges == t.merges)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "t.json")],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.split() == ["None", "None", "True"]


@pytest.mark.parametrize("n", [4096, 4097, 4098, 9000])
def test_encode_when_the_last_piece_fills_a_block(n):
    # The fast encoder works in blocks of about 4,096 characters; a text whose last distinct
    # piece ends a block exactly once lost the match between pieces and ids.
    tok = BPETokenizer("gpt2").train(SAMPLE, 300)
    for text in ("a" * n, "hello " + "b" * n):
        ids = tok.encode(text)
        assert tok.decode(ids) == text and ids == tok.encode(text, method="naive")
