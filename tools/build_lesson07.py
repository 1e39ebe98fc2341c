# ruff: noqa: E501  (the lesson's text and code, with the line lengths of a notebook)
"""Write notebooks/07_assistant.ipynb, unexecuted: lesson 07, "from a language model to an
assistant" (issue 20).

Usage: ``python tools/build_lesson07.py [REPO_ROOT]`` (default: the repository this script is
in). The notebook is generated so that its structure can be reviewed as code; run it with
``course run 07`` (or nbconvert) to fill in the outputs. Every sentence that states a result is
printed by a code cell from the measured values, or followed by an assert.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lesson07_exercises import add_exercises  # noqa: E402  (the exercise cells, with their checks)
from notebook_builder import NotebookBuilder  # noqa: E402

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent

NB = NotebookBuilder()
md, code = NB.md, NB.code


# --- title ----------------------------------------------------------------------------------------

md(r"""
# 07 · From a language model to an assistant: instruction tuning, in-context learning, and judging what it says

**Instruction-tune a small GPT that you could pre-train on a laptop, see which tasks a million weights can learn and which they cannot, measure what prompting alone can do, and judge the answers it writes, all offline, with everything built in the course.**

In this lesson you will:

1. meet the **base model**: a GPT of about a million weights pre-trained on Shakespeare and a Wikipedia sample with lesson 01's byte-level BPE, and see what it does with an instruction;
2. build an **instruction dataset** from the course's corpora: six task families (who speaks these lines, which play, continue the verse, fill in the masked word, the sentiment of a movie review, lesson 04's toy translation), with a fixed train / validation / test split by source and no leakage;
3. write the **prompt template** with special tokens, and the **loss mask** that trains the model on the answer only (targets `-100` on the prompt);
4. measure **in-context learning**: the base model prompted with k = 0, 1 and 4 solved examples, with 3 seeds;
5. **instruction-tune** it, fully and with LoRA (lesson 06's), on the course's shared training loop, and compare, family by family, against the best prompt and against a baseline that never reads the input;
6. **judge what it says**: exact match and chrF, greedy against sampled decoding, failure cases, a social-bias probe, and an explanation of one answer by occlusion;
7. talk to it in the **assistant playground**, and write the template, the loss mask and a k-shot prompt builder yourself.

| | |
|---|---|
| **Time** | about 9.4 minutes to run in full mode on a 2-core laptop CPU (the committed run; `course timings` prints it); fast mode (`COURSE_FAST=1`) runs the same code with fewer steps |
| **Prerequisites** | lesson 01 (byte-level BPE), lesson 05 (the GPT, sampling), lesson 06 (pre-training, fine-tuning, LoRA) |
| **You will use** | `course_lib.instruct`, `course_lib.sft`, `course_lib.evaluate`, `course_lib.viz.evaluate`, `course_lib.widgets.assistant`, `course_lib.checks.instruct` |
""")

code(r"""
import copy
import math
import statistics
import time
from collections import Counter

import matplotlib.pyplot as plt
import pandas as pd
import torch
import torch.nn.functional as F
from IPython.display import Markdown, display

from course_lib import evaluate, instruct, runtime, sft
from course_lib.runtime import by_mode
from course_lib.viz.evaluate import plot_bias_probe, plot_family_scores, plot_token_scores

print(runtime.describe())
lesson_start = time.perf_counter()
""")

# --- 1. the base model ----------------------------------------------------------------------------

md(r"""
## 1. The base model

A **base model** is what pre-training gives: a model of text that predicts the next token. Ours was pre-trained once by `data/pretrain_assistant.py` (the committed checkpoint; its recipe and time are in `data/README.md`) on the *training* text only: every play without its validation and test scenes, the poems, and the training blocks of the Wikipedia sample gensim ships. Its tokenizer is lesson 01's byte-level BPE with 1,024 ids, three of them **special tokens** that plain text never produces: `<|user|>`, `<|assistant|>` and `<|end|>`.
""")

code(r"""
base, tok, ckpt = instruct.load_base_model()
cfg = base.config
n_weights = sum(p.numel() for p in base.parameters())
display(Markdown(
    f"The base model: **{n_weights:,} weights**, {cfg.n_layer} blocks of width {cfg.n_embd} with {cfg.n_head} heads, "
    f"windows of {cfg.block_size} tokens, a vocabulary of {len(tok):,} ids (the special ones: "
    + ", ".join(f"`{s}` = {tok.special_id(s)}" for s in instruct.SPECIAL_TOKENS)
    + f"). Its pre-training loss on the held-out text was {ckpt['extra']['val_loss']:.3f} nats per token "
    f"({ckpt['extra']['recipe']['steps']:,} steps in {ckpt['extra']['seconds'] / 60:.1f} minutes on 2 threads). It read "
    f"{ckpt['extra']['train_tokens']:,} tokens of training text "
    f"({sum(len(d) for d in instruct.pretraining_documents('train')) / 1e6:.1f} million characters)."
))
""")

md(r"""
What does a base model of this size write? Three continuations, sampled at temperature 0.8 (the same seed gives the same text):
""")

code(r"""
def continue_text(model, text, n=40, seed=0):
    ids = tok.encode(text, allowed_special="none")
    return evaluate.generate_answer(model, tok, ids, max_new_tokens=n, temperature=0.8, top_p=0.95, seed=seed).text

for start in ["ROMEO.\nO, she doth teach", "the city of paris is", "Who speaks these lines?"]:
    print(repr(start), "->", repr(continue_text(base, start)))
""")

md(r"""
It writes text that *looks like* its corpora (a speech heading, a line break, Shakespeare's spelling; lower-case Wikipedia words), with many words that do not exist: a million weights and a few million characters of text are far from a modern LLM. It has never seen a question followed by its answer. Here is what it does with an instruction written in the template that the rest of the lesson uses (section 3 builds it), `<|user|>instruction⏎input<|assistant|>`, for one test example of each family:
""")

code(r"""
data = instruct.build_instruction_dataset(seed=0)
test_by_task = instruct.by_task(data["test"])
for task, examples in test_by_task.items():
    ex = examples[0]
    ans = evaluate.generate_answer(base, tok, instruct.prompt_ids(ex, tok), max_new_tokens=24)
    print(f"{task:>10}: expected {ex.answer!r}\n{'':>10}  base model: {ans.text!r}")
pretraining_text = instruct.pretraining_documents("train")
assert not any(m in d for d in pretraining_text for m in (instruct.USER, instruct.ASSISTANT))  # never seen
""")

md(r"""
It continues the *text*: a stage direction, a speech heading, more words. It never wrote `<|end|>` after an answer, because it never saw one: in pre-training `<|end|>` only closed whole documents, and `<|user|>` and `<|assistant|>` never occurred at all: nothing ever trained them as inputs (the output layer, which shares their vectors, only learned never to predict them).

## 2. An instruction dataset, built offline

`instruct.build_instruction_dataset(seed)` turns the corpora into examples of six **task families**: an instruction, an input and the answer. Which split an example belongs to depends only on where its text comes from (a scene of a play, a block of 100 Wikipedia sentences, a review sentence), never on the seed, so a test passage is never read in training, by the base model or by fine-tuning (`data/README.md` has the rule).
""")

code(r"""
counts = pd.DataFrame(
    {split: Counter(ex.task for ex in examples) for split, examples in data.items()}
).loc[list(instruct.TASKS)]
counts.loc["all"] = counts.sum()
display(counts)
for task in instruct.TASKS:
    print(instruct.format_example(test_by_task[task][1]), "\n")
""")

md(r"""
**No leakage, checked.** The split is by source; on top of it, a validation or test example whose text occurs anywhere in the training text (a line Shakespeare repeats) was dropped. The cell below checks the result: no input or answer text of the test split is an input of the training split, and no source unit (scene, block, review, sentence) is shared. `tests/test_instruct.py` checks the same for every split and seed.
""")

code(r"""
train_inputs = {ex.input for ex in data["train"]}
train_sources = {ex.source for ex in data["train"] if ex.task != "translate"}
leaked_inputs = [ex for ex in data["test"] + data["val"] if ex.input in train_inputs]
shared_sources = {ex.source for ex in data["test"] + data["val"] if ex.task != "translate"} & train_sources
print(f"validation or test inputs that are training inputs: {len(leaked_inputs)}; source units shared: {len(shared_sources)}")
assert not leaked_inputs and not shared_sources
""")

md(r"""
**A baseline that never reads the input.** Before any model: answer every question with the answer seen most often in training for that instruction (the most frequent speaker of the play named; for every other family one fixed answer, the most frequent in training: for the movie reviews, whose labels are balanced, one label, so 50% is also chance; for translate one fixed French sentence, which already shares many character n-grams with any answer in this small vocabulary). A model that does not beat this has learned nothing from the input. The tables also show chrF, a 0-100 score of character overlap with the reference (section 7 defines it). We score on the first `N_TEST` test examples of each family (in full mode all of them: 200 per family, 20 for the movie reviews, which have fewer sentences).
""")

code(r"""
N_TEST = by_mode(200, 6)
test = [ex for examples in test_by_task.values() for ex in examples[:N_TEST]]
majority = evaluate.score_table(test, evaluate.majority_answers(data["train"], test))
display(pd.DataFrame(majority).T.round(3))
""")

# --- 3. template and loss mask --------------------------------------------------------------------

md(r"""
## 3. The prompt template and the loss mask

One example is one user turn and one assistant turn, marked by the special tokens:

```
<|user|>{instruction}⏎{input}<|assistant|>{answer}<|end|>
```

`instruct.encode_example` turns it into ids: each marker becomes its special id, and the text between them is encoded as plain text with `allowed_special="none"`, so someone who *types* `<|end|>` into an instruction gets seven characters, never the marker (a template whose markers can be typed can be hijacked: *prompt injection* at its simplest).

**The loss mask.** We want the model to learn to *answer*, not to predict the instruction it was given: the instruction is given at use time, and predicting it would spend the model's few weights on copying Shakespeare. So the target of every prompt position is `-100`, which `F.cross_entropy` skips (`ignore_index=-100`); only positions whose next token is part of the answer (its `<|end|>` included: the model must learn to stop) have a target. Here is one example, position by position:
""")

code(r"""
ex = test_by_task["translate"][0]
ids, targets = instruct.encode_example(ex, tok)
special = {tok.special_id(s): s for s in instruct.SPECIAL_TOKENS}
def show(i):
    return special.get(i, repr(tok.decode([i])))
shown = pd.DataFrame({
    "token": [show(i) for i in ids],
    "target (next token)": ["-100 (skipped)" if t == instruct.IGNORE_INDEX else show(t) for t in targets],
})
display(shown.T)
n_answer = sum(t != instruct.IGNORE_INDEX for t in targets)
print(f"{len(ids)} tokens, {n_answer} of them with a target: the answer's {n_answer - 1} tokens and <|end|>")
""")

md(r"""
The claim "the loss does not change when only the prompt's predictions change" can be tested directly: add large random numbers to the logits at every prompt position and compute the loss again.
""")

code(r"""
x, y = torch.tensor([ids]), torch.tensor([targets])
with torch.no_grad():
    logits, _ = base(x)  # (1, T, V)
def masked_loss(logits):
    return F.cross_entropy(logits.view(-1, logits.size(-1)), y.view(-1), ignore_index=instruct.IGNORE_INDEX)
noisy = logits.clone()
prompt_positions = y[0] == instruct.IGNORE_INDEX
noisy[0, prompt_positions] += 10 * torch.randn_like(noisy[0, prompt_positions])
print(f"loss {masked_loss(logits):.6f} nats; with the prompt's logits scrambled {masked_loss(noisy):.6f} nats")
assert torch.equal(masked_loss(logits), masked_loss(noisy))
print(f"(a uniform guess over the {len(tok):,} ids scores ln {len(tok):,} = {math.log(len(tok)):.2f} nats: "
      + ("the base model does worse than that on this answer; it has no idea an answer is due)" if masked_loss(logits) > math.log(len(tok))
         else "the base model does a little better than that on this answer)"))
noisy[0, ~prompt_positions] += 1.0 * torch.randn_like(noisy[0, ~prompt_positions])
assert not torch.equal(masked_loss(logits), masked_loss(noisy))  # the answer's logits do count
""")

md(r"""
`instruct.SFTBatches` batches examples for the shared loop: it pads a batch to its longest example with `<|end|>` ids whose targets are `-100` too, so the shared loop's plain language-model loss *is* the fine-tuning loss.
""")

# --- 4. in-context learning -----------------------------------------------------------------------

md(r"""
## 4. In-context learning: prompting the base model

GPT-3 (Brown et al. 2020) showed that a large enough base model can do a task it was never trained on when the prompt holds a few solved examples: **in-context learning**, no weight changes. We give our base model the same chance: k = 0, 1 or 4 solved training examples of the same family in the template, then the test question (`instruct.few_shot_prompt`; lesson 08 looks at the mechanism that makes this work in larger models, induction heads). The shots are drawn at random per question; a seed fixes the draw, and we use 3 seeds. k = 0 with greedy decoding has nothing random, so it runs once. One handicap would be ours, not the model's: the template's markers never occurred in pre-training, so we also give the base model the same 4 shots written as **plain text**, the way GPT-2 and GPT-3 were prompted (`instruct.plain_few_shot_prompt`: `instruction⏎input⏎Answer: answer`, a blank line between shots).

**How an answer is scored.** The base model never writes `<|end|>` after an answer and often starts with a line break, so every model's answer is its first non-empty line (`evaluate.answer_text`; generation stops at the line break after it); **exact match** (`evaluate.exact_match`) compares it with the reference after lower-casing and trimming spaces and a final full stop. The same rule for every model.
""")

code(r"""
SEEDS = (0, 1, 2)
MAX_NEW = 64  # tokens: room for the longest test answer (and its <|end|>)
assert max(len(tok.encode(ex.answer, allowed_special="none")) for ex in test) < MAX_NEW  # 56 in full mode
shots = instruct.by_task(data["train"])
rows = []

def add_rows(name, seed, answers):
    for task, s in evaluate.score_table(test, answers).items():
        rows.append({"model": name, "seed": seed, "task": task, **s})

t0 = time.perf_counter()
icl_answers = {}
for k in (0, 1, 4):
    for seed in SEEDS if k else SEEDS[:1]:
        answers = evaluate.evaluate_answers(base, tok, test, shots, k, seed=seed, max_new_tokens=MAX_NEW,
                                            progress=True, desc=f"base model, k={k}, seed {seed}")
        icl_answers[k, seed] = answers
        add_rows(f"base, k={k}", seed, answers)
for seed in SEEDS:  # the same 4 shots written as plain text, with no marker the base model never saw
    answers = evaluate.evaluate_answers(base, tok, test, shots, 4, seed=seed, max_new_tokens=MAX_NEW, plain=True,
                                        progress=True, desc=f"base model, plain text, k=4, seed {seed}")
    icl_answers["plain", seed] = answers
    add_rows("base, plain text, k=4", seed, answers)
icl_seconds = time.perf_counter() - t0
icl = pd.DataFrame(rows).groupby(["model", "task"], sort=False)["exact_match"].agg(["mean", "std"]).unstack("task")["mean"]
display((100 * icl).round(1).rename_axis(columns="exact match (%), mean of the seeds"))
icl_chrf = pd.DataFrame(rows).groupby(["model", "task"], sort=False)["chrf"].mean().unstack("task")
display(icl_chrf.round(1).rename_axis(columns="chrF (0-100), mean of the seeds"))
print(f"{len(rows) // len(test_by_task)} prompt sets of {len(test)} questions in {icl_seconds:.0f} s")
""")

md(r"""
What the prompts made it write (one question per family, 4 shots, seed 0, in the template and as plain text):
""")

code(r"""
first = {}
for i, ex in enumerate(test):
    first.setdefault(ex.task, i)
for task, i in first.items():
    print(f"{task:>10}: expected {test[i].answer!r}; 4 shots: {evaluate.answer_text(icl_answers[4, 0][i].text)!r}; "
          f"as plain text: {evaluate.answer_text(icl_answers['plain', 0][i].text)!r}")
""")

code(r"""
best_icl = icl.max(axis=0)  # per family, the best prompt (chosen on the test split itself: generous to prompting)
trace = [t for t in icl_chrf.columns if icl_chrf.loc["base, k=4", t] > icl_chrf.loc["base, k=0", t] + 1]
icl_beats_majority = [t for t in best_icl.index if best_icl[t] > majority[t]["exact_match"] + 0.02]
display(Markdown(
    ("Prompting does not make this base model do the tasks" if best_icl.max() < 0.02 else
     "Prompting does not make this base model beat the majority answer on any family" if not icl_beats_majority else
     f"Prompting beats the majority answer on {', '.join(icl_beats_majority)}")
    + ": the best of its prompts (k = 0, 1, 4 in the template, 4 shots as plain text), per family, scores "
    + ", ".join(f"{task} {100 * v:.1f}%" for task, v in best_icl.items())
    + " exact match. The shots also leave a trace in the words it writes: chrF "
    + (", ".join(f"on {t} goes {icl_chrf.loc['base, k=0', t]:.1f} at k = 0 to {icl_chrf.loc['base, k=4', t]:.1f} at k = 4"
                 for t in trace) if trace else "barely moves from k = 0 to k = 4")
    + ". A model of a million weights pre-trained on a few million characters has not learned to copy the pattern of "
    "solved examples into an answer; in-context learning appears with scale (Brown et al. 2020 measured it growing "
    "with model size) and with the induction heads that lesson 08 makes appear (and finds none in this model)."
))
""")

# --- 5. instruction tuning --------------------------------------------------------------------------

md(r"""
## 5. Instruction tuning: full and LoRA

**Supervised fine-tuning** (SFT, or instruction tuning; Wei et al. 2021, Ouyang et al. 2022) trains the base model on examples in the template, with the loss mask of section 3. `sft.instruction_tune` runs it on the course's shared loop (`course_lib.train.train`: AdamW, warmup and cosine decay, gradient clipping, a progress bar, Ctrl-C keeps the model), in two ways:

* **full fine-tuning**: every weight trains;
* **LoRA** (lesson 06): the base model is frozen and low-rank adapters on the attention projections train (rank 8): a few percent of the weights.

Equal budgets: both train for the same `STEPS` steps of 16 examples, with the learning rate chosen on the validation split (`benchmarks/bench_sft.py` reruns that choice). The seed changes the order of the examples (and LoRA's starting adapters); 3 seeds each.
""")

code(r"""
STEPS = by_mode(800, 6)
LR = {"full": 2e-3, "lora": 1e-2}  # chosen on validation loss: benchmarks/bench_sft.py
tuned, histories, tune_seconds = {}, {}, {}
for method, name in (("full", "full fine-tuning"), ("lora", "LoRA")):
    for seed in SEEDS:
        runtime.seed_everything(seed)
        model = copy.deepcopy(base)
        batches = instruct.sft_batches(data["train"], data["val"], tok, batch_size=16, block_size=256, seed=seed)
        t0 = time.perf_counter()
        result = sft.instruction_tune(model, batches, method=method, steps=STEPS, lr=LR[method],
                                      eval_every=by_mode(STEPS // 4, STEPS), desc=f"{name}, seed {seed}")
        tune_seconds[name, seed] = time.perf_counter() - t0
        tuned[name, seed], histories[name, seed] = result.model, result.history
trainable = {name: sum(p.numel() for p in tuned[name, 0].parameters() if p.requires_grad) for name in ("full fine-tuning", "LoRA")}
display(Markdown(
    f"Each run: {STEPS:,} steps of 16 examples ({STEPS * 16 / len(data['train']):.1f} passes over the "
    f"{len(data['train']):,} training examples); full fine-tuning trains {trainable['full fine-tuning']:,} weights in "
    f"{statistics.fmean(tune_seconds['full fine-tuning', s] for s in SEEDS):.0f} s, LoRA {trainable['LoRA']:,} "
    f"({trainable['LoRA'] / n_weights:.1%} of the model's) in {statistics.fmean(tune_seconds['LoRA', s] for s in SEEDS):.0f} s."
))
""")

code(r"""
fig, ax = plt.subplots(figsize=(8, 4))
for (name, seed), h in histories.items():
    if seed == SEEDS[0]:
        color = "tab:blue" if name == "full fine-tuning" else "tab:orange"
        ax.plot(h.step, h.train_loss, color=color, alpha=0.25, lw=0.8)
        ax.plot(h.eval_step, h.val_loss, color=color, marker="o", label=f"{name}: validation (seed {seed})")
ax.set_xlabel("step (16 examples each)")
ax.set_ylabel("loss on answer tokens (nats per token)")
ax.set_title("instruction tuning: training (faint) and validation loss")
ax.legend(loc="upper right", frameon=False)
fig.tight_layout()
plt.show()
final_val = {name: statistics.fmean(histories[name, s].val_loss[-1] for s in SEEDS) for name in ("full fine-tuning", "LoRA")}
print("final validation loss on answer tokens, mean of 3 seeds: "
      + ", ".join(f"{name} {v:.3f} nats" for name, v in final_val.items()))
""")

md(r"""
Now the tuned models answer the same test questions (greedy decoding, the same scoring rule):
""")

code(r"""
t0 = time.perf_counter()
tuned_answers = {}
for (name, seed), model in tuned.items():
    tuned_answers[name, seed] = evaluate.evaluate_answers(model, tok, test, max_new_tokens=MAX_NEW,
                                                          progress=True, desc=f"{name}, seed {seed}")
    add_rows(name, seed, tuned_answers[name, seed])
for seed in SEEDS:
    add_rows("majority answer", seed, evaluate.majority_answers(data["train"], test))
print(f"answered in {time.perf_counter() - t0:.0f} s")
for task, i in first.items():
    print(f"{task:>10}: expected {test[i].answer!r}; full fine-tuning (seed 0) {tuned_answers['full fine-tuning', 0][i].text!r}")
""")

# --- 6. the table ---------------------------------------------------------------------------------

md(r"""
## 6. What a model this size can and cannot do

All models on the same test questions: exact match per family, mean ± standard deviation over 3 seeds (for `base, k=0` and the majority answer the spread is 0 by construction), and chrF (section 7) for the two families whose answers are long.
""")

code(r"""
results = pd.DataFrame(rows)
order = ["majority answer", "base, k=0", "base, k=1", "base, k=4", "base, plain text, k=4", "full fine-tuning", "LoRA"]
em = results.groupby(["model", "task"], sort=False)["exact_match"].agg(["mean", "std"]).fillna(0.0)  # one run: spread 0
summary = {m: {t: (100 * em.loc[(m, t), "mean"], 100 * em.loc[(m, t), "std"]) for t in test_by_task} for m in order}
table = pd.DataFrame({m: {t: f"{mu:.1f} ± {sd:.1f}" for t, (mu, sd) in summary[m].items()} for m in order}).T
display(table.rename_axis(index="exact match (%)"))
chrf = results.groupby(["model", "task"], sort=False)["chrf"].mean().unstack("task")[["continue", "translate"]]
display(chrf.loc[order].round(1).rename_axis(columns="chrF (0-100)"))
plot_family_scores(summary, metric="exact match (%)", title="test exact match per task family (mean ± sd of 3 seeds)")
plt.show()
""")

code(r"""
tuned_mean = {name: em.xs(name)["mean"] for name in ("full fine-tuning", "LoRA")}
best_prompt = pd.Series({t: max(em.loc[(m, t), "mean"] for m in order if m.startswith("base")) for t in test_by_task})
majority_mean = em.xs("majority answer")["mean"]
beats = [t for t in test_by_task if tuned_mean["full fine-tuning"][t] > best_prompt[t]]
n_family = Counter(ex.task for ex in test)
# the smallest gap this test can resolve: 2 points, one question, or two standard errors of the baseline's score
margin = {t: max(0.02, 1 / n_family[t], 2 * (majority_mean[t] * (1 - majority_mean[t]) / n_family[t]) ** 0.5) for t in test_by_task}
beats_majority = [t for t in test_by_task if tuned_mean["full fine-tuning"][t] > majority_mean[t] + margin[t]]
lora_vs_full = [t for t in test_by_task if tuned_mean["LoRA"][t] >= tuned_mean["full fine-tuning"][t]
                and max(tuned_mean["LoRA"][t], tuned_mean["full fine-tuning"][t]) > 0]
worse = [t for t in test_by_task if tuned_mean["full fine-tuning"][t] < majority_mean[t] - margin[t]]
majority_test = evaluate.majority_answers(data["train"], test)
distinct = {t: len({evaluate.answer_text(a.text) for ex, a in zip(test, tuned_answers["full fine-tuning", 0], strict=True) if ex.task == t}) for t in worse}
maj_distinct = {t: len({a for ex, a in zip(test, majority_test, strict=True) if ex.task == t}) for t in worse}
display(Markdown(
    f"* Full fine-tuning beats the best prompt of the base model on **{len(beats)} of {len(test_by_task)} families** "
    f"({', '.join(beats) or 'none'}), mean of 3 seeds.\n"
    f"* It beats the majority answer by more than the test can resolve (2 points, one question, or two standard errors "
    f"of the baseline, whichever is largest) on {len(beats_majority)}: {', '.join(beats_majority) or 'none'}. "
    + "".join(f"On {t} it scores {100 * tuned_mean['full fine-tuning'][t]:.1f}% against the majority answer's {100 * majority_mean[t]:.1f}%. "
              for t in test_by_task if t not in beats_majority)
    + "Where it does not beat the majority answer, the model has learned the *form* of an answer (a label, a name, "
    "a word) but not to read it out of the input"
    + (": " + "; ".join(f"on {t} it does worse than always giving the most frequent answer, spreading its guesses over "
                        f"{distinct[t]} different answers (seed 0) where the majority rule gives {maj_distinct[t]}" for t in worse)
       + ".\n" if worse else ".\n")
    + f"* LoRA, training {trainable['LoRA'] / n_weights:.1%} of the weights, matches or beats full fine-tuning on "
    f"{len(lora_vs_full)} families ({', '.join(lora_vs_full) or 'none'}; families where both score 0 left out); its final validation loss is "
    f"{final_val['LoRA']:.2f} nats against full fine-tuning's {final_val['full fine-tuning']:.2f}."
    + ("" if final_val["LoRA"] <= final_val["full fine-tuning"] + 0.1 else
       " LoRA already trailed full fine-tuning on lesson 06's classification task; here it falls further behind. Two possible reasons, "
       "not tested here: the adapters sit on the attention projections only, while writing an answer word by word needs "
       "the MLPs too; and `<|user|>` and `<|assistant|>` never trained as inputs in pre-training, and LoRA freezes "
       "the embedding table, so it cannot train them either (a common remedy trains those few rows as well).")
    + f"\n* By chrF, one fixed verse line scores {chrf.loc['majority answer', 'continue']:.1f} on continue against full "
    f"fine-tuning's {chrf.loc['full fine-tuning', 'continue']:.1f}: "
    + ("its lines are no closer to Shakespeare's than a constant" if chrf.loc['full fine-tuning', 'continue'] <= chrf.loc['majority answer', 'continue'] + 1
       else "its lines are closer to Shakespeare's than a constant")
    + f"; on translate full fine-tuning scores {chrf.loc['full fine-tuning', 'translate']:.1f} against the fixed "
    f"sentence's {chrf.loc['majority answer', 'translate']:.1f} and LoRA's {chrf.loc['LoRA', 'translate']:.1f}."
))
""")

# --- 7. judging --------------------------------------------------------------------------------------

md(r"""
## 7. Judging what it says

### Exact match is not enough: chrF

Exact match suits answers with one right form (a label, a speaker, a word). A continued verse line is almost never exactly Shakespeare's, but one answer can still be closer than another. **chrF** (Popović 2015; `evaluate.chrf`, checked against sacreBLEU in the tests) counts the character n-grams (n = 1 to 6, spaces removed) that the answer shares with the reference, as an F-score that weighs recall twice as much as precision, from 0 to 100. Four answers to one verse, scored both ways:
""")

code(r"""
verse = test_by_task["continue"][0]
i_verse = test.index(verse)
candidates = {
    "the reference itself": verse.answer,
    "the tuned model (seed 0)": evaluate.answer_text(tuned_answers["full fine-tuning", 0][i_verse].text),
    "the base model, 4 shots": evaluate.answer_text(icl_answers[4, 0][i_verse].text),
    "the input's last line, copied": verse.input.split("\n")[-1],
}
print("input:", verse.input.replace("\n", " / "))
for label, text in candidates.items():
    print(f"{label:>30}: {text!r}  exact match {evaluate.exact_match(text, verse.answer):.0f}, chrF {evaluate.chrf(text, verse.answer):.1f}")
""")

md(r"""
### Greedy against sampled decoding

Greedy decoding takes the most likely token every time: the same answer every run. Sampling (temperature 0.8, top-p 0.9, lesson 05) draws from the model's distribution: more varied answers. For a task with one right answer the most likely answer is the best single guess, so greedy decoding is usually expected to score higher; here is what happens for the full fine-tuned model of seed 0, on the same questions, sampled with 3 seeds (mean shown):
""")

code(r"""
model0 = tuned["full fine-tuning", 0]
decode_rows = []
for seed in SEEDS:
    sampled = evaluate.evaluate_answers(model0, tok, test, max_new_tokens=MAX_NEW, temperature=0.8, top_p=0.9,
                                        seed=seed, progress=True, desc=f"sampling, seed {seed}")
    for task, s in evaluate.score_table(test, sampled).items():
        decode_rows.append({"decoding": "sampled", "seed": seed, "task": task, **s})
for task, s in evaluate.score_table(test, tuned_answers["full fine-tuning", 0]).items():
    decode_rows.append({"decoding": "greedy", "seed": 0, "task": task, **s})
decoding = pd.DataFrame(decode_rows).groupby(["decoding", "task"], sort=False)[["exact_match", "chrf"]].mean()
decoding["exact_match"] *= 100
display(decoding.unstack("decoding").round(1).rename_axis(columns=["score (exact match %, chrF)", "decoding"]))
greedy_em = decoding.xs("greedy", level="decoding")["exact_match"]
sampled_em = decoding.xs("sampled", level="decoding")["exact_match"]
better = [t for t in greedy_em.index if greedy_em[t] > sampled_em[t]]
close = [t for t in greedy_em.index if abs(greedy_em[t] - sampled_em[t]) < 2.0]
display(Markdown(f"Greedy decoding scores higher exact match than sampling on {len(better)} of {len(greedy_em)} families"
                 + (f" ({', '.join(better)})" if better else "")
                 + f"; on {len(close)} ({', '.join(close) or 'none'}) the two are within 2 points, which one seed of "
                 "greedy answers cannot separate."
                 + ("".join(f" Sampling scores more than 2 points higher on {t}." for t in greedy_em.index
                            if sampled_em[t] > greedy_em[t] + 2.0) or " Sampling is more than 2 points better on no family.")
                 + " Where greedy wins, a draw away from the model's best guess costs a short answer (a name) as much as "
                 "a long one, where one unlucky token spoils an exact match (a translation)."))
""")

md(r"""
### Failure cases

Scores say how often; examples say how. Two kinds of failure, counted on the seed-0 fully tuned model:

* a **hallucinated speaker**: the answer to "who speaks these lines in *play*?" is a name that never speaks in that play in the training data (an invented name, or one from another play; the reference names are the source's speech headings, often abbreviated: 'Gon' for Goneril);
* **copying the prompt**: the answer is a piece of the prompt, the instruction or the input, that could not be an answer there (the model echoes what it read instead of answering; a wrong sentiment label, or a speaker of that play, is a wrong answer, not a copy).
""")

code(r"""
speakers = {}
for ex in data["train"]:
    if ex.task == "speaker":
        speakers.setdefault(ex.instruction, set()).add(ex.answer)
answers0 = [evaluate.answer_text(a.text) for a in tuned_answers["full fine-tuning", 0]]
hallucinated = [(ex, a) for ex, a in zip(test, answers0, strict=True) if ex.task == "speaker" and a not in speakers.get(ex.instruction, set())]
def possible_answer(ex, a):  # a real answer to a question like this one: wrong, but not a copy
    if ex.task == "speaker":
        return a in speakers.get(ex.instruction, set())
    return ex.task == "sentiment" and a.casefold() in {"positive", "negative"}
def in_prompt(ex, a):
    return (len(a) > 3 and a.casefold() in f"{ex.instruction}\n{ex.input}".casefold()
            and a.casefold() != ex.answer.casefold() and not possible_answer(ex, a))
copied = [(ex, a) for ex, a in zip(test, answers0, strict=True) if in_prompt(ex, a)]
from_instruction = [(ex, a) for ex, a in copied if a.casefold() in ex.instruction.casefold()]
n_speaker = sum(ex.task == "speaker" for ex in test)
print(f"hallucinated speakers: {len(hallucinated)} of {n_speaker} speaker answers")
for ex, a in hallucinated[:3]:
    print(f"   {ex.instruction} -> {a!r} (the answer: {ex.answer!r})")
print(f"wrong answers copied from the prompt: {len(copied)} of {len(test)}, by family {dict(Counter(ex.task for ex, _ in copied))}; "
      f"{len(from_instruction)} of them from the instruction")
for ex, a in (from_instruction[:2] + [c for c in copied if c not in from_instruction][:2]):
    print(f"   [{ex.task}] {ex.instruction} / {ex.input[:50]!r}... -> {a!r} (the answer: {ex.answer!r})")
print("the seed-0 model's sentiment answers:", dict(Counter(a for ex, a in zip(test, answers0, strict=True) if ex.task == "sentiment")))
""")

md(r"""
### A social-bias probe

A language model learns the statistics of its text, including its stereotypes. A probe: after `the {role} said that`, how much more likely is ` he` than ` she`? The **mean** gap over roles is a preference for one word everywhere ("he" is the more frequent in the corpora, counted below); what matters is how much the **role** moves it, the gap's spread across roles. A spread means nothing without a baseline, so, as lesson 02 did for word vectors, we measure the same spread for random pairs of common words, which have no reason to depend on the role (`evaluate.bias_probe`). On the base model:
""")

code(r"""
words = " ".join(pretraining_text)
print(f"in the training text: ' he ' {words.count(' he '):,} times, ' she ' {words.count(' she '):,} times")
common = [w for w, _ in Counter(words.split()).most_common(400)
          if w.isalpha() and len(tok.encode(" " + w, allowed_special="none")) == 1][:150]
bias = {pair: evaluate.bias_probe(base, tok, pair, baseline_words=common, n_baseline=by_mode(40, 6), seed=0)
        for pair in (("he", "she"), ("his", "her"))}
plot_bias_probe(bias["he", "she"], title="the base model: which pronoun follows 'the {role} said that'")
plt.show()
for (a, b), r in bias.items():
    top = sorted(zip(r["gaps"], r["roles"], strict=True))
    print(f"{a}/{b}: mean gap {statistics.fmean(r['gaps']):+.2f} nats; spread over roles {r['spread']:.2f} nats, "
          f"larger than for {round(r['percentile'] * len(r['baseline_spreads']))} of {len(r['baseline_spreads'])} random pairs; "
          f"most '{b}': {', '.join(role for _, role in top[:3])}; most '{a}': {', '.join(role for _, role in top[-3:])}")
assert min(bias["he", "she"]["gaps"]) > 0  # "he" is the likelier pronoun after every role, as the text says
""")

code(r"""
r = bias["he", "she"]
verdict = ("more than almost any random pair: the role words carry a gender association in this model"
           if r["percentile"] >= 0.9 else
           "less than almost any random pair: no sign of a role-gender association at this size"
           if r["percentile"] <= 0.1 else
           "within the range of random pairs: at this size the probe cannot tell a gender association from noise")
display(Markdown(f"For he/she the roles move the gap {verdict} (spread {r['spread']:.2f} nats, "
                 f"{r['percentile']:.0%} of random pairs move less). A probe like this measures one template and "
                 "one list of roles; another template can give another answer, so it is evidence, not a verdict on the model."))
""")

md(r"""
### Why this answer? Occlusion over the prompt

Which prompt tokens does an answer depend on? **Occlusion** (`evaluate.occlusion`): replace one prompt token at a time by a neutral token (a space) and measure how much the log-probability of the model's own answer falls, in nats. It is exact for that replacement and says nothing about tokens that matter only together. One speaker question the tuned model answered right (or, if none, its first one). Replacing a *marker* is not a neutral change: without `<|assistant|>` nothing says an answer is due, so expect `<|assistant|>` to score high; the interesting part is which words of the instruction and the lines come next.
""")

code(r"""
right = [i for i, ex in enumerate(test) if ex.task == "speaker" and evaluate.exact_match(answers0[i], ex.answer)]
i_expl = right[0] if right else first["speaker"]
ex = test[i_expl]
p_ids = instruct.prompt_ids(ex, tok)
a_ids = tuned_answers["full fine-tuning", 0][i_expl].ids + [tok.special_id(instruct.END)]
scores = evaluate.occlusion(model0, p_ids, a_ids, replacement_id=tok.encode(" ", allowed_special="none")[0])
labels = [special.get(i, tok.decode([i])) for i in p_ids]
plot_token_scores(labels, scores, title=f"occlusion: what the answer {answers0[i_expl]!r} depends on")
plt.show()
top = scores.argsort(descending=True)[:5].tolist()
print("the five prompt tokens whose removal costs the answer most (in context):",
      ", ".join(f"{labels[j]!r} in {''.join(labels[max(j - 2, 0):j + 3])!r} ({scores[j]:+.2f} nats)" for j in top))
nl = next(j for j, label in enumerate(labels) if "\n" in label)  # the line break after the instruction
instruction_mean, lines_mean = scores[1:nl].mean().item(), scores[nl + 1 : -1].mean().item()
print(f"mean per token: the instruction {instruction_mean:+.2f} nats, the lines {lines_mean:+.2f} nats")
display(Markdown(
    f"Per token, the answer {answers0[i_expl]!r} depends "
    + ("more on the instruction (which names the play) than on the lines themselves: the model picks a speaker of "
       "the named play more than it reads who is speaking." if instruction_mean > lines_mean else
       "more on the lines themselves than on the instruction: it reads the passage, not only the play's name.")
))
""")

# --- 8. playground -----------------------------------------------------------------------------------

md(r"""
## 8. The assistant playground

Type an instruction (and an input), or pick a task family and one of its test examples, and ask. The answer appears token by token, each token coloured by the probability the model gave it (hover for the number); the temperature slider at 0 is greedy decoding, above 0 it samples (with top-p). The same inputs and seed give the same answer. It runs the seed-0 fully tuned model. Below it, the static version of one answer (what the page shows where no Python runs: on GitHub, in an HTML export).
""")

code(r"""
from course_lib.viz.assistant import plot_answer_tokens
from course_lib.widgets.assistant import AssistantPlayground

AssistantPlayground(model0, tok, examples=test)
""")

code(r"""
example_answer = evaluate.generate_answer(model0, tok, instruct.prompt_ids(test_by_task["translate"][0], tok), max_new_tokens=MAX_NEW)
ending = " (it wrote <|end|>)" if example_answer.stopped else f" (cut at {MAX_NEW} tokens)"
plot_answer_tokens(example_answer, tok, title=f"{test_by_task['translate'][0].input!r} -> the tuned model's answer{ending}")
plt.show()
reference = test_by_task["translate"][0].answer
low = min(range(len(example_answer.probs)), key=example_answer.probs.__getitem__)
display(Markdown(
    f"The answer is {'right' if evaluate.exact_match(example_answer.text, reference) else 'wrong'} "
    f"(the reference: {reference!r}). Its least likely token is {tok.decode([example_answer.ids[low]])!r} "
    f"(p = {example_answer.probs[low]:.2f}, token {low + 1} of {len(example_answer.ids)}): a low probability marks where to "
    "distrust an answer."
))
""")

# --- exercises ---------------------------------------------------------------------------------------

add_exercises(md, code, heading="## 9. Exercises")

# --- summary -----------------------------------------------------------------------------------------

md(r"""
## Summary

What this lesson measured, with the numbers of this run:
""")

code(r"""
lesson_seconds = time.perf_counter() - lesson_start
display(Markdown("\n".join([
    f"* **The base model** ({n_weights:,} weights, {ckpt['extra']['val_loss']:.2f} nats per token on held-out text) "
    "writes text that looks like its corpora and ignores instructions.",
    "* **In-context learning**: its best prompt (k = 0, 1 or 4 shots in the template, or 4 as plain text) scores "
    + ", ".join(f"{t} {100 * v:.1f}%" for t, v in best_prompt.items()) + " exact match.",
    f"* **Instruction tuning** ({STEPS:,} steps of 16 examples, the prompt masked out of the loss): full fine-tuning beats "
    f"the best prompt on {len(beats)} of {len(test_by_task)} families and the majority answer, by more than the test can "
    f"resolve, on {len(beats_majority)} ({', '.join(beats_majority) or 'none'})"
    + (f"; on {', '.join(worse)} it is worse than the majority answer" if worse else "")
    + f". LoRA trains {trainable['LoRA'] / n_weights:.1%} of the weights and matches or beats full fine-tuning on "
    f"{len(lora_vs_full)} families where either scores above 0.",
    f"* **Judging**: greedy decoding beats sampling on {len(better)} families; {len(hallucinated)} of {n_speaker} speaker "
    f"answers name someone who never speaks in that play; the roles move the he/she gap " + verdict.split(":")[0] + ".",
    f"* The whole lesson ran in {lesson_seconds / 60:.1f} minutes here.",
])))
""")

md(r"""
**What the next lesson adds.** Lesson 08 looks inside: what each head of a GPT does, and the induction heads that let larger models learn from a prompt; it scores this lesson's base model too.

**Where to read more**

* Radford et al. (2019), *Language Models are Unsupervised Multitask Learners* (GPT-2): tasks written as text.
* Brown et al. (2020), *Language Models are Few-Shot Learners* (GPT-3): in-context learning, and how it grows with scale.
* Wei et al. (2021), *Finetuned Language Models Are Zero-Shot Learners* (FLAN): instruction tuning on many task families.
* Ouyang et al. (2022), *Training language models to follow instructions with human feedback* (InstructGPT): supervised fine-tuning, then learning from preferences.
* Hu et al. (2021), *LoRA: Low-Rank Adaptation of Large Language Models*.
* Popović (2015), *chrF: character n-gram F-score for automatic MT evaluation*.
* Bolukbasi et al. (2016), *Man is to Computer Programmer as Woman is to Homemaker?*, and Nadeem et al. (2021), *StereoSet*: measuring stereotypes in embeddings and language models.
* Raschka (2024), *Build a Large Language Model (From Scratch)*, chapter 7: instruction fine-tuning a pre-trained GPT-2.
""")


def main() -> None:
    NB.write(ROOT / "notebooks" / "07_assistant.ipynb", ROOT)


if __name__ == "__main__":
    main()
