"""Stage `evaluate`: score every training unit of each source on the real test set.

Per task (`synthclf evaluate --task T`: every source in params.sources; `--source S`: one). Reads
data/predictions/<task>/<source>.jsonl (written by `train`: one prediction per unit and test item).
Writes through DVCLive:
- dvclive/evaluate/<task>/<source>/metrics.json (Live's summary, checked against
  metrics.EvaluateMetrics): for every learning-curve point (e.g. zero_shot@20 and the size-matched
  real@20) every metric in scoring.METRICS (Macro-F1, accuracy) as the mean over its replicates with a
  confidence interval that combines a bootstrap over test items with the spread between replicates
  (statistics.py), the per-unit scores, the headline point's per-class scores, and the headline
  metric's score of the best constant predictor;
- plots/evaluate/<task>/<source>/sklearn/confusion_matrix.json: the headline point's confusion matrix.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from synthclf import paths, scoring
from synthclf.config import Params
from synthclf.errors import SynthclfError
from synthclf.metrics import EvaluateMetrics
from synthclf.records import atomic_directory, read_jsonl
from synthclf.tasks import load_card
from synthclf.training.backends import load_checkpoint
from synthclf.training.train import open_live
from synthclf.training.units import point_of, replicate_of


def run(params: Params, task: str, source: str | None = None) -> None:
    """One source, or (source None: the dvc stage) every source in params.sources."""
    for name in [source] if source else params.sources:
        evaluate_source(params, task, name)


def evaluate_source(params: Params, task: str, source: str) -> None:
    card = load_card(task)
    rows = read_jsonl(paths.predictions_file(task, source))
    if not rows:
        raise SynthclfError(f"{paths.predictions_file(task, source)}: empty; rerun `synthclf train --task {task} "
                            f"--source {source}`")
    metrics = score_source(rows, card.label_names, params.headline_point(source), params.compare.confidence,
                           params.compare.bootstrap_resamples, params.seed)
    headline = [unit for unit in rows[0]["pred"] if point_of(unit) == metrics["headline"]]
    log_evaluation(EvaluateMetrics.model_validate(metrics), [row["label"] for row in rows],
                   [[row["pred"][unit] for row in rows] for unit in headline], paths.live_dir("evaluate", task, source),
                   paths.live_plots_dir("evaluate", task, source))
    score, low, high, _std = (metrics[key] for key in scoring.score_keys(scoring.HEADLINE))
    print(f"evaluate {task}/{source}: {scoring.headline().label} {score:.4f} [{low:.4f}, {high:.4f}] over "
          f"{metrics['replicates']} replicate(s), {len(rows)} test items")


def encoded(rows: list[dict], label_names: list[str]):
    """Gold labels (n,) and {unit: predictions (n,)} as integer arrays in the card's label order."""
    import numpy as np

    index = {label: i for i, label in enumerate(label_names)}
    unknown = sorted({row["label"] for row in rows} - set(index))
    if unknown:
        raise SynthclfError(f"test labels {unknown} are not on the task card; rerun prepare")
    gold = np.array([index[row["label"]] for row in rows])
    units = {unit: np.array([index[row["pred"][unit]] for row in rows]) for unit in rows[0]["pred"]}
    return gold, units


def point_predictions(units: dict, point: str):
    """Predictions of every replicate of one curve point, stacked as (replicates, items)."""
    import numpy as np

    names = sorted((unit for unit in units if point_of(unit) == point), key=replicate_of)
    return np.stack([units[name] for name in names])


def score_source(rows: list[dict], label_names: list[str], headline: str, confidence: float,
                 resamples: int, seed: int) -> dict:
    from synthclf import statistics as stats

    gold, units = encoded(rows, label_names)
    points = sorted({point_of(unit) for unit in units}, key=_point_order)
    if headline not in points:
        raise SynthclfError(f"no predictions for {headline}; rerun train (the curve sizes or per_class changed?)")
    per_point = {}
    for point in points:
        preds = point_predictions(units, point)
        block: dict = {"replicates": int(preds.shape[0]), "size": _size_of(point)}
        for metric in scoring.METRICS:
            estimate = stats.score_interval(gold, preds, len(label_names), metric=metric, confidence=confidence,
                                            n_resamples=resamples, seed=seed)
            per_replicate = [_unit_score(gold, row, len(label_names), metric) for row in preds]
            spread = statistics.stdev(per_replicate) if len(per_replicate) > 1 else 0.0
            block.update(zip(scoring.score_keys(metric), (estimate.value, estimate.low, estimate.high, spread),
                             strict=True))
        per_point[point] = _rounded(block)
    top = per_point[headline]
    return {
        "headline": headline, "n_test": len(gold), "replicates": top["replicates"],
        **{key: top[key] for metric in scoring.METRICS for key in scoring.score_keys(metric)},
        scoring.chance_key(): round(stats.chance(scoring.HEADLINE, gold, len(label_names)), 6),
        "points": per_point,
        "units": {unit: {metric: round(_unit_score(gold, pred, len(label_names), metric), 6)
                         for metric in scoring.METRICS}
                  for unit, pred in sorted(units.items())},
        "per_class": per_class_scores([label_names[i] for i in gold],
                                      [[label_names[i] for i in row] for row in point_predictions(units, headline)],
                                      label_names),
    }


def _unit_score(gold, pred, n_labels: int, metric: str) -> float:
    return float(scoring.metric(metric).scores(gold, pred, n_labels))


def _size_of(point: str) -> int | None:
    _, at, size = point.partition("@")
    return int(size) if at else None


def _point_order(point: str) -> tuple:
    return (point.partition("@")[0], _size_of(point) or 0)


def _rounded(block: dict) -> dict:
    return {key: round(value, 6) if isinstance(value, float) else value for key, value in block.items()}


def per_class_scores(gold: list[str], predictions: list[list[str]], label_names: list[str]) -> dict:
    """Precision, recall and F1 per label, pooled over the replicates of one point."""
    from sklearn.metrics import precision_recall_fscore_support

    pooled_pred = [label for pred in predictions for label in pred]
    precision, recall, f1, support = precision_recall_fscore_support(
        gold * len(predictions), pooled_pred, labels=label_names, zero_division=0)
    return {label: {"precision": round(float(precision[i]), 4), "recall": round(float(recall[i]), 4),
                    "f1": round(float(f1[i]), 4), "support": int(support[i]) // len(predictions)}
            for i, label in enumerate(label_names)}


def predict(checkpoint: Path, texts: list[str]) -> list[str]:
    """Predicted label names from a checkpoint of any backend, with the active resources' threads and device."""
    return load_checkpoint(checkpoint).predict(texts)


def log_evaluation(metrics: EvaluateMetrics, gold: list[str], predictions: list[list[str]], folder: Path,
                   plots: Path) -> None:
    """The scores as DVCLive's summary (`folder`/metrics.json, read by `dvc metrics show` / `dvc exp
    show`) and the headline point's confusion matrix (`plots`/sklearn/confusion_matrix.json, drawn by
    `dvc plots show` with the confusion template), pooled over its replicates: each test item
    appears once per replicate. Written to temporary folders that replace the two at once."""
    with atomic_directory(folder) as staging, atomic_directory(plots) as plots_staging:
        live = open_live(staging, plots_staging)
        predicted = [label for pred in predictions for label in pred]
        live.log_sklearn_plot("confusion_matrix", gold * len(predictions), predicted, name="confusion_matrix.json")
        live.summary.update(metrics.model_dump(mode="json", exclude_unset=True))
        live.make_summary()
