"""Lesson 07's judging tools: chrF equals sacreBLEU's, exact match normalises as documented,
and answers stop at <|end|>, greedy answers equal transformer.generate's."""

import pytest
import torch
from torch import nn

from course_lib import instruct as I
from course_lib.evaluate import (
    answer_example,
    char_ngrams,
    chrf,
    corpus_chrf,
    exact_match,
    generate_answer,
    normalize_answer,
    score_answers,
)
from course_lib.transformer import GPT, GPTConfig, generate

TOK = I.load_assistant_tokenizer()
END = TOK.special_id(I.END)

# sacreBLEU 2.6.0, CHRF() defaults (char_order=6, word_order=0, beta=2): sentence_score(h, [r])
SACREBLEU = [
    ("the cat sat", "the cat sat", 100.0),
    ("abc", "xyz", 0.0),
    ("the cat", "the hat", 28.055555555555557),
    ("As if that luck, in very spite of cunning,", "And by these badges understand the king.",
     12.850007427213308),
    ("le chat grand un chien voit", "le chat un chien grand voit", 59.88770946975281),
    ("ab", "abc", 63.636363636363626),
    ("", "abc", 0.0),
    ("aaa", "aa", 87.49999999999999),
]  # fmt: skip


@pytest.mark.parametrize(("hyp", "ref", "expected"), SACREBLEU)
def test_chrf_equals_sacrebleu(hyp, ref, expected):
    assert chrf(hyp, ref) == pytest.approx(expected, abs=1e-9)


def test_chrf_known_cases():
    assert chrf("To be, or not to be", "To be, or not to be") == 100.0
    assert chrf("To be or not", "Tobeornot") == 100.0  # spaces do not count
    assert chrf("xyz", "abc") == 0.0
    # by hand: "thecat" vs "thehat"; precision = recall at each order: 1-grams 5/6, 2-grams
    # 3/5 (th, he, at), 3-grams 1/4 (the), 4- to 6-grams none; the mean over six orders
    assert chrf("the cat", "the hat") == pytest.approx(100 * (5 / 6 + 3 / 5 + 1 / 4) / 6)
    # "ab" vs "abc": precision 1 and 1, recall 2/3 and 1/2 (orders 1, 2; "ab" has no 3-gram)
    p, r = 1.0, (2 / 3 + 1 / 2) / 2
    assert chrf("ab", "abc") == pytest.approx(100 * 5 * p * r / (4 * p + r))
    # recall weighs more than precision: a missing character costs more than an extra one
    assert chrf("abc", "ab") > chrf("ab", "abc")
    assert char_ngrams("a ab", 2) == {"aa": 1, "ab": 1}


def test_corpus_chrf_pools_the_counts():
    assert corpus_chrf(["the cat", "abc"], ["the hat", "abd"]) == pytest.approx(25.82010582010582)
    assert corpus_chrf(["the cat"], ["the hat"]) == pytest.approx(chrf("the cat", "the hat"))
    with pytest.raises(ValueError, match="one for each"):
        corpus_chrf(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="order must be"):
        chrf("a", "a", order=0)


def test_exact_match_normalises():
    assert normalize_answer("  Macbeth.  ") == "macbeth"
    assert exact_match("First  Lord", "first lord") == 1.0
    assert exact_match("Macbeth.", "Macbeth") == 1.0
    assert exact_match("Macbeth!", "Macbeth") == 0.0
    assert exact_match("Lady Macbeth", "Macbeth") == 0.0
    assert exact_match("", "") == 1.0


def test_score_answers_per_task():
    exs = [
        I.Example("play", "q", "a", "Macbeth", "s", "test"),
        I.Example("play", "q", "b", "Hamlet", "s", "test"),
        I.Example("continue", "q", "c", "the cat", "s", "test"),
    ]
    scores = score_answers(exs, ["macbeth", "Othello", "the hat"])
    assert scores["play"]["n"] == 2 and scores["play"]["exact_match"] == 0.5
    assert scores["continue"]["chrf"] == pytest.approx(chrf("the hat", "the cat"))
    assert list(scores) == ["play", "continue"]


# --- writing answers ------------------------------------------------------------------------


class Scripted(nn.Module):
    """A stand-in for a GPT that, whatever it reads, makes ``script[i]`` the likeliest i-th new
    token (probability ~0.88 of 1024 ids with a margin of 9 nats)."""

    def __init__(self, script, block_size=64):
        super().__init__()
        self.script, self.config = script, GPTConfig(vocab_size=len(TOK), block_size=block_size)
        self.w = nn.Parameter(torch.zeros(1))
        self.calls = 0

    def new_kv_caches(self):
        return [None]

    def forward(self, idx, kv_caches=None):
        logits = torch.zeros(idx.size(0), idx.size(1), len(TOK))
        logits[:, -1, self.script[min(self.calls, len(self.script) - 1)]] = 9.0
        self.calls += 1
        return logits, None


def test_answer_stops_at_end_and_reports_probabilities():
    hello = TOK.encode("Hello")
    ans = generate_answer(Scripted([*hello, END, 7]), TOK, [1, 2, 3])
    assert ans.stopped and ans.ids == hello and ans.text == "Hello"
    p = torch.tensor([9.0] + [0.0] * (len(TOK) - 1)).softmax(0)[0].item()
    assert ans.probs == pytest.approx([p] * len(hello))
    cut = generate_answer(Scripted([7, 7, 7, 7]), TOK, [1], max_new_tokens=3)
    assert not cut.stopped and cut.ids == [7, 7, 7]


def _tiny_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=len(TOK), block_size=48, n_layer=2, n_head=2, n_embd=32))


def test_greedy_answer_equals_transformer_generate():
    model, prompt = _tiny_gpt(), TOK.encode("Who speaks?")
    ans = generate_answer(model, TOK, prompt, max_new_tokens=20)
    ref = generate(model, prompt, 20, temperature=0)[len(prompt) :].tolist()
    if END in ref:
        ref = ref[: ref.index(END)]
    assert ans.ids == ref and ans.stopped == (len(ref) < 20)
    assert all(0 < p <= 1 for p in ans.probs)


def test_sampled_answers_follow_the_seed():
    model, prompt = _tiny_gpt(), TOK.encode("Continue the verse.")
    a = generate_answer(model, TOK, prompt, 16, temperature=1.5, seed=1)
    assert a == generate_answer(model, TOK, prompt, 16, temperature=1.5, seed=1)
    others = [generate_answer(model, TOK, prompt, 16, temperature=1.5, seed=s).ids for s in (2, 3)]
    assert any(ids != a.ids for ids in others)


def test_long_prompts_lose_their_start_and_answers_fit():
    model = _tiny_gpt()
    ans = generate_answer(model, TOK, list(range(200)), max_new_tokens=8)  # 200 > block 48
    assert len(ans.ids) <= 8
    with pytest.raises(ValueError, match="no room for the prompt"):
        generate_answer(model, TOK, [1], max_new_tokens=48)


def test_answer_example_uses_the_k_shot_prompt():
    model = _tiny_gpt()
    shots = [
        I.Example("play", "Which play?", f"line {i}", "Macbeth", "s", "train") for i in range(3)
    ]
    query = I.Example("play", "Which play?", "the query", "Hamlet", "s", "test")
    for k in (0, 2):
        ids = I.few_shot_ids(shots, query, k, TOK)
        assert answer_example(model, TOK, query, shots, k, max_new_tokens=6) == generate_answer(
            model, TOK, ids, max_new_tokens=6
        )


def test_importing_instruct_and_evaluate_stays_headless():
    import subprocess
    import sys

    code = (
        "import sys, course_lib.instruct, course_lib.evaluate; "
        "bad = [m for m in ('matplotlib', 'ipywidgets') if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, f"importing pulled in {r.stdout.strip()} {r.stderr[-300:]}"


# --- lesson 07's experiment tools ------------------------------------------------------------

from course_lib import evaluate as E  # noqa: E402


def _exs(task, answers, split="train", instruction="q"):
    return [I.Example(task, instruction, f"in {i}", a, "s", split) for i, a in enumerate(answers)]


def test_answers_can_stop_at_the_first_line_break():
    line = TOK.encode("Ham\n")
    ans = generate_answer(Scripted([*line, 7, 7, END]), TOK, [1], stop_at_newline=True)
    assert ans.ids == line and not ans.stopped and E.answer_text(ans.text) == "Ham"
    late = TOK.encode("\n\nHam\n")  # leading line breaks do not stop it
    ans = generate_answer(Scripted([*late, 7, END]), TOK, [1], stop_at_newline=True)
    assert ans.ids == late and E.answer_text(ans.text) == "Ham"
    full = generate_answer(Scripted([*line, 7, 7, END]), TOK, [1])
    assert full.ids == [*line, 7, 7] and full.stopped


def test_answer_text_is_the_first_line_trimmed():
    assert E.answer_text("  Hamlet \nHORATIO.\nWhat") == "Hamlet"
    assert E.answer_text("") == ""
    assert E.answer_text("\n\n later\nmore") == "later"  # the first line of text


def test_evaluate_answers_draws_k_shots_of_the_same_family_per_question():
    model = _tiny_gpt()
    pool = {
        "play": _exs("play", ["Macbeth", "Hamlet", "Othello"]),
        "sentiment": _exs("sentiment", ["positive", "negative"]),
    }
    test = _exs("play", ["King Lear"], "test") + _exs("sentiment", ["positive"], "test")
    got = E.evaluate_answers(model, TOK, test, pool, k=2, seed=3, max_new_tokens=5)
    for i, ex in enumerate(test):
        ids = I.few_shot_ids(pool[ex.task], ex, 2, TOK, seed=3 * 1_000_003 + i)
        want = generate_answer(model, TOK, ids, max_new_tokens=5, stop_at_newline=True)
        assert got[i] == want
    zero = E.evaluate_answers(model, TOK, test, max_new_tokens=5)
    prompt = I.prompt_ids(test[0], TOK)
    assert zero[0] == generate_answer(model, TOK, prompt, max_new_tokens=5, stop_at_newline=True)
    with pytest.raises(ValueError, match="needs shots"):
        E.evaluate_answers(model, TOK, test, k=1)


def test_plain_prompts_have_the_same_shots_without_markers():
    model = _tiny_gpt()
    pool = {"play": _exs("play", ["Macbeth", "Hamlet", "Othello"])}
    test = _exs("play", ["King Lear"], "test")
    text = I.plain_few_shot_prompt(pool["play"], test[0], 2, seed=7)
    chat = I.few_shot_prompt(pool["play"], test[0], 2, seed=7)
    for marker in I.SPECIAL_TOKENS:
        assert marker not in text
    shots = [a for a in ("Macbeth", "Hamlet", "Othello") if a in chat]
    assert len(shots) == 2 and all(f"Answer: {a}" in text for a in shots)
    assert text.endswith("q\nin 0\nAnswer:")
    got = E.evaluate_answers(model, TOK, test, pool, k=2, seed=0, max_new_tokens=5, plain=True)
    text = I.plain_few_shot_prompt(pool["play"], test[0], 2, seed=0)
    ids = TOK.encode(text, allowed_special="none")
    assert got[0] == generate_answer(model, TOK, ids, max_new_tokens=5, stop_at_newline=True)


def test_sampled_evaluation_follows_the_seed():
    model, test = _tiny_gpt(), _exs("play", ["A", "B"], "test")
    a = E.evaluate_answers(model, TOK, test, max_new_tokens=6, temperature=1.5, seed=4)
    assert a == E.evaluate_answers(model, TOK, test, max_new_tokens=6, temperature=1.5, seed=4)
    assert a != E.evaluate_answers(model, TOK, test, max_new_tokens=6, temperature=1.5, seed=5)


def test_score_table_scores_the_first_line():
    test = _exs("play", ["Hamlet", "Macbeth"], "test")
    scores = E.score_table(test, ["Hamlet\nMore text", "macbeth."])
    assert scores["play"]["exact_match"] == 1.0


def test_majority_answers_per_instruction_then_per_family():
    train = (_exs("speaker", ["Ham", "Ham", "Hor"], instruction="in Hamlet?")
             + _exs("speaker", ["Lear", "Fool", "Fool"], instruction="in King Lear?")
             + _exs("sentiment", ["positive", "negative", "negative"]))  # fmt: skip
    test = (_exs("speaker", ["x"], "test", "in Hamlet?")
            + _exs("speaker", ["x"], "test", "in Lear?")
            + _exs("sentiment", ["x"], "test") + _exs("translate", ["x"], "test"))  # fmt: skip
    # a new instruction falls back to the family's most frequent answer (Ham and Fool tie at 2:
    # the first seen wins); a family never seen gets ""
    assert E.majority_answers(train, test) == ["Ham", "Ham", "negative", ""]


def test_continuation_logprob_sums_the_tokens():
    model = _tiny_gpt()
    ctx, cont = TOK.encode("the nurse said"), TOK.encode(" that he")
    with torch.no_grad():
        logp = model(torch.tensor([ctx + cont]))[0][0].log_softmax(-1)
    want = sum(float(logp[len(ctx) - 1 + j, t]) for j, t in enumerate(cont))
    assert E.continuation_logprob(model, TOK, "the nurse said", " that he") == pytest.approx(
        want, abs=1e-5
    )
    with pytest.raises(ValueError, match="non-empty"):
        E.continuation_logprob(model, TOK, "", " he")


def test_bias_probe_measures_the_spread_against_random_pairs():
    model = _tiny_gpt()
    roles = ("doctor", "nurse", "king")
    r = E.bias_probe(model, TOK, ("he", "she"), roles, baseline_words=["a", "the", "of", "and"],
                     n_baseline=5, seed=1)  # fmt: skip
    assert r["gaps"] == pytest.approx(E.pair_gaps(model, TOK, ("he", "she"), roles))
    import statistics

    assert r["spread"] == pytest.approx(statistics.pstdev(r["gaps"]))
    assert len(r["baseline_spreads"]) == 5 and 0.0 <= r["percentile"] <= 1.0
    assert r["percentile"] == sum(s < r["spread"] for s in r["baseline_spreads"]) / 5
    # the same pair both ways: the gaps flip sign, the spread stays
    flipped = E.pair_gaps(model, TOK, ("she", "he"), roles)
    assert flipped == pytest.approx([-g for g in r["gaps"]])
    with pytest.raises(ValueError, match="at least 2 distinct"):
        E.bias_probe(model, TOK, baseline_words=["a", "a"])


def test_occlusion_equals_replacing_each_token_by_hand():
    model = _tiny_gpt()
    prompt, answer = TOK.encode("Which play is this from?"), TOK.encode(" Hamlet") + [END]
    got = E.occlusion(model, prompt, answer, replacement_id=220, batch_size=3)

    def logp(p):
        with torch.no_grad():
            lp = model(torch.tensor([p + answer]))[0][0].log_softmax(-1)
        return sum(float(lp[len(p) - 1 + j, t]) for j, t in enumerate(answer))

    want = [logp(prompt) - logp(prompt[:s] + [220] + prompt[s + 1 :]) for s in range(len(prompt))]
    assert got.tolist() == pytest.approx(want, abs=1e-4)
    with pytest.raises(ValueError, match="exceed the model's window"):
        E.occlusion(model, list(range(45)), answer, replacement_id=220)
