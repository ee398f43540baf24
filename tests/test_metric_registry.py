"""A metric lives in one place: scoring.METRICS.

Registering a third metric there, and nothing else, makes evaluate score it at every point, the
evaluate schema require it, the statistics give it intervals and a chance baseline, analyze carry
it (its scores, every gap in it, the instance curves) and the report draw its table. And no module
but the registry spells a metric's key, so no consumer can fall back on a two-way switch.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from import_graph import PACKAGE

TESTS = Path(__file__).resolve().parent


# --- a third metric, written as a project would write one ---------------------------------------

def balanced_accuracy_batch(gold, pred, n_labels: int):
    """Mean recall over the labels present in gold, over the last axis."""
    from synthclf import statistics as stats

    counts = stats.confusion_batch(gold, pred, n_labels)
    support = counts.sum(axis=-1)
    recall = np.diagonal(counts, axis1=-2, axis2=-1) / np.maximum(support, 1)
    return (recall * (support > 0)).sum(axis=-1) / (support > 0).sum(axis=-1)


def chance_balanced_accuracy_batch(gold, n_labels: int, train_shares=None):
    """Any prediction that ignores the text scores 1 / (labels present) in expectation."""
    from synthclf import statistics as stats

    return 1.0 / (stats.label_shares(gold, n_labels) > 0).sum(axis=-1)


REGISTER = """
from synthclf import scoring
scoring.METRICS["balanced_accuracy"] = scoring.Metric(
    "balanced_accuracy", "balanced accuracy", "test_metric_registry:balanced_accuracy_batch",
    "test_metric_registry:chance_balanced_accuracy_batch")
"""

# Run in a fresh interpreter that registers the metric before any other synthclf module is imported,
# as an edit to scoring.py would: metrics.py builds its schemas from the registry when it is imported.
CONSUMERS = REGISTER + """
import json
import numpy as np
from synthclf import statistics as stats
from synthclf.analysis import analyze, instance, report
from synthclf.config import Params
from synthclf.metrics import EvaluateMetrics
from synthclf.training.evaluate import score_source

rng = np.random.default_rng(0)
labels = ["ham", "spam"]
gold = rng.integers(0, 2, 60)
units = {f"real/r{r}": np.where(rng.random(60) < 0.8, gold, 1 - gold) for r in range(2)}
units |= {f"zero_shot@10/r{r}": np.where(rng.random(60) < 0.6, gold, 1 - gold) for r in range(2)}
rows = [{"label": labels[g], "pred": {unit: labels[p[i]] for unit, p in units.items()}} for i, g in enumerate(gold)]

metrics = score_source(rows, labels, "real", 0.95, 200, 0)
checked = EvaluateMetrics.model_validate(metrics).model_dump()
real = np.stack([units["real/r0"], units["real/r1"]])
syn = np.stack([units["zero_shot@10/r0"], units["zero_shot@10/r1"]])
params = Params.model_validate({"tasks": ["sms_spam"], "sources": ["real"],
                                "split": {"sms_spam": {"train_size": 100, "test_size": 60, "pool_size": 10}},
                                "generate": {"settings": ["zero_shot"], "per_class": 10}, "compare": {"sizes": [5]}})
summary = {"confidence": 0.95, "tasks": {"sms_spam": {"level": 1, "n_test": 60, "chance_macro_f1": 0.3,
                                                      "real": analyze.source_scores(checked)}}}
section = report.scores_section(summary, params, ["sms_spam"])
print(json.dumps({
    "evaluate": sorted(checked), "point": sorted(checked["points"]["real"]),
    "unit": sorted(checked["units"]["real/r0"]),
    "score": stats.score_interval(gold, real, 2, metric="balanced_accuracy").as_dict(),
    "gap": stats.difference_interval(gold, real, syn, 2, metric="balanced_accuracy").as_dict(),
    "chance": stats.chance("balanced_accuracy", gold, 2),
    "analyze": sorted(analyze.source_scores(checked)), "gap_key": analyze.gap_key("zero_shot", "balanced_accuracy"),
    "instance": sorted(instance.curve(gold, np.ones(60), real, 2, [0.5])[0]),
    "report": [block for block in section.blocks if isinstance(block, str)],
}))
"""


@pytest.fixture(scope="module")
def third_metric() -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]))
    result = subprocess.run([sys.executable, "-c", CONSUMERS], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


KEYS = ["balanced_accuracy", "balanced_accuracy_high", "balanced_accuracy_low", "balanced_accuracy_std"]


def test_evaluate_scores_a_registered_metric_and_its_schema_requires_it(third_metric):
    assert set(KEYS) <= set(third_metric["evaluate"])          # the headline point's scores
    assert set(KEYS) <= set(third_metric["point"])             # every curve point
    assert "balanced_accuracy" in third_metric["unit"]          # every training unit
    assert {"macro_f1", "accuracy"} <= set(third_metric["unit"])   # and the others are still there


def test_the_statistics_give_it_intervals_and_chance(third_metric):
    score, gap = third_metric["score"], third_metric["gap"]
    assert 0.7 < score["value"] < 0.9 and score["low"] < score["value"] < score["high"] <= 1.0
    assert gap["value"] > 0 and gap["n_replicates"] == 2
    assert third_metric["chance"] == pytest.approx(0.5)


def test_analyze_and_the_report_carry_it(third_metric):
    assert set(KEYS) <= set(third_metric["analyze"])
    assert third_metric["gap_key"] == "gap_zero_shot_balanced_accuracy"   # the headline metric's stays gap_zero_shot
    assert "balanced_accuracy" in third_metric["instance"]
    assert "**Balanced accuracy**" in third_metric["report"]


def test_an_unregistered_metric_is_an_error_not_a_fallback():
    """The old switch scored any name but macro_f1 as accuracy."""
    from synthclf import statistics as stats

    gold = np.array([0, 1, 0, 1])
    with pytest.raises(ValueError, match="unknown metric 'f2'; use one of macro_f1, accuracy"):
        stats.score_interval(gold, gold[None, :], 2, metric="f2")
    with pytest.raises(ValueError, match="unknown metric"):
        stats.metric_batch("f2", gold, gold, 2)


def test_registered_functions_match_the_statistics():
    """The registry calls the same functions the statistics tests pin down (no second implementation)."""
    from synthclf import scoring
    from synthclf import statistics as stats

    gold, pred = np.array([0, 1, 2, 2, 1, 0]), np.array([0, 2, 2, 2, 1, 1])
    assert scoring.METRICS["macro_f1"].scores(gold, pred, 3) == stats.macro_f1_batch(gold, pred, 3)
    assert scoring.METRICS["accuracy"].scores(gold, pred, 3) == stats.accuracy_batch(gold, pred)
    assert scoring.METRICS["macro_f1"].chance_scores(gold, 3) == stats.chance_macro_f1_batch(gold, 3)
    assert scoring.HEADLINE in scoring.METRICS and scoring.AGREEMENT in scoring.METRICS


# --- nobody else spells a metric -----------------------------------------------------------------

REGISTRY = PACKAGE / "scoring.py"
KEY = re.compile(r"[\w.@+]*(macro_f1|accuracy)[\w.@+]*")
# Not a test-set score: a linear head's fit on its own training data (sklearn's `score`), logged while training.
TRAINING_DIAGNOSTICS = {"train_accuracy"}


def metric_keys_in(path: Path) -> list[str]:
    """String constants that are (part of) a key naming a metric, docstrings and prose aside."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    name = path.relative_to(PACKAGE) if path.is_relative_to(PACKAGE) else path.name
    return [f"{name}:{node.lineno}: {node.value!r}" for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and KEY.fullmatch(node.value) and node.value not in TRAINING_DIAGNOSTICS]


def test_no_module_but_the_registry_names_a_metric():
    found = [hit for path in sorted(PACKAGE.rglob("*.py")) if path != REGISTRY for hit in metric_keys_in(path)]
    assert not found, f"metric keys spelled outside scoring.py (read scoring.METRICS / HEADLINE instead): {found}"


def test_the_check_finds_a_spelled_metric(tmp_path):
    module = tmp_path / "sample.py"
    module.write_text('"""Docstring: macro_f1 is fine here."""\nKEY = f"{x}_accuracy"\nTEXT = "accuracy rises"\n',
                      encoding="utf-8")
    assert [hit.split(": ", 1)[1] for hit in metric_keys_in(module)] == ["'_accuracy'"]


# --- the headline point ----------------------------------------------------------------------------

def test_one_rule_names_each_sources_headline_point():
    from synthclf.config import load_params

    params = load_params(PACKAGE.parents[1] / "params.yaml")
    per_class = params.generate.per_class
    assert params.headline_point("real") == "real"
    assert params.headline_point("zero_shot") == f"zero_shot@{per_class}"
    assert params.headline_point("few_shot+real100") == "few_shot+real100"
