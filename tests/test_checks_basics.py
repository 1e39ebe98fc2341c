import math

import pytest

from course_lib.checks.basics import check_bits_per_char, check_perplexity


def test_pass_on_reference(capsys):
    assert check_bits_per_char(lambda loss: loss / math.log(2))
    assert check_perplexity(math.exp)
    out = capsys.readouterr().out
    assert "\u2705 check_bits_per_char: passed" in out and "\u2705 check_perplexity: passed" in out


@pytest.mark.parametrize(
    ("wrong", "hint"),
    [
        (lambda loss: math.log2(loss) if loss > 0 else 0.0, "the loss is already a log"),
        (lambda loss: loss * math.log(2), "you multiplied by ln 2"),
        (lambda loss: loss / math.log(10), "you divided by ln 10"),
    ],
)
def test_bits_hints(capsys, wrong, hint):
    assert not check_bits_per_char(wrong)
    assert hint in capsys.readouterr().out


def test_perplexity_hint(capsys):
    assert not check_perplexity(lambda loss: 2**loss)
    assert "use e**loss" in capsys.readouterr().out
