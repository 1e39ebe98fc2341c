"""Lesson 07's exercise checks pass the solution, catch the usual mistakes with the right hint,
report an answer that calls the library's version, and their loss-target reference is the rule
of ``instruct.encode_example``."""

import random

import pytest
import torch

from course_lib import instruct
from course_lib.checks import USES_LIBRARY
from course_lib.checks import instruct as checks
from course_lib.instruct import ASSISTANT, END, IGNORE_INDEX, USER

TOK = instruct.load_assistant_tokenizer()


def _verdict(capsys, check, fn):
    ok = check(fn)
    return ok, capsys.readouterr().out


# --- the ids of the template ---------------------------------------------------------------------


def template_ids(example, tokenizer):
    text = tokenizer.encode(f"{example.instruction}\n{example.input}", allowed_special="none")
    answer = tokenizer.encode(example.answer, allowed_special="none")
    user, assistant, end = (tokenizer.special_id(s) for s in (USER, ASSISTANT, END))
    return [user, *text, assistant, *answer, end]


def test_template_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_template_ids, template_ids)
    assert ok and out.startswith("✅ check_template_ids: passed on 20 random inputs")


def _markers_as_text(ex, tokenizer):
    text = f"{USER}{ex.instruction}\n{ex.input}{ASSISTANT}{ex.answer}{END}"
    return tokenizer.encode(text, allowed_special="none")


def _typed_markers_through(ex, tokenizer):
    return tokenizer.encode(f"{USER}{ex.instruction}\n{ex.input}{ASSISTANT}{ex.answer}{END}")


def _no_newline(ex, tokenizer):
    ids = template_ids(ex, tokenizer)
    text = tokenizer.encode(ex.instruction + ex.input, allowed_special="none")
    n = len(tokenizer.encode(f"{ex.instruction}\n{ex.input}", allowed_special="none"))
    return [ids[0], *text, *ids[1 + n :]]


def _no_end(ex, tokenizer):
    return template_ids(ex, tokenizer)[:-1]


@pytest.mark.parametrize(
    "fn, hint",
    [
        (_markers_as_text, "the markers were encoded as text"),
        (_typed_markers_through, 'allowed_special="none"'),
        (_no_newline, "the newline between the instruction and the input is missing"),
        (_no_end, "the <|end|> id after the answer is missing"),
    ],
)
def test_template_check_hints(capsys, fn, hint):
    ok, out = _verdict(capsys, checks.check_template_ids, fn)
    assert not ok and "❌ check_template_ids: failed" in out and hint in out


def test_template_check_reports_the_library(capsys):
    ok, out = _verdict(
        capsys, checks.check_template_ids, lambda ex, t: instruct.encode_example(ex, t)[0]
    )
    assert not ok and USES_LIBRARY in out


def test_typed_markers_stay_text_only_with_allowed_special_none():
    """The mistake the second hint names shows only on an input with a typed marker, and every
    run of the check meets one (the edge cases come first)."""
    draw = checks._edges_first(checks._random_example)
    rng = random.Random(0)
    typed, empty = draw(rng), draw(rng)
    assert END in typed.input and empty.input == ""
    assert _typed_markers_through(typed, TOK) != template_ids(typed, TOK)
    assert _typed_markers_through(empty, TOK) == template_ids(empty, TOK)


# --- the loss targets ----------------------------------------------------------------------------


def loss_targets(prompt_ids, answer_ids, end_id):
    ids = [*prompt_ids, *answer_ids, end_id]
    targets = [IGNORE_INDEX] * len(ids)
    for t in range(len(prompt_ids) - 1, len(ids) - 1):
        targets[t] = ids[t + 1]
    return ids, targets


def test_loss_targets_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_loss_targets, loss_targets)
    assert ok and out.startswith("✅ check_loss_targets: passed on 20 random inputs")


def test_loss_targets_check_accepts_tensors(capsys):
    def as_tensors(prompt_ids, answer_ids, end_id):
        ids, targets = loss_targets(prompt_ids, answer_ids, end_id)
        return torch.tensor(ids), torch.tensor(targets)

    ok, out = _verdict(capsys, checks.check_loss_targets, as_tensors)
    assert ok, out


def _not_shifted(prompt_ids, answer_ids, end_id):
    ids = [*prompt_ids, *answer_ids, end_id]
    return ids, [IGNORE_INDEX] * len(prompt_ids) + [*answer_ids, end_id]


def _last_prompt_masked(prompt_ids, answer_ids, end_id):
    ids, targets = loss_targets(prompt_ids, answer_ids, end_id)
    targets[len(prompt_ids) - 1] = IGNORE_INDEX
    return ids, targets


def _end_not_a_target(prompt_ids, answer_ids, end_id):
    ids, targets = loss_targets(prompt_ids, answer_ids, end_id)
    return ids, targets[:-2] + [IGNORE_INDEX, IGNORE_INDEX]


def _no_end_in_ids(prompt_ids, answer_ids, end_id):
    ids = [*prompt_ids, *answer_ids]
    return ids, [IGNORE_INDEX] * (len(prompt_ids) - 1) + [*answer_ids, IGNORE_INDEX][1:] + [
        IGNORE_INDEX
    ]


def _prompt_not_masked(prompt_ids, answer_ids, end_id):
    ids = [*prompt_ids, *answer_ids, end_id]
    return ids, ids[1:] + [IGNORE_INDEX]


def _one_short(prompt_ids, answer_ids, end_id):
    ids, targets = loss_targets(prompt_ids, answer_ids, end_id)
    return ids, targets[:-1]


@pytest.mark.parametrize(
    "fn, hint",
    [
        (_not_shifted, "The target at position t is the NEXT token"),
        (_last_prompt_masked, "the first answer token is never trained"),
        (_end_not_a_target, "the end token is never a target"),
        (_no_end_in_ids, "ids lacks the end token"),
        (_prompt_not_masked, "the prompt is not masked"),
        (_one_short, "one target too few"),
    ],
)
def test_loss_targets_check_hints(capsys, fn, hint):
    ok, out = _verdict(capsys, checks.check_loss_targets, fn)
    assert not ok and "❌ check_loss_targets: failed" in out and hint in out


def _via_library(prompt_ids, answer_ids, end_id):
    parsed = instruct.parse_example(TOK.decode([*prompt_ids, *answer_ids, end_id]))
    example = instruct.Example("any", **parsed, source="any", split="train")
    return instruct.encode_example(example, TOK)


def test_loss_targets_check_reports_the_library(capsys):
    ok, out = _verdict(capsys, checks.check_loss_targets, _via_library)
    assert not ok and USES_LIBRARY in out


def _reference_on(example):
    return checks.loss_targets_reference(
        instruct.prompt_ids(example, TOK),
        TOK.encode(example.answer, allowed_special="none"),
        TOK.special_id(END),
    )


def test_loss_targets_reference_is_encode_examples_rule():
    """On the real dataset's first 50 training examples and on random ones (typed markers and
    empty inputs included) the reference gives encode_example's ids and targets."""
    examples = instruct.build_instruction_dataset(seed=0)["train"][:50]
    rng = random.Random(1)
    examples += [checks._random_example(rng) for _ in range(30)]
    for example in examples:
        assert _reference_on(example) == instruct.encode_example(example, TOK), example


def test_loss_targets_train_exactly_the_answer_and_end():
    example = instruct.Example("t", "Say hi.", "", "hi there", "s", "train")
    ids, targets = _reference_on(example)
    kept = [y for y in targets if y != IGNORE_INDEX]
    assert kept == TOK.encode("hi there", allowed_special="none") + [TOK.special_id(END)]
    assert targets[-1] == IGNORE_INDEX and len(ids) == len(targets)


# --- a k-shot prompt -----------------------------------------------------------------------------


def _shot(s):
    return f"{USER}{s.instruction}\n{s.input}{ASSISTANT}{s.answer}{END}"


def _prompt(q):
    return f"{USER}{q.instruction}\n{q.input}{ASSISTANT}"


def k_shot_prompt(shots, query, k):
    return "".join(_shot(s) for s in shots[:k]) + _prompt(query)


def test_k_shot_check_passes_the_solution(capsys):
    ok, out = _verdict(capsys, checks.check_k_shot_prompt, k_shot_prompt)
    assert ok and out.startswith("✅ check_k_shot_prompt: passed on 20 random inputs")


def _answer_leaked(shots, query, k):
    return k_shot_prompt(shots, query, k) + query.answer + END


def _shots_without_end(shots, query, k):
    return "".join(_shot(s)[: -len(END)] for s in shots[:k]) + _prompt(query)


def _k_ignored(shots, query, k):
    return k_shot_prompt(shots, query, len(shots))


def _query_first(shots, query, k):
    return _prompt(query) + "".join(_shot(s) for s in shots[:k])


def _newlines_between(shots, query, k):
    return "\n".join([*(_shot(s) for s in shots[:k]), _prompt(query)])


@pytest.mark.parametrize(
    "fn, hint",
    [
        (_answer_leaked, "the query's answer leaked into the prompt"),
        (_shots_without_end, "the shots lack <|end|>"),
        (_k_ignored, "k is ignored"),
        (_query_first, "the query comes first"),
        (_newlines_between, "different white space"),
    ],
)
def test_k_shot_check_hints(capsys, fn, hint):
    ok, out = _verdict(capsys, checks.check_k_shot_prompt, fn)
    assert not ok and "❌ check_k_shot_prompt: failed" in out and hint in out


@pytest.mark.parametrize(
    "fn",
    [
        lambda shots, q, k: instruct.few_shot_prompt(shots, q, k),
        lambda shots, q, k: "".join(map(instruct.format_example, shots[:k])) + _prompt(q),
    ],
)
def test_k_shot_check_reports_the_library(capsys, fn):
    ok, out = _verdict(capsys, checks.check_k_shot_prompt, fn)
    assert not ok and USES_LIBRARY in out


def test_not_written_stops_the_run(capsys):
    def stub(*args):
        raise NotImplementedError()

    for check in (checks.check_template_ids, checks.check_loss_targets, checks.check_k_shot_prompt):
        with pytest.raises(NotImplementedError):
            check(stub)
        assert "not attempted" in capsys.readouterr().out
