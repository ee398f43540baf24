"""Instance-level subjectivity: how a model scores on test items the annotators agreed on.

For an item with rater votes, agreement a_i is the largest share of annotators that chose one
label. Scoring only items with a_i >= gamma for a rising gamma shows how much of a model's error
sits on contested items; the study found accuracy rising with gamma, more steeply for models trained
on synthetic data. One curve per training source, averaged over the training seeds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from synthclf import paths
from synthclf.records import read_jsonl


def has_agreement(records: Sequence[dict]) -> bool:
    """True when the predictions carry rater agreement (tasks whose real data has votes)."""
    return any("agreement" in record for record in records)


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Unweighted mean F1 over every label seen in gold or predictions (sklearn's default, zero_division=0)."""
    scores = []
    for label in sorted(set(gold) | set(predicted)):
        true_pos = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
        gold_count = sum(g == label for g in gold)
        pred_count = sum(p == label for p in predicted)
        denominator = gold_count + pred_count
        scores.append(2 * true_pos / denominator if denominator else 0.0)
    return sum(scores) / len(scores)


def seeds_of(records: Sequence[dict]) -> list[str]:
    """The seeds every record has a prediction for, in numeric order."""
    common = set.intersection(*(set(record["pred"]) for record in records)) if records else set()
    return sorted(common, key=lambda seed: (len(seed), seed))


def curve_point(records: Sequence[dict], gamma: float) -> dict:
    """Accuracy and Macro-F1 (mean over seeds) on the items with agreement >= gamma."""
    kept = [record for record in records if record.get("agreement") is not None and record["agreement"] >= gamma - 1e-9]
    point = {"gamma": gamma, "n": len(kept), "accuracy": None, "macro_f1": None}
    seeds = seeds_of(kept)
    if not kept or not seeds:
        return point
    gold = [record["label"] for record in kept]
    per_seed = [[record["pred"][seed] for record in kept] for seed in seeds]
    point["accuracy"] = sum(accuracy(gold, predicted) for predicted in per_seed) / len(seeds)
    point["macro_f1"] = sum(macro_f1(gold, predicted) for predicted in per_seed) / len(seeds)
    return point


def agreement_curve(records: Sequence[dict], gammas: Sequence[float]) -> list[dict]:
    return [curve_point(records, gamma) for gamma in sorted(gammas)]


def task_curves(task: str, sources: Sequence[str], gammas: Sequence[float]) -> list[dict] | None:
    """Rows (gamma, source, accuracy, macro_f1, n) for every source with predictions, or None when the
    task has no rater agreement. Sources without a predictions file are skipped."""
    rows: list[dict] = []
    any_votes = False
    for source in sources:
        path = Path(paths.predictions_file(task, source))
        if not path.exists():
            continue
        records = read_jsonl(path)
        if not has_agreement(records):
            continue
        any_votes = True
        rows.extend({"source": source, **point} for point in agreement_curve(records, gammas))
    return rows if any_votes else None


def gain(rows: Sequence[dict], source: str, metric: str = "accuracy") -> float | None:
    """Metric at the highest gamma with items minus at the lowest: how steep the source's curve is."""
    points = [row for row in rows if row["source"] == source and row[metric] is not None]
    if len(points) < 2:
        return None
    return points[-1][metric] - points[0][metric]
