"""Tokenizers: text to a list of integer ids and back.

A model reads numbers, not text, so every lesson starts by cutting text into tokens and giving
each token an id. Two answers, re-exported here (``from course_lib.tokenize import
BPETokenizer`` works as it always did):

* :mod:`.char`: :class:`CharTokenizer` gives every distinct character of the training text an
  id (sorted order). Small vocabulary, long sequences, and it cannot encode an unseen character.
* Byte-level byte-pair encoding (lesson 01), in three chapters: :mod:`.pretokenize` turns text
  into UTF-8 bytes and cuts it into chunks (:func:`gpt2_split_regex` is GPT-2's pre-split
  pattern written for Python's ``re``); :mod:`.training` learns the merges, with a naive
  reference (:func:`train_bpe_naive`) and a fast trainer (:func:`train_bpe`) that learns exactly
  the same merges, ties included; :mod:`.bpe` is :class:`BPETokenizer`, which encodes any
  Unicode text with them and decodes it back exactly.
"""

from .bpe import BPE_FORMAT, BPETokenizer
from .char import CHAR_FORMAT, CharTokenizer
from .pretokenize import GPT2_SPLIT_PATTERN, gpt2_split_regex
from .training import bytes_to_unicode, merge_pair, pair_counts, train_bpe, train_bpe_naive

__all__ = [
    "CHAR_FORMAT", "CharTokenizer",
    "GPT2_SPLIT_PATTERN", "gpt2_split_regex",
    "pair_counts", "merge_pair", "bytes_to_unicode", "train_bpe_naive", "train_bpe",
    "BPE_FORMAT", "BPETokenizer",
]  # fmt: skip
