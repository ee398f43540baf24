"""Instance-level curves on a hand-made predictions file; analyze's summary on a synthetic project."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy.stats import kendalltau, spearmanr
from sklearn.metrics import f1_score

from synthclf.analysis import analyze, instance
from synthclf.errors import SynthclfError
from test_analysis_fixtures import FEW_SHOT_GAP, LEVELS, make_params, prediction_records, project  # noqa: F401


# --- instance level -------------------------------------------------------------------------------

def test_instance_curve_known_answers():
    """Worked by hand from PREDICTIONS (two seeds, the item without votes never counts)."""
    curve = {point["gamma"]: point for point in instance.agreement_curve(prediction_records(), [1.0, 0.5, 0.8, 0.9])}
    assert list(curve) == [0.5, 0.8, 0.9, 1.0]
    assert [curve[g]["n"] for g in curve] == [5, 3, 2, 2]
    assert curve[0.5]["accuracy"] == pytest.approx(0.6)
    assert curve[0.5]["macro_f1"] == pytest.approx(7 / 12)
    assert curve[0.8]["accuracy"] == pytest.approx(0.5)
    assert curve[0.8]["macro_f1"] == pytest.approx((2 / 3 + 1 / 4) / 2)
    assert curve[1.0]["accuracy"] == pytest.approx(0.75)
    assert curve[1.0]["macro_f1"] == pytest.approx((1 + 1 / 3) / 2)


def test_instance_curve_empty_subset_is_none():
    point = instance.curve_point(prediction_records(), 1.01)
    assert point == {"gamma": 1.01, "n": 0, "accuracy": None, "macro_f1": None}


@pytest.mark.parametrize("seed", ["0", "1"])
def test_macro_f1_matches_sklearn(seed):
    records = [r for r in prediction_records() if "agreement" in r]
    gold, pred = [r["label"] for r in records], [r["pred"][seed] for r in records]
    assert instance.macro_f1(gold, pred) == pytest.approx(f1_score(gold, pred, average="macro"))
    assert instance.macro_f1(["a", "a"], ["b", "b"]) == 0.0


def test_has_agreement():
    assert instance.has_agreement(prediction_records())
    assert not instance.has_agreement([{"id": "x", "label": "a", "pred": {"0": "a"}}])


# --- analyze --------------------------------------------------------------------------------------

def run_analyze(**analyze_params) -> dict:
    analyze.run(make_params(**analyze_params))
    return json.loads(Path("metrics/summary.json").read_text())


def test_summary_scores_and_gaps(project):
    summary = run_analyze()
    assert summary["n_tasks"] == 6 and "missing" not in summary
    trec = summary["tasks"]["trec"]
    assert trec["level"] == 1
    assert trec["real"] == {"macro_f1": 0.9, "macro_f1_std": 0.01, "accuracy": 0.92, "accuracy_std": 0.02}
    for task, level in LEVELS.items():
        block = summary["tasks"][task]
        assert block["gap_zero_shot"] == pytest.approx(0.1 * level, abs=1e-6)
        assert block["gap_few_shot"] == pytest.approx(FEW_SHOT_GAP[task], abs=1e-6)
        assert block["gap_zero_shot_accuracy"] == pytest.approx(0.1 * level, abs=1e-6)


def test_summary_correlations(project):
    correlation = run_analyze()["correlation"]
    zero = correlation["gap_zero_shot"]
    assert zero["n"] == 6 and zero["spearman"] == pytest.approx(1.0) and zero["kendall"] == pytest.approx(1.0)
    tasks = list(LEVELS)
    few = correlation["gap_few_shot"]
    expected_rho = spearmanr([LEVELS[t] for t in tasks], [FEW_SHOT_GAP[t] for t in tasks])
    expected_tau = kendalltau([LEVELS[t] for t in tasks], [FEW_SHOT_GAP[t] for t in tasks])
    assert few["spearman"] == pytest.approx(expected_rho.statistic, abs=1e-6)
    assert few["spearman_p"] == pytest.approx(expected_rho.pvalue, abs=1e-6)
    assert few["kendall"] == pytest.approx(expected_tau.statistic, abs=1e-6)
    assert 0 < few["spearman"] < 1


def test_summary_aggregates_by_level(project):
    summary = run_analyze()
    by_level = summary["by_level"]
    assert sorted(by_level) == ["level_1", "level_2", "level_3", "level_4", "level_5"]
    two = by_level["level_2"]                                # sms_spam and rt_sentiment
    assert two["n_tasks"] == 2
    assert two["real_macro_f1"] == pytest.approx(0.9)
    assert two["zero_shot_macro_f1"] == pytest.approx(0.7)
    assert two["gap_zero_shot"] == pytest.approx(0.2)
    assert two["gap_few_shot"] == pytest.approx((0.02 + 0.08) / 2)
    assert by_level["level_5"]["few_shot_accuracy"] == pytest.approx(0.9 - 0.12 + 0.02)
    assert summary["overall"]["gap_zero_shot"] == pytest.approx(0.1 * sum(LEVELS.values()) / 6, abs=1e-6)
    # flat enough for dvc exp show: every leaf under by_level is a number
    assert all(isinstance(v, int | float) for block in by_level.values() for v in block.values())


def test_instance_plots_and_gap_plot(project):
    summary = run_analyze()
    assert sorted(p.name for p in Path("plots/instance").iterdir()) == ["vader_tweets.json"]
    rows = json.loads(Path("plots/instance/vader_tweets.json").read_text())
    assert len(rows) == 3 * 4 and set(rows[0]) == {"gamma", "source", "accuracy", "macro_f1", "n"}
    zero = {row["gamma"]: row for row in rows if row["source"] == "zero_shot"}
    assert zero[0.5]["accuracy"] == pytest.approx(0.6) and zero[0.5]["n"] == 5
    gains = summary["instance"]["vader_tweets"]["zero_shot"]
    assert gains["accuracy_gain"] == pytest.approx(0.75 - 0.6)
    assert gains["n_lowest_gamma"] == 5 and gains["n_highest_gamma"] == 2
    gap_rows = json.loads(Path("plots/gap_vs_subjectivity.json").read_text())
    assert len(gap_rows) == 12 and gap_rows[0] == {"task": "trec", "level": 1, "source": "few_shot", "gap": 0.05}
    assert [row["level"] for row in gap_rows] == sorted(row["level"] for row in gap_rows)


def test_rerun_reproduces_outputs_byte_for_byte(project):
    outputs = [Path("metrics/summary.json"), Path("plots/gap_vs_subjectivity.json"),
               Path("plots/instance/vader_tweets.json")]
    run_analyze()
    first = [path.read_bytes() for path in outputs]
    run_analyze()
    assert [path.read_bytes() for path in outputs] == first


def test_missing_sources_are_listed_and_no_metrics_is_an_error(project):
    Path("metrics/evaluate/seinfeld_humor/zero_shot.json").unlink()
    summary = run_analyze()
    assert summary["missing"] == "seinfeld_humor/zero_shot"
    assert "gap_zero_shot" not in summary["tasks"]["seinfeld_humor"]
    assert summary["correlation"]["gap_zero_shot"]["n"] == 5
    for path in Path("metrics/evaluate").rglob("*.json"):
        path.unlink()
    with pytest.raises(SynthclfError, match="dvc repro evaluate"):
        run_analyze()


def test_bradley_terry_in_summary(project, capsys):
    # a consistent ranking in the order of the card levels: the more objective task always wins
    order = sorted(LEVELS, key=lambda t: (LEVELS[t], t))
    lines = ["task_a,task_b,winner,judge"]
    for i, a in enumerate(order):
        for b in order[i + 1:]:
            lines += [f"{a},{b},{a},j1", f"{b},{a},{a},j2"]
    Path("judgments.csv").write_text("\n".join(lines) + "\n")
    bt = run_analyze(judgments_file="judgments.csv", levels=5)["bradley_terry"]
    assert "outside data/judgments/" in capsys.readouterr().err      # DVC would not see it change
    assert bt["n_comparisons"] == 30 and bt["n_judges"] == 2 and bt["converged"] is True
    assert bt["tasks"]["trec"]["level"] == 1 and bt["tasks"]["seinfeld_humor"]["level"] == 5
    assert bt["tasks"]["trec"]["card_level"] == 1
    assert bt["agreement_with_cards"]["spearman"] > 0.9
    assert bt["correlation"]["gap_zero_shot"]["spearman"] > 0.9


def test_absent_judgments_file_is_skipped(project):
    assert "bradley_terry" not in run_analyze(judgments_file="nowhere.csv")
