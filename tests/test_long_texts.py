"""README, Your own task: real texts longer than validate.max_chars are kept (`validate.long_texts:
truncate`, the default) and training reads their start; `quarantine` holds them back instead; the
validation metrics count them either way. Run through the real validate stage (Great Expectations).
"""

from __future__ import annotations

from synthclf import paths
from synthclf.records import read_jsonl, write_jsonl

from test_validation import REAL_TRAIN, TASK, project, rows  # noqa: F401 (project is the fixture)

LONG = ("Dear team, please find below the full minutes of this week's meeting, with every action item "
        "and its owner. ") * 12                                  # about 1,300 characters: over max_chars 1000


def with_long_texts() -> list[dict]:
    train = rows(REAL_TRAIN, "real")
    for index in (2, 17):                                       # one ham, one spam
        train[index]["text"] = f"{LONG}(item {index})"
    write_jsonl(paths.prepared_split(TASK, "train"), train)
    return train


def test_long_real_texts_are_kept_under_truncate_and_counted(project):
    train = with_long_texts()
    metrics = project(None, "real", long_texts="truncate")
    assert metrics["success"] is True
    kept = read_jsonl(paths.validated_file(TASK, "real"))
    assert len(kept) == len(train) and sum(len(row["text"]) > 1000 for row in kept) == 2
    assert metrics["long_texts"]["over_max_chars"] == 2 and metrics["long_texts"]["policy"] == "truncate"
    assert metrics["long_texts"]["action"] == "kept, truncated for training"
    assert metrics["long_texts"]["longest_chars"] == max(len(row["text"]) for row in train)
    assert not any(len(row["text"]) > 1000 for row in read_jsonl(paths.quarantine_file(TASK, "real")))


def test_long_real_texts_are_held_back_under_quarantine(project):
    train = with_long_texts()
    metrics = project(None, "real", long_texts="quarantine")
    assert metrics["success"] is True                          # 2 of 30 held back: well within min_clean_share
    kept = read_jsonl(paths.validated_file(TASK, "real"))
    assert len(kept) == len(train) - 2 and all(len(row["text"]) <= 1000 for row in kept)
    held = read_jsonl(paths.quarantine_file(TASK, "real"))
    assert sorted(row["row_index"] for row in held) == [2, 17]
    assert all("text_length" in row["reasons"] for row in held)
    assert metrics["long_texts"]["over_max_chars"] == 2 and metrics["long_texts"]["action"] == "quarantined"
