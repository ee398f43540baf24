"""What "the same text" means, once for the whole project: words, the normalised form, n-grams.

Case, punctuation and spacing never make a text new: "Are you coming, James?" and "are you coming
james" are the same text. Apostrophes count only inside a word ("don't" keeps its apostrophe,
"james'" does not), so contractions stay distinct from their parts. Letters of any script are
word characters, so non-English texts are not emptied.
"""

from __future__ import annotations

import re

WORD = re.compile(r"[\w']+", re.UNICODE)


def words(text: str) -> list[str]:
    """Lower-case word tokens, apostrophes only inside a word."""
    return [token for raw in WORD.findall(text.lower()) if (token := raw.strip("'"))]


def normalized(text: str) -> str:
    """The form exact duplicates are compared in: the words joined by single spaces."""
    return " ".join(words(text))


def word_ngrams(tokens: list[str], n: int) -> list[tuple[str, ...]]:
    """Every run of n consecutive tokens, in order (none when there are fewer than n)."""
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def shingles(tokens: list[str], n: int) -> set[tuple[str, ...]]:
    """Distinct word n-grams; a text shorter than n words is one shingle of all its words."""
    if len(tokens) < n:
        return {tuple(tokens)} if tokens else set()
    return set(word_ngrams(tokens, n))


# --- overlap with a reference set (contamination of the real test set) -----------------------------

def ngram_keys(text: str, n: int) -> set[str]:
    """Word n-grams of a text as strings; a text shorter than n words is one key: the whole text."""
    return {" ".join(gram) for gram in shingles(words(text), n)}


def ngram_index(test_texts, n: int) -> set[str]:
    """Every n-gram key of the reference texts (the real test set)."""
    index: set[str] = set()
    for text in test_texts:
        index.update(ngram_keys(text, n))
    return index


def ngram_share(text: str, index: set[str], n: int) -> float:
    """The share of a text's n-gram keys found in `index`; 0.0 for a text without words."""
    grams = ngram_keys(text, n)
    return len(grams & index) / len(grams) if grams else 0.0
