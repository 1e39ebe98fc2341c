"""Lesson 07's assistant playground: type an instruction (or pick an example), watch the answer
being written token by token, each token coloured by the probability the model gave it.

* :func:`AssistantPlayground` is the interactive widget (ipywidgets);
* :func:`answer_html` is what it shows, as an HTML string: one ``<span class="answer-token">``
  per token, its background the token's probability (orange unlikely, blue sure:
  :func:`course_lib.viz.assistant.probability_colour`), the probability on hover (``title``),
  and how the answer ended: the model wrote ``<|end|>`` itself, or ran out of tokens;
* :func:`playground_prompt` turns what was typed into the prompt's ids, or raises
  :class:`PromptError` with a message the widget shows (an empty instruction, a prompt longer than
  the model's window leaves room for);
* :func:`course_lib.viz.assistant.plot_answer_tokens` is the static fallback figure, for readers
  of a rendered or exported notebook, where widgets do not run.

**Streaming.** The answer is written by :func:`course_lib.evaluate.generate_answer`, whose
``on_token`` callback the widget uses to redraw the answer after every token: each redraw is a
message to the browser, so the answer grows on screen while the model is still writing.

**Same question, same answer.** Temperature 0 is greedy decoding: the most likely token every
time. Above 0 the tokens are sampled (top-p filtered) with a generator seeded by the seed box, so
the same instruction, input, settings and seed always give the same answer; asking again without
changing any of them keeps the answer on screen (it would be written again token for token).

ipywidgets is imported inside the function, so importing this module is light.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from ..evaluate import exact_match, generate_answer
from ..instruct import Example, prompt_ids
from ..viz.assistant import PROBABILITY_RAMP, probability_colour, token_text

__all__ = [
    "PromptError",
    "typed_example",
    "playground_prompt",
    "answer_html",
    "message_html",
    "legend_html",
    "AssistantPlayground",
]


class PromptError(ValueError):
    """What was typed cannot be asked: the message says why and what to change."""


def typed_example(instruction: str, input_text: str = "") -> Example:
    """An :class:`~course_lib.instruct.Example` for a typed instruction: task ``"custom"``, no
    reference answer, split ``"test"`` (it was never trained on)."""
    return Example("custom", instruction, input_text, "", "typed", "test")


def playground_prompt(
    tokenizer, instruction: str, input_text: str, block_size: int, max_new_tokens: int
) -> list[int]:
    """The ids of the prompt ``<|user|>{instruction}\\n{input}<|assistant|>`` (spaces around the
    instruction trimmed). Raises :class:`PromptError` if the instruction is empty, or if the
    prompt does not fit in the ``block_size - max_new_tokens`` positions the model's window
    leaves it (the model would silently lose the prompt's start)."""
    instruction = instruction.strip()
    if not instruction:
        raise PromptError("Type an instruction first (or pick a task and one of its examples).")
    ids = prompt_ids(typed_example(instruction, input_text), tokenizer)
    room = block_size - max_new_tokens
    if len(ids) > room:
        raise PromptError(
            f"The prompt is {len(ids)} tokens, too long: the model's window of {block_size} "
            f"tokens holds at most {room} prompt tokens plus the {max_new_tokens} new ones. "
            "Shorten the input, or ask for fewer new tokens."
        )
    return ids


def message_html(text: str) -> str:
    """A message in place of an answer (an empty instruction, a prompt too long)."""
    return f'<div class="assistant-message" style="color:#b00">{html.escape(text)}</div>'


def _token_span(text: str, token_id: int, p: float) -> str:
    newline = "<br>" if text.endswith("\n") else ""
    shown = html.escape(text.replace("\n", "\u21b5"))
    return (
        f'<span class="answer-token" title="p = {p:.3f} (token {token_id})" '
        f'style="background:{probability_colour(p)};border-radius:3px;padding:1px 0;'
        f'border-right:1px solid #fff;white-space:pre-wrap">{shown}</span>{newline}'
    )


def answer_html(
    tokenizer,
    ids: Sequence[int],
    probs: Sequence[float],
    stopped: bool | None = None,
    max_new_tokens: int | None = None,
    reference: str | None = None,
) -> str:
    """The answer so far as HTML: one span per token, coloured by its probability, the
    probability in its ``title`` (shown on hover). ``stopped``: ``None`` while the model is still
    writing, ``True`` when it ended the answer with ``<|end|>``, ``False`` when it ran out of
    tokens (``max_new_tokens``). With ``reference`` (a picked example's answer), the finished
    answer is shown against it, with its exact match."""
    if len(ids) != len(probs):
        raise ValueError(f"got {len(ids)} ids but {len(probs)} probabilities: pass one per id")
    spans = "".join(
        _token_span(token_text(tokenizer, t), t, p) for t, p in zip(ids, probs, strict=True)
    )
    if stopped is None:
        status = "<i>writing...</i>"
    elif stopped:
        status = (
            f"{len(ids)} tokens; the model ended its answer itself (<code>&lt;|end|&gt;</code>)"
        )
    else:
        limit = max_new_tokens if max_new_tokens is not None else len(ids)
        status = (
            f"cut after {limit} tokens: the model ran out of tokens before writing "
            "<code>&lt;|end|&gt;</code>"
        )
    ending = "ended" if stopped else "writing" if stopped is None else "cut"
    check = ""
    if reference is not None and stopped is not None:
        text = tokenizer.decode(list(ids))
        verdict = "exact match" if exact_match(text, reference) else "not an exact match"
        check = (
            f"<div class='assistant-reference'>reference answer: "
            f"<b>{html.escape(reference)}</b> ({verdict})</div>"
        )
    return (
        f"<div class='assistant-answer' data-ending='{ending}'>"
        f"<div style='font-family:monospace;line-height:1.9'>{spans or '&nbsp;'}</div>"
        f"<div class='assistant-status' style='color:#555;font-size:90%'>{status}</div>"
        f"{check}</div>"
    )


def legend_html() -> str:
    """The colour key: the probability ramp from 0 to 1."""
    stops = ", ".join(f"{c} {100 * p:.0f}%" for p, c in PROBABILITY_RAMP)
    return (
        "<div style='font-size:90%;color:#555'>each token coloured by the probability the model "
        "gave it (hover for the number): 0 "
        f"<span style='display:inline-block;width:120px;height:10px;vertical-align:middle;"
        f"background:linear-gradient(to right, {stops})'></span> 1</div>"
    )


def _short(text: str, n: int = 70) -> str:
    text = " / ".join(text.split("\n"))
    return text if len(text) <= n else text[: n - 3] + "..."


def AssistantPlayground(
    model,
    tokenizer,
    examples: Sequence[Example] | None = None,
    instruction: str = "Translate into French.",
    input_text: str = "the small cat sees a black dog",
    max_new_tokens: int = 48,
    temperature: float = 0.0,
    top_p: float = 0.9,
    seed: int = 0,
    per_task: int = 50,
):
    """Ask the assistant: type an instruction and an input (or pick a task family and one of its
    ``examples``), press **ask** (or Enter in the instruction box), and watch the answer appear
    token by token, coloured by the probability the model gave each token.

    Args:
        model, tokenizer: the assistant (a :class:`~course_lib.transformer.GPT`) and its
            tokenizer with the template's special tokens.
        examples: :class:`~course_lib.instruct.Example` s to pick from (the test split, say);
            ``None``: typing only. At most ``per_task`` of each task family are offered.
        instruction, input_text: what the boxes start with.
        max_new_tokens, temperature, top_p, seed: the starting settings (temperature 0 is greedy;
            top-p and the seed matter only when sampling).

    The widget's root has the CSS class ``assistant-playground``; its parts are reachable as
    attributes ``task``, ``example``, ``instruction``, ``input``, ``temperature``, ``top_p``,
    ``seed``, ``max_tokens``, ``ask`` (the button) and ``answer`` (for tests and notebooks)."""
    import ipywidgets as widgets

    examples = list(examples or [])
    wide = {"width": "640px"}
    label = {"description_width": "95px"}  # room for "temperature"
    instruction_box = widgets.Text(
        value=instruction,
        description="instruction",
        continuous_update=False,
        layout=wide,
        style=label,
    )
    input_box = widgets.Textarea(
        value=input_text,
        description="input",
        continuous_update=False,
        style=label,
        layout=wide | {"height": "70px"},
    )
    tasks = list(dict.fromkeys(ex.task for ex in examples))
    task = widgets.Dropdown(
        options=[("type your own", "")] + [(t, t) for t in tasks],
        value="",
        description="task",
        style=label,
    )
    example = widgets.Dropdown(options=[], description="example", layout={"width": "520px"})
    temp = widgets.FloatSlider(
        value=temperature, min=0.0, max=2.0, step=0.05, description="temperature", style=label
    )
    top_p_slider = widgets.FloatSlider(
        value=top_p, min=0.05, max=1.0, step=0.05, description="top-p"
    )
    seed_box = widgets.IntText(value=seed, description="seed", layout={"width": "160px"})
    max_tokens = widgets.IntSlider(
        value=max_new_tokens, min=1, max=128, description="max tokens", style=label
    )
    ask_button = widgets.Button(description="ask", button_style="primary", icon="play")
    answer = widgets.HTML("<i>press <b>ask</b> (or Enter in the instruction box)</i>")
    state = {"shown": None, "filling": False}

    def settings():
        return (
            instruction_box.value,
            input_box.value,
            temp.value,
            top_p_slider.value,
            seed_box.value,
            max_tokens.value,
        )

    def picked() -> Example | None:
        if example.value is None:
            return None
        ex = examples[example.value]
        same = (ex.instruction, ex.input) == (instruction_box.value.strip(), input_box.value)
        return ex if same else None

    def ask(_=None):
        request = settings()
        if request == state["shown"] or state["filling"]:
            return  # the answer on screen is this request's (and would be written again as is)
        state["shown"] = request
        try:
            ids = playground_prompt(
                tokenizer,
                instruction_box.value,
                input_box.value,
                model.config.block_size,
                max_tokens.value,
            )
        except PromptError as e:
            answer.value = message_html(str(e))
            return
        written, probs = [], []

        def show(token: int, p: float) -> None:
            written.append(token)
            probs.append(p)
            answer.value = answer_html(tokenizer, written, probs)

        answer.value = answer_html(tokenizer, [], [])
        try:
            result = generate_answer(
                model,
                tokenizer,
                ids,
                max_tokens.value,
                temperature=temp.value,
                top_p=top_p_slider.value if temp.value > 0 else None,
                seed=seed_box.value,
                on_token=show,
            )
        except ValueError as e:
            state["shown"] = None
            answer.value = message_html(str(e))
            return
        ex = picked()
        answer.value = answer_html(
            tokenizer,
            result.ids,
            result.probs,
            result.stopped,
            max_tokens.value,
            reference=ex.answer if ex is not None else None,
        )

    def on_task(_=None):
        chosen = [i for i, ex in enumerate(examples) if ex.task == task.value][:per_task]
        example.options = [
            (f"{n}. {_short(examples[i].input)}", i) for n, i in enumerate(chosen, 1)
        ]
        example.value = chosen[0] if chosen else None

    def on_example(_=None):
        if example.value is None:
            return
        ex = examples[example.value]
        state["filling"] = True  # filling the boxes does not ask: the button does
        try:
            instruction_box.value, input_box.value = ex.instruction, ex.input
        finally:
            state["filling"] = False

    def on_temperature(_=None):
        top_p_slider.disabled = seed_box.disabled = temp.value == 0

    task.observe(on_task, names="value")
    example.observe(on_example, names="value")
    temp.observe(on_temperature, names="value")
    instruction_box.observe(ask, names="value")  # Enter (or leaving the box) asks
    ask_button.on_click(ask)
    on_temperature()
    root = _layout(
        task, example, instruction_box, input_box, temp, top_p_slider, seed_box, max_tokens,
        ask_button, answer,
    )  # fmt: skip
    root.examples = examples
    return root


def _layout(
    task, example, instruction_box, input_box, temp, top_p, seed, max_tokens, ask_button, answer
):
    """The playground's root box, its parts reachable as attributes."""
    import ipywidgets as widgets

    root = widgets.VBox(
        [
            widgets.HTML("<b>Ask the assistant</b>: type an instruction, or pick an example"),
            widgets.HBox([task, example]),
            instruction_box,
            input_box,
            widgets.HBox([temp, top_p, seed]),
            widgets.HBox([max_tokens, ask_button]),
            widgets.HTML(legend_html()),
            answer,
        ]
    )
    root.add_class("assistant-playground")
    root.task, root.example = task, example
    root.instruction, root.input = instruction_box, input_box
    root.temperature, root.top_p, root.seed, root.max_tokens = temp, top_p, seed, max_tokens
    root.ask, root.answer = ask_button, answer
    return root
