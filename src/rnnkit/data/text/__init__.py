"""Text for language models: files -> normalised text -> token ids -> batches for truncated BPTT.

    read_text(path), text_pieces(path)   UTF-8 file or folder of .txt files -> NFC text with "\\n"
                                         line ends, whole or in pieces               (reading.py)
    tokenize, detokenize                 characters or words, and back                 (tokens.py)
    Vocabulary                           ids of characters (sorted) or words (by frequency),
                                         from counts, pruned with <unk>             (vocabulary.py)
    encode(pieces, ...)                  text of any size -> counts and NumPy ids (on disk,
                                         memory-mapped), one pass                    (encoding.py)
    split_ids, TokenBatches              contiguous train / valid / test parts; B contiguous
                                         streams in chunks of T steps, resumable     (batches.py)

Shape legend: B batch rows, T time steps (the BPTT chunk), V vocabulary size.
"""

from rnnkit.data.text.batches import TokenBatch, TokenBatches, split_ids
from rnnkit.data.text.encoding import Encoded, encode, smallest_dtype, vocabulary_digest
from rnnkit.data.text.reading import (
    NEWLINE,
    builtin_corpus,
    normalize,
    read_text,
    text_files,
    text_pieces,
)
from rnnkit.data.text.tokens import WORD_PATTERN, detokenize, tokenize
from rnnkit.data.text.vocabulary import UNK, VOCAB_FORMAT, Vocabulary

__all__ = [
    "NEWLINE",
    "UNK",
    "VOCAB_FORMAT",
    "WORD_PATTERN",
    "Encoded",
    "TokenBatch",
    "TokenBatches",
    "Vocabulary",
    "builtin_corpus",
    "detokenize",
    "encode",
    "normalize",
    "read_text",
    "smallest_dtype",
    "split_ids",
    "text_files",
    "text_pieces",
    "tokenize",
    "vocabulary_digest",
]
