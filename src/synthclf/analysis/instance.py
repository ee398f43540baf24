"""Instance-level subjectivity: how a model scores on test items the annotators agreed on.

For an item with rater votes, agreement a_i is the largest share of annotators that chose one
label. Scoring only items with a_i >= gamma for a rising gamma shows how much of a model's error
sits on contested items; the study found accuracy rising with gamma, more steeply for models trained
on synthetic data. One curve per training source, averaged over its replicates, in every registered
metric (scoring.METRICS; Macro-F1 is the project's one Macro-F1, over all of the card's labels).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from synthclf import scoring
from synthclf import statistics as stats

MIN_ITEMS_FOR_GAIN = 30   # the steepest point of a curve must rest on this many items


def curve(gold: np.ndarray, agreement: np.ndarray, preds: np.ndarray, n_labels: int,
          gammas: Sequence[float]) -> list[dict]:
    """Every registered metric (mean over replicates) on the items with agreement >= gamma."""
    rows = []
    for gamma in sorted(gammas):
        kept = agreement >= gamma - 1e-9
        row = {"gamma": gamma, "n": int(kept.sum()), **dict.fromkeys(scoring.METRICS)}
        if kept.any():
            for metric in scoring.METRICS:
                row[metric] = float(stats.metric_batch(metric, gold[kept], preds[:, kept], n_labels).mean())
        rows.append(row)
    return rows


def gain(rows: Sequence[dict], source: str, metric: str = scoring.AGREEMENT) -> float | None:
    """Metric at the highest gamma with items minus at the lowest: how steep the source's curve is."""
    points = [row for row in rows if row["source"] == source and row[metric] is not None]
    if len(points) < 2:
        return None
    return points[-1][metric] - points[0][metric]


def gain_gammas(agreement: np.ndarray, gammas: Sequence[float]) -> tuple[float, float] | None:
    """The lowest gamma and the highest gamma that keeps at least MIN_ITEMS_FOR_GAIN items."""
    usable = [g for g in sorted(gammas) if (agreement >= g - 1e-9).sum() >= MIN_ITEMS_FOR_GAIN]
    return (usable[0], usable[-1]) if len(usable) >= 2 else None


def steeper_interval(gold: np.ndarray, agreement: np.ndarray, preds_syn: np.ndarray, preds_real: np.ndarray,
                     gammas: tuple[float, float], **kw) -> stats.Estimate:
    """Accuracy gain (low gamma -> high gamma) of synthetic minus that of real data, paired on items."""
    low, high = gammas

    def gain_of(gold, agreement, preds):
        correct = (preds == gold).mean(axis=0)
        at_low, at_high = agreement >= low - 1e-9, agreement >= high - 1e-9
        return (correct * at_high).sum(-1) / at_high.sum(-1) - (correct * at_low).sum(-1) / at_low.sum(-1)

    def difference(gold, agreement, preds_syn, preds_real, axis=-1):
        return gain_of(gold, agreement, preds_syn) - gain_of(gold, agreement, preds_real)

    real_gain = float(gain_of(gold, agreement, preds_real))
    per_replicate = [float(gain_of(gold, agreement, row[None, :])) - real_gain for row in preds_syn]
    return stats.combined_interval(difference, (gold, agreement, preds_syn, preds_real), per_replicate, **kw)
