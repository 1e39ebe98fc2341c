# ruff: noqa: E501  (the lesson's text and code, with the line lengths of a notebook)
"""Lesson 07's exercise section, for ``tools/build_lesson07.py``: ``add_exercises(md, code)``.

Three exercises, each a markdown task, a solution cell (between ``### BEGIN SOLUTION`` and
``### END SOLUTION``, which ``course student`` replaces by a stub) and a check cell from
:mod:`course_lib.checks.instruct`: the template's ids (warm-up), the loss targets with the prompt
masked out (core), a k-shot prompt (core). After the loss-targets check a cell runs the learner's
function on a real training example; after the k-shot check a cell prints a 2-shot prompt built
with it. The cells use what the lesson defined before them: ``instruct`` (``course_lib.instruct``),
``tok`` (the assistant's tokenizer) and ``data`` (``instruct.build_instruction_dataset(seed=0)``).
"""

from __future__ import annotations

from collections.abc import Callable


def add_exercises(
    md: Callable[[str], None], code: Callable[[str], None], *, heading: str = "## Exercises"
) -> None:
    """Append the exercise section's cells with the builder's ``md(text)`` and ``code(text)``;
    ``heading`` is the section's title line (e.g. ``"## 9. Exercises"``)."""
    md(
        heading
        + r"""

Each exercise gives a function to complete; the cell after it checks your answer on fresh random examples (random words; now and then an empty input, or an input with the text `<|end|>` typed into it) with the lesson's tokenizer, and prints ✅, or ❌ with a hint. The library has every answer (`instruct.encode_example`, `instruct.prompt_ids`, `instruct.few_shot_prompt`, `instruct.format_example`): write the steps yourself, since an answer that calls them gets ⚠️ "uses the library version". (In the student version, `course student`, each solution is replaced by `raise NotImplementedError()`.)

### Exercise 1 (warm-up): an example's ids in the template

Write `template_ids(example, tokenizer)`: the ids of a whole example (an `instruct.Example`: `example.instruction`, `example.input`, `example.answer`) in the template

```
<|user|>{instruction}⏎{input}<|assistant|>{answer}<|end|>
```

Each marker is one special id: `tokenizer.special_id(instruct.USER)`, and the same for `instruct.ASSISTANT` and `instruct.END`. The text between the markers is encoded with `tokenizer.encode(text, allowed_special="none")`, so that a marker *typed* in the text stays characters. Between `<|user|>` and `<|assistant|>` the text is the instruction, a newline `"\n"`, then the input (which may be empty). Return a list of ints.
"""
    )

    code(r"""
def template_ids(example, tokenizer):
    ### BEGIN SOLUTION
    user, assistant, end = (tokenizer.special_id(m) for m in (instruct.USER, instruct.ASSISTANT, instruct.END))
    question = tokenizer.encode(f"{example.instruction}\n{example.input}", allowed_special="none")
    answer = tokenizer.encode(example.answer, allowed_special="none")
    return [user, *question, assistant, *answer, end]
    ### END SOLUTION
""")

    code(r"""
# NBVAL_CHECK_OUTPUT
from course_lib.checks.instruct import check_template_ids

ok = check_template_ids(template_ids)
""")

    md(r"""
### Exercise 2 (core): the loss targets, with the prompt masked out

Write `loss_targets(prompt_ids, answer_ids, end_id)`. `prompt_ids` are a prompt's ids, from `<|user|>` to `<|assistant|>` included; `answer_ids` the answer's ids; `end_id` the id of `<|end|>`. Return `(ids, targets)`, two lists of the same length $L$:

* `ids = prompt_ids + answer_ids + [end_id]`;
* `targets[t]` is what position $t$ must predict, the next token `ids[t + 1]`, where that next token is an answer token or `<|end|>`; everywhere else it is `-100` (`instruct.IGNORE_INDEX`, which `F.cross_entropy` skips): at the prompt's positions before its last one, and at the very last position, after which nothing comes.

Before you write it: which position predicts the answer's *first* token? And what would the model never learn if `<|end|>` were not a target?
""")

    code(r"""
def loss_targets(prompt_ids, answer_ids, end_id):
    ### BEGIN SOLUTION
    ids = [*prompt_ids, *answer_ids, end_id]
    first = len(prompt_ids) - 1  # the last prompt position, <|assistant|>, predicts the answer's first token
    targets = [instruct.IGNORE_INDEX] * len(ids)
    for t in range(first, len(ids) - 1):
        targets[t] = ids[t + 1]
    return ids, targets
    ### END SOLUTION
""")

    code(r"""
# NBVAL_CHECK_OUTPUT
from course_lib.checks.instruct import check_loss_targets

ok = check_loss_targets(loss_targets)
""")

    code(r"""
# your loss_targets on a real training example: which positions does the loss train?
sft_example = next(e for e in data["train"] if e.task == "speaker")
sft_prompt = instruct.prompt_ids(sft_example, tok)
my_ids, my_targets = (
    [int(i) for i in v]
    for v in loss_targets(sft_prompt, tok.encode(sft_example.answer, allowed_special="none"), tok.special_id(instruct.END))
)
print(instruct.format_example(sft_example), "\n")
n_prompt = len(sft_prompt)
print(f"{len(my_ids)} positions: the prompt's {n_prompt} (0 to {n_prompt - 1}), the answer's {len(my_ids) - n_prompt - 1}, then <|end|>. From position {n_prompt - 3} on:")
for t in range(n_prompt - 3, len(my_ids)):
    target = "-100 (no target)" if my_targets[t] == instruct.IGNORE_INDEX else repr(tok.decode([my_targets[t]]))
    print(f"  position {t:>3} reads {tok.decode([my_ids[t]])!r:>15}  ->  target {target}")
trained = [t for t, y in enumerate(my_targets) if y != instruct.IGNORE_INDEX]
print(f"\npositions with a target: {trained}, from the prompt's last (<|assistant|>) to the one before the end")
print("their targets are exactly the answer's tokens and <|end|>:", [my_targets[t] for t in trained] == my_ids[n_prompt:])
print("your (ids, targets) equal instruct.encode_example's:", (my_ids, my_targets) == instruct.encode_example(sft_example, tok))
""")

    md(r"""
### Exercise 3 (core): a k-shot prompt

Write `k_shot_prompt(shots, query, k)`, the prompt of section 4's in-context learning: the first `k` of `shots` (a list of `Example`s), each written in full in the template, `<|user|>{instruction}⏎{input}<|assistant|>{answer}<|end|>`, one right after the other with nothing between them; then the query's prompt alone, `<|user|>{instruction}⏎{input}<|assistant|>`, which ends where the model is to write the answer. `k = 0` gives the query's prompt alone. Write the markers with `instruct.USER`, `instruct.ASSISTANT` and `instruct.END` and return one string.
""")

    code(r"""
def k_shot_prompt(shots, query, k):
    ### BEGIN SOLUTION
    user, assistant, end = instruct.USER, instruct.ASSISTANT, instruct.END
    solved = [f"{user}{s.instruction}\n{s.input}{assistant}{s.answer}{end}" for s in shots[:k]]
    return "".join(solved) + f"{user}{query.instruction}\n{query.input}{assistant}"
    ### END SOLUTION
""")

    code(r"""
# NBVAL_CHECK_OUTPUT
from course_lib.checks.instruct import check_k_shot_prompt

ok = check_k_shot_prompt(k_shot_prompt)
""")

    code(r"""
# a 2-shot prompt for a test question, built by your function: the kind of prompt the base model reads in section 4 (there with k = 1 and 4)
shot_pool = instruct.by_task(data["train"])["translate"]
question = instruct.by_task(data["test"])["translate"][0]
two_shot = k_shot_prompt(shot_pool, question, 2)
print(two_shot)
print(f"\n({len(tok.encode(two_shot))} tokens; the model should go on with {question.answer!r} and <|end|>)")
""")
