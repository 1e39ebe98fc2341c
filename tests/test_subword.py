"""The GPT on subword (BPE) tokens: the data, the BPE trained on the training text only, bits per
character (exact, and the same for every tokenizer of a text) and the comparison at one budget."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib import runs
from course_lib.data import (
    encode_split,
    shakespeare_char_data,
    shakespeare_split,
    shakespeare_token_data,
)
from course_lib.tokenize import BPETokenizer, CharTokenizer
from course_lib.transformer import GPT, GPTConfig

TEXT = "to be or not to be, that is the question: whether 'tis nobler in the mind to suffer\n" * 3


def tiny_gpt(vocab_size: int, block_size: int = 8) -> GPT:
    config = GPTConfig(vocab_size=vocab_size, block_size=block_size, n_layer=1, n_head=2, n_embd=16)
    return GPT(config).eval()


# --- bits per character -------------------------------------------------------------------------


def test_bits_per_character_by_hand():
    assert runs.bits_per_character(2 * math.log(2), 2) == pytest.approx(1.0, abs=1e-15)
    assert runs.bits_per_character(3.0, 4) == pytest.approx(3.0 / 4 / math.log(2), rel=1e-15)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n_chars must be a positive int"):
            runs.bits_per_character(1.0, bad)


def test_a_uniform_model_costs_log2_v_bits_per_scored_token():
    tok = BPETokenizer("gpt2").train(TEXT, 300)
    ids = torch.tensor(tok.encode(TEXT))
    assert len(ids) < len(TEXT)  # BPE tokens hold several characters: bpc != bits per token
    model = tiny_gpt(len(tok), block_size=16)
    with torch.no_grad():
        model.head.weight.zero_()  # tied: zero embeddings and zero logits, a uniform guess
    ev = runs.evaluate_bpc(model, tok, ids)
    n = len(ids) - 1
    assert (ev["n_tokens"], ev["n_scored"], ev["n_chars"], ev["stride"]) == (n + 1, n, len(TEXT), 8)
    assert ev["nats_per_token"] == pytest.approx(math.log(300), rel=1e-6)
    assert ev["bpc"] == pytest.approx(math.log2(300) * n / len(TEXT), rel=1e-6)
    assert ev["chars_per_token"] == pytest.approx(len(TEXT) / len(ids))
    assert ev["unscored_chars"] == len(tok.decode(ids[:1].tolist())) == 2  # "to"


def test_total_nats_is_the_sum_of_per_token_cross_entropies_one_window():
    tok = CharTokenizer().train(TEXT)
    ids = torch.tensor(tok.encode(TEXT[:30]))
    model = tiny_gpt(len(tok), block_size=32)  # one window holds the whole text
    ev = runs.evaluate_bpc(model, tok, ids)
    with torch.no_grad():
        log_p = F.log_softmax(model(ids[None, :-1])[0][0], dim=-1)
        total = -sum(log_p[j, ids[j + 1]].item() for j in range(len(ids) - 1))
    assert ev["nats"] == pytest.approx(total, rel=1e-6)
    assert ev["bpc"] == pytest.approx(total / 30 / math.log(2), rel=1e-6)


@pytest.mark.parametrize("stride", [4, 8])
def test_total_nats_is_the_sum_of_per_token_cross_entropies_sliding(stride):
    tok = CharTokenizer().train(TEXT)
    T = 8
    ids = torch.tensor(tok.encode(TEXT[: T + 4 * stride + 1]))  # windows end flush with the text
    model = tiny_gpt(len(tok), block_size=T)
    ev = runs.evaluate_bpc(model, tok, ids, stride=stride)
    # by hand: windows of T tokens every `stride`; the first scores all its predictions, each
    # later one its last `stride` (each from at least T - stride tokens of context)
    total, counted = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(ids) - 1 - T + 1, stride):
            logits = model(ids[None, start : start + T])[0][0]
            ce = F.cross_entropy(logits, ids[start + 1 : start + T + 1], reduction="none")
            keep = ce if start == 0 else ce[T - stride :]
            total, counted = total + keep.sum().item(), counted + len(keep)
    assert counted == ev["n_scored"] == len(ids) - 1  # every token after the first, once
    assert ev["nats"] == pytest.approx(total, rel=1e-6)
    assert ev["bpc"] == pytest.approx(total / len(ids) / math.log(2), rel=1e-6)  # 1 char/token


def test_evaluate_bpc_needs_two_tokens():
    tok = CharTokenizer().train(TEXT)
    with pytest.raises(ValueError, match="at least 2 tokens"):
        runs.evaluate_bpc(tiny_gpt(len(tok)), tok, torch.tensor([3]))


# --- the data and the tokenizer -----------------------------------------------------------------


def test_train_shakespeare_bpe_never_reads_the_validation_text(monkeypatch):
    train_text = TEXT * 4
    val_text = " zyzzyva" * 2000  # if it were read, its pairs would win every merge
    monkeypatch.setattr(runs, "shakespeare_split", lambda: (train_text, val_text))
    tok = runs.train_shakespeare_bpe(300)
    assert tok.merges == BPETokenizer("gpt2").train(train_text, 300).merges
    assert len(tok) == 300 and tok.pattern == "gpt2"
    assert len(tok.encode(" zyzzyva")) == 8  # no merge of it: one byte per character
    assert len(tok.encode(" question")) == 1  # a training word is one token


def test_shakespeare_token_data_round_trips_the_split():
    train_text, val_text = shakespeare_split()
    tok = runs.train_shakespeare_bpe(300)
    tok_, train_ids, val_ids = shakespeare_token_data(tok)
    assert tok_ is tok and train_ids.dtype == val_ids.dtype == torch.long
    assert tok.decode(val_ids.tolist()) == val_text  # lossless: bpc is of this very text
    head = tok.decode(train_ids[:3000].tolist())
    assert len(head) > 3000 and train_text.startswith(head)
    assert 1.2 < len(val_text) / len(val_ids) < 1.6  # 300 ids: about 1.4 characters a token
    assert tok.decode(val_ids[:1].tolist()) == "s"  # the unscored first token: one character
    # with the course's character tokenizer it is exactly lessons 03 and 05's data
    char_tok, char_train, char_val = shakespeare_char_data()
    _, train2, val2 = shakespeare_token_data(char_tok)
    assert torch.equal(train2, char_train) and torch.equal(val2, char_val)


def test_encode_split_names_a_missing_tokenizer_method():
    with pytest.raises(TypeError, match="lacks encode, decode, __len__"):
        encode_split(object(), "ab", "ba")


# --- the comparison at one budget ---------------------------------------------------------------

KEYS = {
    "tokenizer",
    "vocab_size",
    "seed",
    "steps",
    "train_seconds",
    "val_bpc",
    "val_nats_per_token",
    "chars_per_token",
    "context_chars",
    "params",
    "sample",
}


def test_compare_tokenizers_smoke():
    train_text, val_text = shakespeare_split()
    recipe = runs.GPTRecipe(
        n_layer=1, n_head=2, n_embd=16, block_size=16, batch_size=4, warmup_steps=2,
        eval_every=1000, eval_batches=1, eval_batch_size=4,
    )  # fmt: skip
    rows = runs.compare_tokenizers(
        (300,),
        0.05,
        seeds=(0,),
        recipe=recipe,
        texts=(train_text[:20_000], val_text[:2_000]),
        sample_chars=40,
        progress=False,
    )
    assert [r["tokenizer"] for r in rows] == ["characters", "BPE 300"]
    for r in rows:
        assert set(r) == KEYS
        assert r["steps"] >= 5 and r["train_seconds"] > 0 and r["seed"] == 0
        assert len(r["sample"]) == 40
        assert r["context_chars"] == pytest.approx(16 * r["chars_per_token"])
        # barely trained: close to a uniform guess, log2(V) bits per token
        bits_per_token = r["val_nats_per_token"] / math.log(2)
        assert r["val_bpc"] == pytest.approx(bits_per_token / r["chars_per_token"], rel=2e-3)
        assert bits_per_token < math.log2(r["vocab_size"]) + 0.5
    chars, bpe = rows
    assert chars["chars_per_token"] == 1.0 and bpe["chars_per_token"] > 1.2
    assert bpe["vocab_size"] == 300 and bpe["params"] > chars["params"]  # 300 rows, not ~60
    summary = runs.summarise_tokenizers(rows)
    assert summary["BPE 300"]["mean"] == bpe["val_bpc"] and summary["BPE 300"]["std"] == 0.0
    with pytest.raises(ValueError, match="above 256"):
        runs.compare_tokenizers((200,), 0.05, texts=("ab" * 50, "ba" * 50), progress=False)
