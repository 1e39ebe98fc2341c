"""Checks for lesson 07's exercises: the ids of an example in the prompt template, the loss
targets of supervised fine-tuning (the prompt masked out), and a k-shot prompt.

Each check runs the learner's function and the reference on fresh random examples (random words;
now and then an input that is empty or that contains the typed text ``<|end|>``, which must stay
characters) with the real assistant tokenizer (:func:`course_lib.instruct.load_assistant_tokenizer`,
loaded once per process). It prints a one-line verdict, and on failure a hint aimed at the usual
mistake (never the solution). The references are :func:`course_lib.instruct.encode_example` and
:func:`course_lib.instruct.few_shot_prompt`; an answer that calls them (or
``prompt_ids``, ``few_shot_ids``, ``format_example``, ``format_prompt``) gets "uses the library
version".

The template, as :mod:`course_lib.instruct` states it::

    <|user|>{instruction}\\n{input}<|assistant|>{answer}<|end|>
"""

from __future__ import annotations

import functools
import itertools
import random

from ..instruct import (
    ASSISTANT,
    END,
    IGNORE_INDEX,
    SPECIAL_TOKENS,
    USER,
    Example,
    encode_example,
    few_shot_ids,
    few_shot_prompt,
    format_example,
    format_prompt,
    load_assistant_tokenizer,
    prompt_ids,
)
from . import Hint, check_function, library_verdict

__all__ = [
    "check_template_ids",
    "check_loss_targets",
    "check_k_shot_prompt",
    "loss_targets_reference",
]


@functools.cache
def _tokenizer():
    """The real assistant tokenizer, loaded once per process (the checks never copy it)."""
    return load_assistant_tokenizer()


# --- random examples --------------------------------------------------------------------------

_WORDS = (
    "the a and of to my lord king queen love night sweet death sword crown France Rome speak "
    "thou thee hast doth what why never heaven cat dog bird chat chien grand petit rouge vieux "
    "fatigué maître film plot actors funny dull river city 1999 war state music, said. yes! "
    "how? it's -- (aside)"
).split()


def _words(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(lo, hi)))


def _random_example(
    rng: random.Random, shape: str | None = None, *, short: bool = False
) -> Example:
    """An :class:`Example` of random words. ``shape``: ``"typed end"`` (the input contains the
    text ``<|end|>``), ``"empty"`` (an empty input), or None to draw one (mostly ordinary).
    ``short``: a few words each, so that a whole example's ids fit in a failure message."""
    shape = shape or rng.choices(["typed end", "empty", "plain"], [0.2, 0.1, 0.7])[0]
    n_lines, n_words = (1, 3) if short else (3, 8)
    if shape == "empty":
        text = ""
    else:
        lines = [_words(rng, 1, n_words) for _ in range(rng.randint(1, n_lines))]  # verse
        text = "\n".join(lines)
        if shape == "typed end":
            cut = rng.randint(0, len(text))
            text = f"{text[:cut]}{END}{text[cut:]}"
    instruction = _words(rng, 1, 2 if short else 6) + "?"
    answer = _words(rng, 1, 2 if short else 4)
    return Example("random", instruction, text, answer, "random", "train")


def _edges_first(draw):
    """``make_inputs`` for :func:`check_function` that gives, before the random cases, one example
    whose input contains a typed ``<|end|>`` and one with an empty input (every run meets both)."""
    shapes = itertools.chain(["typed end", "empty"], itertools.repeat(None))
    return lambda rng: draw(rng, next(shapes))


def _is(mistake):
    """A hint's test: the learner's result is what ``mistake(*args)`` gives, and on this input
    the mistake differs from the right answer."""

    def applies(args, got, expected):
        wrong = mistake(*args)
        return got == wrong and wrong != expected

    return applies


def _as_lists(fn, *, pair: bool = False):
    """``fn`` with its result made plain lists of ints (from a tensor, a tuple, a list of 0-d
    tensors), and with ``pair`` a tuple of two such lists, so that the comparison and the hints
    see one form."""

    def plain(x):
        if hasattr(x, "tolist"):
            return x.tolist()
        return [plain(v) for v in x] if isinstance(x, list | tuple) else x

    @functools.wraps(fn)
    def wrapped(*args):
        out = fn(*args)
        if pair and isinstance(out, tuple | list) and len(out) == 2:
            return tuple(plain(v) for v in out)
        return plain(out)

    return wrapped


def _with_tokenizer(fn):
    """``fn(example, tokenizer)`` called as ``f(example)`` with the real tokenizer: the check's
    inputs and messages show the example only."""

    @functools.wraps(fn)
    def on_example(example):
        return fn(example, _tokenizer())

    return on_example


# --- the ids of the template -------------------------------------------------------------------


def _template_reference(example):
    return encode_example(example, _tokenizer())[0]


def _specials() -> set[int]:
    return {_tokenizer().special_id(s) for s in SPECIAL_TOKENS}


def _n_special(ids) -> int:
    specials = _specials()
    return sum(1 for i in ids if i in specials) if isinstance(ids, list) else 0


def _decodes_to(text_of):
    """A hint's test: the learner's ids decode to ``text_of(example)``, a near miss of the
    template."""

    def applies(args, got, expected):
        return isinstance(got, list) and _tokenizer().decode(got) == text_of(args[0])

    return applies


TEMPLATE_HINTS = [
    Hint(
        lambda args, got, exp: isinstance(got, list) and got and _n_special(got) == 0,
        "your ids hold none of the three special ids: the markers were encoded as text "
        "(<, |, user, ...). Put tokenizer.special_id(USER), tokenizer.special_id(ASSISTANT) and "
        "tokenizer.special_id(END) in the list yourself and encode only the text between them",
    ),
    Hint(
        lambda args, got, exp: _n_special(got) > _n_special(exp),
        "more special ids than the three markers: the text <|end|> typed in the input became "
        "the marker. tokenizer.encode lets special tokens through by default "
        '(allowed_special="all"): encode the text with allowed_special="none"',
    ),
    Hint(
        _decodes_to(lambda ex: f"{USER}{ex.instruction}{ex.input}{ASSISTANT}{ex.answer}{END}"),
        "the newline between the instruction and the input is missing: the text between "
        "<|user|> and <|assistant|> is instruction + '\\n' + input",
    ),
    Hint(
        _decodes_to(lambda ex: f"{format_prompt(ex)}{ex.answer}"),
        "the <|end|> id after the answer is missing: it is how the model learns to stop",
    ),
]


def check_template_ids(fn, *, trials: int = 20, verbose: bool = True) -> bool:
    """Check ``fn(example, tokenizer) -> list[int]``: the ids of ``example`` in the template, the
    markers as special ids and the text between them encoded with ``allowed_special="none"``,
    against ``encode_example(example, tokenizer)[0]``."""
    name = "check_template_ids"
    library = [encode_example, prompt_ids, few_shot_ids]
    if library_verdict(fn, library, name, verbose) is False:
        return False
    return check_function(
        _as_lists(_with_tokenizer(fn)),
        _template_reference,
        _edges_first(_random_example),
        name=name,
        trials=trials,
        hints=TEMPLATE_HINTS,
        verbose=verbose,
    )


# --- the loss targets ----------------------------------------------------------------------------


def loss_targets_reference(
    prompt: list[int], answer: list[int], end_id: int
) -> tuple[list[int], list[int]]:
    """``(ids, targets)`` for one example, both of length ``L = len(prompt) + len(answer) + 1``:
    ``ids = prompt + answer + [end_id]``; ``targets[t] = ids[t + 1]`` where that next token is an
    answer token or the end token (``t`` from ``len(prompt) - 1`` to ``L - 2``), and
    :data:`~course_lib.instruct.IGNORE_INDEX` elsewhere: the prompt's other positions and the last
    position, which has no next token. The rule of :func:`~course_lib.instruct.encode_example`."""
    ids = [*prompt, *answer, end_id]
    first = len(prompt) - 1  # the last prompt position (<|assistant|>) predicts the answer's start
    targets = [ids[t + 1] if first <= t < len(ids) - 1 else IGNORE_INDEX for t in range(len(ids))]
    return ids, targets


def _loss_inputs(rng: random.Random, shape: str | None = None):
    tok = _tokenizer()
    example = _random_example(rng, shape, short=True)
    answer = tok.encode(example.answer, allowed_special="none")  # never empty, as in the lesson
    return prompt_ids(example, tok), answer, tok.special_id(END)


def _mask_from(first_offset: int):
    """The reference's rule with the targets starting at position ``len(prompt) +
    first_offset`` (the reference: -1, the last prompt position)."""

    def targets_of(prompt, answer, end_id):
        ids = [*prompt, *answer, end_id]
        first, L = len(prompt) + first_offset, len(ids)
        return ids, [ids[t + 1] if first <= t < L - 1 else IGNORE_INDEX for t in range(L)]

    return targets_of


def _targets_where(pred):
    """A hint's test on the learner's ``(ids, targets)``: ``pred(prompt, ids, targets)``, given
    that the ids are right and the targets have one entry per id."""

    def applies(args, got, expected):
        if not (isinstance(got, tuple) and len(got) == 2 and got[0] == expected[0]):
            return False
        ids, targets = got
        return len(targets) == len(ids) and pred(args[0], ids, targets)

    return applies


def _unshifted(prompt, ids, targets):
    trained = [t for t, y in enumerate(targets) if y != IGNORE_INDEX]
    return bool(trained) and all(targets[t] == ids[t] for t in trained)


LOSS_HINTS = [
    Hint(
        _targets_where(_unshifted),
        "every target equals the token at its own position (target[t] = ids[t]): the model "
        "would learn to copy its input. The target at position t is the NEXT token, ids[t + 1]",
    ),
    Hint(
        lambda args, got, exp: isinstance(got, tuple) and len(got) == 2 and got[0] == exp[0][:-1],
        "ids lacks the end token: ids = prompt_ids + answer_ids + [end_id]. Without it the end "
        "is never a target and the model never learns to stop",
    ),
    Hint(
        lambda args, got, exp: (
            isinstance(got, tuple)
            and len(got) == 2
            and isinstance(got[1], list)
            and len(got[1]) == len(exp[1]) - 1
        ),
        "one target too few: targets has one entry per position of ids (L of them); the last "
        "position has no next token, so its target is -100",
    ),
    Hint(
        _is(_mask_from(0)),
        "the last prompt position is masked too: that position (<|assistant|>) is where the "
        "model must predict the answer's FIRST token, so it needs the target ids[len(prompt)]; "
        "with it masked, the first answer token is never trained",
    ),
    Hint(
        _targets_where(lambda prompt, ids, targets: ids[-1] not in targets),
        "the end token is never a target: the model would never learn to stop. The position of "
        "the answer's last token (len(ids) - 2) has the target end_id",
    ),
    Hint(
        _targets_where(lambda prompt, ids, targets: targets[0] != IGNORE_INDEX),
        "the prompt is not masked: positions 0 .. len(prompt) - 2 predict the instruction and "
        "the input, which the model should not be trained to write; their targets are -100 "
        "(IGNORE_INDEX, which F.cross_entropy skips)",
    ),
]


def check_loss_targets(fn, *, trials: int = 20, verbose: bool = True) -> bool:
    """Check ``fn(prompt_ids, answer_ids, end_id) -> (ids, targets)``, both lists of length
    ``L = len(prompt_ids) + len(answer_ids) + 1``, against :func:`loss_targets_reference` (the
    rule of :func:`~course_lib.instruct.encode_example`), on the ids of random examples."""
    name = "check_loss_targets"
    library = [encode_example, few_shot_ids, loss_targets_reference]
    if library_verdict(fn, library, name, verbose) is False:
        return False
    return check_function(
        _as_lists(fn, pair=True),
        loss_targets_reference,
        _edges_first(_loss_inputs),
        name=name,
        trials=trials,
        hints=LOSS_HINTS,
        verbose=verbose,
    )


# --- a k-shot prompt ---------------------------------------------------------------------------


def _k_shot_inputs(rng: random.Random, shape: str | None = None):
    n = rng.randint(1, 5)
    shots = [_random_example(rng) for _ in range(n)]
    k = rng.randint(1, n - 1) if n > 1 and rng.random() < 0.8 else rng.choice([0, n])
    return shots, _random_example(rng, shape), k


def _k_shot_reference(shots, query, k):
    return few_shot_prompt(shots, query, k)


def _no_end(shots, query, k):
    return "".join(format_prompt(s) + s.answer for s in shots[:k]) + format_prompt(query)


def _squeezed(text) -> str:
    return "".join(text.split()) if isinstance(text, str) else text


K_SHOT_HINTS = [
    Hint(
        lambda args, got, exp: isinstance(got, str) and got.startswith(exp) and got != exp,
        "your prompt goes on after the query's <|assistant|>: the query's answer leaked into "
        "the prompt. The prompt must end at <|assistant|>, where the model is to write it",
    ),
    Hint(
        _is(_no_end),
        "the shots lack <|end|>: write each shot in full, prompt + answer + <|end|>, so the "
        "model sees where an answer stops",
    ),
    Hint(
        _is(lambda shots, query, k: few_shot_prompt(shots, query, len(shots))),
        "k is ignored: you used all the shots. Use the first k, shots[:k]",
    ),
    Hint(
        _is(
            lambda shots, query, k: (
                format_prompt(query)
                + few_shot_prompt(shots, query, k)[: -len(format_prompt(query))]
            )
        ),
        "the query comes first: write the k shots first, then the query's prompt last, so that "
        "the model continues right after the query's <|assistant|>",
    ),
    Hint(
        lambda args, got, exp: _squeezed(got) == _squeezed(exp),
        "the right parts with different white space: the template has one newline, between the "
        "instruction and the input, and nothing between one shot's <|end|> and the next <|user|>",
    ),
]


def check_k_shot_prompt(fn, *, trials: int = 20, verbose: bool = True) -> bool:
    """Check ``fn(shots, query, k) -> str``: the first ``k`` shots written in full (prompt,
    answer, ``<|end|>``), then the query's prompt ending at ``<|assistant|>``, against
    :func:`course_lib.instruct.few_shot_prompt`."""
    name = "check_k_shot_prompt"
    library = [few_shot_prompt, few_shot_ids, format_example, format_prompt]
    if library_verdict(fn, library, name, verbose) is False:
        return False
    return check_function(
        fn,
        _k_shot_reference,
        _edges_first(_k_shot_inputs),
        name=name,
        trials=trials,
        hints=K_SHOT_HINTS,
        verbose=verbose,
    )
