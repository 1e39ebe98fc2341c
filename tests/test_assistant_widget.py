"""Lesson 07's assistant playground, driven from the kernel (no browser), its HTML, the
``on_token`` stream of ``generate_answer`` it is built on, and its static fallback figure."""

from __future__ import annotations

import re
import subprocess
import sys

import matplotlib
import pytest
import torch
from torch import nn

from course_lib import instruct as I
from course_lib.evaluate import generate_answer
from course_lib.transformer import GPT, GPTConfig
from course_lib.viz.assistant import (
    PROBABILITY_RAMP,
    plot_answer_tokens,
    probability_colour,
    token_text,
)
from course_lib.widgets.assistant import (
    AssistantPlayground,
    PromptError,
    answer_html,
    message_html,
    playground_prompt,
)

matplotlib.use("Agg")

TOK = I.load_assistant_tokenizer()
END = TOK.special_id(I.END)
SPAN = 'class="answer-token"'


def _tiny_gpt(seed=0, block_size=48):
    torch.manual_seed(seed)
    return GPT(
        GPTConfig(vocab_size=len(TOK), block_size=block_size, n_layer=2, n_head=2, n_embd=32)
    )


class Scripted(nn.Module):
    """A stand-in for a GPT that makes ``script[i]`` the likeliest i-th new token of every
    answer (probability ~0.88 of 1024 ids: a margin of 9 nats)."""

    def __init__(self, script, block_size=128):
        super().__init__()
        self.script, self.config = script, GPTConfig(vocab_size=len(TOK), block_size=block_size)
        self.w = nn.Parameter(torch.zeros(1))
        self.calls = 0

    def new_kv_caches(self):
        self.calls = 0  # a new answer starts
        return [None]

    def forward(self, idx, kv_caches=None):
        logits = torch.zeros(idx.size(0), idx.size(1), len(TOK))
        logits[:, -1, self.script[min(self.calls, len(self.script) - 1)]] = 9.0
        self.calls += 1
        return logits, None


# --- generate_answer's on_token ---------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0.0, 1.3])
def test_on_token_reports_every_written_token_and_its_probability(temperature):
    model, prompt = _tiny_gpt(), TOK.encode("Continue the verse.")
    calls = []
    ans = generate_answer(
        model,
        TOK,
        prompt,
        12,
        temperature=temperature,
        seed=3,
        on_token=lambda t, p: calls.append((t, p)),
    )
    assert calls == list(zip(ans.ids, ans.probs, strict=True)) and len(calls) == len(ans.ids)
    assert ans == generate_answer(model, TOK, prompt, 12, temperature=temperature, seed=3)


def test_on_token_is_not_called_for_end():
    hello = TOK.encode("Hello")
    calls = []
    ans = generate_answer(
        Scripted([*hello, END, 7]), TOK, [1, 2], on_token=lambda t, p: calls.append(t)
    )
    assert ans.stopped and calls == hello


# --- the HTML ---------------------------------------------------------------------------------


def test_probability_colours_follow_the_ramp():
    assert [probability_colour(p) for p, _ in PROBABILITY_RAMP] == [c for _, c in PROBABILITY_RAMP]
    assert (
        probability_colour(-1) == PROBABILITY_RAMP[0][1]
        and probability_colour(2) == PROBABILITY_RAMP[-1][1]
    )
    assert probability_colour(0.25) not in {c for _, c in PROBABILITY_RAMP}


def test_answer_html_one_span_per_token_with_its_probability():
    ids = TOK.encode("le chat\nnoir <b>", allowed_special="none")
    probs = [0.9, 0.05, 0.5, 0.3, 0.2, 0.1, 0.7][: len(ids)] + [0.4] * max(0, len(ids) - 7)
    out = answer_html(TOK, ids, probs, stopped=True)
    assert out.count(SPAN) == len(ids)
    titles = re.findall(r'title="p = ([0-9.]+) \(token (\d+)\)"', out)
    assert [(float(p), int(t)) for p, t in titles] == [
        (round(p, 3), t) for t, p in zip(ids, probs, strict=True)
    ]
    assert f"background:{probability_colour(probs[0])}" in out
    assert (
        "ended its answer itself" in out and "<b>" not in out.split("assistant-status")[0]
    )  # escaped
    assert "\u21b5</span><br>" in out  # a newline shows as ↵ and breaks the line
    assert "writing" in answer_html(TOK, ids[:2], probs[:2])
    cut = answer_html(TOK, ids, probs, stopped=False, max_new_tokens=len(ids))
    assert f"cut after {len(ids)} tokens" in cut and "data-ending='cut'" in cut
    with pytest.raises(ValueError, match="one per id"):
        answer_html(TOK, ids, probs[:-1])


def test_answer_html_checks_a_picked_example_against_its_reference():
    ids = TOK.encode("Macbeth")
    assert "(exact match)" in answer_html(TOK, ids, [0.5] * len(ids), True, reference="Macbeth.")
    assert "not an exact match" in answer_html(TOK, ids, [0.5] * len(ids), True, reference="Hamlet")


def test_prompt_checks_give_messages_not_tracebacks():
    with pytest.raises(PromptError, match="Type an instruction"):
        playground_prompt(TOK, "   ", "some input", 48, 8)
    with pytest.raises(PromptError, match=r"too long: .* at most 40 prompt tokens"):
        playground_prompt(TOK, "Translate into French.", "the cat " * 40, 48, 8)
    ids = playground_prompt(TOK, " Translate into French. ", "the cat", 48, 8)
    assert ids == I.prompt_ids(
        I.Example("custom", "Translate into French.", "the cat", "", "t", "test"), TOK
    )
    assert "&lt;script&gt;" in message_html("<script>")


def test_token_text_shows_partial_characters_as_bytes():
    partial = TOK._bytes.index(b"\xf0")  # the first byte of a 4-byte character, alone
    assert token_text(TOK, partial) == "\\xf0"
    ids = TOK.encode("the cat\n", allowed_special="none")
    assert "".join(token_text(TOK, i) for i in ids) == "the cat\n"


# --- the playground, driven from the kernel ------------------------------------------------


def _examples():
    mk = I.Example
    return [
        mk("play", "Which play are these lines from?", "Out, damned spot!", "Macbeth", "s", "test"),
        mk(
            "play", "Which play are these lines from?", "To be, or not to be", "Hamlet", "s", "test"
        ),
        mk("translate", "Translate into French.", "the cat", "le chat", "t", "test"),
    ]


def test_pressing_ask_streams_the_answer_token_by_token():
    model = _tiny_gpt()
    pg = AssistantPlayground(model, TOK, max_new_tokens=10)
    assert "assistant-playground" in pg._dom_classes and SPAN not in pg.answer.value
    seen = []
    pg.answer.observe(lambda ch: seen.append(ch.new.count(SPAN)), names="value")
    pg.ask.click()
    assert pg.answer.value.count(SPAN) == 10 and "cut after 10 tokens" in pg.answer.value
    assert (
        seen[:11] == list(range(11)) and "data-ending='writing'" not in pg.answer.value
    )  # 0, 1, ..., 10 tokens


def test_greedy_twice_gives_the_same_answer_and_the_seed_makes_samples_repeat():
    pg = AssistantPlayground(_tiny_gpt(), TOK, max_new_tokens=8)
    pg.ask.click()
    greedy = pg.answer.value
    pg.instruction.value = "Continue the verse."  # asks (Enter in the box)
    assert SPAN in pg.answer.value and "data-ending='writing'" not in pg.answer.value
    pg.instruction.value = "Translate into French."
    assert pg.answer.value == greedy
    pg.seed.value = 5  # the seed does not matter to greedy decoding
    pg.ask.click()
    assert pg.answer.value == greedy
    pg.temperature.value = 1.5
    assert not pg.seed.disabled and pg.top_p.value == 0.9
    pg.ask.click()
    sampled = pg.answer.value
    pg.seed.value = 6
    pg.ask.click()
    other = pg.answer.value
    pg.seed.value = 5
    pg.ask.click()
    assert pg.answer.value == sampled and other != sampled


def test_an_empty_instruction_or_a_long_prompt_shows_a_message():
    pg = AssistantPlayground(_tiny_gpt(), TOK, max_new_tokens=8)
    pg.instruction.value = "  "
    assert "Type an instruction" in pg.answer.value and "Traceback" not in pg.answer.value
    pg.input.value = "the cat sees a dog " * 20
    pg.instruction.value = "Translate into French."
    assert "too long" in pg.answer.value and SPAN not in pg.answer.value


def test_picking_an_example_fills_the_boxes_and_the_answer_meets_the_reference():
    script = [*TOK.encode("Macbeth", allowed_special="none"), END]
    pg = AssistantPlayground(Scripted(script), TOK, examples=_examples())
    pg.task.value = "play"
    assert len(pg.example.options) == 2 and pg.input.value == "Out, damned spot!"
    assert SPAN not in pg.answer.value  # picking fills the boxes; the button asks
    pg.ask.click()
    assert "ended its answer itself" in pg.answer.value and "(exact match)" in pg.answer.value
    pg.example.value = 1
    assert pg.input.value == "To be, or not to be"
    pg.ask.click()
    assert "reference answer: <b>Hamlet</b> (not an exact match)" in pg.answer.value
    pg.task.value = "translate"
    assert pg.instruction.value == "Translate into French." and pg.input.value == "the cat"


# --- the static fallback ----------------------------------------------------------------------


def test_plot_answer_tokens_draws_each_token_with_its_probability():
    ids = TOK.encode("le chat noir voit", allowed_special="none")
    ans = generate_answer(Scripted([*ids, END]), TOK, [1, 2])
    fig = plot_answer_tokens(ans, TOK)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts]
    assert len(ax.patches) == len(ids) and f"{ans.probs[0]:.2f}" in labels
    assert "".join(labels[0::2]) == "le\u00b7chat\u00b7noir\u00b7voit"  # spaces made visible
    assert "<|end|>" in ax.get_title(loc="left") and fig.axes[1].get_ylabel() == "probability"
    assert plot_answer_tokens(ans, TOK, title="greedy").axes[0].get_title(loc="left") == "greedy"
    with pytest.raises(ValueError, match="one probability per id"):
        plot_answer_tokens(object(), TOK)
    matplotlib.pyplot.close("all")


def test_modules_import_light():
    code = (
        "import sys, course_lib.widgets.assistant, course_lib.viz.assistant; "
        "print(any(m in sys.modules for m in ('matplotlib', 'ipywidgets')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
