"""Stage `train`: fit each source's training units and predict the real test set with each.

The stage runs per task (`synthclf train --task T`: every source in params.sources, in one
process; `--source S` fits one). For a source it reads data/validated/<task>/<source>.jsonl (a mix:
data/mixes/<task>/<source>.jsonl; and, for the size-matched comparisons, validated real data) and
the real test split, and writes:
- models/<task>/<source>/: checkpoints of `train.backend` (training/backends/: a frozen encoder's
  linear head by default, or a fine-tuned `save_pretrained` directory), one per seed for real data
  and one per generation replicate at the largest size for synthetic data and mixes;
- data/predictions/<task>/<source>.jsonl: the test-set predictions of every unit;
- through DVCLive: dvclive/train/<task>/<source>/metrics.json (the units, their steps and speed;
  schema metrics.TrainMetrics) and plots/train/<task>/<source>/metrics/curves/<unit>/*.tsv, the
  per-step loss and learning rate of every checkpointed unit (a linear head logs its training
  accuracy instead).
The units are described in training/units.py. Learning-curve points keep no checkpoint: their
predictions are what the comparison needs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from synthclf import paths, resources
from synthclf.config import Params
from synthclf.errors import SynthclfError
from synthclf.metrics import TrainMetrics
from synthclf.records import atomic_directory, atomic_write, read_jsonl, write_jsonl
from synthclf.settings.train import TrainParams
from synthclf.tasks import load_card
from synthclf.training.backends import Backend, backend
from synthclf.training.backends.base import ConstantClassifier
from synthclf.training.units import Unit, units_for

# Predictions of units that keep no checkpoint, by content: the size-matched real units of the
# zero-shot and few-shot stages are usually identical and are then fitted once.


def run(params: Params, task: str, source: str | None = None) -> None:
    """One source, or (source None: the dvc stage) every source in params.sources, one after another
    in this process, so the libraries load once per task."""
    for name in [source] if source else params.sources:
        train_source(params, task, name)


def train_source(params: Params, task: str, source: str) -> None:
    card = load_card(task)
    test = read_jsonl(paths.prepared_split(task, "test"))
    test_texts = [record["text"] for record in test]
    units = units_for(params, task, source, deterministic=backend(params.train.backend).deterministic)
    predictions: dict[str, list[str]] = {}
    per_unit = {}
    with atomic_directory(paths.model_dir(task, source)) as staging, \
            atomic_directory(paths.live_dir("train", task, source)) as log_dir, \
            atomic_directory(paths.live_plots_dir("train", task, source)) as plots_dir:
        live = open_live(log_dir, plots_dir)
        for position, unit in enumerate(units, start=1):
            desc = f"train {task}/{source} {unit.name} ({position}/{len(units)})"
            predictions[unit.name], per_unit[unit.name] = fit_and_predict(unit, card.label_names, params.train,
                                                                          test_texts, staging, desc, live)
        write_jsonl(paths.predictions_file(task, source), prediction_rows(test, predictions))
        # the stage's metrics go through DVCLive's summary (beside each checkpoint's last loss and
        # rate), checked against the schema analyze reads them with
        live.summary.update({
            "backend": params.train.backend, "encoder": params.train.encoder,
            "device": resources.device() if backend(params.train.backend).uses_device else "cpu",
            "threads": resources.threads(), "units": per_unit,
            "train_seconds": round(sum(u.get("train_seconds", 0.0) for u in per_unit.values()), 2)})
        TrainMetrics.model_validate(live.summary)
        live.end()


def open_live(folder: Path, plots: Path):
    """A DVCLive logger writing its summary (metrics.json) into `folder` and its plots into `plots`:
    no experiment of its own (DVC runs the stage), no dvc.yaml (ours declares the outputs), no report.
    Plots live apart so a task's folder of summaries is one `metrics` entry in dvc.yaml."""
    from dvclive import Live

    class FilesOnly(Live):
        # Live looks up the git and DVC repository for experiment tracking even when it saves no
        # experiment, and dvclive 3.49 fails there in a repository without commits ("Empty git
        # repo"). This logger only writes files, so it skips the lookup (and its second per stage).
        def _init_dvc(self) -> None:
            self._dvc_file = "dvc.yaml"

        @property
        def plots_dir(self) -> str:
            return str(plots)

    return FilesOnly(dir=str(folder), save_dvc_exp=False, dvcyaml=None, report=None)


class StepLog:
    """Per-step loss and learning rate of one checkpointed unit, as DVCLive series curves/<unit>/loss
    and curves/<unit>/learning_rate (plots/metrics/curves/<unit>/*.tsv): `dvc plots show` draws one
    curve per seed or replicate, and `dvc plots diff` compares them across experiments."""

    def __init__(self, live, unit: str) -> None:
        self.live, self.unit, self.step = live, unit, 0

    def __call__(self, loss: float, learning_rate: float) -> None:
        # log_metric appends the row at once; setting the step (instead of next_step) spares
        # rewriting the summary and re-reading every series after each optimiser step
        self.live.step = self.step
        self.live.log_metric(f"curves/{self.unit}/loss", round(loss, 5))
        self.live.log_metric(f"curves/{self.unit}/learning_rate", learning_rate)
        self.step += 1

    def point(self, name: str, value: float) -> None:
        """One value of a fit without steps (a linear head's training accuracy)."""
        self.live.step = 0
        self.live.log_metric(f"curves/{self.unit}/{name}", value)


def fit_and_predict(unit: Unit, label_names: list[str], train: TrainParams, test_texts: list[str],
                    staging: Path, desc: str, live=None) -> tuple[list[str], dict]:
    """Fit one unit with train.backend and predict the test texts; a unit that keeps no checkpoint
    may come from the cache. A checkpointed unit logs its fit to `live` (DVCLive)."""
    # a real-data draw that keeps no checkpoint (a curve point, a mix's real part) may miss a rare label
    texts, labels = training_examples(list(unit.records), label_names, unit.name,
                                      every_label=bool(unit.keep_as) or not unit.name.startswith(paths.REAL))
    counts = {label: labels.count(i) for i, label in enumerate(label_names)}
    owner = backend(train.backend)
    key = None if unit.keep_as else unit_key(owner, texts, labels, label_names, train, unit.seed, test_texts)
    cached = read_unit_cache(key)
    if cached is not None:
        return cached["predictions"], {**cached["stats"], "cached": True}
    log = StepLog(live, unit.keep_as) if unit.keep_as and live is not None else None
    if len(set(labels)) == 1:   # one label drawn: no classifier to fit, the draw predicts that label
        classifier, stats = ConstantClassifier(list(label_names), label_names[labels[0]]), {"train_seconds": 0.0}
    else:
        classifier, stats = owner.fit(texts, labels, label_names, train, unit.seed, desc, log)
    predicted = classifier.predict(test_texts)
    if unit.keep_as:
        classifier.save(staging / unit.keep_as)
    stats = {**stats, "n_train": len(texts), "label_counts": counts, "seed": unit.seed}
    write_unit_cache(key, predicted, stats)
    return predicted, stats


def unit_key(owner: type[Backend], texts, labels, label_names, train: TrainParams, seed: int, test_texts) -> str:
    """Everything a unit's predictions depend on: the data, the backend's own settings and code, and
    the seed where the backend is random (a deterministic one fits a unit once for every seed)."""
    blob = json.dumps([texts, labels, label_names, owner.name, owner.settings(train),
                       None if owner.deterministic else seed, test_texts, owner.code_digest()], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def unit_cache_dir() -> Path:
    """Fitted units' predictions, beside the response and embedding caches (shared by queued experiments)."""
    return paths.cache_root() / "units"


def read_unit_cache(key: str | None) -> dict | None:
    if key is None or not (unit_cache_dir() / f"{key}.json").exists():
        return None
    try:
        return json.loads((unit_cache_dir() / f"{key}.json").read_text(encoding="utf-8"))
    except ValueError:
        return None  # a damaged entry is refitted


def write_unit_cache(key: str | None, predictions: list[str], stats: dict) -> None:
    if key is not None:
        with atomic_write(unit_cache_dir() / f"{key}.json") as handle:
            json.dump({"predictions": predictions, "stats": stats}, handle)


def prediction_rows(test: list[dict], predictions: dict[str, list[str]]) -> list[dict]:
    """One row per test item: gold label, every unit's prediction, rater agreement where it exists."""
    rows = []
    for i, record in enumerate(test):
        row = {"id": record["id"], "label": record["label"], "pred": {unit: p[i] for unit, p in predictions.items()}}
        for key in ("agreement", "n_annotators"):
            if key in record:
                row[key] = record[key]
        rows.append(row)
    return rows


def training_examples(records: list[dict], label_names: list[str], what: str,
                      every_label: bool = True) -> tuple[list[str], list[int]]:
    """Texts and label ids; every label must be present, or the classifier could never predict it
    (`every_label` False: a small draw of real data, which may miss a rare label as real data would)."""
    index = {label: i for i, label in enumerate(label_names)}
    unknown = sorted({r["label"] for r in records} - set(index))
    if unknown:
        raise SynthclfError(f"{what}: labels {unknown} are not on the task card; rerun validate")
    missing = [label for label in label_names if not any(r["label"] == label for r in records)]
    if missing and (every_label or len(missing) == len(label_names)):
        raise SynthclfError(f"{what}: no training examples for label(s) {missing}; generate more "
                            "(raise generate.per_class) or check validation's quarantine file")
    return [r["text"] for r in records], [index[r["label"]] for r in records]
