"""The metrics that one stage writes and another reads go through one typed schema (synthclf.metrics)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from synthclf.errors import SynthclfError
from synthclf.metrics import (
    EvaluateMetrics,
    GenerateMetrics,
    PrepareStats,
    Summary,
    TrainMetrics,
    ValidateSummary,
    read_metrics,
    write_metrics,
)
from synthclf.training.evaluate import score_source

ROWS = [{"id": str(i), "label": label, "pred": {"real/r0": label, "real/r1": "ham"}}
        for i, label in enumerate(["ham", "spam"] * 10)]


def test_evaluate_writes_what_analyze_reads(tmp_path):
    metrics = score_source(ROWS, ["ham", "spam"], "real", 0.95, 50, 0)
    path = tmp_path / "real.json"
    written = write_metrics(path, metrics, EvaluateMetrics)
    assert read_metrics(path, EvaluateMetrics) == written
    assert written.points["real"].replicates == 2 and written.units["real/r0"].macro_f1 == 1.0


def test_a_renamed_key_fails_naming_the_file_and_the_key(tmp_path):
    metrics = score_source(ROWS, ["ham", "spam"], "real", 0.95, 50, 0)
    metrics["macro_F1"] = metrics.pop("macro_f1")          # what a writer drifting from the reader does
    path = tmp_path / "real.json"
    path.write_text(json.dumps(metrics), encoding="utf-8")
    with pytest.raises(SynthclfError, match=r"real.json: macro_f1: Field required"):
        read_metrics(path, EvaluateMetrics)
    with pytest.raises(Exception, match="macro_F1"):         # and the writer refuses it in the first place
        write_metrics(tmp_path / "again.json", metrics, EvaluateMetrics)
    assert not (tmp_path / "again.json").exists()


def test_train_metrics_hold_dvclive_curves_and_nothing_unknown():
    base = {"backend": "transformer", "encoder": "bundled:all-MiniLM-L6-v2", "device": "cpu", "threads": 2,
            "train_seconds": 1.0, "units": {"real/r0": {"n_train": 40, "seed": 0, "label_counts": {"ham": 20}}}}
    parsed = TrainMetrics.model_validate({**base, "curves": {"seed0": {"loss": 0.1}}, "step": 23})
    assert parsed.curves["seed0"]["loss"] == 0.1 and parsed.units["real/r0"].cached is False
    with pytest.raises(Exception, match="unknown"):
        TrainMetrics.model_validate({**base, "unknown": 1})


REPO = Path(__file__).resolve().parents[1]
# every metrics file of the committed default run, with the schema its stage writes it through
COMMITTED = [("metrics/prepare/*/stats.json", PrepareStats), ("metrics/generate/*/*.json", GenerateMetrics),
             ("metrics/validate/*/*.json", ValidateSummary), ("dvclive/evaluate/*/*/metrics.json", EvaluateMetrics),
             ("dvclive/train/*/*/metrics.json", TrainMetrics), ("metrics/summary.json", Summary)]


@pytest.mark.parametrize(("pattern", "schema"), COMMITTED, ids=[pattern for pattern, _ in COMMITTED])
def test_the_committed_runs_metrics_read_through_their_schemas(pattern, schema):
    files = sorted(REPO.glob(pattern))
    for path in files:
        read_metrics(path, schema)
    if schema in (PrepareStats, GenerateMetrics, ValidateSummary, Summary):   # in git since the first run
        assert files, f"no committed {pattern}"


def test_a_file_holds_exactly_the_keys_its_stage_wrote(tmp_path):
    stats = {"read": 10, "too_short": 0, "duplicates": 1, "label_conflicts": 0, "clean": 9, "train": 5, "test": 3,
             "pool": 1, "train_labels": {"a": 5}, "test_labels": {"a": 3}}
    write_metrics(tmp_path / "stats.json", stats, PrepareStats)
    assert json.loads((tmp_path / "stats.json").read_text()) == stats   # no "test_mean_agreement": null
    assert read_metrics(tmp_path / "stats.json", PrepareStats).test_mean_agreement is None


def test_a_summary_with_a_gap_as_a_bare_number_names_it(tmp_path):
    summary = json.loads((REPO / "metrics/summary.json").read_text())
    task = next(iter(summary["tasks"]))
    summary["tasks"][task]["gap_zero_shot"] = 0.1
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(SynthclfError, match=rf"tasks: .*{task}\.gap_zero_shot is 0\.1, not an estimate"):
        read_metrics(tmp_path / "summary.json", Summary, "`synthclf analyze`")
