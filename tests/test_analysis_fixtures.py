"""A small synthetic project (evaluate metrics, predictions, validate/generate metrics) in tmp_path.

Shared by test_analysis.py and test_report.py. Known values: real Macro-F1 0.90 everywhere, the
zero-shot gap is 0.10 x subjectivity level (so it correlates perfectly with level), the few-shot
gaps are FEW_SHOT_GAP.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthclf.config import Params

# task -> subjectivity level on its card
LEVELS = {"trec": 1, "sms_spam": 2, "rt_sentiment": 2, "vader_tweets": 3, "vader_nyt": 4, "seinfeld_humor": 5}
FEW_SHOT_GAP = {"trec": 0.05, "sms_spam": 0.02, "rt_sentiment": 0.08, "vader_tweets": 0.04,
                "vader_nyt": 0.10, "seinfeld_humor": 0.12}
SOURCES = ["real", "zero_shot", "few_shot"]

# vader_tweets test predictions: (label, agreement, pred seed 0, pred seed 1); one item without votes
PREDICTIONS = [("pos", 1.0, "pos", "pos"), ("neg", 1.0, "neg", "pos"), ("pos", 0.8, "neg", "neg"),
               ("neg", 0.6, "neg", "neg"), ("pos", 0.5, "neg", "pos"), ("neg", None, "pos", "pos")]


def make_params(**analyze) -> Params:
    return Params.model_validate({
        "tasks": list(LEVELS),
        "split": {task: {"train_size": 100, "test_size": 50, "pool_size": 10} for task in LEVELS},
        "sources": SOURCES,
        "train": {"seeds": [0, 1]},
        "analyze": {"gammas": [0.5, 0.8, 0.9, 1.0], **analyze},
    })


def expected_f1(task: str, source: str) -> float:
    if source == "real":
        return 0.90
    if source == "zero_shot":
        return round(0.90 - 0.10 * LEVELS[task], 6)
    return round(0.90 - FEW_SHOT_GAP[task], 6)


def write(path: str | Path, payload) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(payload, list):
        path.write_text("".join(json.dumps(row) + "\n" for row in payload), encoding="utf-8")
    else:
        path.write_text(json.dumps(payload), encoding="utf-8")


def evaluate_metrics(task: str, source: str) -> dict:
    f1 = expected_f1(task, source)
    return {"macro_f1": f1, "macro_f1_std": 0.01, "accuracy": round(f1 + 0.02, 6), "accuracy_std": 0.02,
            "n_test": 50, "seeds": [0, 1],
            "per_seed": {"0": {"macro_f1": f1 - 0.01, "accuracy": f1 + 0.01},
                         "1": {"macro_f1": f1 + 0.01, "accuracy": f1 + 0.03}},
            "per_class": {}}


def prediction_records(shift: int = 0) -> list[dict]:
    records = []
    for index, (label, agreement, seed0, seed1) in enumerate(PREDICTIONS):
        record = {"id": f"vt-{index}", "label": label, "pred": {"0": seed0, "1": seed1 if not shift else label}}
        if agreement is not None:
            record.update(agreement=agreement, n_annotators=10)
        records.append(record)
    return records


def build_project(root: Path, with_optional: bool = True) -> None:
    """Evaluate metrics for every task x source; predictions with votes for vader_tweets; optionally
    diversity (validate) and generation metrics for a couple of tasks."""
    for task in LEVELS:
        for source in SOURCES:
            write(root / f"metrics/evaluate/{task}/{source}.json", evaluate_metrics(task, source))
            records = prediction_records(shift=source == "real") if task == "vader_tweets" else \
                [{"id": f"{task}-0", "label": "x", "pred": {"0": "x", "1": "x"}}]
            write(root / f"data/predictions/{task}/{source}.jsonl", records)
    if with_optional:
        write(root / "metrics/validate/trec/zero_shot.json",
              {"diversity": {"remote_clique": 0.61, "chamfer": 0.33, "similarity_to_real": 0.52,
                             "distinct_1": 0.4, "distinct_2": 0.7}})
        write(root / "metrics/validate/trec/few_shot.json", {"diversity": {"remote_clique": 0.72}})
        write(root / "metrics/generate/trec/zero_shot.json",
              {"model": "SmolLM2-135M-Instruct", "calls": 120, "cache_hits": 20, "tokens_in": 5000,
               "tokens_out": 2400, "cost_usd": 0.0, "wall_s": 42.5, "kept": 90})
        # the generate stage's own layout: nested token counts, wall_time_s
        write(root / "metrics/generate/trec/few_shot.json",
              {"model": "SmolLM2-135M-Instruct", "calls": 80, "cache_hits": 0, "kept": 88, "cost_usd": 0.25,
               "tokens": {"prompt": 7000, "completion": 1600, "cached_prompt": 0}, "wall_time_s": 30.0})


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    build_project(tmp_path)
    return tmp_path


def test_fixture_levels_match_the_task_cards():
    from synthclf.tasks import load_card

    assert {task: load_card(task).subjectivity.level for task in LEVELS} == LEVELS
