"""Lesson 01's exercise checks: pass on the reference, fail with the right hint on the usual
mistakes."""

from collections import Counter

import pytest

from course_lib.checks.tokenize import (
    check_count_pairs,
    check_decode,
    check_merge,
    check_train_step,
)
from course_lib.tokenize import merge_pair, pair_counts

# --- count pairs --------------------------------------------------------------------------------


def test_count_pairs_passes_on_reference_and_counter(capsys):
    assert check_count_pairs(pair_counts)
    assert check_count_pairs(lambda ids: dict(Counter(zip(ids, ids[1:], strict=False))))
    assert "\u2705 check_count_pairs: passed on 35 inputs" in capsys.readouterr().out


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
    assert not check_count_pairs(lambda ids: dict(sorted(pair_counts(ids).items())))
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


def test_merge_passes_on_reference(capsys):
    assert check_merge(merge_pair)
    assert "\u2705 check_merge: passed" in capsys.readouterr().out


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


# --- one training step --------------------------------------------------------------------------


def test_train_step_passes_on_reference(capsys):
    def step(ids, new_id):
        counts = pair_counts(ids)
        pair = max(counts, key=counts.get)
        return pair, merge_pair(ids, pair, new_id)

    assert check_train_step(step)
    assert "\u2705 check_train_step: passed" in capsys.readouterr().out


def test_train_step_max_over_pairs(capsys):
    def step(ids, new_id):
        pair = max(pair_counts(ids))
        return pair, merge_pair(ids, pair, new_id)

    assert not check_train_step(step)
    assert "max(counts) compares the pairs themselves" in capsys.readouterr().out


def test_train_step_last_of_ties(capsys):
    def step(ids, new_id):
        best, pair = -1, None
        for p, c in pair_counts(ids).items():
            if c >= best:
                best, pair = c, p
        return pair, merge_pair(ids, pair, new_id)

    assert not check_train_step(step)
    assert "keep the pair that occurs first" in capsys.readouterr().out


# --- decode -------------------------------------------------------------------------------------


def test_decode_passes_on_reference(capsys):
    def decode(ids, vocab):
        return b"".join(vocab[i] for i in ids).decode("utf-8", errors="replace")

    assert check_decode(decode)
    assert "\u2705 check_decode: passed" in capsys.readouterr().out


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
