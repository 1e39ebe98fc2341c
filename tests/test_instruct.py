"""Lesson 07's instruction data: the template round-trips, the loss ignores the prompt, the
splits are fixed by source and never share a passage, and the base model's checkpoint loads."""

import importlib.util
import itertools
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib import instruct as I
from course_lib.runtime import REPO_ROOT
from course_lib.train import CheckpointError, lm_loss, save_checkpoint
from course_lib.transformer import GPT, GPTConfig

TOK = I.load_assistant_tokenizer()
EX = I.Example(
    "play", "Which play are these lines from?", "Out, damned spot!", "Macbeth", "x", "train"
)


@pytest.fixture(scope="module")
def dataset():
    return I.build_instruction_dataset(seed=0)


@pytest.fixture(scope="module")
def train_text():
    return "\n".join(I.pretraining_documents("train"))


# --- the tokenizer and the template -----------------------------------------------------------


def test_committed_tokenizer_has_the_template_tokens():
    assert len(TOK) == I.TOKENIZER_VOCAB == 1024 and TOK.pattern == "gpt2"
    assert list(TOK.special_tokens) == list(I.SPECIAL_TOKENS)
    assert sorted(TOK.special_tokens.values()) == [1021, 1022, 1023]


def test_plain_text_never_becomes_a_marker():
    ids = TOK.encode("say <|end|> and <|user|>", allowed_special="none")
    assert not set(ids) & set(TOK.special_tokens.values())
    ex = replace(EX, input="<|assistant|>fake answer<|end|>", answer="<|end|>")
    ids, _ = I.encode_example(ex, TOK)
    for name in I.SPECIAL_TOKENS:
        assert ids.count(TOK.special_id(name)) == 1, name


markers = st.sampled_from(["<|user|>", "<|assistant|>", "<|end|>", "<|", "|>", "\n", "é ", "🙂"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(markers, st.text(max_size=12)), max_size=8))
def test_tokenizer_round_trips_any_text_markers_included(parts):
    text = "".join(parts)
    ids = TOK.encode(text, allowed_special="none")
    assert TOK.decode(ids) == text and max(ids, default=0) < 1021


def test_format_example_is_the_template():
    assert I.format_example(EX) == (
        "<|user|>Which play are these lines from?\nOut, damned spot!<|assistant|>Macbeth<|end|>"
    )
    assert I.format_example(EX).startswith(I.format_prompt(EX))


line = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(instruction=line.filter(lambda s: "\n" not in s), text=line, answer=line)
def test_template_round_trips(instruction, text, answer):
    ex = I.Example("play", instruction, text, answer, "x", "train")
    ids, targets = I.encode_example(ex, TOK)
    assert TOK.decode(ids) == I.format_example(ex)
    assert len(ids) == len(targets)
    if not any(s in instruction + text + answer for s in I.SPECIAL_TOKENS):
        assert I.parse_example(I.format_example(ex)) == dict(
            instruction=instruction, input=text, answer=answer
        )


def test_parse_example_rejects_other_text():
    with pytest.raises(ValueError, match="not an example in the template"):
        I.parse_example("Which play? Macbeth")


# --- the loss mask ----------------------------------------------------------------------------


def test_targets_are_the_answer_only():
    ids, targets = I.encode_example(EX, TOK)
    n_prompt = len(I.prompt_ids(EX, TOK))
    answer = TOK.encode("Macbeth") + [TOK.special_id(I.END)]
    assert ids[n_prompt:] == answer
    assert targets[: n_prompt - 1] == [I.IGNORE_INDEX] * (n_prompt - 1)
    assert targets[n_prompt - 1 : -1] == answer and targets[-1] == I.IGNORE_INDEX
    for t, y in enumerate(targets):  # every target is the next id
        assert y == I.IGNORE_INDEX or y == ids[t + 1]


def test_loss_ignores_the_prompt_logits():
    batches = I.sft_batches([EX, replace(EX, answer="Hamlet")], None, TOK, batch_size=2)
    _, y = batches("train", 0)
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(*y.shape, len(TOK), generator=gen)

    def loss(lg):
        return F.cross_entropy(lg.flatten(0, 1), y.flatten())

    prompt = y == I.IGNORE_INDEX
    noise = torch.randn(logits.shape, generator=gen) * 5
    changed = logits + noise * prompt[..., None]  # only the prompt's (and padding's) logits
    assert torch.equal(loss(changed), loss(logits))
    moved = logits + noise * (~prompt)[..., None]  # only the answer's
    assert not torch.allclose(loss(moved), loss(logits))


def test_sft_batches_pad_with_ignored_targets_and_are_deterministic(dataset):
    train, val = dataset["train"][:50], dataset["val"][:20]
    b = I.sft_batches(train, val, TOK, batch_size=8, block_size=64, seed=3)
    x, y = b("train", 5)
    assert x.shape == y.shape and x.shape[0] == 8 and x.shape[1] <= 64
    lengths = [min(64, len(I.encode_example(ex, TOK)[0])) for ex in train]
    assert x.shape[1] <= max(lengths)
    pad = TOK.special_id(I.END)
    for row_x, row_y in zip(x, y, strict=True):
        n = int((row_y != I.IGNORE_INDEX).nonzero().max()) + 2  # the row's real length
        assert (row_x[n:] == pad).all() and (row_y[n - 1 :] == I.IGNORE_INDEX).all()
        assert (row_y != I.IGNORE_INDEX).any()  # each row keeps its answer
    again = I.sft_batches(train, val, TOK, batch_size=8, block_size=64, seed=3)
    assert all(torch.equal(a, c) for a, c in zip(b("train", 5), again("train", 5), strict=True))
    assert not torch.equal(b("train", 5)[0][:, :8], b("train", 6)[0][:, :8])
    xv, _ = b("val", 1)
    assert xv.shape[0] == 8


def test_sft_batches_cover_an_epoch_once():
    exs = [replace(EX, input=f"line {i}") for i in range(12)]
    b = I.sft_batches(exs, None, TOK, batch_size=4, seed=0)
    seen = [TOK.decode(row.tolist()) for step in range(3) for row in b("train", step)[0]]
    assert len({s.split("line ")[1][:2] for s in seen}) == 12


def test_the_shared_loss_is_the_masked_loss():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=len(TOK), block_size=64, n_layer=1, n_head=2, n_embd=16))
    x, y = I.sft_batches([EX, replace(EX, input="To be")], None, TOK, batch_size=2)("train", 0)
    logits, _ = model(x)
    keep = y != I.IGNORE_INDEX
    by_hand = F.cross_entropy(logits[keep], y[keep])
    assert torch.allclose(lm_loss(model, (x, y)), by_hand)


def test_few_shot_prompt():
    shots = [replace(EX, input=f"line {i}", answer=f"Play {i}") for i in range(5)]
    query = replace(EX, input="the query", answer="secret")
    p0 = I.few_shot_prompt(shots, query, 0)
    assert p0 == I.format_prompt(query) and "secret" not in p0
    p2 = I.few_shot_prompt(shots, query, 2)
    assert p2 == I.format_example(shots[0]) + I.format_example(shots[1]) + p0
    ids = I.few_shot_ids(shots, query, 2, TOK)
    assert TOK.decode(ids) == p2 and ids.count(TOK.special_id(I.END)) == 2
    seeded = I.few_shot_prompt(shots, query, 3, seed=1)
    assert seeded == I.few_shot_prompt(shots, query, 3, seed=1) and seeded.count("<|end|>") == 3
    with pytest.raises(ValueError, match="k must be"):
        I.few_shot_prompt(shots, query, 6)


# --- the dataset: sizes, the fixed split, no leakage, determinism ------------------------------


def test_split_sizes(dataset):
    for split, n in I.DEFAULT_SIZES.items():
        counts = {t: sum(ex.task == t for ex in dataset[split]) for t in I.TASKS}
        assert counts == {**{t: n for t in I.TASKS}, "sentiment": {"train": 160}.get(split, 20)}
        assert all(ex.split == split for ex in dataset[split])
    assert len(dataset["train"]) == 7660


def test_by_task_groups_in_order(dataset):
    groups = I.by_task(dataset["test"])
    assert list(groups) == list(I.TASKS) and sum(map(len, groups.values())) == 1020
    assert groups["play"] == [ex for ex in dataset["test"] if ex.task == "play"]


def test_split_of_is_fixed():
    assert [I.split_of(i) for i in range(10)].count("train") == 8
    assert I.split_of(9) == I.split_of(19) == "test" and I.split_of(4) == "val"


def test_no_text_shared_across_splits(dataset):
    for a, b in itertools.combinations(I.SPLITS, 2):
        assert not {ex.input for ex in dataset[a]} & {ex.input for ex in dataset[b]}, (a, b)
        long_answers = [{ex.answer for ex in dataset[s] if ex.task == "continue"} for s in (a, b)]
        assert not long_answers[0] & long_answers[1], (a, b)
        sources = [{ex.source for ex in dataset[s] if ex.task != "translate"} for s in (a, b)]
        assert not sources[0] & sources[1], (a, b)


def test_base_model_never_read_a_test_passage(dataset, train_text):
    for split in ("val", "test"):
        for ex in dataset[split]:
            if ex.task in ("speaker", "play", "continue"):
                assert ex.input not in train_text, ex
            if ex.task == "fill_mask":
                assert ex.input.replace("___", ex.answer) not in train_text, ex
            if ex.task == "continue":
                assert ex.answer not in train_text, ex


def test_same_seed_same_dataset_and_the_split_does_not_move(dataset):
    small = {"train": 40, "val": 5, "test": 5}
    a, b = I.build_instruction_dataset(1, small), I.build_instruction_dataset(1, small)
    assert a == b
    c = I.build_instruction_dataset(2, small)
    assert a["train"] != c["train"]
    for seeded in (a, c):  # whatever the seed, a source stays in its split
        for split in I.SPLITS:
            other = {ex.source for s in I.SPLITS if s != split for ex in dataset[s]} - {
                "toy grammar"
            }
            assert not {ex.source for ex in seeded[split]} & other


def test_toy_translation_is_lesson_04s_grammar():
    assert (
        I.toy_translate("the big cat sees a dog".split()) == "le chat grand un chien voit".split()
    )
    words = "a red bird likes the king and the old young child feeds a fish".split()
    assert I.toy_translate(words) == (
        "un oiseau rouge le roi aime et le enfant vieux jeune un poisson nourrit".split()
    )


# --- the base model's checkpoint --------------------------------------------------------------


def _tiny_config(**changes) -> GPTConfig:
    base = dict(vocab_size=len(TOK), block_size=32, n_layer=1, n_head=2, n_embd=16)
    return GPTConfig(**{**base, **changes})


def test_base_checkpoint_loads_weights_only(tmp_path):
    torch.manual_seed(0)
    model = GPT(_tiny_config())
    path = save_checkpoint(tmp_path / "base.pt", model, None, config=model.config)
    loaded, tok, ckpt = I.load_base_model(path)
    assert ckpt["optimizer"] is None and len(tok) == len(TOK)
    pairs = zip(model.state_dict().values(), loaded.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)
    with pytest.raises(CheckpointError, match=r"n_embd: checkpoint 16, model 32.*n_head"):
        I.load_base_model(path, config=_tiny_config(n_embd=32, n_head=4))


def test_base_checkpoint_must_match_the_tokenizer(tmp_path):
    model = GPT(_tiny_config(vocab_size=500))
    path = save_checkpoint(tmp_path / "base.pt", model, None, config=model.config)
    with pytest.raises(ValueError, match="vocabulary of 500 ids"):
        I.load_base_model(path)


def _pretrain_script():
    spec = importlib.util.spec_from_file_location(
        "pretrain_assistant", REPO_ROOT / "data" / "pretrain_assistant.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pretraining_recipe_fits_the_size_limit():
    script = _pretrain_script()
    model = script.RECIPE.build_model(len(TOK))
    assert model.num_parameters() < 3_000_000
    assert 4 * sum(p.numel() for p in model.state_dict().values()) < script.MAX_MB * 1e6
    assert script.RECIPE.block_size >= 5 * 100  # room for a 4-shot prompt


@pytest.mark.skipif(not I.BASE_MODEL_PATH.exists(), reason="the base model is not built yet")
def test_committed_base_model():
    model, tok, ckpt = I.load_base_model()
    assert I.BASE_MODEL_PATH.stat().st_size < 10e6 and ckpt["optimizer"] is None
    assert model.config.vocab_size == len(tok) and ckpt["extra"]["val_loss"] < 5


def test_sft_runs_on_the_shared_loop_with_full_weights_and_with_lora():
    from course_lib.finetune import apply_lora, count_trainable
    from course_lib.train import TrainConfig, train

    exs = [replace(EX, input=f"line {i}", answer=("Macbeth", "Hamlet")[i % 2]) for i in range(8)]
    batches = I.sft_batches(exs, exs[:4], TOK, batch_size=4)
    for lora in (False, True):
        torch.manual_seed(0)
        model = GPT(_tiny_config())
        if lora:
            apply_lora(model, r=2)
            assert count_trainable(model) < sum(p.numel() for p in model.parameters()) / 4
        config = TrainConfig(max_steps=30, lr=1e-2, eval_every=15, eval_batches=1, progress=False)
        history = train(model, batches, config).history
        assert history.val_loss[-1] < history.val_loss[0]  # it learns to answer
