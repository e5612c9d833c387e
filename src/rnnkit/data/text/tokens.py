"""Tokens: text -> characters or words, and back."""

from __future__ import annotations

import re

NEWLINE = "\n"

# Word tokeniser: a line end, a word (letters/digits/underscore, with inner apostrophes such as
# "don't" or "o'er"), or any other single non-space symbol (punctuation, an emoji code point).
WORD_PATTERN = re.compile(r"\n|\w+(?:['’]\w+)*|[^\w\s]")
# Decoding puts a space between tokens except after an opener and before a closer.
NO_SPACE_BEFORE = set(".,;:!?)]}'’”%")
NO_SPACE_AFTER = set("([{‘“")
LEVELS = ("char", "word")
TOKENIZERS = ("words", "whitespace")


def tokenize(text: str, level: str, lowercase: bool = False, tokenizer: str = "words") -> list[str]:
    """Split text into tokens.

    level "char": every character is a token (line ends included).
    level "word", tokenizer "words": WORD_PATTERN (words, single punctuation marks, line ends).
    level "word", tokenizer "whitespace": the words between spaces, and a line-end token per line
    (the tokenisation of pytorch/examples' word_language_model, with "\\n" for its "<eos>").
    """
    if lowercase:
        text = text.lower()
    if level == "char":
        return list(text)
    if tokenizer == "words":
        return WORD_PATTERN.findall(text)
    return [token for line in text.splitlines() for token in [*line.split(), NEWLINE]]


def detokenize(tokens: list[str], level: str) -> str:
    """Join tokens back into text: characters as they are; words with spaces between them except
    around line ends, before closing punctuation and after opening brackets."""
    if level == "char":
        return "".join(tokens)
    out: list[str] = []
    previous = NEWLINE
    for token in tokens:
        glue = (
            previous == NEWLINE
            or token == NEWLINE
            or token in NO_SPACE_BEFORE
            or previous in NO_SPACE_AFTER
        )
        out.append(token if glue else " " + token)
        previous = token
    return "".join(out)
