"""Lesson 01's exercise checks: pass on the reference, fail with the right hint on the usual
mistakes, and report an answer that only calls the library's version."""

import random
import warnings
from collections import Counter

import pytest

from course_lib.checks import USES_LIBRARY
from course_lib.checks.tokenize import (
    _random_chunks,
    _random_text,
    _reference_encode,
    _reference_train,
    _reference_train_chunks,
    check_count_pairs,
    check_decode,
    check_encode,
    check_merge,
    check_news_prediction,
    check_train_chunks,
    check_train_merges,
)
from course_lib.tokenize import (
    BPETokenizer,
    gpt2_split_regex,
    merge_pair,
    pair_counts,
    train_bpe_naive,
)

# --- count pairs --------------------------------------------------------------------------------


def own_count_pairs(ids):
    counts = {}
    for i in range(len(ids) - 1):
        counts[ids[i], ids[i + 1]] = counts.get((ids[i], ids[i + 1]), 0) + 1
    return counts


def test_count_pairs_passes_on_reference_and_counter(capsys):
    assert check_count_pairs(own_count_pairs)
    assert check_count_pairs(lambda ids: dict(Counter(zip(ids, ids[1:], strict=False))))
    assert "\u2705 check_count_pairs: passed on 35 inputs" in capsys.readouterr().out


def test_count_pairs_library_version(capsys):
    def calls_library(ids):
        return pair_counts(ids)

    assert not check_count_pairs(pair_counts)
    assert not check_count_pairs(calls_library)
    assert capsys.readouterr().out.count(USES_LIBRARY) == 2


def test_count_pairs_missing_last_pair(capsys):
    def short(ids):
        counts = {}
        for i in range(len(ids) - 2):
            counts[ids[i], ids[i + 1]] = counts.get((ids[i], ids[i + 1]), 0) + 1
        return counts

    assert not check_count_pairs(short)
    out = capsys.readouterr().out
    assert "\u274c check_count_pairs: failed" in out and "n - 1 adjacent pairs" in out


def test_count_pairs_sorted_order(capsys):
    assert not check_count_pairs(lambda ids: dict(sorted(own_count_pairs(ids).items())))
    assert "wrong order" in capsys.readouterr().out


def test_count_pairs_non_overlapping(capsys):
    def skipping(ids):
        counts, i = {}, 0
        while i < len(ids) - 1:
            pair = (ids[i], ids[i + 1])
            counts[pair] = counts.get(pair, 0) + 1
            i += 2 if pair[0] == pair[1] else 1
        return counts

    assert not check_count_pairs(skipping)
    assert "overlapping ones too" in capsys.readouterr().out


def test_count_pairs_not_written(capsys):
    def stub(ids):
        raise NotImplementedError

    with pytest.raises(NotImplementedError):  # stops "Run All" there, as an nbgrader stub does
        check_count_pairs(stub)
    assert "not written yet" in capsys.readouterr().out


# --- merge --------------------------------------------------------------------------------------


def own_merge(ids, pair, new_id):
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def test_merge_passes_on_reference(capsys):
    assert check_merge(own_merge)
    assert "\u2705 check_merge: passed" in capsys.readouterr().out


def test_merge_library_version(capsys):
    assert not check_merge(merge_pair)
    assert not check_merge(lambda ids, pair, new_id: merge_pair(ids, pair, new_id))
    assert capsys.readouterr().out.count(USES_LIBRARY) == 2


def test_merge_forgets_to_skip(capsys):
    def no_skip(ids, pair, new_id):
        out, i = [], 0
        while i < len(ids):
            if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
                out.append(new_id)
            else:
                out.append(ids[i])
            i += 1
        return out

    assert not check_merge(no_skip)
    assert "skip both ids of the pair" in capsys.readouterr().out


def test_merge_drops_last_id(capsys):
    def drops_last(ids, pair, new_id):
        out, i = [], 0
        while i < len(ids) - 1:
            if (ids[i], ids[i + 1]) == pair:
                out.append(new_id)
                i += 2
            else:
                out.append(ids[i])
                i += 1
        return out

    assert not check_merge(drops_last)
    assert "the last id is lost" in capsys.readouterr().out


def test_merge_only_first_occurrence(capsys):
    def first_only(ids, pair, new_id):
        for i in range(len(ids) - 1):
            if (ids[i], ids[i + 1]) == pair:
                return ids[:i] + [new_id] + ids[i + 2 :]
        return list(ids)

    assert not check_merge(first_only)
    assert "replace every occurrence" in capsys.readouterr().out


# --- train: the merge loop ----------------------------------------------------------------------


def make_train(start=None, pick=None, first_id=256, extra=0, stop=True, update=True, recount=True):
    """A learner's train_merges, right by default; each argument plants one usual mistake."""

    def train_merges(text, vocab_size):
        ids = start(text) if start else list(text.encode("utf-8"))
        merges, counts = [], own_count_pairs(ids)
        for k in range(vocab_size - 256 + extra):
            counts = own_count_pairs(ids) if recount else counts
            if stop and not counts:
                break
            pair = pick(counts) if pick else max(counts, key=counts.get)
            if not recount:
                counts.pop(pair)
            merged = own_merge(ids, pair, first_id + k)
            ids = merged if update else ids
            merges.append((pair, first_id + k))
        return merges

    return train_merges


def last_of_ties(counts):
    best, pair = -1, None
    for p, c in counts.items():
        if c >= best:
            best, pair = c, p
    return pair


def test_train_reference_matches_the_library():
    rng = random.Random(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # train_bpe_naive warns when a short text runs out
        for _ in range(200):
            text, vocab_size = _random_text(rng), 256 + rng.randint(1, 10)
            assert _reference_train(text, vocab_size) == train_bpe_naive(text, vocab_size)


def test_train_passes_on_reference(capsys):
    assert check_train_merges(make_train())
    assert "\u2705 check_train_merges: passed on 38 inputs" in capsys.readouterr().out


def test_train_library_version(capsys):
    def naive(text, vocab_size):
        return train_bpe_naive(text, vocab_size)

    def via_tokenizer(text, vocab_size):
        return BPETokenizer().train(text, vocab_size).merges

    assert not check_train_merges(naive)
    assert not check_train_merges(via_tokenizer)
    assert capsys.readouterr().out.count(USES_LIBRARY) == 2


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        (dict(stop=False), "stop when no pair is left"),
        (dict(start=lambda text: [ord(c) for c in text]), "start from the UTF-8 bytes"),
        (dict(first_id=255), "wrong new ids: number the new tokens 256, 257"),
        (dict(extra=1), "vocab_size counts the 256 bytes too"),
        (dict(update=False), "carry on from the merged ids"),
        (dict(pick=max), "max(counts) compares the pairs themselves"),
        (dict(pick=last_of_ties), "keep the pair met first"),
        (dict(recount=False), "you counted the pairs once, before the loop"),
        (dict(pick=lambda counts: min(counts, key=counts.get)), "pick the pair with the highest"),
    ],
)
def test_train_usual_mistakes(mistake, hint, capsys):
    assert not check_train_merges(make_train(**mistake))
    out = capsys.readouterr().out
    assert "\u274c check_train_merges: failed" in out and hint in out, out


def test_train_returns_only_the_pairs(capsys):
    assert not check_train_merges(lambda text, v: [p for p, _ in make_train()(text, v)])
    assert "return a list of ((left_id, right_id), new_id)" in capsys.readouterr().out


# --- encode -------------------------------------------------------------------------------------


def own_encode(text, merges):
    ids = list(text.encode("utf-8"))
    for pair, new_id in merges:
        ids = own_merge(ids, pair, new_id)
    return ids


def test_encode_reference_matches_the_library():
    rng = random.Random(1)
    for _ in range(100):
        merges = _reference_train(_random_text(rng, 30), 256 + rng.randint(1, 10))
        text = _random_text(rng, 30)
        assert _reference_encode(text, merges) == BPETokenizer.from_merges(merges).encode(text)


def test_encode_passes_on_reference(capsys):
    assert check_encode(own_encode)
    assert "\u2705 check_encode: passed on 36 inputs" in capsys.readouterr().out


def test_encode_library_version(capsys):
    def via_tokenizer(text, merges):
        return BPETokenizer.from_merges(merges).encode(text)

    assert not check_encode(via_tokenizer)
    assert USES_LIBRARY in capsys.readouterr().out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda text, merges: own_encode(text, merges[::-1]), "in training order"),
        (lambda text, merges: own_encode(text, sorted(merges)), "the one learned first wins"),
        (lambda text, merges: own_encode(text, merges[:-1]), "apply every merge"),
        (
            lambda text, merges: own_encode_ord(text, merges),
            "start from the UTF-8 bytes",
        ),
    ],
)
def test_encode_usual_mistakes(wrong, hint, capsys):
    assert not check_encode(wrong)
    out = capsys.readouterr().out
    assert "\u274c check_encode: failed" in out and hint in out, out


def own_encode_ord(text, merges):
    ids = [ord(c) for c in text]
    for pair, new_id in merges:
        ids = own_merge(ids, pair, new_id)
    return ids


# --- decode -------------------------------------------------------------------------------------


def test_decode_passes_on_reference(capsys):
    def decode(ids, vocab):
        return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")

    assert check_decode(decode)
    assert "\u2705 check_decode: passed" in capsys.readouterr().out


def test_decode_library_version(capsys):
    def via_tokenizer(ids, vocab):
        return BPETokenizer().decode(ids)

    assert not check_decode(via_tokenizer)
    assert USES_LIBRARY in capsys.readouterr().out


def test_decode_token_by_token(capsys):
    def per_token(ids, vocab):
        return "".join(vocab[i].decode("utf-8", errors="replace") for i in ids)

    assert not check_decode(per_token)
    assert "join all the tokens' bytes first" in capsys.readouterr().out


def test_decode_strict(capsys):
    def strict(ids, vocab):
        return b"".join(vocab[i] for i in ids).decode("utf-8")

    assert not check_decode(strict)
    assert "errors='replace'" in capsys.readouterr().out


def test_decode_str_of_bytes(capsys):
    def str_of_bytes(ids, vocab):
        return str(b"".join(vocab[i] for i in ids))

    assert not check_decode(str_of_bytes)
    assert ".decode('utf-8', ...)" in capsys.readouterr().out


# --- train on pre-split chunks ------------------------------------------------------------------


def make_train_chunks(join=False, per_chunk=False):
    """A learner's train_chunks, right by default; each argument plants one usual mistake."""

    def train_chunks(chunks, vocab_size):
        if join:
            chunks = ["".join(chunks)]
        chunk_ids = [list(c.encode("utf-8")) for c in chunks]
        merges = []
        for new_id in range(256, vocab_size):
            counts = {}
            for ids in chunk_ids:
                chunk_counts = own_count_pairs(ids)
                if per_chunk:  # counts of the last chunk with pairs only
                    counts = chunk_counts or counts
                else:
                    for pair, n in chunk_counts.items():
                        counts[pair] = counts.get(pair, 0) + n
            if not counts:
                break
            pair = max(counts, key=counts.get)
            chunk_ids = [own_merge(ids, pair, new_id) for ids in chunk_ids]
            merges.append((pair, new_id))
        return merges

    return train_chunks


def test_train_chunks_reference_matches_the_library():
    rng = random.Random(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(100):
            chunks, vocab_size = _random_chunks(rng), 256 + rng.randint(1, 10)
            text = "".join(chunks)
            assert gpt2_split_regex().findall(text) == chunks  # the inputs are GPT-2 chunks
            expected = train_bpe_naive(text, vocab_size, pattern="gpt2")
            assert _reference_train_chunks(chunks, vocab_size) == expected


def test_train_chunks_passes_on_reference(capsys):
    assert check_train_chunks(make_train_chunks())
    assert "\u2705 check_train_chunks: passed on 35 inputs" in capsys.readouterr().out


def test_train_chunks_library_version(capsys):
    def naive(chunks, vocab_size):
        return train_bpe_naive("".join(chunks), vocab_size, pattern="gpt2")

    assert not check_train_chunks(naive)
    assert USES_LIBRARY in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mistake", "hint"),
    [
        (dict(join=True), "pairs never cross chunks"),
        (dict(per_chunk=True), "add the counts of every chunk into one dict"),
    ],
)
def test_train_chunks_usual_mistakes(mistake, hint, capsys):
    assert not check_train_chunks(make_train_chunks(**mistake))
    out = capsys.readouterr().out
    assert "\u274c check_train_chunks: failed" in out and hint in out, out


# --- predict, then measure ----------------------------------------------------------------------


def test_news_prediction(capsys):
    assert check_news_prediction(2.9, 2.85)
    out = capsys.readouterr().out
    assert "\u2705 check_news_prediction: passed (prediction made)" in out and "right" in out
    assert "Shakespeare" in out  # the why is printed
    assert not check_news_prediction(3.4, 2.85)  # made, but not what happened
    assert "passed (prediction made)" in capsys.readouterr().out
    assert not check_news_prediction(None, 2.85)
    assert "not attempted" in capsys.readouterr().out
    assert not check_news_prediction("3", 2.85)
    assert "as a number" in capsys.readouterr().out


# --- the student version's stubs ------------------------------------------------------------


@pytest.mark.parametrize(
    "check", [check_merge, check_train_merges, check_encode, check_decode, check_train_chunks]
)
def test_a_stub_stops_the_run(check, capsys):
    def stub(*args):
        raise NotImplementedError()

    with pytest.raises(NotImplementedError):
        check(stub)
    assert "not attempted" in capsys.readouterr().out
