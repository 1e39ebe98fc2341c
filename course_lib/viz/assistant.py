"""Figures for lesson 07 (the assistant): an answer's tokens coloured by the probability the model
gave each one, the static fallback of the assistant playground (``course_lib.widgets.assistant``).

* :func:`probability_colour`: the colour of a probability, from orange (the model found the token
  unlikely: a guess, or a sampled surprise) through pale yellow to blue (it was sure). Orange and
  blue stay apart for colour-blind readers, and black text reads on all three. The widget's HTML
  and the figure use the same ramp (:data:`PROBABILITY_RAMP`), so a token has one colour in both.
* :func:`token_text`: how one token of an answer is written in the widget: its text (a
  byte-level token holding part of a character shows its bytes, ``\\xe2``).
* :func:`plot_answer_tokens`: the answer as rows of coloured boxes, each token's text (whitespace
  made visible) above its probability, with a colorbar "probability".

matplotlib is imported inside the functions, so importing this module is light.
"""

from __future__ import annotations

from .style import TEXT_SIZE, TICK_SIZE, TITLE_SIZE, visible

__all__ = [
    "PROBABILITY_RAMP",
    "probability_colour",
    "probability_cmap",
    "token_text",
    "plot_answer_tokens",
]

PROBABILITY_RAMP = ((0.0, "#f28e5c"), (0.5, "#f5f0c0"), (1.0, "#7fb3dc"))
"""``(probability, colour)`` anchors: orange at 0, pale yellow at 0.5, blue at 1."""


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))


def probability_colour(p: float) -> str:
    """The ``#rrggbb`` colour of probability ``p`` (clipped to 0..1), linear between the anchors
    of :data:`PROBABILITY_RAMP`: ``probability_colour(1.0) == "#7fb3dc"``."""
    p = min(1.0, max(0.0, float(p)))
    for (p0, c0), (p1, c1) in zip(PROBABILITY_RAMP, PROBABILITY_RAMP[1:], strict=False):
        if p <= p1:
            t = (p - p0) / (p1 - p0)
            mix = [round(a + t * (b - a)) for a, b in zip(_rgb(c0), _rgb(c1), strict=True)]
            return "#{:02x}{:02x}{:02x}".format(*mix)
    return PROBABILITY_RAMP[-1][1]


def probability_cmap():
    """:data:`PROBABILITY_RAMP` as a matplotlib colormap (for the colorbar)."""
    from matplotlib.colors import LinearSegmentedColormap

    return LinearSegmentedColormap.from_list("probability", list(PROBABILITY_RAMP))


def token_text(tokenizer, token_id: int) -> str:
    """The text of one token as the answer shows it; a byte-level token that holds only part of
    a character (the model writes ``é`` as two tokens, say) shows its bytes (``\\xc3``)."""
    vocab_bytes = getattr(tokenizer, "_bytes", None)  # BPETokenizer: every id's bytes
    if vocab_bytes is None:
        return tokenizer.decode([token_id])
    raw = vocab_bytes[token_id]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return "".join(f"\\x{b:02x}" for b in raw)


def _ending(answer) -> str:
    n = len(answer.ids)
    if answer.stopped:
        return f"{n} tokens, then <|end|>: the model ended the answer itself"
    return f"{n} tokens, cut: the model had not written <|end|> yet"


def plot_answer_tokens(answer, tokenizer, title: str | None = None, width: int = 60):
    """Static fallback: ``answer`` (an :class:`~course_lib.evaluate.Answer`) as coloured boxes,
    one per token, in rows of about ``width`` characters: the token's text (whitespace made
    visible: ``·`` a space, ``↵`` a newline) above the probability the model gave it, the box
    coloured by that probability (:func:`probability_colour`), a colorbar "probability" beside.
    The title (default: how many tokens, and whether the model ended the answer itself) is
    ``title`` when given. Returns the figure."""
    import matplotlib.pyplot as plt
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    _check_answer(answer)
    rows, row, used = [], [], 0
    for token, p in zip(answer.ids, answer.probs, strict=True):
        label = visible(token_text(tokenizer, token))
        w = max(len(label), 3) + 1
        if row and used + w > width:
            rows.append(row)
            row, used = [], 0
        row.append((label, p, used, w))
        used += w
    rows.append(row)

    fig, ax = plt.subplots(figsize=(width * 0.14 + 1.2, 0.62 * len(rows) + 0.9))
    for r, cells in enumerate(rows):
        for label, p, x, w in cells:
            ax.add_patch(
                plt.Rectangle((x, -r - 0.9), w - 0.2, 0.85, color=probability_colour(p), lw=0)
            )
            ax.text(x + (w - 0.2) / 2, -r - 0.38, label, ha="center", va="center",
                    family="DejaVu Sans Mono", fontsize=TEXT_SIZE)  # fmt: skip
            ax.text(x + (w - 0.2) / 2, -r - 0.76, f"{p:.2f}", ha="center", va="center",
                    fontsize=TICK_SIZE - 2, color="#333")  # fmt: skip
    if not answer.ids:
        ax.text(0.5, -0.45, "(no tokens: the model ended at once)", va="center", fontsize=TEXT_SIZE)
    ax.set_xlim(0, width)
    ax.set_ylim(-len(rows) - 0.1, 0.1)
    ax.axis("off")
    ax.set_title(title or f"the answer: {_ending(answer)}", loc="left", fontsize=TITLE_SIZE)
    bar = fig.colorbar(
        ScalarMappable(Normalize(0, 1), probability_cmap()), ax=ax, fraction=0.03, pad=0.01
    )
    bar.set_label("probability", fontsize=TEXT_SIZE)
    bar.ax.tick_params(labelsize=TICK_SIZE)
    return fig


def _check_answer(answer) -> None:
    ids, probs = getattr(answer, "ids", None), getattr(answer, "probs", None)
    if ids is None or probs is None or len(ids) != len(probs):
        raise ValueError(
            "answer must be an Answer from course_lib.evaluate.generate_answer, with one "
            f"probability per id; got {type(answer).__name__}"
        )
