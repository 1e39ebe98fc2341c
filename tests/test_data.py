from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import data


def test_shakespeare_slice_and_split():
    full = data.load_shakespeare(tiny=False)
    tiny = data.load_shakespeare()
    assert len(tiny) == data.TINY_CHARS == 1_115_394
    assert full.startswith(tiny)
    assert len(set(tiny)) == 77 and len(set(full)) == 84
    train, val = data.shakespeare_split()
    assert (len(train), len(val)) == (1_003_854, 111_540)
    assert train + val == tiny


def test_shakespeare_is_clean():
    text = data.load_shakespeare(tiny=False)
    assert "\r" not in text and "\t" not in text and "\n\n\n" not in text
    assert not any(line != line.rstrip() for line in text.split("\n"))
    assert "THE END" not in text and "Gutenberg" not in text
    assert text.endswith("\n") and not text.endswith("\n\n")
    assert "HAMLET, PRINCE OF DENMARK" in text and "\nHam.\nTo be, or not to be," in text


def test_missing_file_names_file_and_build_command(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "data_path", lambda *p: tmp_path.joinpath(*p))
    with pytest.raises(
        data.DataNotFoundError,
        match="tiny_shakespeare.txt is missing: build it "
        r"with `python data/build_shakespeare.py`",
    ):
        data.load_shakespeare()


def test_split_rejects_bad_fraction():
    with pytest.raises(ValueError, match="between 0 and 1"):
        data.split_text("abc", 1.0)


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(10, 300),
    block=st.integers(1, 9),
    batch=st.integers(1, 6),
    step=st.integers(0, 10_000),
    seed=st.integers(0, 2**31),
)
def test_batcher_targets_are_inputs_shifted_by_one(n, block, batch, step, seed):
    ids = torch.arange(n) * 7 % 101  # distinct enough to catch an off-by-one
    b = data.LMBatcher(ids, ids[: block + 1], block_size=block, batch_size=batch, seed=seed)
    x, y = b.get_batch("train", step)
    assert x.shape == y.shape == (batch, block) and x.dtype == torch.long
    assert torch.equal(x[:, 1:], y[:, :-1])
    # every row is a window of the data, and its target is the same window one token later
    for row_x, row_y in zip(x, y, strict=True):
        assert any(
            torch.equal(ids[s : s + block], row_x)
            and torch.equal(ids[s + 1 : s + block + 1], row_y)
            for s in range(n - block)
        )


def test_batcher_windows_are_contiguous_slices():
    ids = torch.arange(1000)
    b = data.LMBatcher(ids, block_size=16, batch_size=8, seed=3)
    x, y = b("train", 5)
    assert torch.equal(x + 1, y)
    assert torch.equal(x[:, 1:] - x[:, :-1], torch.ones(8, 15, dtype=torch.long))


def test_batcher_is_deterministic_per_seed_split_and_step():
    ids = torch.arange(5000)
    a = data.LMBatcher(ids, ids, block_size=8, batch_size=4, seed=1)
    b = data.LMBatcher(ids, ids, block_size=8, batch_size=4, seed=1)
    torch.manual_seed(999)  # the global RNG must not matter
    assert torch.equal(a("train", 7)[0], b("train", 7)[0])
    assert not torch.equal(a("train", 7)[0], a("train", 8)[0])
    assert not torch.equal(a("train", 7)[0], a("val", 7)[0])
    c = data.LMBatcher(ids, ids, block_size=8, batch_size=4, seed=2)
    assert not torch.equal(a("train", 7)[0], c("train", 7)[0])


def test_batcher_errors():
    with pytest.raises(ValueError, match="fewer than block_size"):
        data.LMBatcher(torch.arange(5), block_size=8, batch_size=2)
    with pytest.raises(ValueError, match="must be 1-D"):
        data.LMBatcher(torch.zeros(4, 20, dtype=torch.long), block_size=8, batch_size=2)
    b = data.LMBatcher(torch.arange(50), block_size=8, batch_size=2)
    with pytest.raises(KeyError, match="no 'val' data"):
        b("val", 0)


def test_batcher_validation_batch_size_and_seed():
    ids = torch.arange(5000)
    plain = data.LMBatcher(ids, ids[:900], block_size=8, batch_size=4, seed=1)
    own = data.LMBatcher(ids, ids[:900], block_size=8, batch_size=4, seed=1, val_batch_size=6)
    assert own("val", 3)[0].shape == (6, 8) and own("train", 3)[0].shape == (4, 8)
    assert torch.equal(own("train", 3)[0], plain("train", 3)[0])  # training batches unchanged
    # val_seed: the validation windows a batcher of that seed draws for training
    seeded = data.LMBatcher(ids, ids[:900], block_size=8, batch_size=4, seed=1, val_seed=7)
    alone = data.LMBatcher(ids[:900], block_size=8, batch_size=4, seed=7)
    assert torch.equal(seeded("val", 5)[0], alone("train", 5)[0])
    assert "val_batch_size=6" in repr(own) and "val_seed" not in repr(own)
    with pytest.raises(ValueError, match="val_batch_size=0"):
        data.LMBatcher(ids, ids, block_size=8, batch_size=4, val_batch_size=0)


def test_shakespeare_char_data_is_the_split_as_ids():
    tok, train_ids, val_ids = data.shakespeare_char_data()
    train, val = data.shakespeare_split()
    assert len(tok) == 77 and (len(train_ids), len(val_ids)) == (len(train), len(val))
    assert tok.decode(val_ids[:200].tolist()) == val[:200]
    assert len(data.shakespeare_tokenizer()) == 84


def test_gensim_path_is_gensims_datapath_found_without_importing_gensim():
    from gensim.test.utils import datapath

    for name, file in data.GENSIM_FILES.items():
        assert data.gensim_path(name) == Path(datapath(file))
    with pytest.raises(data.DataNotFoundError, match="not in gensim's test data"):
        data.gensim_path("no_such_file.txt")


def test_evaluation_sets():
    analogies = data.load_analogies()
    assert len(analogies) == 14 and sum(map(len, analogies.values())) == 19_544
    assert ("athens", "greece", "baghdad", "iraq") in analogies["capital-common-countries"]
    ws, sl = data.load_wordsim353(), data.load_simlex999()
    assert len(ws) == 353 and ("tiger", "cat", 7.35) in ws
    assert len(sl) == 999 and ("old", "new", 1.58) in sl
    pol = data.load_polarity()
    assert len(pol) == 200 and sum(label for _, label in pol) == 100
    assert any("\u2014" in text for text, _ in pol)  # cp1252 dashes decoded


def test_english_corpus_matches_measured_sizes():
    wiki = data.load_wiki_sentences()
    lee = data.load_lee_sentences()
    n_wiki, n_lee = sum(map(len, wiki)), sum(map(len, lee))
    assert 440_000 < n_wiki < 465_000  # gensim's WikiCorpus gives about 453,000 tokens
    assert 50_000 < n_lee < 65_000
    assert all(t == t.lower() and 2 <= len(t) <= 15 for s in wiki[:500] for t in s)
    assert data.load_english_sentences() == wiki + lee


def test_wiki_cache_round_trip(monkeypatch, tmp_path):
    monkeypatch.setattr(data, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(data, "_parse_wiki", lambda: [["hello", "world"], ["again"]])
    assert data.load_wiki_sentences() == [["hello", "world"], ["again"]]
    monkeypatch.setattr(data, "_parse_wiki", lambda: pytest.fail("cache was not used"))
    assert data.load_wiki_sentences() == [["hello", "world"], ["again"]]


def test_tokenize_sentences():
    assert data.tokenize_sentences("The cat sat. A dog ran 3 miles! Why?\nNew line") == [
        ["the", "cat", "sat"],
        ["dog", "ran", "miles"],
        ["why"],
        ["new", "line"],
    ]


# --- Shakespeare's works and lesson 06's tasks (no leakage) ----------------------------------


@pytest.fixture(scope="module")
def works():
    return data.shakespeare_works()


@pytest.fixture(scope="module")
def genre():
    return data.genre_task()


def test_works_tile_the_corpus_and_follow_the_folio(works):
    corpus = data.load_shakespeare(tiny=False)
    assert [w["title"] for w in works] == [t for t, _, _ in data.SHAKESPEARE_WORKS]
    assert "\n".join(w["text"] for w in works) == corpus
    genres = [w["genre"] for w in works]
    assert (genres.count("comedy"), genres.count("tragedy"), genres.count("history")) == (
        14,
        12,
        10,
    )
    for w in works:
        if w["genre"] in data.GENRES:  # the body starts at the first act, after the persons
            assert w["text"][w["body_start"] :].lstrip().upper().startswith(("ACT", "SCENE"))


def test_genre_split_holds_out_whole_plays(genre):
    assert set(genre.test_groups) == set(data.GENRE_TEST_PLAYS)
    assert not set(genre.train_groups) & set(genre.test_groups)
    assert not set(genre.test_texts) & set(genre.train_texts)
    # two test plays per class, balanced
    for c in range(len(data.GENRES)):
        assert genre.test_labels.count(c) == len(genre.test_labels) // 3
    assert all(len(t) == data.PASSAGE_CHARS for t in genre.train_texts + genre.test_texts)


def test_test_passages_never_seen_in_pretraining(genre, works):
    text = data.pretraining_text()
    assert not any(p in text for p in genre.test_texts)
    for w in works:
        held_out = w["key"] in data.GENRE_TEST_PLAYS or w["key"] == data.STYLE_WORK
        assert (w["text"] in text) != held_out, w["key"]
    # the training pool does come from the pre-training text (that is allowed: no labels there)
    assert all(p in text for p in genre.train_texts[:50])


def test_passages_are_non_overlapping_and_spaced(works):
    w = next(w for w in works if w["key"] == "macbeth")
    passages = data.play_passages(w)
    starts = [w["text"].index(p) for p in passages]
    assert len(passages) > 100
    assert all(b - a >= 2 * data.PASSAGE_CHARS for a, b in zip(starts, starts[1:], strict=False))
    assert all(w["text"][s - 1] == "\n" for s in starts)  # each starts at a line


def test_play_task_splits_each_play_in_order_and_was_never_pretrained_on(works):
    task = data.play_task()
    assert set(task.train_groups) == set(task.test_groups) == set(data.GENRE_TEST_PLAYS)
    assert not set(task.train_texts) & set(task.test_texts)
    text = data.pretraining_text()
    assert not any(p in text for p in task.train_texts + task.test_texts)
    by_key = {w["key"]: w["text"] for w in works}
    for key in data.GENRE_TEST_PLAYS:
        last_train = max(
            by_key[key].index(p)
            for p, g in zip(task.train_texts, task.train_groups, strict=True)
            if g == key
        )
        first_test = min(
            by_key[key].index(p)
            for p, g in zip(task.test_texts, task.test_groups, strict=True)
            if g == key
        )
        assert first_test > last_train + 2 * data.PASSAGE_CHARS


def test_sentiment_task_is_balanced_and_disjoint():
    task = data.sentiment_task()
    assert len(task.train_texts) + len(task.test_texts) == 200
    assert task.test_labels.count(1) == task.test_labels.count(0) == 50
    assert not set(task.train_texts) & set(task.test_texts)


def test_validation_split_holds_out_the_end_of_each_class_pool():
    from course_lib.data import validation_split

    task = data.play_task(per_play_test=4)
    train, val = validation_split(task, per_class=12)
    assert train.test_texts == task.test_texts and val.train_texts == train.train_texts
    for c in range(len(task.classes)):
        pool = [t for t, y in zip(task.train_texts, task.train_labels, strict=True) if y == c]
        kept = [t for t, y in zip(train.train_texts, train.train_labels, strict=True) if y == c]
        held = [t for t, y in zip(val.test_texts, val.test_labels, strict=True) if y == c]
        assert kept == pool[:-12] and held == pool[-12:]
    assert not set(val.test_texts) & set(train.train_texts)
    with pytest.raises(ValueError, match="too few"):
        validation_split(task, per_class=len(task.train_texts))


def test_names_are_found_in_headings_and_masked_letter_for_letter():
    from course_lib.data import mask_names, speaker_names

    play = (
        "ACT I.\n\nMACBETH.\nSo foul a day, Banquo.\n\nBANQUO.\nHow far is't?\n\n"
        "FIRST WITCH\nAll hail!\n\nALL.\nthe first witch and all\n"
    )
    names = speaker_names(play)
    assert names == {
        "Macbeth",
        "Banquo",
    }  # "first", "witch", "all" occur in lower case; ACT is no speaker
    masked = mask_names(play, names)
    assert len(masked) == len(play)
    assert "XXXXXXX.\nSo foul a day, Xxxxxx." in masked and "XXXXXX.\n" in masked
    assert "XXXXX XXXXX\n" in masked and "ACT I." in masked and "the first witch and all" in masked
    assert "macbeth" not in masked.lower() and "banquo" not in masked.lower()
