# ruff: noqa: E501  (the lesson's text and code, with the line lengths of a notebook)
"""Write notebooks/08_inside.ipynb, unexecuted: lesson 08, "looking inside" (issue 21).

Usage: ``python tools/build_lesson08.py [REPO_ROOT]`` (default: the repository this script is
in). The notebook is generated so that its structure can be reviewed as code; run it with
``course run 08`` (or nbconvert) to fill in the outputs. Every sentence that states a result is
printed by a code cell from the measured values, or followed by an assert.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from notebook_builder import NotebookBuilder  # noqa: E402

ROOT = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent

NB = NotebookBuilder()
md, code = NB.md, NB.code


# --- title ----------------------------------------------------------------------------------------

md(r"""
# 08 · Looking inside: what the heads learned, induction heads, and testing an explanation

**Measure what each attention head of the course's own GPT does, watch induction heads (the mechanism behind in-context learning) appear in a small model you train here, and test explanations by changing the computation instead of only looking at it.**

In this lesson you will:

1. score every head of lesson 06's pre-trained GPT and of lesson 07's base model with one number per behaviour: **previous-token**, **first-token**, **line-start**, **duplicate-token** and **induction** scores, each against its chance value;
2. make **induction heads** appear: train attention-only transformers of 1 and 2 layers on Shakespeare mixed with repeated random segments, and track the induction score and the **in-context loss** (the loss on the second copy of a repeated segment, and late against early positions of text) during training, on one figure;
3. test explanations: **ablate** a head (zero or mean) and measure the loss change on ordinary and on repeated text; **patch** a head's output from one input into another; read the residual stream layer by layer with the **logit lens**; attribute one prediction to its input with **gradient × input** and **occlusion**; and say for each what it can and cannot tell you;
4. write the pieces yourself (an induction score, a hook that switches a head off, the logit lens), and **predict, then measure** which head's ablation hurts repeated text most.

| | |
|---|---|
| **Time** | about 72 seconds to run in full mode on a 2-core laptop CPU (the committed run; `course timings` prints it); fast mode (`COURSE_FAST=1`) runs the same code with fewer steps |
| **Prerequisites** | lesson 04 (multi-head attention), lesson 05 (the GPT, attention maps, the head scores in the attention explorer), lesson 06 (the pre-trained GPT), lesson 07 (its base model, only loaded here) |
| **You will use** | `course_lib.heads`, `course_lib.interpret`, `course_lib.transformer`, `course_lib.finetune` (lesson 06's checkpoint), `course_lib.instruct` (lesson 07's base model), `course_lib.checks.interpret` |
""")

code(r"""
import math
import time

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from IPython.display import Markdown, display

from course_lib import heads, interpret, runtime
from course_lib.data import shakespeare_char_data, shakespeare_split
from course_lib.finetune import load_pretrained
from course_lib.runtime import by_mode
from course_lib.transformer import attention_maps

print(runtime.describe())
lesson_start = time.perf_counter()
""")

# --- 1. head scores -----------------------------------------------------------------------------

md(r"""
## 1. What each head does, as one number

An attention head's map says, for every position (a *query*), how it spreads its attention over the positions before it (the *keys*); each row sums to 1. Lessons 05 and 06 drew such maps. A map is a picture; to compare heads, models and training steps we want a number. A **head score** is the share of a head's attention that follows one simple rule, averaged over the queries where the rule applies (`course_lib.heads`):

* **previous-token**: the weight on position $i-1$, the token just before;
* **first-token**: the weight on position 0, the window's first token (often an "attention sink", where a head parks attention it does not need);
* **line-start**: the weight on the first character of the query's own line;
* **duplicate-token**: the total weight on *earlier copies of the query's own token* ("where did I see this before?"): for query $i$, the sum of $w_{ij}$ over $j < i$ with $t_j = t_i$, averaged over the queries that have an earlier copy;
* **induction**: on a sequence of random tokens followed by the same tokens again, the weight on the token that *followed* the earlier copy of the query's token: the head that finds "A" earlier, and looks at the "B" after it, so that the model can predict "B" again (Olsson et al. 2022).

Every score is 1 for a head that follows its rule perfectly. A head that spreads its weight evenly scores about $1/(i+1)$ per query, so each score is printed beside its **chance** value.

We score two models the same way, with `heads.model_head_scores(model, ids)`: lesson 06's pre-trained GPT (the committed checkpoint: 2 layers, 4 heads each, 64-character windows, trained on the whole Shakespeare corpus but the held-out plays), and lesson 07's **base model** (`instruct.load_base_model()`: a byte-level BPE GPT of 4 layers with 4 heads each, 512-token windows, trained on Shakespeare and Wikipedia), each on text it was not trained on.
""")

code(r"""
model, tok, _ = load_pretrained()
L, H = model.config.n_layer, model.config.n_head
assert (L, H, model.config.block_size) == (2, 4, 64), "the text above says so"
_, val_text = shakespeare_split()
start = val_text.index("\n", 2000) + 1  # a passage of the validation text, from a line start
passage = val_text[start : start + model.config.block_size]
ids = torch.tensor(tok.encode(passage))
print(repr(passage))

scores = heads.model_head_scores(model, ids, passage, n_sequences=8)  # name -> (L, H)
chance = heads.chance_scores(passage)  # a head that does not choose, on the same text
random_repeat = heads.repeated_random_tokens(model.config.block_size // 2, len(tok))
chance["induction"] = heads.chance_scores(random_repeat)["induction"]  # on what it is measured on
print(f"{'head':<8}" + "".join(f"{name:>12}" for name in scores))
for layer in range(L):
    for head in range(H):
        print(f"L{layer} H{head}  " + "".join(f"{scores[n][layer, head]:>12.2f}" for n in scores))
print(f"{'chance':<8}" + "".join(f"{chance[n]:>12.2f}" for n in scores))
""")

code(r"""
from course_lib import instruct

base, bpe, base_ckpt = instruct.load_base_model()  # lesson 07's base model and its BPE tokenizer
assert (base.config.n_layer, base.config.n_head, base.config.block_size) == (4, 4, 512), "the text above says so"
documents = instruct.pretraining_documents("val")  # held out: Shakespeare scenes first, Wikipedia blocks last
SEQ = 256  # tokens per scored sequence: two from a Shakespeare document, two from a Wikipedia one
base_seqs = [bpe.encode(doc)[k * SEQ : (k + 1) * SEQ] for doc in (documents[0], documents[-1]) for k in range(2)]


def pieces(seq):  # the tokens the text scores compare; a token that ends a line counts as the newline
    return ["\n" if bpe.decode([i]).endswith("\n") else bpe.decode([i]) for i in seq]


per_seq = [heads.model_head_scores(base, torch.tensor(seq), pieces(seq), n_sequences=2, seed=10 * k)
           for k, seq in enumerate(base_seqs)]  # induction: on 2 repeated random sequences each, 8 in all
base_scores = {name: np.nanmean([s[name] for s in per_seq], axis=0) for name in per_seq[0]}
base_chance = {name: float(np.nanmean([heads.chance_scores(pieces(seq))[name] for seq in base_seqs]))
               for name in base_scores}
base_chance["induction"] = heads.chance_scores(heads.repeated_random_tokens(base.config.block_size // 2, len(bpe)))["induction"]
print(f"lesson 07's base model, {len(base_seqs)} held-out sequences of {SEQ} tokens")
print(f"{'head':<8}" + "".join(f"{name:>12}" for name in base_scores))
for layer in range(base.config.n_layer):
    for head in range(base.config.n_head):
        print(f"L{layer} H{head}  " + "".join(f"{base_scores[n][layer, head]:>12.2f}" for n in base_scores))
print(f"{'chance':<8}" + "".join(f"{base_chance[n]:>12.2f}" for n in base_scores))
""")

code(r"""
fig, grid = plt.subplots(2, len(scores), figsize=(15, 6.2), constrained_layout=True,
                         gridspec_kw={"height_ratios": [L, base.config.n_layer]})
models = [("lesson 06", scores, chance), ("lesson 07 base", base_scores, base_chance)]
for axes, (who, model_scores, model_chance) in zip(grid, models, strict=True):
    for ax, (name, s) in zip(axes, model_scores.items(), strict=True):
        im = ax.imshow(s, vmin=0, vmax=1, cmap="viridis")
        for (layer, head), v in np.ndenumerate(s):
            ax.text(head, layer, f"{v:.2f}", ha="center", va="center", color="w" if v < 0.6 else "k", fontsize=9)
        ax.set_title(f"{who}: {name}\n(chance {model_chance[name]:.2f})", fontsize=10)
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.set_xticks(range(s.shape[1]))
        ax.set_yticks(range(s.shape[0]))
fig.colorbar(im, ax=grid, shrink=0.6, label="score (share of attention)")
fig.suptitle("One score per head and behaviour: lesson 06's GPT (top, 2 layers) and lesson 07's base model (bottom, 4 layers)")
plt.show()
""")

code(r"""
def best(name, scores=scores):
    layer, head = np.unravel_index(np.nanargmax(scores[name]), scores[name].shape)
    return (int(layer), int(head)), float(scores[name][layer, head])


def clear(score, chance_score):  # well above chance: the head has the behaviour
    return score >= 2 * chance_score and score >= 0.2


def verdict(name, what, scores=scores, chance=chance):
    (layer, head), score = best(name, scores)
    if score < 2 * chance[name]:
        return (f"* No **{what}** head: every score is within twice chance (best {score:.2f}, chance "
                f"{chance[name]:.2f}).")
    return (f"* The strongest **{what}** head is layer {layer} head {head}: {score:.2f} of its attention "
            f"(chance {chance[name]:.2f}); " + ("a clear " if clear(score, chance[name]) else
                                                "above twice chance but under this lesson's 0.2 floor, so no clear ")
            + f"{what} head on this measurement.")


BEHAVIOURS = [("previous", "previous-token"), ("first", "first-token"), ("line_start", "line-start"),
              ("duplicate", "duplicate-token"), ("induction", "induction")]
(prev_head, prev_score), (line_head, line_score) = best("previous"), best("line_start")
(ind_head, ind_score) = best("induction")
display(Markdown("**Lesson 06's GPT**\n\n" + "\n".join(verdict(name, what) for name, what in BEHAVIOURS)
                 + "\n\n**Lesson 07's base model**\n\n"
                 + "\n".join(verdict(name, what, base_scores, base_chance) for name, what in BEHAVIOURS)))
""")

code(r"""
# does lesson 07's base model copy from an earlier occurrence? Two tests of the behaviour an induction head gives
(base_ind_head, base_ind) = best("induction", base_scores)
random_twice = interpret.in_context_loss(base, interpret.repeated_random_batch(len(bpe), 128, 8, seed=5))
passage_ids = bpe.encode(documents[-1])[:200]  # a held-out Wikipedia passage of 200 tokens, then the same again
text_twice = interpret.in_context_loss(base, torch.tensor([passage_ids + passage_ids]))


def copy_gain(c):
    return c["first_copy"] - c["second_copy"]


has_induction = clear(base_ind, base_chance["induction"])
uses_copies = copy_gain(random_twice) > 0.5 or copy_gain(text_twice) > 0.5
display(Markdown(
    f"**Does a 4-layer model with {base.config.block_size}-token windows have an induction head?** By this lesson's "
    f"threshold (at least 0.2 of the attention and twice chance), lesson 07's base model "
    + ("has one" if has_induction else "has none")
    + f": its best induction score is {base_ind:.3f} "
    + (f"(layer {base_ind_head[0]} head {base_ind_head[1]}, " if base_ind >= 2 * base_chance["induction"] else "(every head within twice ")
    + f"chance, {base_chance['induction']:.3f}), after the {base_ckpt['step']:,} training steps of its checkpoint. Its loss "
    f"tells the same story: on 128 random tokens repeated once it is {random_twice['first_copy']:.2f} nats on the "
    f"first copy and {random_twice['second_copy']:.2f} on the second, and on a held-out passage of 200 tokens "
    f"read twice {text_twice['first_copy']:.2f} and {text_twice['second_copy']:.2f}: "
    + ("it predicts a repeat better the second time, by looking back." if uses_copies else
       "the second reading is predicted no better than the first, so the model does not copy from what it "
       "has just read.")
    + (" The score and the loss agree." if has_induction == uses_copies else
       " The score and the loss disagree: look at the best head's map on a repeated sequence.")
))
""")

md(r"""
A score is a summary of *where* a head looks, not of *what it does with it*: a previous-token head could copy the previous character, or only its vowel-ness, or nothing useful at all. Section 3 tests that. And a score depends on the text it is measured on: a line-start score on a passage without line breaks is undefined (NaN), and the induction score is measured on random tokens, where a model trained on text may behave differently than on text.
""")

# --- 2. induction heads -----------------------------------------------------------------------------

md(r"""
## 2. Induction heads, made to appear

An **induction head** completes patterns: having seen "... A B ... A", it predicts "B". It needs two steps (Elhage et al. 2021):

1. a **previous-token head** in an earlier layer writes, at each position $j$, *which token came before* $j$;
2. the induction head, at query $i$ (token A), looks for the key whose *previous token* is A, which is position $j$ right after the earlier A, and copies the token there, B.

Step 2 reads what step 1 wrote: its keys are built from the output of an earlier head (*K-composition*). A **one-layer** attention-only transformer has no earlier head to read from: its keys only know the token and position at $j$ itself. So one layer cannot form an induction head, two layers can. Olsson et al. (2022) found that induction heads form in a sudden **phase change** early in training, and that at the same moment the loss on *late* tokens of a context falls below the loss on early ones: the model starts **learning in context**.

We test this on models we train here: attention-only transformers (`GPTConfig(mlp=False)`) of 1 and 2 layers with 64-token windows, batches of 64 and **rotary** position embeddings (`pos_emb="rope"`, lesson 05). The batches (`interpret.InductionBatcher`) mix windows of Shakespeare with **repeated random segments**: a random segment of random length, repeated until the window is full. Random tokens cannot be predicted from the language; their repeats can, by looking back. Every few steps, `interpret.train_induction` measures, on fixed sequences:

* the **induction score** of every head, on random tokens repeated once (`heads.induction_score`);
* the **in-context loss**: the loss on the first copy of a repeated random segment and on the second (`interpret.in_context_loss`). On the first copy nothing beats chance, $\ln V$; on the second, a model that finds the earlier copy can be near 0;
* the best head's **previous-token score**, on the same random sequences: step 1 of the circuit;
* the **in-context score** on text, Olsson et al.'s measure: the loss at *late* positions of Shakespeare windows minus the loss at *early* ones (`in_context_loss`'s `late - early`: predictions 56-63, which read nearly the whole window, against predictions 4-7, which read 5 to 8 characters), averaged over 256 fixed validation windows. Below 0, later positions gain from the longer context.

A third run changes one thing: the 2-layer model with **learned** absolute positions instead of rotary ones. Rotary embeddings make "the token just before me" the same relation at every position, so a previous-token head is one pattern to learn; with learned positions it must be learned for each position separately.
""")

code(r"""
INDUCTION = dict(  # the run's settings: 64-token windows, batches of 64, rotary positions
    block_size=64, n_embd=64, n_head=4, batch_size=64, pos_emb="rope", repeat_fraction=0.5, lr=3e-3, seed=0,
    text_windows=256,  # the windows of validation text the in-context score averages over
)
STEPS = by_mode(full=1500, fast=60)
EVERY = by_mode(full=50, fast=20)
RUNS = {"1 layer": (1, "rope"), "2 layers": (2, "rope"), "2 layers, learned positions": (2, "learned")}
induction_runs = {}
for name, (n_layers, pos_emb) in RUNS.items():
    r = interpret.train_induction(n_layers, STEPS, eval_every=EVERY, **{**INDUCTION, "pos_emb": pos_emb})
    induction_runs[name] = r
    print(f"{name}: best induction score {max(r.induction):.2f} "
          f"(last {r.induction[-1]:.2f}), loss on the first copy {r.first_copy[-1]:.2f} and the second "
          f"{r.second_copy[-1]:.2f} nats")
""")

code(r"""
one, two, learned = (induction_runs[k] for k in ("1 layer", "2 layers", "2 layers, learned positions"))


def first_step(steps, values, passes):
    # the index of the first measurement whose value passes the test, or None
    return next((i for i, v in enumerate(values) if passes(v)), None)


i_ind = first_step(two.step, two.induction, lambda v: v > 0.5)  # the phase change: induction score past 0.5

fig, axes = plt.subplots(2, 2, figsize=(14, 8.4), constrained_layout=True)
(ax_ind, ax_copy), (ax_ctx, ax_prev) = axes
colors = {"1 layer": "tab:gray", "2 layers": "tab:blue", "2 layers, learned positions": "tab:orange"}
for name, r in induction_runs.items():
    ax_ind.plot(r.step, r.induction, "-o", ms=3, color=colors[name], label=name)
    ax_copy.plot(r.step, r.second_copy, "-", color=colors[name], label=f"{name}: second copy")
    ax_copy.plot(r.step, r.first_copy, ":", color=colors[name], label=f"{name}: first copy")
    ax_ctx.plot(r.step, r.in_context_score, "-o", ms=3, color=colors[name], label=name)
    ax_prev.plot(r.step, r.previous, "-o", ms=3, color=colors[name], label=name)
ax_copy.axhline(math.log(two.model.config.vocab_size), color="k", lw=0.8, ls="--", label="ln V (guessing)")
ax_ctx.axhline(0, color="k", lw=0.8)
if i_ind is not None:  # the 2-layer rotary model's phase change, on every panel
    for ax in axes.flat:
        ax.axvline(two.step[i_ind], color="tab:blue", lw=0.8, ls="--")
ax_ind.set(title="The best head's induction score", xlabel="training step", ylabel="score (share of attention)",
           ylim=(0, 1))
ax_copy.set(title="Loss on a repeated random segment", xlabel="training step", ylabel="loss (nats per token)")
ax_ctx.set(title="In-context score on Shakespeare: loss late (56-63) minus early (4-7)", xlabel="training step",
           ylabel="late − early (nats per character)")
ax_prev.set(title="The best head's previous-token score", xlabel="training step",
            ylabel="score (share of attention)", ylim=(0, 1))
for ax in axes.flat:
    ax.grid(alpha=0.3)
ax_ind.legend(loc="upper left", fontsize=8)
ax_copy.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7)
fig.suptitle("Induction heads and in-context learning: 1 layer against 2 (rotary), and 2 with learned positions "
             "(dashed line: the 2-layer rotary model's induction score passes 0.5)")
plt.show()
""")

code(r"""
i_loss = first_step(two.step, two.second_copy, lambda v: v < two.second_copy[0] / 2)  # second copy at half its start
lines = [f"* **1 layer**: the best induction score was at most {max(one.induction):.2f}, and the loss on the second "
         f"copy ended at {one.second_copy[-1]:.2f} nats against {one.first_copy[-1]:.2f} on the first: "
         + ("no induction head" + (", as the argument above predicts." if i_ind is not None else ".")
            if max(one.induction) < 0.2 else "higher than expected for one layer; look at its maps.")
         + (" (The small gain on the second copy is a one-layer trick: raising any token already in the window, "
            "without knowing which comes next.)" if one.second_copy[-1] < one.first_copy[-1] - 0.1 else "")]
if i_ind is not None:
    b = max(i_ind - 1, 0)  # the measurement before the change
    rose = two.previous[i_ind] - two.previous[b]
    lines.append(
        f"* **2 layers**: between step {two.step[b]} and step {two.step[i_ind]} the best induction score jumped from "
        f"{two.induction[b]:.2f} to {two.induction[i_ind]:.2f} (it ended at {two.induction[-1]:.2f}), and the loss "
        f"on the second copy went from {two.second_copy[b]:.2f} to {two.second_copy[i_ind]:.2f} nats (ending at "
        f"{two.second_copy[-1]:.2f}), while the loss on the first copy, which nothing can predict, went from "
        f"{two.first_copy[b]:.2f} to {two.first_copy[i_ind]:.2f} (a uniform guess gives "
        f"ln V = {math.log(two.model.config.vocab_size):.2f}"
        + ("; above it, because a model trained half on Shakespeare bets on likely Shakespeare characters, which "
           "random tokens are not)." if two.first_copy[i_ind] > math.log(two.model.config.vocab_size) else ")."))
    lines.append(
        f"* In the same window the best previous-token score went from {two.previous[b]:.2f} to "
        f"{two.previous[i_ind]:.2f}: " + ("it rose with the induction score, the two steps of the circuit forming "
                                         "together." if rose > 0.1 else "it did not rise with it in this window."))
    if i_loss is not None:
        lines.append(f"* The second-copy loss first fell below half its starting {two.second_copy[0]:.2f} nats at step "
                     f"{two.step[i_loss]}" + (", the same measurement at which the induction score passed 0.5."
                                              if i_loss == i_ind else
                                              f", {abs(two.step[i_loss] - two.step[i_ind])} steps from the step the "
                                              "induction score passed 0.5."))
else:
    lines.append(
        f"* **2 layers**: in this run ({STEPS} steps) the best induction score never passed 0.5 (it reached "
        f"{max(two.induction):.2f}); no phase change within the budget, and the second copy ended at "
        f"{two.second_copy[-1]:.2f} nats against {two.first_copy[-1]:.2f} on the first. "
        + ("Fast mode is far too short for it; the full run is needed." if runtime.FAST else
           "A phase change can come later than a budget allows: try more steps, or look at the maps below."))
lines.append(
    f"* **2 layers, learned positions**: the best induction score reached {max(learned.induction):.2f} in the same "
    f"{STEPS} steps, the second copy ended at {learned.second_copy[-1]:.2f} nats. "
    + ("No induction head within this budget: with rotary positions the same model formed one." if
       max(learned.induction) < 0.5 <= max(two.induction) else
       (f"Its induction score passed 0.5 at step {learned.step[i_learned]}, "
        + (f"{learned.step[i_learned] - two.step[i_ind]} steps after the rotary model; its best previous-token "
           f"score ends at {learned.previous[-1]:.2f} against {two.previous[-1]:.2f} with rotary positions." if i_ind is not None and learned.step[i_learned] > two.step[i_ind]
           else "no later than the rotary model.")
        if (i_learned := first_step(learned.step, learned.induction, lambda v: v > 0.5)) is not None else
        "Compare it with the rotary run's curve above.")))
display(Markdown("\n".join(lines)))

if not runtime.FAST:  # the claims the text around this section makes; fast mode is too short to assert them
    assert max(one.induction) < 0.2, f"the 1-layer model should not form an induction head ({max(one.induction):.2f})"
    assert i_ind is not None, f"the 2-layer model should form one (best {max(two.induction):.2f})"
    assert i_loss is not None and abs(two.step[i_loss] - two.step[i_ind]) <= 200, \
        "the second-copy loss should fall with the induction score (within 200 steps)"
    assert two.second_copy[-1] < two.first_copy[-1] / 2, "issue 21: the second copy below half the first"
""")

md(r"""
### The in-context score on text

Olsson et al. saw the in-context score (late minus early loss) drop at the phase change. The lower left panel shows ours, on Shakespeare; the cell below reads it across the phase change and asks two questions: where along the window does the loss fall, and what do the induction heads add at late positions of text?
""")

code(r"""
ics = two.in_context_score  # late - early, per measurement (nats per character)
sides = ""
if i_ind is not None:
    b = max(i_ind - 1, 0)
    sides = (f" from {ics[b]:+.3f} nats at step {two.step[b]} to {ics[i_ind]:+.3f} at step {two.step[i_ind]}, the "
             f"measurement at which the induction score passed 0.5, and")

# where the loss falls along the window: many windows of validation text, the final 2-layer model
char_tok, _, char_val = shakespeare_char_data()  # the ids the induction models read
T2 = two.model.config.block_size
starts = torch.randint(0, len(char_val) - T2 - 1, (by_mode(full=512, fast=64),), generator=torch.Generator().manual_seed(4))
windows = torch.stack([char_val[s : s + T2 + 1] for s in starts.tolist()])  # (N, T2 + 1)
two.model.eval()
with torch.no_grad():
    by_position = F.cross_entropy(two.model(windows[:, :-1])[0].transpose(1, 2), windows[:, 1:],
                                  reduction="none").mean(0)  # (T2,): prediction p reads p + 1 characters
bands = [(0, 4), (4, 8), (8, 16), (16, 32), (32, 56), (56, 64)]
band_loss = {f"{a}-{z - 1}": by_position[a:z].mean().item() for a, z in bands}
induction_heads = {(1, h): "mean" for h in range(two.model.config.n_head) if two.scores[-1][1, h] >= 0.5}
kept = interpret.in_context_loss(two.model, windows)
with interpret.ablate_heads(two.model, induction_heads):
    ablated = interpret.in_context_loss(two.model, windows)


def copy_rule(windows, k, band=(56, 64)):
    # at the predictions in band: how often the last k characters occurred earlier in the window, and how often
    # the character after their last earlier occurrence is the next one (what copying from a repeat can give)
    found = right = total = 0
    for w in windows.tolist():
        for p in range(*band):
            earlier = [j for j in range(k - 1, p) if w[j - k + 1 : j + 1] == w[p - k + 1 : p + 1]]
            total += 1
            found += bool(earlier)
            right += bool(earlier) and w[earlier[-1] + 1] == w[p + 1]
    return found / total, right / max(found, 1)


(found1, right1), (found3, right3) = copy_rule(windows, 1), copy_rule(windows, 3)
print("loss by prediction (nats per character):", ", ".join(f"{k}: {v:.2f}" for k, v in band_loss.items()))
print(f"induction heads (layer 1, score >= 0.5): {sorted(h for _, h in induction_heads)}; with them: early "
      f"{kept['early']:.2f}, late {kept['late']:.2f}; mean-ablated: early {ablated['early']:.2f}, late {ablated['late']:.2f}")

moved = ics[i_ind] - ics[max(i_ind - 1, 0)] if i_ind is not None else float("nan")
flat = abs(band_loss["56-63"] - band_loss["8-15"]) < 0.1  # no gain from context beyond a few characters
alike = abs(ablated["in_context_score"] - kept["in_context_score"]) < 0.05  # the heads help both ends alike
text = (f"The 2-layer model's in-context score went{sides} ended at {ics[-1]:+.3f}; the 1-layer model ended at "
        f"{one.in_context_score[-1]:+.3f} and the learned-positions model at {learned.in_context_score[-1]:+.3f}. "
        if i_ind is not None else
        f"The 2-layer model's in-context score ended at {ics[-1]:+.3f} (the 1-layer model's at "
        f"{one.in_context_score[-1]:+.3f}); this run had no phase change to read it across"
        + (" (fast mode is far too short for one). " if runtime.FAST else ". "))
if i_ind is not None and moved < -0.05:
    text += "It fell with the phase change, as Olsson et al. found: late positions started to gain from the context. "
elif i_ind is not None:
    text += (f"**It did not fall with the phase change**, as Olsson et al. found it to: across it the score changed by "
             f"{moved:+.3f} nats, and from there on it stays between {min(ics[i_ind:]):+.3f} and {max(ics[i_ind:]):+.3f} "
             "(the lower left panel). ")
text += (f"Along the window the loss {'falls' if band_loss['4-7'] < band_loss['0-3'] else 'goes'} over the first few characters ({band_loss['0-3']:.2f} nats for the "
         f"predictions 0-3, {band_loss['4-7']:.2f} for 4-7) and then "
         + (f"hardly moves ({band_loss['8-15']:.2f} for 8-15, {band_loss['56-63']:.2f} for 56-63)"
            if flat else f"goes from {band_loss['8-15']:.2f} (8-15) to {band_loss['56-63']:.2f} (56-63)")
         + ". ")
if induction_heads:
    text += (f"Mean-ablating the induction heads raises the loss at early positions by "
             f"{ablated['early'] - kept['early']:+.2f} nats and at late ones by {ablated['late'] - kept['late']:+.2f}"
             + (": they help both ends alike, so what they do on this text does not use the longer context. "
                if alike else ", not alike (the printed losses above). "))
if i_ind is not None and moved >= -0.05:
    text += ("Why: this is a character model with 64-character windows. A prediction at position 4 already reads "
             "five characters, most of its word; copying from an earlier occurrence needs one inside the window "
             f"that says something. At the late predictions (56-63) the current character occurred earlier in the "
             f"window at {found1:.0%} of them, but the character after its last earlier occurrence is the next one "
             f"only {right1:.0%} of the time (one character is a poor key: after an 'e' comes almost anything); the "
             f"last three characters occurred earlier at only {found3:.0%} of them (and predict the next one at "
             f"{right3:.0%} of those). Olsson et al. measured token 500 against token 50 of windows of 512 or more "
             "BPE tokens, where a name or a phrase seen earlier is a much better key. Here the in-context learning "
             "the induction heads give shows on the repeated segments (the upper right panel), not on text.")
display(Markdown(text))
""")

md(r"""
### The circuit's two steps, in two maps

Back to the repeated random tokens: the final 2-layer rotary model reads 24 of them repeated once. Left, layer 0's best previous-token head (step 1); right, the head with the best induction score (step 2).
""")

code(r"""
# the 2-layer model's best induction head, reading a repeated random sequence
(ind_layer, ind_h) = np.unravel_index(np.argmax(two.scores[-1]), two.scores[-1].shape)
n_show = 24
seq = interpret.repeated_random_batch(two.model.config.vocab_size, n_show, 1, seed=7)[0]
maps = attention_maps(two.model, seq)  # (L, H, 2n, 2n)
fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), constrained_layout=True)
prev_h = int(np.argmax(heads.previous_token_score(maps[0])))
for ax, (layer, head, what) in zip(axes, [(0, prev_h, "layer 0's best previous-token head"),
                                          (int(ind_layer), int(ind_h), "the best induction head")], strict=True):
    im = ax.imshow(maps[layer, head], cmap="Blues", vmin=0, vmax=1)
    ax.set(title=f"{what}: layer {layer} head {head}", xlabel="key position", ylabel="query position")
    ax.axvline(n_show - 0.5, color="tab:red", lw=0.8)
    ax.axhline(n_show - 0.5, color="tab:red", lw=0.8)
fig.colorbar(im, ax=axes, shrink=0.8, label="attention weight")
fig.suptitle(f"2-layer model on {n_show} random tokens repeated once (red lines: where the copy starts)")
plt.show()
""")

md(r"""
In the right-hand map, an induction head draws a **diagonal line offset by one** in the second copy: query $i$ looks at position $i - n + 1$, the token after its twin. A previous-token head (left) draws the diagonal just below the main one.

**What this shows, and what it does not.** The scores and the loss moving together make the induction story plausible; they do not prove the head *causes* the low second-copy loss. Section 3 tests that by switching the head off.

### Exercise 4, first half: predict before you measure

Before you read section 3, **predict**: which single head of the 2-layer attention-only model, zero-ablated, raises the loss on the second copy of a repeated random segment the most? Use only this section's figures and maps, and write it as `prediction_head = (layer, head)`. (Think about the two steps an induction circuit needs, and which of them the second copy depends on.) Section 3 measures it; the check in section 4 (exercise 4) compares your prediction with the measurement.
""")

code(r"""
### BEGIN SOLUTION
prediction_head = (0, prev_h)  # step 1: layer 0's previous-token head; every induction head reads it
### END SOLUTION
""")

# --- 3. testing explanations ------------------------------------------------------------------------

md(r"""
## 3. Testing an explanation

Looking at maps is *observation*. To test a claim such as "this head is why the model predicts the second copy", change the computation and measure what changes. `course_lib.interpret` does it with **hooks**: small functions PyTorch calls during the forward pass (`register_forward_pre_hook` on each attention layer's `out_proj`), which can read or replace what a head writes. The model's code and weights are never edited; the hooks are removed when the `with` block ends.

A head's *output* is its slice of the attention layer's output **before** `out_proj` mixes the heads: with $H$ heads of width $D = C/H$, head $h$ owns channels $hD \ldots (h+1)D - 1$. Zeroing that slice removes exactly the head's contribution to the residual stream.

### Ablation: switch a head off

* **zero-ablation** sets the head's output to 0;
* **mean-ablation** replaces it by its mean over the batch and positions: the head still adds its typical vector but nothing that depends on the input. Zeroing can push the residual stream where the model never was in training, so mean-ablation is the more conservative choice (it keeps the head's average contribution), though it need not change the loss less.

We ablate each head of the 2-layer induction model in turn and measure the loss on the second copy of repeated random segments and on Shakespeare windows.
""")

code(r"""
two_model = two.model.eval()
V2 = two_model.config.vocab_size
T2 = two_model.config.block_size  # the model reads T2 tokens and predicts the next of each
repeated = interpret.repeated_random_batch(V2, T2 // 2, by_mode(full=16, fast=4), seed=11)
char_tok, _, char_val = shakespeare_char_data()  # the ids the induction models read
starts = torch.randint(0, len(char_val) - T2 - 1, (by_mode(full=16, fast=4),), generator=torch.Generator().manual_seed(3))
text_batch = torch.stack([char_val[s : s + T2 + 1] for s in starts.tolist()])


def losses(model):
    with torch.no_grad():
        return interpret.in_context_loss(model, repeated)["second_copy"], interpret.in_context_loss(model, text_batch)["late"]


base_rep, base_text = losses(two_model)
print(f"no ablation: {base_rep:.2f} nats on second copies, {base_text:.2f} on late Shakespeare positions")
ablation = {}
for kind in ("zero", "mean"):
    for layer in range(two_model.config.n_layer):
        for head in range(two_model.config.n_head):
            with interpret.ablate_heads(two_model, {(layer, head): kind}):
                ablation[kind, layer, head] = losses(two_model)
print(f"{'head':<7}{'zero: rep':>12}{'zero: text':>12}{'mean: rep':>12}{'mean: text':>12}  (loss change, nats)")
for layer in range(two_model.config.n_layer):
    for head in range(two_model.config.n_head):
        z, m = ablation["zero", layer, head], ablation["mean", layer, head]
        print(f"L{layer} H{head}  {z[0] - base_rep:>+11.2f} {z[1] - base_text:>+11.2f} {m[0] - base_rep:>+11.2f} {m[1] - base_text:>+11.2f}")
""")

code(r"""
zeroed = [(layer, head) for kind, layer, head in ablation if kind == "zero"]
worst_rep = max(zeroed, key=lambda lh: ablation["zero", *lh][0])
top_score = float(two.scores[-1].max())
text = (f"Zero-ablating layer {worst_rep[0]} head {worst_rep[1]} costs the most on repeated text: "
        f"{ablation['zero', *worst_rep][0] - base_rep:+.2f} nats on the second copies, and "
        f"{ablation['zero', *worst_rep][1] - base_text:+.2f} on late Shakespeare positions. ")
if top_score < 0.5:
    text += (f"No head of this model has a clear induction score (the best is {top_score:.2f}), so there is no "
             "induction explanation to test here: the changes above are what switching off a head does without one.")
elif worst_rep == (int(ind_layer), int(ind_h)):
    text += f"It is also the head with the best induction score ({top_score:.2f}): the score and the ablation agree."
elif worst_rep == (0, prev_h):
    ind_cost = ablation["zero", int(ind_layer), int(ind_h)][0] - base_rep
    text += (f"That is layer 0's previous-token head (the left map above), step 1 of the circuit: without it the "
             f"second copies cost {ablation['zero', *worst_rep][0]:.2f} nats, as if no layer-1 head could find the "
             f"earlier copy. The best induction head, layer {int(ind_layer)} head {int(ind_h)} (score "
             f"{top_score:.2f}), costs {ind_cost:+.2f}: other heads also cost something (table above), so the work "
             "is shared, but this head carries most of it. The ablation shows the model needs these heads; it is "
             "consistent with the two-step circuit, not a proof of how they are wired.")
else:
    text += (f"The best induction score belongs to layer {int(ind_layer)} head {int(ind_h)} ({top_score:.2f}): the "
             "score says where a head looks, the ablation what the model needs; here they point to different heads.")
display(Markdown(text))
""")

md(r"""
**What ablation can tell you**: that the model *needs* a head for a behaviour (the loss rises without it). **What it cannot**: that the head is the *only* part doing it (another head may take over, or share the work, so a small loss change does not mean the head does nothing), nor *how* it does it; and zero-ablation measures partly the damage of an input the model never saw.

### Activation patching: move one head's output between inputs

Patching asks a sharper question (Wang et al. 2022, "Interpretability in the Wild"). Take two inputs that differ in one controlled way: a **clean** one, a random segment followed by its copy, and a **corrupted** one, where the first half is a *different* random segment, so there is nothing to copy. Run the corrupted input, but replace one head's output by the output it had on the clean input (`interpret.patch_head`). If the second-half loss falls back towards the clean one, that head carries the information that made the difference.
""")

code(r"""
n_patch = T2 // 2  # the clean input: n_patch random tokens, then the same again
clean = interpret.repeated_random_batch(V2, n_patch, by_mode(full=16, fast=4), seed=21)
corrupt = clean.clone()
corrupt[:, :n_patch] = interpret.repeated_random_batch(V2, n_patch, clean.size(0), seed=22)[:, :n_patch]


def second_half_loss(logits, batch):
    # mean loss predicting tokens n+1 .. 2n-1 (the ones the copy lets a model predict)
    lp = F.cross_entropy(logits[:, :-1].transpose(1, 2), batch[:, 1:], reduction="none")
    return lp[:, n_patch:].mean().item()


with torch.no_grad():
    clean_loss = second_half_loss(two_model(clean)[0], clean)
    corrupt_loss = second_half_loss(two_model(corrupt)[0], clean)  # scored against the clean continuation
gap = corrupt_loss - clean_loss
print(f"second half: clean {clean_loss:.2f} nats, corrupted {corrupt_loss:.2f} (a gap of {gap:.2f})")
recovered = {}
for layer in range(two_model.config.n_layer):
    for head in range(two_model.config.n_head):
        patched = interpret.patch_head(two_model, layer, head, clean, corrupt)
        loss = second_half_loss(patched, clean)
        recovered[layer, head] = (corrupt_loss - loss) / gap if gap > 0.1 else float("nan")
        share = f", {recovered[layer, head]:.0%} of the gap recovered" if gap > 0.1 else ""
        print(f"patch L{layer} H{head} from the clean run: {loss:.2f} nats{share}")
""")

code(r"""
top_patch = max(recovered, key=lambda lh: np.nan_to_num(recovered[lh], nan=-np.inf))
if gap > 0.1:
    display(Markdown(
        f"Patching layer {top_patch[0]} head {top_patch[1]} alone recovers {recovered[top_patch]:.0%} of the "
        f"{gap:.2f}-nat gap between the corrupted and the clean loss on the second half."
    ))
else:
    display(Markdown(
        f"The clean and the corrupted inputs give nearly the same loss on the second half (a gap of {gap:.2f} nats): "
        "this model does not use the first copy yet, so there is nothing for patching to find."
    ))
""")

md(r"""
Note which heads patching points to. Layer 0's previous-token head reads only the token before, so in the second half its output is almost the same for both inputs; but the patch replaces a head's output at every position, so a layer-0 head is also felt through the first half, where the inputs differ, and there it can even hurt: a clean previous-token output tells the induction heads' keys about tokens that are no longer there. The information about the earlier copy must be carried by a head that looks back there. **What patching can tell you**: which component carries the information that distinguishes two inputs, at the positions you patch. **What it cannot**: anything about inputs unlike the pair you chose (a different corruption can point to different heads); and a head can matter in combination with others while patching it alone shows little.

### The logit lens: read the residual stream layer by layer

Every block *adds* to the residual stream, and the model reads the last state through the final LayerNorm and the output layer. The **logit lens** (nostalgebraist 2020) reads every intermediate state the same way: what would the model predict if it stopped here? Row $L$ is exactly the model's output (asserted below). We use lesson 06's pre-trained GPT, which has MLPs, on the validation passage.
""")

code(r"""
lens = interpret.logit_lens(model, ids)  # (L + 1, T, V)
with torch.no_grad():
    assert torch.allclose(lens[-1], model(ids[None])[0][0], atol=1e-5), "the last row is the model's logits"
targets = ids[1:]
lens_loss = [F.cross_entropy(lens[k, :-1], targets).item() for k in range(L + 1)]
repeat_share = (lens[0].argmax(-1) == ids).float().mean().item()  # row 0 predicting the current character
stages = ["embeddings"] + [f"after block {k}" for k in range(L)]
for stage, loss in zip(stages, lens_loss, strict=True):
    print(f"{stage:<15} loss {loss:.2f} nats per character")

pos = passage.index(" ", 20)  # one position, the character after a space
top = [tok.decode([int(lens[k, pos].argmax())]) for k in range(L + 1)]
print(f"after {passage[pos - 12 : pos + 1]!r} (next: {passage[pos + 1]!r}) the lens predicts, layer by layer: {top}")
""")

code(r"""
fig, ax = plt.subplots(figsize=(6, 3.4), constrained_layout=True)
ax.plot(range(L + 1), lens_loss, "-o", color="tab:purple")
ax.set_xticks(range(L + 1), stages)
ax.set(title="The logit lens on the pre-trained GPT", xlabel="where the residual stream is read",
       ylabel="loss (nats per character)")
ax.grid(alpha=0.3)
plt.show()
assert model.config.tie_weights, "the text below says the output layer is tied to the embedding"
display(Markdown(
    f"Read straight from the embeddings, the stream gives {lens_loss[0]:.2f} nats per character, against "
    f"{math.log(len(tok)):.2f} for a uniform guess; at {repeat_share:.0%} of the positions its top prediction is the "
    "current character itself (the output layer is tied to the embedding, so an embedding read through it points at "
    f"its own character). After block 0 the reading gives {lens_loss[1]:.2f}, and after the last block, the model's "
    f"own output, {lens_loss[-1]:.2f}."
))
""")

md(r"""
**What the logit lens can tell you**: how far along the prediction is after each layer, when the intermediate states already live in the output's "language". **What it cannot**: nothing trained the middle layers to be read this way, so a poor reading at layer $k$ can mean "not computed yet" or only "written in a form the output layer does not read"; in larger models the lens is often misleading for early layers (later work trains a small map per layer instead: the *tuned lens*).

### Saliency: which input characters mattered for one prediction

**Gradient × input** (Shrikumar et al. 2016, after the gradient saliency maps of Simonyan et al. 2013): differentiate the predicted character's logit with respect to each input character's embedding and take the dot product with the embedding: a first-order estimate of how much that character contributed. **Occlusion**: replace one input character at a time (here by a space) and measure how much the logit drops; exact for that replacement, one forward pass per character (a space replaced by a space scores 0 by construction).
""")

code(r"""
target = int(ids[pos + 1])
gxi = interpret.saliency(model, ids, pos, target, method="grad_x_input")
occ = interpret.saliency(model, ids, pos, target, method="occlusion", baseline_id=tok.encode(" ")[0])
window = range(pos - 15, pos + 1)
fig, ax = plt.subplots(figsize=(11, 3.2), constrained_layout=True)
x = np.arange(len(window))
ax.bar(x - 0.2, gxi[list(window)].numpy(), width=0.4, label="gradient × input", color="tab:orange")
ax.bar(x + 0.2, occ[list(window)].numpy(), width=0.4, label="occlusion (replaced by a space)", color="tab:green")
ax.set_xticks(x, [passage[i].replace(" ", "␣").replace("\n", "↵") for i in window])
ax.set(title=f"What mattered for predicting {passage[pos + 1]!r} after {passage[pos - 15 : pos + 1]!r}",
       xlabel="input character (the last 16 before the prediction)", ylabel="contribution to the logit")
ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
ax.axhline(0, color="k", lw=0.6)
plt.show()
agree = float(np.corrcoef(gxi[: pos + 1].numpy(), occ[: pos + 1].numpy())[0, 1])
display(Markdown(f"Over the {pos + 1} characters the prediction can read, the two methods' scores correlate at {agree:.2f}."))
""")

md(r"""
**What saliency can tell you**: which inputs a single prediction is sensitive to, locally. **What it cannot**: gradient × input is a linear approximation (a character can matter a lot and have a small gradient where the model is saturated); occlusion depends on the replacement (a space is itself a very informative character); and neither says *how* the input was used. Attention weights are not an explanation either: Jain & Wallace (2019) showed that very different attention maps can give the same prediction. Saliency, like attention maps, suggests hypotheses; ablation and patching test them.
""")

# --- 4. exercises -------------------------------------------------------------------------------------

md(r"""
## 4. Exercises

Each exercise gives a function to complete (exercise 4: a prediction, written at the end of section 2); the cell after it checks your answer on random inputs against the course's reference and prints ✅, or ❌ with a hint. The library has every answer (`heads.induction_score`, `interpret.ablate_heads`, `interpret.logit_lens`): write the steps yourself, since an answer that calls them gets ⚠️ "uses the library version". (In the student version, `course student`, each solution is replaced by `raise NotImplementedError()`.)

### Exercise 1 (warm-up): an induction score from an attention pattern

Write `induction(weights, tokens)`: `weights` is one head's attention pattern, a NumPy array `(T, T)` (row $i$: how query $i$ spreads its attention; it sums to 1), `tokens` its `T` token ids. For query $i$, the **targets** are the positions $j + 1$ right after each earlier copy of token $t_i$ (so $t_j = t_i$, $j < i$), counting only targets before the query ($j + 1 < i$). Return the total weight of query $i$ on its targets, averaged over the queries that have at least one target (a float).
""")

code(r"""
def induction(weights, tokens):
    ### BEGIN SOLUTION
    T = len(tokens)
    per_query = []
    for i in range(T):
        targets = {j + 1 for j in range(i) if tokens[j] == tokens[i] and j + 1 < i}
        if targets:
            per_query.append(sum(weights[i][t] for t in targets))
    return float(np.mean(per_query))
    ### END SOLUTION
""")

code(r"""
# NBVAL_CHECK_OUTPUT
from course_lib.checks.interpret import check_induction_score

ok = check_induction_score(induction)
""")

md(r"""
### Exercise 2 (core): a hook that switches a head off

Write `zero_head(x, head, n_head)`: `x` is the input of an attention layer's `out_proj`, shape `(B, T, C)`, the `n_head` heads' outputs side by side (`merge_heads`: head $h$ owns channels $hD \ldots (h+1)D - 1$, $D = C / n_{head}$). Return a copy of `x` with head `head`'s channels set to 0 and everything else unchanged. The cell after the check uses it as a forward pre-hook and compares with `interpret.ablate_heads`.
""")

code(r"""
def zero_head(x, head, n_head):
    ### BEGIN SOLUTION
    D = x.size(-1) // n_head
    x = x.clone()
    x[..., head * D : (head + 1) * D] = 0.0
    return x
    ### END SOLUTION
""")

code(r"""
# NBVAL_CHECK_OUTPUT
from course_lib.checks.interpret import check_zero_head

ok = check_zero_head(zero_head)
""")

code(r"""
# your hook in the model, against the library's ablation
layer, head = worst_rep
attn = two_model.blocks[layer].attn
handle = attn.out_proj.register_forward_pre_hook(lambda module, args: (zero_head(args[0], head, attn.n_head),))
try:
    with torch.no_grad():
        mine = two_model(repeated[:2, :-1])[0]
finally:
    handle.remove()
with torch.no_grad(), interpret.ablate_heads(two_model, {(layer, head): "zero"}):
    library = two_model(repeated[:2, :-1])[0]
print(f"your hook and interpret.ablate_heads agree on layer {layer} head {head}:", torch.allclose(mine, library, atol=1e-5))
""")

md(r"""
### Exercise 3 (core): the logit lens

Write `lens_of(model, ids)` for a pre-norm GPT with learned positions and `ids` of shape `(T,)`: the stream starts as `model.tok_emb(ids) + model.positions(0, T)`; each block of `model.blocks` maps a `(B, T, C)` stream to the next (add a batch axis); read each of the $L + 1$ states through `model.ln_f` and `model.head`. Return the logits, shape `(L + 1, T, V)`.
""")

code(r"""
def lens_of(model, ids):
    ### BEGIN SOLUTION
    x = (model.tok_emb(ids) + model.positions(0, len(ids)))[None]  # (1, T, C)
    rows = [model.head(model.ln_f(x))[0]]
    for block in model.blocks:
        x = block(x)
        rows.append(model.head(model.ln_f(x))[0])
    return torch.stack(rows)
    ### END SOLUTION
""")

code(r"""
# NBVAL_CHECK_OUTPUT
from course_lib.checks.interpret import check_logit_lens

ok = check_logit_lens(lens_of)
""")

md(r"""
### Exercise 4 (core): predict, then measure: which head's ablation hurts repeated text most?

You wrote your prediction, `prediction_head`, at the end of section 2, before section 3's ablation table. The cell below takes the measured loss changes from that table and checks your prediction against the head whose zero-ablation costs the most on the second copies.
""")

code(r"""
from course_lib.checks.interpret import check_ablation_prediction

choices = [(layer, head) for layer in range(two_model.config.n_layer) for head in range(two_model.config.n_head)]
cost = {lh: ablation["zero", *lh][0] - base_rep for lh in choices}
measured_head = max(cost, key=cost.get)
print("loss change on the second copies when each head is zeroed (nats):",
      ", ".join(f"L{layer}H{head} {c:+.2f}" for (layer, head), c in cost.items()))
ok = check_ablation_prediction(globals().get("prediction_head"), measured_head, choices)
""")

# --- summary -------------------------------------------------------------------------------------

md(r"""
## Summary

What this lesson measured, with the numbers of this run:
""")

code(r"""
lesson_seconds = time.perf_counter() - lesson_start
display(Markdown("\n".join([
    f"* **Head scores** on lesson 06's pre-trained GPT: the strongest previous-token head is layer {prev_head[0]} head "
    f"{prev_head[1]} ({prev_score:.2f}); the best line-start score is {line_score:.2f} (layer {line_head[0]} head "
    f"{line_head[1]}; chance {chance['line_start']:.2f}) and the best induction score {ind_score:.2f}. Lesson 07's base model ({base.config.n_layer} "
    f"layers, {base.config.block_size}-token windows) " + ("has" if has_induction else "has no")
    + f" induction head by the lesson's threshold (best score {base_ind:.2f}), and predicts a held-out passage read "
    f"twice {copy_gain(text_twice):+.2f} nats better the second time.",
    f"* **Induction heads**: after {STEPS} steps, the 2-layer attention-only model's best induction score is "
    f"{two.induction[-1]:.2f} and its loss on second copies {two.second_copy[-1]:.2f} nats against "
    f"{two.first_copy[-1]:.2f} on first copies; the 1-layer model's best head ends at {one.induction[-1]:.2f} "
    f"({one.second_copy[-1]:.2f} against {one.first_copy[-1]:.2f} nats). On Shakespeare, the in-context score "
    f"(late minus early positions) of the 2-layer model ended at {two.in_context_score[-1]:+.3f} nats"
    + ("." if i_ind is None else ", after falling with the phase change." if moved < -0.05 else
       f": it did not fall with the phase change (it changed by {moved:+.3f}), in 64-character windows of a "
       "character model; the induction heads' in-context learning shows on repeated segments, not on this text."),
    f"* **Ablation**: zeroing layer {worst_rep[0]} head {worst_rep[1]} costs {ablation['zero', *worst_rep][0] - base_rep:+.2f} "
    f"nats on repeated text" + (" (layer 0's previous-token head, step 1 of the circuit). " if worst_rep == (0, prev_h)
                               else ". ")
    + (f"**Patching** layer {top_patch[0]} head {top_patch[1]} from a clean run recovers {recovered[top_patch]:.0%} "
       "of the corrupted loss gap. " if gap > 0.1 else
       "**Patching** found nothing to recover: the model's loss did not depend on the first copy. ")
    + f"The **logit lens** goes from {lens_loss[0]:.2f} nats at the embeddings to {lens_loss[-1]:.2f} at the output.",
    "* Looking (maps, scores, saliency) suggests; intervening (ablation, patching) tests, and each test answers only the "
    "question it asks.",
    f"* The whole lesson ran in {lesson_seconds / 60:.1f} minutes here.",
])))
""")

md(r"""
**Where to read more**

* Elhage et al. (2021), *A Mathematical Framework for Transformer Circuits*: attention-only transformers, the residual stream, composition of heads, induction heads in 2-layer models.
* Olsson et al. (2022), *In-context Learning and Induction Heads*: the phase change, and the in-context loss (late minus early tokens) moving with it.
* nostalgebraist (2020), *interpreting GPT: the logit lens* (LessWrong): reading the residual stream through the output layer.
* Wang et al. (2022), *Interpretability in the Wild: a Circuit for Indirect Object Identification in GPT-2 small*: activation patching and path patching to find a circuit.
* Simonyan, Vedaldi & Zisserman (2013), *Deep Inside Convolutional Networks: Visualising Image Classification Models and Saliency Maps*: gradient saliency.
* Shrikumar, Greenside & Kundaje (2016/2017), *Learning Important Features Through Propagating Activation Differences* (DeepLIFT; gradient × input as a baseline).
* Jain & Wallace (2019), *Attention is not Explanation*: why an attention map alone does not explain a prediction.
""")


def main() -> None:
    NB.write(ROOT / "notebooks" / "08_inside.ipynb", ROOT)


if __name__ == "__main__":
    main()
