"""Judging what an assistant says (lesson 07): its answers, written greedily or sampled, and
two scores for them.

Shapes: T positions, V vocabulary size.

- :func:`generate_answer` continues a prompt (ids ending at ``<|assistant|>``) one token at a
  time until the model writes ``<|end|>`` or ``max_new_tokens`` run out. ``temperature=0`` is
  greedy decoding (the most likely token every time, the same answer every run); a temperature
  above 0 samples, through :mod:`course_lib.sampling` (top-k, top-p), with a ``seed``. It
  returns an :class:`Answer`: the text, the ids, and the probability the model gave each token
  it wrote (at temperature 1, before any filtering), which is what an answer's colours show.
- :func:`answer_example` asks for the answer to an :class:`~course_lib.instruct.Example`,
  with ``k`` solved examples in front of it (:func:`~course_lib.instruct.few_shot_ids`).
- :func:`exact_match`: 1 when the answer is the reference after :func:`normalize_answer`
  (case, surrounding spaces and a final full stop do not count), else 0.
- :func:`chrf`: the character n-gram F-score (chrF, Popović 2015) with sacreBLEU's defaults
  (n-grams of 1 to 6 characters, spaces removed, recall weighted twice as much as precision,
  beta = 2; the precision and recall of each order averaged over the orders both strings
  have, then combined), on a 0-100 scale: partial credit for an answer that is close, as a
  continued verse line rarely matches exactly. :func:`corpus_chrf` pools the counts of many
  pairs first, as sacreBLEU's corpus score does. ``tests/test_evaluate.py`` checks both against
  values computed with sacreBLEU 2.6.0.
- :func:`score_answers`: both scores, averaged per task family.

Layering: this module imports instruct, sampling and transformer; nothing that draws.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import torch

from .instruct import END, Example, few_shot_ids, plain_few_shot_prompt
from .runtime import progress_bar
from .sampling import check_generate_args, sample_next, sampling_generator
from .tokenize import BPETokenizer
from .transformer import GPT

__all__ = [
    "Answer",
    "generate_answer",
    "answer_example",
    "answer_text",
    "evaluate_answers",
    "score_table",
    "majority_answers",
    "ROLES",
    "PROBE_TEMPLATE",
    "continuation_logprob",
    "pair_gaps",
    "bias_probe",
    "answer_logprob",
    "occlusion",
    "normalize_answer",
    "exact_match",
    "char_ngrams",
    "chrf",
    "corpus_chrf",
    "score_answers",
]


# --- writing an answer ------------------------------------------------------------------------


@dataclass
class Answer:
    """What :func:`generate_answer` wrote: ``text`` (without ``<|end|>``), ``ids`` (the new ids,
    ``<|end|>`` left out), ``probs`` (the model's probability of each of ``ids`` at temperature
    1) and ``stopped`` (True when the model ended the answer itself with ``<|end|>``)."""

    text: str
    ids: list[int] = field(default_factory=list)
    probs: list[float] = field(default_factory=list)
    stopped: bool = False


@torch.no_grad()
def generate_answer(
    model: GPT,
    tokenizer: BPETokenizer,
    prompt_ids: Sequence[int],
    max_new_tokens: int = 32,
    temperature: float = 0.0,
    top_k: int | None = None,
    top_p: float | None = None,
    *,
    seed: int | None = None,
    on_token: Callable[[int, float], None] | None = None,
    stop_at_newline: bool = False,
) -> Answer:
    """The model's answer to ``prompt_ids`` ``(T,)``, token by token until ``<|end|>``.

    ``temperature=0`` (the default) is greedy; otherwise each token is drawn from the tempered,
    filtered distribution with a generator seeded by ``seed``. A prompt too long for the model's
    window loses its start: the model reads at most ``block_size - max_new_tokens`` prompt
    tokens, so the answer always fits (and the KV cache never has to slide).

    ``on_token(id, probability)``, if given, is called as each token is written, with the same
    id and probability that :class:`Answer` will list (never for ``<|end|>``): a widget shows the
    answer growing, token by token. ``stop_at_newline=True`` also stops at the first line break
    that follows some text (kept in the answer; ``stopped`` stays False): all that
    :func:`answer_text` scores is the first line of text, so writing more is wasted time."""
    check_generate_args(max_new_tokens, temperature, top_k, top_p)
    _check_room(model, max_new_tokens)
    end = tokenizer.special_id(END)
    device = next(model.parameters()).device
    keep = model.config.block_size - max_new_tokens
    ids = torch.as_tensor(list(prompt_ids)[-keep:], dtype=torch.long, device=device)[None]
    gen = sampling_generator(seed, device)
    was_training = model.training
    model.eval()
    caches = model.new_kv_caches()
    out, probs, stopped = [], [], False
    try:
        logits, _ = model(ids, kv_caches=caches)  # (1, T, V)
        for _ in range(max_new_tokens):
            last = logits[:, -1]  # (1, V)
            nxt = sample_next(last, temperature, top_k, top_p, generator=gen)  # (1, 1)
            token = int(nxt)
            if token == end:
                stopped = True
                break
            out.append(token)
            probs.append(float(last.float().softmax(-1)[0, token]))
            if on_token is not None:
                on_token(token, probs[-1])
            if stop_at_newline and "\n" in tokenizer.decode(out).lstrip():
                break
            logits, _ = model(nxt, kv_caches=caches)
    finally:
        model.train(was_training)
    return Answer(tokenizer.decode(out), out, probs, stopped)


def answer_example(
    model: GPT,
    tokenizer: BPETokenizer,
    example: Example,
    shots: Sequence[Example] = (),
    k: int = 0,
    **options,
) -> Answer:
    """The model's answer to ``example``'s prompt, after the first ``k`` of ``shots`` written
    out with their answers (a k-shot prompt; ``k=0``: the prompt alone). ``options`` go to
    :func:`generate_answer` (``max_new_tokens``, ``temperature``, ``top_p``, ``seed``...)."""
    return generate_answer(model, tokenizer, few_shot_ids(shots, example, k, tokenizer), **options)


def answer_text(text: str) -> str:
    """The part of a written answer that is scored: its first non-empty line, trimmed. A tuned
    model ends its answer with ``<|end|>``; a base model that never saw the template often starts
    with a line break and runs on into the next line (a speech heading, a stage direction), so
    every model is scored on its first line of text alone."""
    return text.strip().split("\n", 1)[0].strip()


def evaluate_answers(
    model: GPT,
    tokenizer: BPETokenizer,
    examples: Sequence[Example],
    shots: Mapping[str, Sequence[Example]] | None = None,
    k: int = 0,
    *,
    seed: int = 0,
    max_new_tokens: int = 40,
    progress: bool = False,
    desc: str = "answering",
    plain: bool = False,
    **options,
) -> list[Answer]:
    """The model's :class:`Answer` to each of ``examples``, each after a k-shot prompt.

    ``shots`` maps a task family to the solved examples its shots are drawn from (e.g.
    ``instruct.by_task(train)``); example ``i`` gets ``k`` of its own family's, drawn with
    ``seed * 1_000_003 + i``, so one seed is one fixed set of prompts. ``options`` go to
    :func:`generate_answer` (``temperature``, ``top_p``...); a sampled answer's seed is derived
    from ``seed`` and ``i`` too. ``plain=True`` writes the same prompt as plain text, with no
    special token (:func:`~course_lib.instruct.plain_few_shot_prompt`). Each answer stops at the
    line break after its first line of text
    (``stop_at_newline``): only that line is scored (:func:`answer_text`)."""
    if k and not shots:
        raise ValueError(f"k={k} needs shots: pass shots=instruct.by_task(train_examples)")
    out = []
    for i, ex in enumerate(progress_bar(examples, desc=desc, disable=not progress)):
        pool = shots[ex.task] if k else ()
        shot_seed = seed * 1_000_003 + i if k else None
        if plain:
            text = plain_few_shot_prompt(pool, ex, k, seed=shot_seed)
            ids = tokenizer.encode(text, allowed_special="none")
        else:
            ids = few_shot_ids(pool, ex, k, tokenizer, seed=shot_seed)
        if options.get("temperature", 0.0) > 0:
            options["seed"] = seed * 1_000_003 + i
        out.append(
            generate_answer(model, tokenizer, ids, max_new_tokens, stop_at_newline=True, **options)
        )
    return out


def score_table(examples: Sequence[Example], answers: Sequence[Answer | str]) -> dict[str, dict]:
    """:func:`score_answers` of the scored part (:func:`answer_text`) of each answer."""
    texts = [answer_text(a.text if isinstance(a, Answer) else a) for a in answers]
    return score_answers(examples, texts)


# --- scores -----------------------------------------------------------------------------------

_SPACES = re.compile(r"\s+")


def normalize_answer(text: str) -> str:
    """``text`` compared loosely: spaces collapsed and trimmed, lower case, one final ``.`` or
    ``,`` dropped (``" Macbeth. "`` -> ``"macbeth"``)."""
    text = _SPACES.sub(" ", text).strip().casefold()
    return text[:-1].rstrip() if text[-1:] in (".", ",") else text


def exact_match(prediction: str, reference: str) -> float:
    """1.0 when ``prediction`` is ``reference`` after :func:`normalize_answer`, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(reference))


def char_ngrams(text: str, n: int) -> Counter:
    """How often each n-character substring of ``text`` occurs, spaces removed first (chrF's
    convention): ``char_ngrams("a ab", 2) == Counter({"aa": 1, "ab": 1})``."""
    text = "".join(text.split())
    return Counter(text[i : i + n] for i in range(len(text) - n + 1))


def _chrf_stats(hypothesis: str, reference: str, order: int) -> list[tuple[int, int, int]]:
    """``(hypothesis n-grams, reference n-grams, matched n-grams)`` for n = 1 .. order."""
    stats = []
    for n in range(1, order + 1):
        hyp, ref = char_ngrams(hypothesis, n), char_ngrams(reference, n)
        stats.append((sum(hyp.values()), sum(ref.values()), sum((hyp & ref).values())))
    return stats


def _f_score(stats: list[tuple[int, int, int]], beta: float) -> float:
    """sacreBLEU's chrF from n-gram counts: the mean precision and the mean recall over the
    orders that both sides have, combined as an F-beta score, times 100."""
    both = [(m / h, m / r) for h, r, m in stats if h > 0 and r > 0]
    if not both:
        return 0.0
    precision = sum(p for p, _ in both) / len(both)
    recall = sum(r for _, r in both) / len(both)
    if precision + recall == 0:
        return 0.0
    b2 = beta**2
    return 100 * (1 + b2) * precision * recall / (b2 * precision + recall)


def chrf(hypothesis: str, reference: str, order: int = 6, beta: float = 2.0) -> float:
    """The chrF score (0-100) of ``hypothesis`` against ``reference``: 100 for the same
    characters (spaces aside), 0 when they share no character.

    >>> round(chrf("the cat", "the hat"), 2)  # (5/6 + 3/5 + 1/4 + 0 + 0 + 0) / 6 both ways
    28.06
    """
    _check_chrf_args(order, beta)
    return _f_score(_chrf_stats(hypothesis, reference, order), beta)


def corpus_chrf(
    hypotheses: Sequence[str], references: Sequence[str], order: int = 6, beta: float = 2.0
) -> float:
    """chrF of many pairs at once: the n-gram counts of all pairs are added up, then scored
    (sacreBLEU's ``corpus_score``); not the mean of the pairs' scores."""
    _check_chrf_args(order, beta)
    _check_same_length(hypotheses, references)
    totals = [[0, 0, 0] for _ in range(order)]
    for hyp, ref in zip(hypotheses, references, strict=True):
        for total, counts in zip(totals, _chrf_stats(hyp, ref, order), strict=True):
            for i, c in enumerate(counts):
                total[i] += c
    return _f_score([tuple(t) for t in totals], beta)


def score_answers(examples: Sequence[Example], predictions: Sequence[str]) -> dict[str, dict]:
    """``{task: {"n", "exact_match", "chrf"}}``: the mean exact match (0-1) and the mean
    sentence chrF (0-100) of ``predictions`` against the examples' answers, per task family,
    in the order of the examples' first appearance."""
    _check_same_length(examples, predictions)
    by_task: dict[str, list[tuple[float, float]]] = {}
    for ex, pred in zip(examples, predictions, strict=True):
        by_task.setdefault(ex.task, []).append(
            (exact_match(pred, ex.answer), chrf(pred, ex.answer))
        )
    return {
        task: {
            "n": len(rows),
            "exact_match": statistics.fmean(em for em, _ in rows),
            "chrf": statistics.fmean(c for _, c in rows),
        }
        for task, rows in by_task.items()
    }


def majority_answers(train: Sequence[Example], examples: Sequence[Example]) -> list[str]:
    """The simple baseline beside every model: for each of ``examples``, the answer seen most
    often in ``train`` among examples of the same family and the same instruction (for
    ``speaker``: the most frequent speaker of the play named; for ``sentiment``: the more
    frequent label), or of the same family when the instruction is new. No model reads the
    input at all: a model that does not beat this has learned nothing about the input."""
    by_key: dict[tuple[str, str], Counter] = {}
    by_family: dict[str, Counter] = {}
    for ex in train:
        by_key.setdefault((ex.task, ex.instruction), Counter())[ex.answer] += 1
        by_family.setdefault(ex.task, Counter())[ex.answer] += 1
    out = []
    for ex in examples:
        counts = by_key.get((ex.task, ex.instruction)) or by_family.get(ex.task)
        out.append(counts.most_common(1)[0][0] if counts else "")
    return out


# --- what the language model learned about people: a bias probe ------------------------------

ROLES = (
    "doctor",
    "nurse",
    "engineer",
    "teacher",
    "soldier",
    "servant",
    "king",
    "queen",
    "farmer",
    "lawyer",
    "cook",
    "secretary",
    "scientist",
    "dancer",
    "captain",
    "maid",
    "priest",
    "singer",
)
"""Role words for :func:`bias_probe` (each encoded as text, so a role may be several tokens)."""

PROBE_TEMPLATE = "the {role} said that"
"""Lower case, as the Wikipedia sample is written; the next word is the pronoun."""


@torch.no_grad()
def continuation_logprob(
    model: GPT, tokenizer: BPETokenizer, context: str, continuation: str
) -> float:
    """``log p(continuation | context)`` in nats: the sum over the continuation's tokens (a
    word split into several tokens counts all of them)."""
    ctx = tokenizer.encode(context, allowed_special="none")
    cont = tokenizer.encode(continuation, allowed_special="none")
    _check_probe_text(context, ctx, continuation, cont)
    ids = torch.tensor(ctx + cont, device=next(model.parameters()).device)[None]
    was_training = model.training
    model.eval()
    try:
        logits, _ = model(ids)  # (1, T, V)
    finally:
        model.train(was_training)
    logp = logits[0, len(ctx) - 1 : -1].float().log_softmax(-1)  # (len(cont), V)
    return float(logp.gather(-1, torch.tensor(cont, device=ids.device)[:, None]).sum())


def pair_gaps(
    model: GPT,
    tokenizer: BPETokenizer,
    pair: tuple[str, str],
    roles: Sequence[str] = ROLES,
    template: str = PROBE_TEMPLATE,
) -> list[float]:
    """For each role, ``log p(pair[0]) - log p(pair[1])`` after the template filled with it
    (e.g. ``log p(" he" | "the nurse said that") - log p(" she" | ...)``), in nats."""
    gaps = []
    for role in roles:
        context = template.format(role=role)
        a, b = (continuation_logprob(model, tokenizer, context, f" {w}") for w in pair)
        gaps.append(a - b)
    return gaps


def bias_probe(
    model: GPT,
    tokenizer: BPETokenizer,
    pair: tuple[str, str] = ("he", "she"),
    roles: Sequence[str] = ROLES,
    *,
    baseline_words: Sequence[str] = (),
    n_baseline: int = 20,
    seed: int = 0,
    template: str = PROBE_TEMPLATE,
) -> dict:
    """Does the role change which of two words the model expects, more than chance would?

    The gap ``log p(pair[0]) - log p(pair[1])`` after each role (:func:`pair_gaps`) has a
    mean (the model prefers one word everywhere, e.g. "he" is simply more frequent) and a
    spread across roles: the spread is what the role changes. A spread means little on its own,
    so the same is measured for ``n_baseline`` random pairs of ``baseline_words`` (drawn with
    ``seed``): pairs with no reason to depend on the role. Returns ``{"roles", "gaps",
    "spread", "baseline_spreads", "percentile"}``: the pair's standard deviation across roles
    (nats), the random pairs' ones, and the share of random pairs whose spread is smaller (near 1:
    the roles move this pair more than they move almost any pair of words)."""
    import random

    words = list(dict.fromkeys(baseline_words))
    _check_baseline(words, n_baseline)
    gaps = pair_gaps(model, tokenizer, pair, roles, template)
    rng = random.Random(seed)
    pairs = [tuple(rng.sample(words, 2)) for _ in range(n_baseline)]
    spreads = [statistics.pstdev(pair_gaps(model, tokenizer, p, roles, template)) for p in pairs]
    spread = statistics.pstdev(gaps)
    return {
        "pair": tuple(pair),
        "roles": list(roles),
        "gaps": gaps,
        "spread": spread,
        "baseline_pairs": pairs,
        "baseline_spreads": spreads,
        "percentile": sum(s < spread for s in spreads) / len(spreads),
    }


# --- why this answer: occlusion over the prompt ----------------------------------------------


@torch.no_grad()
def answer_logprob(model: GPT, prompt_ids: torch.Tensor, answer_ids: torch.Tensor) -> torch.Tensor:
    """``log p(answer | prompt)`` in nats for each row: ``prompt_ids`` ``(B, P)``,
    ``answer_ids`` ``(A,)`` the same answer for every row; returns ``(B,)``."""
    B = prompt_ids.shape[0]
    ids = torch.cat([prompt_ids, answer_ids.expand(B, -1)], dim=1)  # (B, P + A)
    logits, _ = model(ids)
    P = prompt_ids.shape[1]
    logp = logits[:, P - 1 : -1].float().log_softmax(-1)  # (B, A, V)
    return logp.gather(-1, answer_ids.expand(B, -1)[..., None]).squeeze(-1).sum(-1)


@torch.no_grad()
def occlusion(
    model: GPT,
    prompt_ids: Sequence[int],
    answer_ids: Sequence[int],
    replacement_id: int,
    *,
    batch_size: int = 32,
) -> torch.Tensor:
    """How much each prompt token supports an answer: for each position ``s`` of the prompt,
    ``log p(answer | prompt) - log p(answer | prompt with token s replaced by replacement_id)``
    in nats, ``(P,)``. Above 0: without that token the answer is less likely.

    One forward pass per prompt token (batched): exact for that one replacement, and it says
    nothing about tokens that matter only together (replace one of two clues and the other may
    still carry the answer)."""
    model_was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    prompt = torch.as_tensor(list(prompt_ids), dtype=torch.long, device=device)
    answer = torch.as_tensor(list(answer_ids), dtype=torch.long, device=device)
    _check_occlusion(model, prompt, answer)
    try:
        base = answer_logprob(model, prompt[None], answer)[0]
        out = []
        for start in range(0, len(prompt), batch_size):
            rows = torch.arange(start, min(start + batch_size, len(prompt)), device=device)
            variants = prompt.repeat(len(rows), 1)  # row r: token rows[r] replaced
            variants[torch.arange(len(rows)), rows] = replacement_id
            out.append(base - answer_logprob(model, variants, answer))
    finally:
        model.train(model_was_training)
    return torch.cat(out).cpu()


# --- checks -----------------------------------------------------------------------------------


def _check_room(model: GPT, max_new_tokens: int) -> None:
    if max_new_tokens >= model.config.block_size:
        raise ValueError(
            f"max_new_tokens={max_new_tokens} leaves no room for the prompt in the model's window "
            f"of {model.config.block_size} tokens: ask for fewer new tokens"
        )


def _check_chrf_args(order: int, beta: float) -> None:
    if not isinstance(order, int) or isinstance(order, bool) or order < 1:
        raise ValueError(f"order must be a positive int (sacreBLEU uses 6), got {order!r}")
    if not beta > 0:
        raise ValueError(f"beta must be > 0 (2 weighs recall twice as much), got {beta!r}")


def _check_same_length(a: Sequence, b: Sequence) -> None:
    if len(a) != len(b):
        raise ValueError(
            f"got {len(a)} examples or hypotheses but {len(b)} predictions or references: "
            "pass one for each"
        )


def _check_probe_text(context: str, ctx: list, continuation: str, cont: list) -> None:
    if not ctx or not cont:
        raise ValueError(
            f"need a non-empty context and continuation, got {context!r} and {continuation!r}"
        )


def _check_baseline(words: list, n: int) -> None:
    if len(words) < 2 or n < 1:
        raise ValueError(
            f"the baseline needs at least 2 distinct baseline_words and n_baseline >= 1, got "
            f"{len(words)} words and n_baseline={n}: pass e.g. common words of the corpus"
        )


def _check_occlusion(model: GPT, prompt: torch.Tensor, answer: torch.Tensor) -> None:
    if prompt.numel() == 0 or answer.numel() == 0:
        raise ValueError("occlusion needs at least one prompt token and one answer token")
    if prompt.numel() + answer.numel() > model.config.block_size:
        raise ValueError(
            f"prompt ({prompt.numel()}) + answer ({answer.numel()}) tokens exceed the model's "
            f"window of {model.config.block_size}: shorten the prompt"
        )
