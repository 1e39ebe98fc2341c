"""Word vectors from scratch: Word2Vec (skip-gram with negative sampling), GloVe, and evaluation
the way the papers, and gensim, measure them.

The idea: a word is known by the company it keeps. Train a vector for every word so that words
met in the same contexts end up close; then directions in that space carry meaning
(``king - man + woman ≈ queen``). The package reads as four chapters, each re-exported here, so
``from course_lib.embeddings import train_word2vec`` works as it always did:

* :mod:`.word2vec`: the vocabulary, subsampling, the noise distribution, the skip-gram
  negative-sampling loss, its closed-form gradients and in-place update, and
  :func:`train_word2vec`, which takes an iterable of token lists, as gensim's ``Word2Vec``
  does, and returns :class:`WordVectors`.
* :mod:`.vectors`: :class:`WordVectors`, ``words`` (a list) and ``vectors`` (a ``(V, d)``
  tensor, same order), answering ``most_similar``, ``analogy`` and ``similarity``;
  ``save``/``load`` and ``to_gensim``/``from_gensim`` round-trip it.
* :mod:`.evaluation`: :func:`evaluate_analogies` and :func:`evaluate_similarity`, which follow
  gensim's ``evaluate_word_analogies`` / ``evaluate_word_pairs`` conventions exactly (vocabulary
  cut at ``restrict_vocab``, case-insensitive matching, out-of-vocabulary questions skipped *and
  counted*), so their numbers compare with gensim's and with the papers'.
* :mod:`.glove`: GloVe (Pennington et al. 2014), :func:`cooccurrence_matrix`,
  :func:`ppmi_vectors` (count-based vectors), :func:`glove_weight`, :class:`GloVe`,
  :func:`glove_loss`, :class:`GloVeBatches`; it trains with the course's shared loop
  ``course_lib.train.train``.

No matplotlib or ipywidgets here: figures live in ``course_lib.viz.embeddings``, the explorer in
``course_lib.widgets.embeddings``.
"""

from .evaluation import (
    RESTRICT_VOCAB,
    AnalogyResult,
    SimilarityResult,
    evaluate,
    evaluate_analogies,
    evaluate_similarity,
)
from .glove import (
    GloVe,
    GloVeBatches,
    cooccurrence_matrix,
    glove_loss,
    glove_weight,
    ppmi_vectors,
)
from .vectors import WORDVECTORS_FORMAT, WordNotFoundError, WordVectors, analogy_search
from .word2vec import (
    Vocab,
    WindowGroup,
    Word2VecLog,
    build_vocab,
    encode_corpus,
    epoch_groups,
    keep_probabilities,
    noise_distribution,
    sgns_gradients,
    sgns_loss,
    sgns_pair_loss,
    sgns_update_,
    skipgram_pairs,
    torch_threads,
    train_word2vec,
)

__all__ = [
    # word2vec
    "Vocab", "build_vocab", "encode_corpus", "keep_probabilities", "noise_distribution",
    "skipgram_pairs", "sgns_pair_loss", "sgns_loss", "sgns_gradients", "sgns_update_",
    "Word2VecLog", "torch_threads", "WindowGroup", "epoch_groups", "train_word2vec",
    # vectors
    "WORDVECTORS_FORMAT", "WordNotFoundError", "WordVectors", "analogy_search",
    # evaluation
    "RESTRICT_VOCAB", "AnalogyResult", "evaluate_analogies", "SimilarityResult",
    "evaluate_similarity", "evaluate",
    # glove
    "cooccurrence_matrix", "glove_weight", "GloVe", "glove_loss", "GloVeBatches", "ppmi_vectors",
]  # fmt: skip
