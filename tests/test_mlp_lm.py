"""course_lib.mlp_lm: the fixed-context MLP language model computes what its formula says, sees
exactly its window, carries its window as a state (so a stream reads like one long sequence),
trains with the shared loop, and runs.MLPLMRecipe / train_char_model(track_train=True)."""

import math

import pytest
import torch
import torch.nn.functional as F

from course_lib import runs
from course_lib.mlp_lm import MLPLM, MLPLMConfig
from course_lib.rnn import evaluate_lm, generate
from course_lib.tokenize import CharTokenizer
from course_lib.train import TrainConfig, evaluate, lm_loss, train

TEXT = "to be or not to be, that is the question. "
V, K = 11, 4  # a small vocabulary and context for the unit tests


def _model(context=K, dropout=0.0, vocab_size=V, **sizes) -> MLPLM:
    torch.manual_seed(0)
    config = MLPLMConfig(vocab_size, context=context, n_embd=3, hidden=5, dropout=dropout, **sizes)
    return MLPLM(config).double()


def _ids(B=2, T=9, seed=1):
    return torch.randint(V, (B, T), generator=torch.Generator().manual_seed(seed))


def _logits_by_hand(model: MLPLM, window: list[int]) -> torch.Tensor:
    """The formula: x = [C[w_1], ..., C[w_K]], h = tanh(W_h x + b_h), logits = W_o h + b_o."""
    C = model.embed.weight
    x = torch.cat([C[w] for w in window])  # (K * E,)
    h = torch.tanh(model.hidden.weight @ x + model.hidden.bias)
    return model.head.weight @ h + model.head.bias  # (V,)


# --- what it computes ---------------------------------------------------------------------------


def test_shapes_parameters_and_repr():
    model = _model()
    logits, state = model(_ids(B=2, T=9))
    assert logits.shape == (2, 9, V) and state.shape == (2, K - 1)
    E, H = 3, 5
    assert model.num_parameters() == (V + 1) * E + (K * E + 1) * H + (H + 1) * V
    assert model.start_id == V and model.embed.weight.shape == (V + 1, E)
    assert "context=4" in repr(model) and f"start_id={V}" in repr(model)
    bigram = _model(context=1)  # the smallest window: the state is empty
    logits, state = bigram(_ids())
    assert logits.shape == (2, 9, V) and state.shape == (2, 0)


def test_logits_and_loss_equal_the_formula_by_hand():
    model, x = _model(), _ids(B=2, T=9)
    y = _ids(B=2, T=9, seed=2)
    logits, _ = model(x)
    S = model.start_id
    losses = []
    for b in range(2):
        row = [S] * (K - 1) + x[b].tolist()  # start padding, then the text
        for t in range(9):
            by_hand = _logits_by_hand(model, row[t : t + K])  # x[t-K+1 .. t], oldest first
            torch.testing.assert_close(logits[b, t], by_hand, atol=1e-6, rtol=0)
            losses.append(-torch.log_softmax(by_hand, -1)[y[b, t]])
    loss = lm_loss(model, (x, y)).item()
    assert loss == pytest.approx(torch.stack(losses).mean().item(), abs=1e-6)


def test_position_t_sees_exactly_its_window():
    model, x = _model(), _ids(B=1, T=12)
    logits, _ = model(x)
    t = 7
    for j in range(12):
        changed = x.clone()
        changed[0, j] = (x[0, j] + 1) % V
        moved = (model(changed)[0][0, t] - logits[0, t]).abs().max()
        if t - K + 1 <= j <= t:
            assert moved > 1e-4, f"position {t} must depend on input {j}, inside its window"
        else:
            assert moved == 0, f"position {t} must not depend on input {j}, outside its window"


def test_windows_show_the_start_padding_and_the_state():
    model = _model()
    x = torch.tensor([[1, 2, 3, 4, 5]])
    S = model.start_id
    assert model.windows(x)[0, :3].tolist() == [[S, S, S, 1], [S, S, 1, 2], [S, 1, 2, 3]]
    assert model.windows(x)[0, 4].tolist() == [2, 3, 4, 5]
    state = torch.tensor([[7, 8, 9]])
    assert model.windows(x, state)[0, 0].tolist() == [7, 8, 9, 1]


def test_no_state_means_learned_start_padding():
    model, x = _model(), _ids(B=2, T=6)
    starts = torch.full((2, K - 1), model.start_id)
    torch.testing.assert_close(model(x)[0], model(x, starts)[0], atol=0, rtol=0)
    before, _ = model(x)
    with torch.no_grad():
        model.embed.weight[model.start_id] += 1.0  # the start token's vector is a parameter
    after, _ = model(x)
    assert (after[:, : K - 1] - before[:, : K - 1]).abs().amin() > 0  # padded positions move
    torch.testing.assert_close(after[:, K - 1 :], before[:, K - 1 :], atol=0, rtol=0)


@pytest.mark.parametrize("cuts", [(5,), (2,), (1, 2, 3), (3, 7, 8)])
def test_state_continues_the_stream_exactly(cuts):
    model, x = _model(), _ids(B=3, T=10)
    whole, whole_state = model(x)
    parts, state = [], None
    for a, b in zip((0, *cuts), (*cuts, 10), strict=True):  # chunks shorter than K - 1 too
        logits, state = model(x[:, a:b], state)
        parts.append(logits)
    torch.testing.assert_close(torch.cat(parts, dim=1), whole, atol=1e-12, rtol=0)
    assert torch.equal(state, whole_state) and torch.equal(state, x[:, -(K - 1) :])


def test_state_of_a_short_input_keeps_start_ids():
    model = _model()
    _, state = model(torch.tensor([[6]]))
    assert state.tolist() == [[model.start_id, model.start_id, 6]]


# --- shared evaluation, sampling and training ----------------------------------------------------


def test_evaluate_lm_carrying_state_equals_one_pass_with_full_context():
    model = _model()
    ids = torch.randint(V, (31,), generator=torch.Generator().manual_seed(3))

    def nats(seq):  # mean cross-entropy of one sequence read in a single call from start tokens
        logits, _ = model(seq[:-1][None])
        return F.cross_entropy(logits[0], seq[1:], reduction="sum").item(), len(seq) - 1

    total, n = nats(ids)
    # one stream read in chunks of 4 with the state carried: the single pass
    got = evaluate_lm(model, ids, block_size=4, batch_size=1, carry_state=True)
    assert got == pytest.approx(total / n, abs=1e-10)
    # three streams of 10 predictions each, every stream from start tokens
    streams = [nats(ids[i * 10 : i * 10 + 11]) for i in range(3)]
    got = evaluate_lm(model, ids, block_size=3, batch_size=3, carry_state=True)
    assert got == pytest.approx(sum(s for s, _ in streams) / 30, abs=1e-10)
    # windows from scratch lose the context at the start of each window: a different number
    windows = evaluate_lm(model, ids, block_size=4, batch_size=1)
    assert abs(windows - total / n) > 1e-6


def test_dropout_only_in_training_mode():
    model, x = _model(dropout=0.5), _ids()
    plain = _model(dropout=0.0)
    plain.load_state_dict(model.state_dict())
    model.eval()
    torch.testing.assert_close(model(x)[0], model(x)[0], atol=0, rtol=0)
    torch.testing.assert_close(model(x)[0], plain(x)[0], atol=0, rtol=0)
    model.train()
    a, b = model(x)[0], model(x)[0]
    assert (a - b).abs().max() > 1e-3 and (a - plain(x)[0]).abs().max() > 1e-3


def test_rnn_generate_carries_the_window_as_state():
    model = _model()
    prompt = [1, 2]
    out = generate(model, prompt, 12, temperature=0.0)
    seq = list(prompt)  # greedy by hand, recomputing the whole sequence every step
    for _ in range(12):
        logits, _ = model(torch.tensor([seq]))
        seq.append(int(logits[0, -1].argmax()))
    assert out.tolist() == seq


def test_training_with_the_shared_loop_learns_a_repetitive_text():
    tok = CharTokenizer().train(TEXT)
    ids = torch.tensor(tok.encode(TEXT * 20))
    torch.manual_seed(0)
    model = MLPLM(MLPLMConfig(len(tok), context=6, n_embd=8, hidden=32), tokenizer=tok)
    before = evaluate_lm(model, ids, 32, carry_state=True)
    batches = runs.MLPLMRecipe(block_size=32, batch_size=8).batcher(ids, ids)
    config = TrainConfig(max_steps=40, lr=1e-2, eval_every=0, progress=False)
    model, history = train(model, batches, config)
    after = evaluate_lm(model, ids, 32, carry_state=True)
    assert before > math.log(len(tok)) - 0.5 and after < before - 1.5
    assert history.train_loss[-1] < history.train_loss[0] - 1.5


# --- the recipe and the lesson's run -------------------------------------------------------------


def test_recipe_builds_the_model_it_names():
    tok = CharTokenizer().train(TEXT)
    recipe = runs.MLPLMRecipe(context=5, n_embd=6, hidden=7, dropout=0.25)
    model = recipe.build_model(tok)
    c = model.config
    assert isinstance(model, MLPLM) and model.tokenizer is tok
    assert (c.vocab_size, c.context, c.n_embd, c.hidden, c.dropout) == (len(tok), 5, 6, 7, 0.25)
    assert isinstance(recipe, runs.Recipe) and recipe.replace(context=3).context == 3
    config = recipe.train_config(1000)
    assert (config.desc, config.eval_every, config.max_steps) == ("MLP", 100, 1000)


def test_train_char_model_tracks_train_and_validation_curves():
    tok = CharTokenizer().train(TEXT)
    ids = torch.tensor(tok.encode(TEXT * 20))
    recipe = runs.MLPLMRecipe(
        n_embd=8, hidden=16, dropout=0.3, block_size=16, batch_size=4, lr=1e-2
    )
    out = runs.train_char_model(
        recipe, data=(tok, ids[:600], ids[600:]), steps=20, progress=False, track_train=True
    )
    history, model = out["history"], out["model"]
    steps = [s for s, _ in out["train_curve"]]
    assert steps == history.eval_step == [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20]
    assert out["val_curve"] == [[s, v] for s, v in zip(steps, history.val_loss, strict=True)]
    # the last point is the trained model on the run's first training batches, in eval mode
    batches = recipe.batcher(ids[:600], ids[600:])
    n = recipe.train_config(20).eval_batches
    last = evaluate(model, batches, n_batches=n, split="train")
    assert out["train_curve"][-1][1] == pytest.approx(last)
    assert out["train_curve"][-1][1] < out["train_curve"][0][1] - 0.5
    assert out["val_loss"] == pytest.approx(evaluate_lm(model, ids[600:], 16, carry_state=True))
    assert out["params"] == model.num_parameters()
    lstm = runs.CharRNNRecipe(hidden_size=8, block_size=16, batch_size=4)
    plain = runs.train_char_model(lstm, data=(tok, ids[:600], ids[600:]), steps=3, progress=False)
    assert "train_curve" not in plain and "val_curve" not in plain  # unchanged without the option


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes, message",
    [
        (dict(context=0), "context must be a positive int"),
        (dict(n_embd=2.5), "n_embd must be a positive int"),
        (dict(hidden=True), "hidden must be a positive int"),
        (dict(vocab_size=0), "vocab_size must be a positive int"),
        (dict(dropout=1.0), r"dropout must be a number in \[0, 1\)"),
    ],
)
def test_bad_config_is_named(changes, message):
    with pytest.raises(ValueError, match=message):
        MLPLMConfig(**{"vocab_size": V, **changes})


def test_bad_inputs_and_states_say_how_to_fix_them():
    model = _model()
    x = _ids(B=2, T=5)
    with pytest.raises(ValueError, match=r"0\.\.10, got min 0, max 11.*start token"):
        model(torch.tensor([[0, V]]))
    with pytest.raises(ValueError, match="min -1"):
        model(torch.tensor([[-1, 2]]))
    for bad in (x[0], x.double(), x[:, :0], x.tolist()):
        with pytest.raises(ValueError, match=r"shape \(B, T\).*ids\[None\]"):
            model(bad)
    for bad in (x[:, :2], x[:1, :3], x[:, :3].double(), x[:, :3].tolist()):
        with pytest.raises(ValueError, match=r"\(B, 3\) = \(2, 3\).*previous call returned"):
            model(x, bad)
    with pytest.raises(ValueError, match=r"state ids must be in 0\.\.11"):
        model(x, torch.full((2, 3), V + 1))
    tok = CharTokenizer().train("abc")
    with pytest.raises(ValueError, match="the tokenizer has 3 tokens but vocab_size is 11"):
        MLPLM(MLPLMConfig(V), tokenizer=tok)
