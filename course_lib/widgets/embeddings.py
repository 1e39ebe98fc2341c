"""Lesson 02's embedding explorer: type or pick a word, see its neighbours; solve a : b :: c : ?

* :func:`EmbeddingExplorer` is the interactive widget (ipywidgets);
* :func:`neighbours_html` and :func:`analogy_html` are what it shows, as HTML strings;
* :func:`course_lib.viz.embeddings.plot_neighbours` is the static fallback figure, for readers
  of a rendered or exported notebook, where widgets do not run.

ipywidgets is imported inside the function, so importing this module is light.
"""

from __future__ import annotations

import html

from ..embeddings import WordNotFoundError, WordVectors
from ..viz.style import BAR


def _bar(score: float) -> str:
    width = max(0.0, min(1.0, score)) * 120
    return (
        f'<span style="display:inline-block;width:{width:.0f}px;height:9px;'
        f'background:{BAR};margin-right:6px"></span>'
    )


def _error(e: Exception) -> str:
    return f'<div class="embedding-error" style="color:#b00">{html.escape(str(e))}</div>'


def neighbours_html(wv: WordVectors, word: str, topn: int = 10) -> str:
    """The ``topn`` nearest words to ``word`` as an HTML table with cosine bars (or the error
    message, with suggestions, for an unknown word)."""
    word = word.strip()
    if not word:
        return "<i>type a word</i>"
    try:
        near = wv.most_similar(word, topn=topn)
    except WordNotFoundError as e:
        return _error(e)
    rows = "".join(
        f"<tr><td style='text-align:right;padding-right:8px'>{i}</td>"
        f"<td class='neighbour' style='padding-right:10px'>{html.escape(w)}</td>"
        f"<td>{_bar(s)}{s:.3f}</td></tr>"
        for i, (w, s) in enumerate(near, 1)
    )
    return (
        f"<div class='neighbours'><b>nearest to {html.escape(word)}</b>"
        f"<table style='font-family:monospace'>{rows}</table></div>"
    )


def analogy_html(wv: WordVectors, a: str, b: str, c: str, topn: int = 5) -> str:
    """``a : b :: c : ?`` answered with the ``topn`` best words, as HTML."""
    a, b, c = a.strip(), b.strip(), c.strip()
    if not (a and b and c):
        return "<i>fill in a, b and c</i>"
    try:
        best = wv.analogy(a, b, c, topn=topn)
    except WordNotFoundError as e:
        return _error(e)
    top, score = best[0]
    others = ", ".join(f"{html.escape(w)} ({s:.2f})" for w, s in best[1:])
    return (
        f"<div class='analogy-answer'>{html.escape(a)} : {html.escape(b)} :: "
        f"{html.escape(c)} : <b class='answer'>{html.escape(top)}</b> ({score:.2f})"
        f"<br><span style='color:#555'>next: {others}</span></div>"
    )


def EmbeddingExplorer(
    wv: WordVectors,
    word: str = "king",
    topn: int = 10,
    analogy: tuple[str, str, str] = ("man", "king", "woman"),
    options: int = 2000,
):
    """Explore word vectors: pick or type a word to see its nearest neighbours; type
    ``a : b :: c`` to see what the vectors answer.

    Args:
        wv: the :class:`~course_lib.embeddings.WordVectors` to explore.
        word, topn, analogy: the starting values.
        options: how many of the most frequent words the word box offers as suggestions (any
            word can still be typed).

    The widget's root has the CSS class ``embedding-explorer``; its parts are reachable as
    attributes ``word``, ``topn``, ``neighbours``, ``a``, ``b``, ``c`` and ``answer`` (for tests
    and notebooks)."""
    import ipywidgets as widgets

    word_box = widgets.Combobox(
        value=word,
        options=wv.words[:options],
        ensure_option=False,
        description="word",
        placeholder="type a word",
        continuous_update=False,
    )
    topn_slider = widgets.IntSlider(value=topn, min=1, max=30, description="neighbours")
    neighbours = widgets.HTML()
    boxes = [
        widgets.Text(value=v, description=d, continuous_update=False, layout={"width": "180px"})
        for v, d in zip(analogy, ("a", "b", "c"), strict=True)
    ]
    answer = widgets.HTML()

    def show_neighbours(_=None):
        neighbours.value = neighbours_html(wv, word_box.value, topn_slider.value)

    def show_analogy(_=None):
        answer.value = analogy_html(wv, *(box.value for box in boxes))

    word_box.observe(show_neighbours, names="value")
    topn_slider.observe(show_neighbours, names="value")
    for box in boxes:
        box.observe(show_analogy, names="value")
    show_neighbours()
    show_analogy()
    return _layout(word_box, topn_slider, neighbours, boxes, answer)


def _layout(word_box, topn_slider, neighbours, boxes, answer):
    """The explorer's root box, its parts reachable as attributes."""
    import ipywidgets as widgets

    root = widgets.VBox(
        [
            widgets.HTML("<b>Nearest neighbours</b> (cosine similarity)"),
            widgets.HBox([word_box, topn_slider]),
            neighbours,
            widgets.HTML("<b>Analogy</b>: a is to b as c is to ?  (b − a + c)"),
            widgets.HBox(boxes),
            answer,
        ]
    )
    root.add_class("embedding-explorer")
    root.word, root.topn, root.neighbours = word_box, topn_slider, neighbours
    root.a, root.b, root.c = boxes
    root.answer = answer
    return root
