"""A few-shot answer ends at its first text that copies a pool example (`generate.stop_at_copy`).

The small bundled model, shown four examples, often writes one of them out again, and once it has
copied one it mostly copies the next too (the committed run: 171 of 811 few-shot texts copied, a
third of the few-shot completion tokens). So a list answer is read up to and including its first
copying text, which is rejected as `copies_example`, and the texts after it are not judged.

The same rule runs in two places and gives the same texts:
- while an answer streams in (`CopyWatch`), the call is stopped as soon as the words written so far
  copy, and the answer is stored cut there (finish reason `COPY_STOP`);
- on a whole answer (a server that does not stream, a cache entry written without the watch),
  `through_first_copy` drops what follows the copying text.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from synthclf.generation.cleaning import CopyDetector
from synthclf.generation.prompts import split_items
from synthclf.text.normalize import words

COPY_STOP = "copy"  # the finish reason of an answer stopped at its first copying text
TRAILING_WORD = re.compile(r"[\w']+\Z")  # a word may still grow ("don" -> "don't")


def first_copying_item(items: list[str], detector: CopyDetector, clean: Callable[[str], str]) -> int | None:
    """The position of the first text that shares a copy_ngram with a pool example, or None."""
    for position, raw in enumerate(items):
        if detector.copies(words(clean(raw))):
            return position
    return None


def through_first_copy(items: list[str], detector: CopyDetector, clean: Callable[[str], str]) -> list[str]:
    """The texts up to and including the first copying one (it is judged, and rejected, as such)."""
    position = first_copying_item(items, detector, clean)
    return items if position is None else items[:position + 1]


class CopyWatch:
    """Asked with the text streamed so far: the text to keep when the answer should stop now (it
    copies), else None. A word still being written is left out, so the kept text judges the same
    later, from the cache, as it did here."""

    def __init__(self, detector: CopyDetector, items: int, clean: Callable[[str], str]) -> None:
        self.detector = detector
        self.items = items
        self.clean = clean

    def __call__(self, text: str) -> str | None:
        settled = TRAILING_WORD.sub("", text)
        position = first_copying_item(split_items(settled, self.items), self.detector, self.clean)
        return None if position is None else settled
