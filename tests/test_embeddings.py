"""course_lib.embeddings: each piece against its reference (autograd, gensim, brute force)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import data
from course_lib import embeddings as E
from course_lib.embeddings import (
    WordNotFoundError,
    WordVectors,
    build_vocab,
    evaluate_analogies,
    evaluate_similarity,
    train_word2vec,
)

TOY = [
    ["the", "king", "rules", "the", "land"],
    ["the", "queen", "rules", "the", "land"],
    ["a", "dog", "chases", "a", "cat"],
    ["the", "king", "and", "the", "queen"],
]


def topic_corpus(n_sentences=400, seed=0):
    """Two topics that never meet: words of one topic should end up nearer each other."""
    rng = np.random.default_rng(seed)
    topics = [[f"a{i}" for i in range(6)], [f"b{i}" for i in range(6)]]
    return [list(rng.choice(topics[k % 2], size=8)) for k in range(n_sentences)]


# --- vocabulary and corpus ----------------------------------------------------------------------


def test_build_vocab_orders_by_count_then_first_seen():
    v = build_vocab(TOY, min_count=2)
    assert v.words == ["the", "king", "rules", "land", "queen", "a"]
    assert v.counts.tolist() == [6, 2, 2, 2, 2, 2]
    assert v.total_tokens == 20


def test_empty_corpus_and_no_vocabulary_errors():
    with pytest.raises(ValueError, match="corpus is empty"):
        build_vocab([])
    with pytest.raises(ValueError, match="corpus is empty"):
        train_word2vec([[], []], epochs=1, progress=False)
    with pytest.raises(ValueError, match=r"min_count=50 leaves no vocabulary.*'the'.*6 times"):
        train_word2vec(TOY, min_count=50, epochs=1, progress=False)
    with pytest.raises(TypeError, match="not a list of tokens"):
        build_vocab(["the king rules", "the queen"])
    with pytest.raises(TypeError, match="one string"):
        build_vocab("the king rules")
    with pytest.raises(ValueError, match="no training pairs"):
        train_word2vec([["solo"]] * 10, min_count=1, epochs=1, progress=False)
    with pytest.raises(ValueError, match="window must be an int >= 1"):
        train_word2vec(TOY, window=0, min_count=1, progress=False)
    with pytest.raises(ValueError, match="negative must be"):
        train_word2vec(TOY, negative=0, min_count=1, progress=False)


def test_encode_corpus_drops_unknown_words_before_windows():
    v = build_vocab(TOY, min_count=2)
    ids, sent = E.encode_corpus([["the", "zebra", "king"], ["land"]], v)
    assert ids.tolist() == [0, 1, 3] and sent.tolist() == [0, 0, 1]


# --- subsampling and noise match gensim's ---------------------------------------------------------


@pytest.fixture(scope="module")
def gensim_toy():
    from gensim.models import Word2Vec

    corpus = topic_corpus(50) + [["common"] * 30 + ["rare", "rare", "mid"] * 3]
    model = Word2Vec(vector_size=8, min_count=1, sample=1e-2, negative=5, sg=1, workers=1)
    model.build_vocab(corpus)
    return corpus, model


def test_keep_probabilities_match_gensim(gensim_toy):
    corpus, model = gensim_toy
    v = build_vocab(corpus, min_count=1)
    ours = E.keep_probabilities(v.counts, 1e-2)
    theirs = np.array([model.wv.get_vecattr(w, "sample_int") for w in v.words]) / (2**32 - 1)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    assert ours.min() < 0.5 and ours.max() == 1.0  # "common" is dropped often, rare words never
    assert np.all(E.keep_probabilities(v.counts, 0) == 1)


def test_noise_distribution_matches_gensim_cum_table(gensim_toy):
    corpus, model = gensim_toy
    v = build_vocab(corpus, min_count=1)
    order = [model.wv.key_to_index[w] for w in v.words]
    cum = model.cum_table.astype(np.float64) / model.cum_table[-1]
    gensim_p = np.diff(np.r_[0.0, cum])[order]
    ours = E.noise_distribution(v.counts).numpy()
    np.testing.assert_allclose(ours, gensim_p, atol=1e-8)
    assert abs(ours.sum() - 1) < 1e-12


def test_skipgram_pairs():
    assert E.skipgram_pairs([1, 2, 3], window=1) == [(1, 2), (2, 1), (2, 3), (3, 2)]
    assert len(E.skipgram_pairs(list(range(10)), window=2)) == 2 * (2 * 10 - 3)


@settings(max_examples=30, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 12), min_size=1, max_size=8),
    window=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def testepoch_groups_hold_exactly_the_window_of_each_centre(lengths, window, seed):
    # Every token its own word (ids are positions), nothing subsampled: each centre's row must
    # hold exactly its neighbours within its window b inside its sentence, padding elsewhere.
    n = sum(lengths)
    if n == 0:
        return
    ids = np.arange(n)
    sent = np.repeat(np.arange(len(lengths)), lengths)
    cum = np.cumsum(np.full(n, 1.0 / n))
    rng = np.random.default_rng(seed)
    groups = E.epoch_groups(ids, sent, np.ones(n), cum, window=window, negative=3, rng=rng)
    seen = []
    for g in groups:
        b = g.ctx.shape[1] // 2
        assert g.out_ids.shape[1] == 4 and g.weight.shape == (len(g.ctx), 1, 4)
        for row, p in zip(g.ctx.tolist(), g.out_ids[:, 0].tolist(), strict=True):
            want = [
                q if 0 <= q < n and sent[q] == sent[p] else n
                for q in [*range(p - b, p), *range(p + 1, p + b + 1)]
            ]
            assert row == want
            seen.append(p)
        neg = g.out_ids[:, 1:]
        assert torch.all(g.weight[:, 0, 1:] == (neg != g.out_ids[:, :1]).float())
    assert sorted(seen) == list(range(n))  # every centre exactly once


# --- the loss and its gradients -------------------------------------------------------------------


def test_pair_loss_is_the_batch_loss_of_one_pair():
    g = torch.Generator().manual_seed(0)
    centre, context, negs = (
        torch.randn(8, generator=g),
        torch.randn(8, generator=g),
        torch.randn(5, 8, generator=g),
    )
    one = E.sgns_pair_loss(centre, context, negs)
    batch = E.sgns_loss(context.view(1, 1, 8), torch.cat([centre[None], negs]).view(1, 6, 8))
    torch.testing.assert_close(one, batch)
    manual = (
        -torch.log(torch.sigmoid(centre @ context))
        - torch.log(torch.sigmoid(-(negs @ context))).sum()
    )
    torch.testing.assert_close(one, manual)


def test_closed_form_gradients_equal_autograd():
    g = torch.Generator().manual_seed(1)
    inp = torch.randn(7, 4, 16, generator=g, dtype=torch.float64, requires_grad=True)
    out = torch.randn(7, 6, 16, generator=g, dtype=torch.float64, requires_grad=True)
    weight = (torch.rand(7, 4, 6, generator=g) > 0.2).double()
    E.sgns_loss(inp, out, weight).backward()
    g_inp, g_out = E.sgns_gradients(inp.detach(), out.detach(), weight)
    torch.testing.assert_close(g_inp, inp.grad, atol=1e-12, rtol=1e-10)
    torch.testing.assert_close(g_out, out.grad, atol=1e-12, rtol=1e-10)


def test_sgns_update_is_one_sgd_step_with_summed_gradients():
    # Repeated ids, padding slots and a dropped noise word: the in-place step must equal
    # W -= lr * dL/dW computed by autograd through the same gathers.
    V, d, lr = 6, 5, 0.1
    g = torch.Generator().manual_seed(2)
    W_in = torch.randn(V + 1, d, generator=g, dtype=torch.float64)
    W_in[V] = 0
    W_out = torch.randn(V, d, generator=g, dtype=torch.float64)
    ctx = torch.tensor([[1, 2, V, 1], [3, V, 0, 0]])
    out_ids = torch.tensor([[0, 4, 4, 0], [5, 1, 5, 2]])
    weight = torch.tensor([[[1.0, 1, 1, 0]], [[1.0, 1, 0, 1]]], dtype=torch.float64)
    A, Bm = W_in.clone().requires_grad_(), W_out.clone().requires_grad_()
    valid = (ctx != V).unsqueeze(-1).double()
    E.sgns_loss(A[ctx], Bm[out_ids], weight * valid).backward()
    loss = E.sgns_update_(W_in, W_out, ctx, out_ids, weight, lr, with_loss=True)
    torch.testing.assert_close(W_in[:V], (A - lr * A.grad)[:V].detach())
    torch.testing.assert_close(W_out, (Bm - lr * Bm.grad).detach())
    assert torch.all(W_in[V] == 0)
    with torch.no_grad():
        want = float(E.sgns_loss(A[ctx], Bm[out_ids], weight * valid)) / 6
    assert loss == pytest.approx(want)


# --- training -------------------------------------------------------------------------------------


def test_same_seed_same_vectors_other_seed_other_vectors():
    corpus = topic_corpus(200)
    kw = dict(dim=16, window=3, negative=3, min_count=1, epochs=2, progress=False)
    a = train_word2vec(corpus, seed=3, **kw)
    b = train_word2vec(corpus, seed=3, **kw)
    c = train_word2vec(corpus, seed=4, **kw)
    assert a.words == b.words and torch.equal(a.vectors, b.vectors)
    assert not torch.equal(a.vectors, c.vectors)


def test_training_learns_the_topics():
    wv = train_word2vec(
        topic_corpus(300), dim=16, window=3, negative=5, min_count=1, epochs=5, seed=0,
        sample=0, progress=False,
    )  # fmt: skip
    assert len(wv) == 12 and wv.vectors.shape == (12, 16)
    same = np.mean([wv.similarity(f"a{i}", f"a{j}") for i in range(6) for j in range(i)])
    other = np.mean([wv.similarity(f"a{i}", f"b{j}") for i in range(6) for j in range(6)])
    assert same > other + 0.3
    assert all(w.startswith("a") for w, _ in wv.most_similar("a0", topn=5))
    log = wv.training
    assert log.epochs_done == 5 and not log.interrupted and log.pairs > 0
    assert log.loss[-1] < log.loss[0]  # the loss went down
    assert log.words_per_second > 0


def test_ctrl_c_returns_the_vectors_so_far(monkeypatch, capsys):
    calls = {"n": 0}
    real = E.sgns_update_

    def interrupt_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    # train_word2vec looks sgns_update_ up in its own module, course_lib.embeddings.word2vec
    monkeypatch.setattr(E.word2vec, "sgns_update_", interrupt_on_third)
    wv = train_word2vec(topic_corpus(200), dim=8, min_count=1, epochs=3, batch_size=64,
                        progress=False)  # fmt: skip
    assert wv.training.interrupted and wv.training.epochs_done < 3
    assert wv.vectors.shape == (12, 8) and torch.isfinite(wv.vectors).all()
    assert "Interrupted" in capsys.readouterr().out


def test_threads_are_restored():
    before = torch.get_num_threads()
    train_word2vec(TOY, min_count=1, dim=4, epochs=1, progress=False, threads=1)
    assert torch.get_num_threads() == before


# --- WordVectors ----------------------------------------------------------------------------------


def small_vectors():
    words = ["man", "woman", "king", "queen", "apple", "pear"]
    man, woman, royal, fruit = np.eye(4)
    vecs = [man, woman, man + 2 * royal, woman + 2 * royal, 2 * fruit + 0.1, 2 * fruit - 0.1 * man]
    return WordVectors(words, np.array(vecs, dtype=np.float32))


def test_lookups_and_unknown_word_error():
    wv = small_vectors()
    assert "king" in wv and "kingdom" not in wv and len(wv) == 6 and wv.dim == 4
    assert wv["king"].shape == (4,)
    with pytest.raises(KeyError, match=r"'kng' is not in the vocabulary.*close words: king"):
        wv["kng"]
    with pytest.raises(WordNotFoundError, match="close words: queen"):
        wv.most_similar("Queen")
    with pytest.raises(ValueError, match="one row per word"):
        WordVectors(["a", "b"], np.zeros((3, 2)))
    with pytest.raises(ValueError, match="distinct"):
        WordVectors(["a", "a"], np.zeros((2, 2)))


def test_similarity_neighbours_and_analogy():
    wv = small_vectors()
    assert wv.similarity("apple", "pear") > 0.9
    assert wv.similarity("man", "apple") < 0.1
    assert wv.most_similar("apple", topn=1)[0][0] == "pear"
    assert "apple" not in [w for w, _ in wv.most_similar("apple")]
    assert wv.analogy("man", "king", "woman") == "queen"
    top = wv.analogy("man", "king", "woman", topn=2)
    assert top[0][0] == "queen" and {"man", "king", "woman"}.isdisjoint(w for w, _ in top)
    near = wv.most_similar(wv["queen"], topn=1)  # a vector query keeps the word itself
    assert near[0][0] == "queen" and near[0][1] == pytest.approx(1.0)
    u = wv.unit_vectors()
    i = E.analogy_search(wv.vectors, wv.id("man"), wv.id("king"), wv.id("woman"))
    assert wv.words[i] == "queen" and torch.allclose(u.norm(dim=1), torch.ones(6))


def test_save_load_round_trip(tmp_path):
    wv = small_vectors()
    wv.counts = [5, 4, 3, 2, 1, 1]
    path = wv.save(tmp_path / "sub" / "vectors.pt")
    back = WordVectors.load(path)
    assert back.words == wv.words and torch.equal(back.vectors, wv.vectors)
    assert back.counts == wv.counts
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a WordVectors file"):
        WordVectors.load(tmp_path / "other.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    with pytest.raises(ValueError, match="not a readable word-vector file"):
        WordVectors.load(tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError, match="save them first"):
        WordVectors.load(tmp_path / "missing.pt")


def test_gensim_round_trip():
    wv = small_vectors()
    kv = wv.to_gensim()
    assert kv.most_similar("apple", topn=1)[0][0] == "pear"
    back = WordVectors.from_gensim(kv)
    assert back.words == wv.words and torch.equal(back.vectors, wv.vectors)


# --- evaluation equals gensim's -------------------------------------------------------------------


@pytest.fixture(scope="module")
def english_vectors():
    # One quick epoch on the course corpus: vectors with structure, and gensim's vocabulary
    # overlap with the benchmarks, so both evaluators have real work to do.
    return train_word2vec(data.load_english_sentences(), dim=32, epochs=1, seed=0, progress=False)


@pytest.fixture(scope="module")
def mixed_case_vectors(english_vectors):
    # Case variants and a cut vocabulary exercise case folding and restrict_vocab.
    wv = english_vectors
    words = list(wv.words)
    for i in (40, 300, 2000):
        words[i] = words[i].capitalize()  # a capitalised word still matches the lower-case file
    words.insert(5, words[500].upper())  # a more frequent spelling of an existing word
    vecs = torch.cat([wv.vectors[:5], wv.vectors[700:701] * 1.5, wv.vectors[5:]])
    return WordVectors(words, vecs)


@pytest.mark.parametrize("which,restrict", [("english", 300_000), ("mixed", 3000)])
def test_analogies_equal_gensim(english_vectors, mixed_case_vectors, which, restrict):
    wv = english_vectors if which == "english" else mixed_case_vectors
    ours = evaluate_analogies(wv, restrict_vocab=restrict)
    score, sections = wv.to_gensim().evaluate_word_analogies(
        str(data.gensim_path("analogies")), restrict_vocab=restrict
    )
    assert ours.accuracy == pytest.approx(score, abs=1e-12)
    total = sections.pop()
    assert ours.correct == len(total["correct"]) and ours.evaluated == ours.correct + len(
        total["incorrect"]
    )
    assert [(s["section"], len(s["correct"]), len(s["incorrect"])) for s in sections] == [
        (k, v["correct"], v["evaluated"] - v["correct"]) for k, v in ours.sections.items()
    ]
    assert ours.total == 19544 and ours.oov == ours.total - ours.evaluated
    assert ours.correct > 0


def test_analogies_dummy4unknown_equal_gensim(english_vectors):
    ours = evaluate_analogies(english_vectors, dummy4unknown=True, restrict_vocab=2000)
    score, _ = english_vectors.to_gensim().evaluate_word_analogies(
        str(data.gensim_path("analogies")), dummy4unknown=True, restrict_vocab=2000
    )
    assert ours.accuracy == pytest.approx(score, abs=1e-12) and ours.evaluated == ours.total


@pytest.mark.parametrize("name", ["wordsim353", "simlex999"])
@pytest.mark.parametrize("dummy", [False, True])
def test_similarity_equals_gensim(english_vectors, mixed_case_vectors, name, dummy):
    for wv in (english_vectors, mixed_case_vectors):
        ours = evaluate_similarity(wv, name, dummy4unknown=dummy)
        pearson, spearman, oov_ratio = wv.to_gensim().evaluate_word_pairs(
            str(data.gensim_path(name)), dummy4unknown=dummy
        )
        assert ours.spearman == pytest.approx(spearman.statistic, abs=1e-6)
        assert ours.pearson == pytest.approx(pearson.statistic, abs=1e-6)
        if not dummy:  # with dummy4unknown gensim divides by the scored pairs only
            assert ours.oov_ratio == pytest.approx(oov_ratio)
        assert ours.oov > 0 and ours.evaluated + ours.oov == ours.total


def test_evaluation_reports_out_of_vocabulary_and_bad_paths(english_vectors, tmp_path):
    res = evaluate_similarity(english_vectors)  # default: WordSim-353
    assert res.name == "wordsim353" and res.total == 353 and res.oov == 353 - res.evaluated
    assert f"{res.oov} skipped" in str(res)
    a = evaluate_analogies(english_vectors)
    assert 0 < a.coverage < 1 and "skipped as out of vocabulary" in str(a)
    table = a.table()
    assert table.loc["total", "evaluated"] == a.evaluated and len(table) == 15
    assert all(q[4] != q[5] for q in a.failures("family"))
    with pytest.raises(FileNotFoundError, match="simlex999"):
        evaluate_similarity(english_vectors, tmp_path / "nope.txt")
    only_oov = tmp_path / "oov.tsv"
    only_oov.write_text("qwxz\tzzqy\t5.0\n")
    with pytest.raises(ValueError, match="no pair"):
        evaluate_similarity(english_vectors, only_oov)
    with pytest.raises(TypeError, match="expected WordVectors"):
        evaluate_analogies({"king": [1, 2]})


# --- GloVe ----------------------------------------------------------------------------------------


def test_cooccurrence_matches_brute_force():
    rng = np.random.default_rng(0)
    lengths = [5, 0, 7, 3]
    ids = rng.integers(0, 6, size=sum(lengths))
    sent = np.repeat(np.arange(len(lengths)), lengths)
    X = E.cooccurrence_matrix(ids, sent, 6, window=3).toarray()
    want = np.zeros((6, 6))
    for p in range(len(ids)):
        for q in range(len(ids)):
            if p != q and sent[p] == sent[q] and abs(p - q) <= 3:
                want[ids[p], ids[q]] += 1 / abs(p - q)
    np.testing.assert_allclose(X, want)


def test_ppmi_vectors_match_brute_force():
    from scipy import sparse

    counts = np.array(
        [[0, 4, 1, 0, 2], [4, 0, 3, 1, 0], [1, 3, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 0, 0]]
    )  # word 4 never co-occurs with anything: left out
    X = sparse.csr_matrix(counts.astype(float))
    wv = E.ppmi_vectors(X, ["a", "b", "c", "d", "e"], contexts=3)
    C = counts[:, :3].astype(float)
    p_word = C.sum(1) / C.sum()
    p_ctx = C.sum(0) ** 0.75 / (C.sum(0) ** 0.75).sum()
    want = np.zeros_like(C)
    for w in range(5):
        for c in range(3):
            if C[w, c] > 0:
                want[w, c] = max(0.0, np.log(C[w, c] / C.sum() / (p_word[w] * p_ctx[c])))
    assert wv.words == ["a", "b", "c", "d"]
    np.testing.assert_allclose(wv.vectors.numpy(), want[:4], rtol=1e-6)
    assert (wv.vectors >= 0).all() and (wv.vectors == 0).any()


def test_glove_pieces():
    x = torch.tensor([1.0, 50.0, 100.0, 500.0])
    torch.testing.assert_close(E.glove_weight(x), torch.tensor([0.01**0.75, 0.5**0.75, 1, 1]))
    model = E.GloVe(5, dim=3, seed=0)
    i, j = torch.tensor([0, 1]), torch.tensor([2, 2])
    want = (model.w[i] * model.w_ctx[j]).sum(1) + model.b[i] + model.b_ctx[j]
    torch.testing.assert_close(model(i, j), want)
    log_x, w = torch.tensor([0.5, 1.0]), torch.tensor([1.0, 0.5])
    loss = E.glove_loss(model, (i, j, log_x, w))
    torch.testing.assert_close(loss, (w * (want - log_x) ** 2).mean())
    assert model.vectors().shape == (5, 3)
    X = E.cooccurrence_matrix(np.array([0, 1, 2, 0, 1]), np.zeros(5, int), 3, window=2)
    batches = E.GloVeBatches(X, batch_size=3, seed=1)
    assert len(batches) == X.nnz == 6 and batches.steps_per_epoch == 2
    a, b = batches("train", 4), E.GloVeBatches(X, batch_size=3, seed=1)("train", 4)
    assert all(torch.equal(p, q) for p, q in zip(a, b, strict=True))
    dense = torch.from_numpy(X.toarray()).float()
    epoch = [batches("train", s) for s in range(2, 4)]  # the second epoch: every entry once
    i, j = torch.cat([e[0] for e in epoch]), torch.cat([e[1] for e in epoch])
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == sorted(
        zip(*X.nonzero(), strict=True)
    )
    log_x, w = torch.cat([e[2] for e in epoch]), torch.cat([e[3] for e in epoch])
    torch.testing.assert_close(log_x, dense[i, j].log())
    torch.testing.assert_close(w, E.glove_weight(dense[i, j]))
    assert not torch.equal(batches("train", 0)[0], batches("train", 2)[0])  # reshuffled
    assert torch.equal(batches("val", 0)[0], batches("val", 9)[0])


def test_import_stays_headless():
    code = (
        "import sys, course_lib.embeddings; "
        "print(any(m in sys.modules for m in ('matplotlib', 'ipywidgets')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
