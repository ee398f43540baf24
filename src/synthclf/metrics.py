"""Typed schemas of the metrics files one stage writes and another reads: train -> analyze,
evaluate -> analyze. Written and read only through `write_metrics` / `read_metrics`, so a key that
one side renames fails at once, naming the file and the key, instead of reading as a silent None.
Their paths come from paths.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from synthclf.errors import SynthclfError
from synthclf.records import read_json, write_json
from synthclf.schema import Strict

Model = TypeVar("Model", bound=Strict)


# --- train: dvclive/train/<task>/<source>/metrics.json (DVCLive's summary) -----------------------

class UnitTraining(Strict):
    """One training unit: what it was trained on and how (transformer fields are absent for TF-IDF)."""
    n_train: int
    seed: int
    label_counts: dict[str, int]
    train_seconds: float = 0.0
    steps: int | None = None
    examples_seen: int | None = None
    final_loss: float | None = None
    examples_per_second: float | None = None
    device: str | None = None
    cached: bool = False          # predictions from the unit cache (an identical unit fitted earlier)


class TrainMetrics(Strict):
    backend: str
    encoder: str
    device: str
    threads: int
    units: dict[str, UnitTraining]
    train_seconds: float
    curves: dict[str, dict[str, float]] = {}   # DVCLive: last loss / learning rate per checkpoint
    step: int | None = None                      # DVCLive: the last step logged


# --- evaluate: metrics/evaluate/<task>/<source>.json --------------------------------------------

class Scores(Strict):
    """Mean over replicates with its interval bounds and the replicates' standard deviation."""
    macro_f1: float
    macro_f1_low: float | None
    macro_f1_high: float | None
    macro_f1_std: float
    accuracy: float
    accuracy_low: float | None
    accuracy_high: float | None
    accuracy_std: float
    replicates: int


class PointScores(Scores):
    size: int | None             # examples per label; None for all real data or a mix


class UnitScores(Strict):
    macro_f1: float
    accuracy: float


class ClassScores(Strict):
    precision: float
    recall: float
    f1: float
    support: int


class EvaluateMetrics(Scores):
    headline: str                # the point the source is reported by (e.g. zero_shot@10)
    n_test: int
    chance_macro_f1: float
    points: dict[str, PointScores]
    units: dict[str, UnitScores]
    per_class: dict[str, ClassScores]


def write_metrics(path: str | Path, metrics: Strict | dict, schema: type[Model]) -> Model:
    """Validate against `schema`, then write atomically; returns the validated model."""
    model = metrics if isinstance(metrics, schema) else schema.model_validate(metrics)
    write_json(path, model.model_dump(mode="json"))
    return model


def read_metrics(path: str | Path, schema: type[Model]) -> Model:
    """Read a metrics file through its schema; a missing or drifted file is one clear error."""
    try:
        return schema.model_validate(read_json(path))      # read_json: a missing file is a clear error
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SynthclfError(f"{path}: {where}: {first['msg']} (written by another version of synthclf? "
                            "rerun the stage that writes it)") from None
