"""The one sampler: temperature, then top-k, then top-p, then softmax."""

import pytest
import torch

from course_lib import sampling


def test_top_p_is_measured_on_the_tempered_distribution():
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0])
    # at temperature 1 the top token holds 0.64: top-p 0.6 keeps it alone; at temperature 3
    # the distribution is flatter, the top token holds 0.38 and the nucleus needs two tokens
    assert (sampling.next_token_probs(logits, 1.0, top_p=0.6) > 0).sum() == 1
    tempered = sampling.next_token_probs(logits, 3.0, top_p=0.6)
    assert (tempered > 0).sum() == 2
    torch.testing.assert_close(tempered[:2], (logits[:2] / 3).softmax(-1))


def test_temperature_and_top_k_commute():
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        logits = torch.randn(3, 9, generator=g, dtype=torch.float64) * 3
        for t in (0.5, 1.0, 2.0):
            for k in (1, 3, 9):
                first_k = (sampling.top_k_filter(logits, k) / t).softmax(-1)
                assert torch.equal(sampling.next_token_probs(logits, t, top_k=k), first_k)


def test_sample_next_greedy_and_seeded():
    logits = torch.tensor([[0.0, 3.0, 1.0], [5.0, 0.0, 0.0]])
    assert sampling.sample_next(logits, 0).tolist() == [[1], [0]]
    a = sampling.sample_next(logits, 1.0, generator=torch.Generator().manual_seed(1))
    b = sampling.sample_next(logits, 1.0, generator=torch.Generator().manual_seed(1))
    assert a.shape == (2, 1) and torch.equal(a, b)


def test_prompt_batch_and_argument_checks():
    ids, single = sampling.prompt_batch([1, 2], vocab_size=3)
    assert single and ids.tolist() == [[1, 2]] and ids.dtype == torch.long
    ids, single = sampling.prompt_batch(torch.tensor([[1], [2]]), vocab_size=3)
    assert not single and ids.shape == (2, 1)
    with pytest.raises(ValueError, match="at least one token"):
        sampling.prompt_batch([], 3)
    with pytest.raises(ValueError, match=r"0\.\.2"):
        sampling.prompt_batch([3], 3)
    for kwargs, message in [
        (dict(temperature=-1.0), "temperature"),
        (dict(temperature=float("nan")), "temperature"),
        (dict(top_k=0), "top_k"),
        (dict(top_k=True), "top_k"),
        (dict(top_p=0.0), "top_p"),
        (dict(max_new_tokens=-1), "max_new_tokens"),
    ]:
        args = dict(max_new_tokens=1, temperature=1.0, top_k=None, top_p=None) | kwargs
        with pytest.raises(ValueError, match=message):
            sampling.check_generate_args(**args)
