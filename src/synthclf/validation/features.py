"""The table Great Expectations validates: the records' own columns plus derived per-row columns.

Some checks need context a single row does not have (is this text a repeat of an earlier one? is
it near-identical to a real test item?). They are computed here, in plain Python, as ordinary
columns, so the suite states them as standard row-level expectations, Data Docs show them, and a
failing row can be named by its index.

Derived columns (prefixed `_` so they never clash with record fields):
- `_text_type`: the Python type name of `text` (null when text is null); `text` itself is set to
  null when it is not a string, so string expectations never crash on a stray number.
- `_repeats_earlier_text`: the normalised text already appeared in an earlier row.
- `_repeats_earlier_id`: the id already appeared in an earlier row.
- `_test_ngram_share`: the share of the text's word n-grams that occur in the real test set (a text
  shorter than n words counts as one n-gram: itself). One shared n-gram is not enough: templated
  spam shares boilerplate ("to claim yr prize call our customer service") across distinct
  messages; a near-copy shares most of its n-grams.
- `_nearest_test_cosine` / `_nearest_test_id`: the closest real test item by embedding cosine.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from synthclf.text.diversity import nearest_neighbours
from synthclf.text.embeddings import embed_texts
from synthclf.text.normalize import ngram_index, ngram_share, normalized

RECORD_COLUMNS = ("id", "task", "text", "label", "source")


def repeats_earlier(values: Sequence[Any]) -> list[bool | None]:
    """True for every occurrence after the first; None where the value is missing."""
    seen: set[Any] = set()
    flags: list[bool | None] = []
    for value in values:
        if value is None:
            flags.append(None)
            continue
        flags.append(value in seen)
        seen.add(value)
    return flags


def _string_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _hashable_or_none(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value if isinstance(value, str | int) else repr(value)


def record_frame(records: Sequence[dict]) -> pd.DataFrame:
    """The records' contract columns (missing ones stay missing, so the schema check sees them)."""
    frame = pd.DataFrame.from_records(list(records)) if records else pd.DataFrame(columns=list(RECORD_COLUMNS))
    frame = frame.reset_index(drop=True)
    if "text" in frame.columns:
        raw = frame["text"].tolist()
        frame["_text_type"] = pd.Series([None if value is None or value is pd.NA or
                                         (isinstance(value, float) and np.isnan(value)) else type(value).__name__
                                         for value in raw], dtype="object")
        frame["text"] = pd.Series([_string_or_none(value) for value in raw], dtype="object")
    return frame


def add_duplicate_columns(frame: pd.DataFrame) -> None:
    if "text" in frame.columns:
        keys = [normalized(text) if text is not None else None for text in frame["text"]]
        if "replicate" in frame.columns:
            # Replicates are independent samples of the generator: the same text in two of them
            # is a coincidence of sampling, not a duplicate within one training set.
            keys = [None if key is None else (replicate, key)
                    for replicate, key in zip(frame["replicate"], keys, strict=True)]
        frame["_repeats_earlier_text"] = pd.Series(repeats_earlier(keys), dtype="object")
    if "id" in frame.columns:
        frame["_repeats_earlier_id"] = pd.Series(repeats_earlier([_hashable_or_none(v) for v in frame["id"]]),
                                                 dtype="object")


def add_contamination_columns(frame: pd.DataFrame, test_records: Sequence[dict], ngram: int) -> None:
    """n-gram overlap and nearest embedding cosine of every text against the real test set."""
    if "text" not in frame.columns:
        return
    test_texts = [record["text"] for record in test_records if isinstance(record.get("text"), str)]
    test_ids = [record.get("id") for record in test_records if isinstance(record.get("text"), str)]
    index = ngram_index(test_texts, ngram)
    texts = frame["text"].tolist()
    present = [i for i, text in enumerate(texts) if text is not None]
    overlap = np.full(len(texts), np.nan)
    cosine = np.full(len(texts), np.nan)
    nearest_id: list[Any] = [None] * len(texts)
    for i in present:
        overlap[i] = round(ngram_share(texts[i], index, ngram), 6)
    if present and test_texts:
        best, which = nearest_neighbours(embed_texts([texts[i] for i in present]), embed_texts(test_texts))
        cosine[present] = np.round(best.astype(np.float64), 6)
        for i, j in zip(present, which, strict=True):
            nearest_id[i] = test_ids[j]
    frame["_test_ngram_share"] = overlap
    frame["_nearest_test_cosine"] = cosine
    frame["_nearest_test_id"] = pd.Series(nearest_id, dtype="object")


def validation_frame(records: Sequence[dict], test_records: Sequence[dict], ngram: int) -> pd.DataFrame:
    """Everything the row-level suite checks, one row per record, in file order."""
    frame = record_frame(records)
    add_duplicate_columns(frame)
    add_contamination_columns(frame, test_records, ngram)
    return frame
