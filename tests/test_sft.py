"""Lesson 07's instruction tuning: full fine-tuning changes every weight and lowers the loss on
answer tokens; LoRA leaves the base model's weights bit-identical and trains only adapters."""

import copy

import pytest
import torch

from course_lib import instruct as I
from course_lib.finetune import LoRALinear
from course_lib.sft import instruction_tune
from course_lib.train import evaluate
from course_lib.transformer import GPT, GPTConfig

TOK = I.load_assistant_tokenizer()


def _setup():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=len(TOK), block_size=64, n_layer=2, n_head=2, n_embd=32))
    exs = [I.Example("play", "Which play?", f"line {i % 4}", ["Macbeth", "Hamlet"][i % 2], "s",
                     "train") for i in range(32)]  # fmt: skip
    batches = I.sft_batches(exs, exs[:8], TOK, batch_size=8, block_size=64, seed=0)
    return model, batches


def test_full_fine_tuning_trains_every_weight_and_lowers_the_answer_loss():
    model, batches = _setup()
    before = copy.deepcopy(model.state_dict())
    loss0 = evaluate(model, batches, n_batches=1)
    result = instruction_tune(model, batches, method="full", steps=30, lr=3e-3, progress=False)
    assert result.model is model and not model.training
    assert evaluate(model, batches, n_batches=1) < loss0 - 0.5
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert len(changed) == len(before)


def test_lora_keeps_the_base_weights_and_trains_adapters_only():
    model, batches = _setup()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    loss0 = evaluate(model, batches, n_batches=1)
    instruction_tune(model, batches, method="lora", steps=30, lr=1e-2, r=4, progress=False)
    lora = [m for m in model.modules() if isinstance(m, LoRALinear)]
    assert len(lora) == 2 * 4  # q, k, v, out of each of the 2 blocks
    assert evaluate(model, batches, n_batches=1) < loss0
    state = model.state_dict()
    for k, v in before.items():  # every original weight, now maybe under ".base."
        key = (
            k if k in state else k.replace(".weight", ".base.weight").replace(".bias", ".base.bias")
        )
        assert torch.equal(state[key], v), k
    assert all(not torch.equal(m.B, torch.zeros_like(m.B)) for m in lora)


def test_unknown_method_names_the_choices():
    model, batches = _setup()
    with pytest.raises(ValueError, match="method must be one of"):
        instruction_tune(model, batches, method="adapters", steps=1)
