"""The metrics every classifier is scored by: one registry, read by every stage, schema and report.

A metric is its name (the key in every metrics file: `<name>`, `<name>_low`, `<name>_high`,
`<name>_std`; `gap_<source>_<name>`, ... for all but the headline metric), how the report writes
it, the function that scores predictions, the function that scores chance, and its scale (a score
and its interval lie there). Evaluate scores every registered metric at every curve point,
analyze estimates every gap and gain in each, metrics.py builds the schemas' score keys from the
names, and the report draws one table per metric: adding a metric is one entry below (and its
two functions, wherever they live).

The functions are named as "module:function" strings, as the classifier backends are
(settings/train.py): this module is read by metrics.py, which every stage imports, and must not
pull numpy and scipy into stages that never score anything. `Metric.scores` imports the function
the first time a stage scores.

HEADLINE is the metric gaps, shares, exchange rates and the verdict are stated in (the study's);
AGREEMENT is the one the study's instance-level finding is stated in ("accuracy rises with
annotator agreement").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any


@dataclass(frozen=True)
class Metric:
    name: str       # the key in metrics files
    label: str      # as a sentence writes it: "Macro-F1", "accuracy"
    score: str      # "module:function": (gold, pred, n_labels) -> the metric over the last axis
    chance: str     # "module:function": (gold, n_labels, train_shares=None) -> chance over the last axis
    low: float = 0.0    # the scale: every value lies in [low, high]
    high: float = 1.0

    @property
    def title(self) -> str:
        """As a heading writes it: "Macro-F1", "Accuracy"."""
        return self.label[:1].upper() + self.label[1:]

    def scores(self, gold, pred, n_labels: int):
        """The metric over the last axis of label-code arrays."""
        return function(self.score)(gold, pred, n_labels)

    def chance_scores(self, gold, n_labels: int, train_shares=None):
        """Chance under this metric over the last axis (the best constant predictor, or guessing by
        the training label shares when they are given and that scores more)."""
        return function(self.chance)(gold, n_labels, train_shares)


METRICS: dict[str, Metric] = {
    "macro_f1": Metric("macro_f1", "Macro-F1", "synthclf.statistics:macro_f1_batch",
                       "synthclf.statistics:chance_macro_f1_batch"),
    "accuracy": Metric("accuracy", "accuracy", "synthclf.statistics:accuracy_batch",
                       "synthclf.statistics:chance_accuracy_batch"),
}
HEADLINE = "macro_f1"
AGREEMENT = "accuracy"


def metric(name: str) -> Metric:
    """The registered metric called `name`; a ValueError naming the registered ones otherwise."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; use one of {', '.join(METRICS)}")
    return METRICS[name]


def headline() -> Metric:
    return METRICS[HEADLINE]


def others() -> list[Metric]:
    """Every registered metric but the headline one, in registry order."""
    return [entry for name, entry in METRICS.items() if name != HEADLINE]


def agreement_first() -> list[Metric]:
    """Every registered metric, the instance-level finding's first (the agreement figure's panels)."""
    return sorted(METRICS.values(), key=lambda entry: entry.name != AGREEMENT)


def suffixed(key: str, name: str) -> str:
    """A per-metric key: the headline metric's is the bare key (gap_few_shot, the one `dvc exp show`
    users read), any other's carries its name (gap_few_shot_accuracy)."""
    return key if name == HEADLINE else f"{key}_{name}"


def chance_key(name: str = HEADLINE) -> str:
    return f"chance_{name}"


SCORE_SUFFIXES = ("", "_low", "_high", "_std")   # a score, its interval's bounds, the replicates' spread


def score_keys(name: str) -> list[str]:
    """The keys a metric's score takes in evaluate's blocks: macro_f1, macro_f1_low, macro_f1_high, macro_f1_std."""
    return [f"{name}{suffix}" for suffix in SCORE_SUFFIXES]


@cache
def function(path: str) -> Callable[..., Any]:
    """'package.module:name' -> the function, imported on first use."""
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
