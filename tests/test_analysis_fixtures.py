"""A small synthetic project in tmp_path: what `train`, `evaluate`, `validate` and `generate` write.

Shared by test_analysis.py and test_report.py. Every task gets a balanced real test set of N_TEST
items (the card's labels in turn) and, for every training unit, predictions built so that the
unit's Macro-F1 is known exactly: a unit with score s gets the first round((1 - s) * m) items of
each label wrong (m items per label), each predicted as the next label. The confusion is then
symmetric, so every label's precision = recall = s and Macro-F1 = accuracy = s. Errors of a lower
score include those of a higher one (paired gaps are clean), and the first items of a label are
the ones the raters agreed on least (tasks with votes), so accuracy rises with agreement.

Known values (SCORES, overridable per (task, point) in build_project):
- real (all data, two seeds): 0.90 everywhere.
- a setting's headline, e.g. zero_shot@20: zero-shot 0.90 - 0.10 x level (its gap correlates
  perfectly with level), few-shot 0.90 - FEW_SHOT_GAP; smaller sizes SYNTHETIC_STEPS below that.
- the size-matched real curve real@5/10/20: MATCHED_REAL, the same for every task and setting; the
  real-only point above it, real@50 in the real source (compare.real_sizes): REAL_ALONE[50]; all real
  data sits at TRAIN_SIZE / L per label (the fixture's real data is balanced).
- the mix few_shot+real100: 0.90 - MIX_GAP; its 100 real alone (real100): REAL_100.
Replicates differ where SPREAD says (vader_tweets, seinfeld_humor): replicate r's score is the known
score -s (r = 0) or +s (r = 1) for real points and mixes, the opposite for synthetic points, so the
mean is the known score and every replicate-variance path of analyze runs (a paired gap between a
real point and a synthetic one varies by 2s between replicates).
Chance is guessing by the (balanced) training label shares: 1/L, above the best constant.
With these: trec's few-shot data equals real (verdict replace); sms_spam and rt_sentiment's mix
equals real and beats its 100 real alone (augment with 100 real); vader_nyt's share and mix are both
shown short (do not use); vader_tweets and seinfeld_humor, with two replicates that disagree, are
undecided. Evaluate metrics are computed by the real `evaluate` code from these predictions, so
their schema is the stage's own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthclf.config import Params
from synthclf.metrics import (
    DIVERSITY_KEYS,
    EvaluateMetrics,
    GenerateMetrics,
    TrainMetrics,
    ValidateSummary,
    write_metrics,
)
from synthclf.tasks import load_card

# task -> subjectivity level on its card
LEVELS = {"trec": 1, "sms_spam": 2, "rt_sentiment": 2, "vader_tweets": 3, "vader_nyt": 4, "seinfeld_humor": 5}
FEW_SHOT_GAP = {"trec": 0.0, "sms_spam": 0.10, "rt_sentiment": 0.15, "vader_tweets": 0.10,
                "vader_nyt": 0.15, "seinfeld_humor": 0.20}
MIX = "few_shot+real100"
MIX_GAP = {"trec": 0.0, "sms_spam": 0.0, "rt_sentiment": 0.0, "vader_tweets": 0.10, "vader_nyt": 0.10,
           "seinfeld_humor": 0.10}
SETTINGS = ["zero_shot", "few_shot"]
SOURCES = ["real", *SETTINGS, MIX]
SIZES = [5, 10]                        # compare.sizes; generate.per_class (20) is the largest point
PER_CLASS = 20
MATCHED_REAL = {5: 0.60, 10: 0.70, 20: 0.80}
REAL_SIZES = [50]                      # compare.real_sizes: real-only curve points above PER_CLASS
REAL_ALONE = {50: 0.85}
REAL_100 = 0.75                        # the mix's 100 real examples trained alone
SPREAD = {"vader_tweets": 0.05, "seinfeld_humor": 0.05}
SYNTHETIC_STEPS = {5: -0.10, 10: -0.05, 20: 0.0}
REAL_F1 = 0.90
N_TEST = 120                           # divisible by 2, 3 and 6 labels; every score a multiple of 0.05 is exact
TRAIN_SIZE = 600
REPLICATES = 2
VOTED_TASKS = ("vader_tweets", "vader_nyt")
AGREEMENT_STEPS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
THRESHOLDS = {"replace_share": 0.9, "within_points": 1.0, "min_real_lift": 0.05}


def make_params(*, sources: list[str] | None = None, **analyze) -> Params:
    return Params.model_validate({
        "tasks": list(LEVELS),
        "split": {task: {"train_size": TRAIN_SIZE, "test_size": N_TEST, "pool_size": 10} for task in LEVELS},
        "sources": sources or SOURCES,
        "mixes": [{"setting": "few_shot", "real": 100}],
        "train": {"seeds": [0, 1]},
        "generate": {"per_class": PER_CLASS, "replicates": REPLICATES},
        "compare": {"sizes": SIZES, "real_sizes": REAL_SIZES, "bootstrap_resamples": 200, "verdict": THRESHOLDS},
        "analyze": {"gammas": list(AGREEMENT_STEPS), **analyze},
    })


def scores(task: str) -> dict[str, float]:
    """Macro-F1 of every curve point of the task: point name -> score."""
    level = LEVELS[task]
    headline = {"zero_shot": REAL_F1 - 0.10 * level, "few_shot": REAL_F1 - FEW_SHOT_GAP[task]}
    points = {"real": REAL_F1, MIX: REAL_F1 - MIX_GAP[task], "real100": REAL_100,
              **{f"real@{size}": score for size, score in REAL_ALONE.items()}}
    for setting in SETTINGS:
        for size in [*SIZES, PER_CLASS]:
            points[f"{setting}@{size}"] = headline[setting] + SYNTHETIC_STEPS[size]
            points[f"real@{size}"] = MATCHED_REAL[size]
    return {point: round(value, 6) for point, value in points.items()}


def expected_f1(task: str, source: str) -> float:
    """A source's headline Macro-F1: all real data, a setting at per_class, a mix."""
    point = source if source == "real" or "+" in source else f"{source}@{PER_CLASS}"
    return scores(task)[point]


def units_of(source: str) -> dict[str, str]:
    """Unit name -> curve point, as training/units.py names them."""
    if source == "real":
        return {f"{point}/r{r}": point for point in ["real", *(f"real@{size}" for size in REAL_SIZES)]
                for r in range(REPLICATES)}
    if "+" in source:
        return {f"{point}/r{r}": point for point in (source, "real100") for r in range(REPLICATES)}
    return {f"{name}@{size}/r{r}": f"{name}@{size}"
            for r in range(REPLICATES) for size in [*SIZES, PER_CLASS] for name in (source, "real")}


def held_out_items(task: str) -> list[dict]:
    """The balanced test set: labels in turn; per label, agreement rises with the item's position."""
    labels = load_card(task).label_names
    per_label = N_TEST // len(labels)
    items = []
    for i in range(N_TEST):
        position = i // len(labels)
        item = {"id": f"{task}-{i}", "label": labels[i % len(labels)], "position": position}
        if task in VOTED_TASKS:
            item.update(agreement=AGREEMENT_STEPS[position * len(AGREEMENT_STEPS) // per_label], n_annotators=10)
        items.append(item)
    return items


def replicate_score(task: str, point: str, replicate: int, score: float) -> float:
    """The known score moved by the task's SPREAD: -s/+s for real points and mixes, +s/-s for synthetic ones."""
    spread = SPREAD.get(task, 0.0)
    synthetic = point.split("@")[0] in SETTINGS
    return score + (spread if (replicate == 0) == synthetic else -spread)


def predicted(item: dict, labels: list[str], score: float) -> str:
    errors = round((1 - score) * (N_TEST // len(labels)))
    if item["position"] >= errors:
        return item["label"]
    return labels[(labels.index(item["label"]) + 1) % len(labels)]


def prediction_records(task: str, source: str, overrides: dict | None = None) -> list[dict]:
    """data/predictions/<task>/<source>.jsonl as `train` writes it."""
    labels = load_card(task).label_names
    point_scores = scores(task) | {point: value for (t, point), value in (overrides or {}).items() if t == task}
    rows = []
    for item in held_out_items(task):
        row = {"id": item["id"], "label": item["label"],
               "pred": {unit: predicted(item, labels, replicate_score(task, point, int(unit.rsplit("/r", 1)[1]),
                                                                      point_scores[point]))
                        for unit, point in units_of(source).items()}}
        row.update({key: item[key] for key in ("agreement", "n_annotators") if key in item})
        rows.append(row)
    return rows


def write(path: str | Path, payload) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(payload, list):
        path.write_text("".join(json.dumps(row) + "\n" for row in payload), encoding="utf-8")
    else:
        path.write_text(json.dumps(payload), encoding="utf-8")


def write_source(root: Path, params: Params, task: str, source: str, overrides: dict | None = None) -> None:
    """Predictions, train metrics and (by the real evaluate code) evaluate metrics of one source."""
    from synthclf.training.evaluate import score_source

    rows = prediction_records(task, source, overrides)
    write(root / f"data/predictions/{task}/{source}.jsonl", rows)
    n_train = TRAIN_SIZE if source == "real" else PER_CLASS * len(load_card(task).label_names)
    labels = load_card(task).label_names
    write_metrics(root / f"dvclive/train/{task}/{source}/metrics.json",
          {"backend": "tfidf_logreg", "encoder": "bundled:all-MiniLM-L6-v2", "device": "cpu", "threads": 1,
           "train_seconds": 0.0,
           "units": {unit: {"n_train": n_train, "seed": 0, "label_counts": {label: n_train // len(labels)
                                                                            for label in labels}}
                     for unit in rows[0]["pred"]}}, TrainMetrics)
    write_metrics(root / f"dvclive/evaluate/{task}/{source}/metrics.json",
                  score_source(rows, load_card(task).label_names, params.headline_point(source),
                               params.compare.confidence, params.compare.bootstrap_resamples, params.seed),
                  EvaluateMetrics)


def build_project(root: Path, with_optional: bool = True, overrides: dict | None = None) -> None:
    """Every task x source; optionally diversity (validate) and generation metrics for trec.

    overrides: {(task, point): score} replaces known scores, e.g. {("seinfeld_humor", "real"): 0.35}.
    """
    params = make_params()
    for task in LEVELS:
        for source in SOURCES:
            write_source(root, params, task, source, overrides)
    if with_optional:
        # through the stages' schemas, so the fixture cannot drift from what the stages write
        write_metrics(root / "metrics/validate/trec/zero_shot.json",
                      validate_summary(remote_clique=0.61, chamfer=0.33, similarity_to_real=0.52,
                                       distinct_1=0.4, distinct_2=0.7), ValidateSummary)
        write_metrics(root / "metrics/validate/trec/few_shot.json", validate_summary(remote_clique=0.72),
                      ValidateSummary)
        for setting, payload in GENERATION.items():
            write_metrics(root / f"metrics/generate/trec/{setting}.json", generate_metrics(setting, **payload),
                          GenerateMetrics)


def validate_summary(**measures: float) -> dict:
    """A passing validate summary of 240 rows with these diversity measures (the rest unmeasured)."""
    diversity = {"n_texts": 240, **dict.fromkeys(DIVERSITY_KEYS), **measures}
    return {"success": True, "failed": [], "expectations": {},
            "counts": {"rows_in": 240, "clean": 240, "quarantined": 0, "by_reason": {}},
            "diversity": {**diversity, "real": diversity, "ratio": dict.fromkeys(DIVERSITY_KEYS, 1.0)},
            "long_texts": {"max_chars": 1000, "policy": "quarantine", "over_max_chars": 0, "share": 0.0,
                           "longest_chars": 120, "action": "quarantined"}}


def generate_metrics(setting: str, **shown) -> dict:
    """The generate stage's metrics for trec/<setting>, with the figures the report shows given."""
    base = {"task": "trec", "setting": setting, "status": "ok", "model": "SmolLM2-135M-Instruct",
            "backend": "llama_cpp", "prompt_style": "completion", "prompt_id": f"{setting}.completion.v2@0",
            "per_class": PER_CLASS, "labels": {}, "attempts": 0, "complete": True, "rejected": {},
            "http_requests": 0, "retries": 0, "errors": {}, "cache_hit_rate": 0.0, "budget_usd": 0.0,
            "budget_exhausted": False, "kept_per_s": 0.0}
    return {**base, **shown}


# metrics/generate/trec/<setting>.json: the figures the report's provenance table shows
GENERATION = {
    "zero_shot": {"replicates": 2, "kept_per_replicate": [120, 118], "kept": 238, "calls": 300, "cache_hits": 20,
                  "cost_usd": 0.0, "wall_time_s": 42.5,
                  "tokens": {"prompt": 5000, "completion": 2400, "cached_prompt": 0, "cached_completion": 0}},
    "few_shot": {"replicates": 2, "kept_per_replicate": [120, 120], "kept": 240, "calls": 260, "cache_hits": 0,
                 "cost_usd": 0.25, "wall_time_s": 30.0,
                 "tokens": {"prompt": 7000, "completion": 1600, "cached_prompt": 0, "cached_completion": 0}},
}


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    build_project(tmp_path)
    return tmp_path


def test_fixture_levels_match_the_task_cards():
    assert {task: load_card(task).subjectivity.level for task in LEVELS} == LEVELS


def test_fixture_scores_are_what_evaluate_measures(project):
    """The construction's promise (Macro-F1 = accuracy = the known score) holds for every point."""
    from synthclf.records import read_json

    for task in LEVELS:
        for source in SOURCES:
            metrics = read_json(f"dvclive/evaluate/{task}/{source}/metrics.json")
            assert metrics["macro_f1"] == pytest.approx(expected_f1(task, source), abs=1e-6), (task, source)
            assert metrics["accuracy"] == pytest.approx(expected_f1(task, source), abs=1e-6), (task, source)
            for point, block in metrics["points"].items():
                assert block["macro_f1"] == pytest.approx(scores(task)[point], abs=1e-6), (task, point)
                assert block["replicates"] == REPLICATES
