"""Turning raw model output into a clean training text, or a named reason to reject it.

`clean_text` strips what assistants wrap around the text (preambles such as "Sure! Here's a…",
echoed "Label: …" lines, list numbering, wrapping quotes). `TextFilter` then decides, in sample
order, whether a cleaned text is kept; every rejection has a reason that ends up in the metrics:

    empty, refusal, too_short, too_long, truncated, duplicate, near_duplicate, copies_example
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from synthclf.text.normalize import shingles, word_ngrams, words

PREAMBLE = re.compile(
    r"^\s*(?:(?:sure|certainly|of course|okay|ok|absolutely|great|here you go)\b[^\n:]*?[!.,:]\s*)?"
    r"(?:here(?:'s| is| are)\b[^\n:]*?(?::|\n)|(?:i hope|hope) [^\n]*$)",
    re.IGNORECASE,
)
LEADING_ACK = re.compile(r"^\s*(?:sure|certainly|of course|okay|absolutely)\b[^\n]{0,40}?[!.]\s+", re.IGNORECASE)
FIELD_PREFIX = re.compile(
    r"^\s*(?:label|category|class|text|message|sms|tweet|review|question|sentence|line|example|output|answer)"
    r"(?:\s*\d+)?\s*:\s*",
    re.IGNORECASE,
)
NUMBERING = re.compile(r"^\s*(?:\(?\d{1,3}[.):]|[-*•])\s+")
QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»"}
REFUSAL = re.compile(
    r"\b(?:i'?m sorry|i am sorry|i apologi[sz]e|i can(?:no|')t (?:help|assist|provide|write|create|do)|"
    r"i cannot|i'?m (?:not able|unable)|i am (?:not able|unable)|as an ai\b|as a language model|"
    r"i won'?t be able)",
    re.IGNORECASE,
)


def _strip_quotes(text: str) -> str:
    """Remove quotes that wrap the whole text (only when they match at both ends)."""
    while len(text) >= 2 and text[0] in QUOTES and text[-1] == QUOTES[text[0]]:
        text = text[1:-1].strip()
    return text


def _strip_line(line: str, label_names: set[str]) -> str | None:
    """One line, cleaned; None when the line is scaffolding (a preamble, an echoed label)."""
    line = line.strip()
    if not line:
        return None
    label_echo = re.match(r"^\s*(?:label|category|class)\s*:\s*(\S+)\s*$", line, re.IGNORECASE)
    if label_echo or line.lower().strip(" .:") in label_names:
        return None
    line = NUMBERING.sub("", line, count=1)
    line = FIELD_PREFIX.sub("", line, count=1)
    return _strip_quotes(line.strip()) or None


def close_open_quote(text: str) -> str:
    """The prompt opened a quote: an odd number of quotes means the text closed it and went on
    with a comment ('...tonight" (Jerry)'); keep what was inside."""
    if text.count('"') % 2 == 1:
        text = text[:text.rfind('"')]
    return text


def clean_text(raw: str, label_names: Iterable[str] = (), opened_quote: bool = False) -> str:
    """The text the model meant, without assistant wrapping; may be empty."""
    text = close_open_quote(raw.strip()) if opened_quote else raw.strip()
    text = LEADING_ACK.sub("", text, count=1)
    text = PREAMBLE.sub("", text, count=1)
    labels = {name.lower() for name in label_names}
    lines = [cleaned for line in text.splitlines() if (cleaned := _strip_line(line, labels))]
    # A trailing "I hope this helps" style remark is not part of the text.
    lines = [line for line in lines if not re.match(r"^(?:i hope|hope this|let me know)\b", line, re.IGNORECASE)]
    text = " ".join(" ".join(lines).split())
    text = LEADING_ACK.sub("", text, count=1)
    return _strip_quotes(text)


def basic_rejection(text: str, finish_reason: str | None, min_words: int, max_words: int) -> str | None:
    """Reasons that need no comparison with other texts."""
    if not text:
        return "empty"
    if REFUSAL.search(text):
        return "refusal"
    count = len(words(text))
    if count < min_words:
        return "too_short"
    if count > max_words:
        return "too_long"
    if finish_reason == "length":
        return "truncated"
    return None


class NearDuplicateIndex:
    """Exact Jaccard similarity of word shingles against every kept text, via an inverted index:
    only texts sharing a shingle are compared, so a check costs the postings it touches, not n."""

    def __init__(self, shingle_words: int, threshold: float) -> None:
        self.shingle_words = shingle_words
        self.threshold = threshold
        self.postings: dict[tuple[str, ...], list[int]] = defaultdict(list)
        self.sizes: list[int] = []

    def is_near_duplicate(self, tokens: list[str]) -> bool:
        own = shingles(tokens, self.shingle_words)
        if not own:
            return False
        shared = Counter(doc for shingle in own for doc in self.postings.get(shingle, ()))
        return any(common / (len(own) + self.sizes[doc] - common) >= self.threshold
                   for doc, common in shared.items())

    def add(self, tokens: list[str]) -> None:
        own = shingles(tokens, self.shingle_words)
        doc = len(self.sizes)
        self.sizes.append(len(own))
        for shingle in own:
            self.postings[shingle].append(doc)


class CopyDetector:
    """True when a text shares a word n-gram of length n with any real example it was shown."""

    def __init__(self, examples: Iterable[str], n: int) -> None:
        self.n = n
        self.ngrams = {gram for text in examples for gram in word_ngrams(words(text), n)}

    def copies(self, tokens: list[str]) -> bool:
        return any(gram in self.ngrams for gram in word_ngrams(tokens, self.n))


class TextFilter:
    """Keeps or rejects cleaned texts of one label, in sample order (so results are deterministic)."""

    def __init__(self, *, min_words: int, max_words: int, shingle_words: int, near_duplicate_jaccard: float,
                 copy_detector: CopyDetector | None) -> None:
        self.min_words = min_words
        self.max_words = max_words
        self.seen: set[str] = set()
        self.near = NearDuplicateIndex(shingle_words, near_duplicate_jaccard)
        self.copy_detector = copy_detector

    def check(self, text: str, finish_reason: str | None = None) -> str | None:
        """None when the text is kept (and remembered), else the reason it is rejected."""
        reason = basic_rejection(text, finish_reason, self.min_words, self.max_words)
        if reason:
            return reason
        tokens = words(text)
        key = " ".join(tokens)
        if key in self.seen:
            return "duplicate"
        if self.copy_detector is not None and self.copy_detector.copies(tokens):
            return "copies_example"
        if self.near.is_near_duplicate(tokens):
            return "near_duplicate"
        self.seen.add(key)
        self.near.add(tokens)
        return None
