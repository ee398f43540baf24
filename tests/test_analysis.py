"""analyze on a synthetic project whose every score is known (tests/test_analysis_fixtures.py):
gaps, fair gaps, shares, exchange rates, verdicts, findings, instance curves, Bradley-Terry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from synthclf.analysis import analyze, instance
from synthclf import statistics as stats
from synthclf.errors import SynthclfError
from synthclf.tasks import load_card
from test_analysis_fixtures import (FEW_SHOT_GAP, LEVELS, MATCHED_REAL, MIX_GAP, N_TEST, REAL_F1, TRAIN_SIZE,
                                    make_params, project)  # noqa: F401


def run_analyze(**analyze_params) -> dict:
    analyze.run(make_params(**analyze_params))
    return json.loads(Path("metrics/summary.json").read_text())


def chance(task: str) -> float:
    """Best constant predictor on a balanced test set of L labels: F1 2p/(1+p) on one label of L."""
    share = 1 / len(load_card(task).label_names)
    return 2 * share / (1 + share) / len(load_card(task).label_names)


# --- instance level -------------------------------------------------------------------------------

def test_instance_curve_known_answers_and_one_macro_f1():
    gold = np.array([0, 0, 1, 1, 2, 0])
    preds = np.array([[0, 1, 1, 1, 0, 0], [0, 0, 1, 2, 2, 0]])
    agreement = np.array([0.5, 0.6, 0.9, 1.0, 1.0, np.nan])
    rows = {row["gamma"]: row for row in instance.curve(gold, agreement, preds, 3, [1.0, 0.5, 0.9, 1.01])}
    assert [rows[g]["n"] for g in (0.5, 0.9, 1.0, 1.01)] == [5, 3, 2, 0]
    assert rows[0.5]["accuracy"] == pytest.approx((3 / 5 + 4 / 5) / 2)
    assert rows[1.0]["accuracy"] == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert rows[1.01]["accuracy"] is None and rows[1.01]["macro_f1"] is None
    # the project's one Macro-F1: over all the card's labels, as scikit-learn with labels given
    kept = agreement >= 0.9
    expected = np.mean([f1_score(gold[kept], row[kept], labels=[0, 1, 2], average="macro", zero_division=0)
                        for row in preds])
    assert rows[0.9]["macro_f1"] == pytest.approx(expected)


# --- analyze --------------------------------------------------------------------------------------

def test_scores_gaps_and_fair_gaps_are_the_known_differences(project):
    summary = run_analyze()
    assert summary["n_tasks"] == 6 and "missing" not in summary
    for task, level in LEVELS.items():
        block = summary["tasks"][task]
        assert block["real"]["macro_f1"] == pytest.approx(REAL_F1)
        assert block["real"]["macro_f1_low"] < REAL_F1 < block["real"]["macro_f1_high"]
        assert block["gap_zero_shot"]["value"] == pytest.approx(0.1 * level, abs=1e-6)
        assert block["gap_few_shot"]["value"] == pytest.approx(FEW_SHOT_GAP[task], abs=1e-6)
        assert block["gap_few_shot+real100"]["value"] == pytest.approx(MIX_GAP[task], abs=1e-6)
        # fair: against real data of the same size (real@20 scores MATCHED_REAL[20])
        assert block["fair_gap_zero_shot"]["value"] == pytest.approx(MATCHED_REAL[20] - (REAL_F1 - 0.1 * level),
                                                                     abs=1e-6)
        gap = block["gap_zero_shot"]
        assert gap["low"] < gap["value"] < gap["high"] and gap["significant"] == (gap["low"] > 0)
        assert gap["n_items"] == N_TEST and gap["n_replicates"] == 2
    assert summary["tasks"]["seinfeld_humor"]["gap_zero_shot"]["significant"]     # 50 points on 120 items


def test_share_recovered_is_lift_over_chance(project):
    summary = run_analyze()
    for task, level in LEVELS.items():
        block = summary["tasks"][task]
        assert block["chance_macro_f1"] == pytest.approx(chance(task), abs=1e-6)
        synthetic = REAL_F1 - 0.1 * level
        expected = (synthetic - chance(task)) / (REAL_F1 - chance(task))
        assert block["share_zero_shot"]["value"] == pytest.approx(expected, abs=1e-6)
        assert block["share_zero_shot"]["low"] < expected < block["share_zero_shot"]["high"]
    assert summary["tasks"]["trec"]["share_few_shot"]["value"] == pytest.approx(1.0)


def test_exchange_rate_inverts_the_real_curve(project):
    """Real curve: 5 -> 0.6, 10 -> 0.7, 20 -> 0.8, all data (TRAIN_SIZE / labels per label) -> 0.9."""
    tasks = run_analyze()["tasks"]
    trec, sms, tweets, nyt = (tasks[t]["exchange_zero_shot"] for t in ("trec", "sms_spam", "vader_tweets", "vader_nyt"))
    assert trec["value"] == pytest.approx(20) and trec["censored"] == "="          # 0.8 = real@20
    assert sms["value"] == pytest.approx(10) and sms["synthetic_per_real"] == pytest.approx(2.0)
    assert tweets["value"] == pytest.approx(5)
    assert nyt["value"] == pytest.approx(5) and nyt["censored"] == "<="           # 0.5 is below real@5
    assert trec["low"] <= trec["value"] <= trec["high"]
    few = tasks["trec"]["exchange_few_shot"]                                       # 0.9 = all real data
    assert few["value"] == pytest.approx(TRAIN_SIZE / len(load_card("trec").label_names))
    # the reverse: synthetic per label needed to match real@5 (0.6); trec's zero-shot@5 is 0.7 already
    assert trec["synthetic_needed"] == pytest.approx(5) and trec["real_reference"] == 5


def test_verdicts_follow_the_thresholds(project):
    summary = run_analyze()
    assert summary["verdicts"] == {"trec": "replace", "sms_spam": "augment", "rt_sentiment": "augment",
                                   "vader_tweets": "do_not_use", "vader_nyt": "do_not_use",
                                   "seinfeld_humor": "do_not_use"}
    sms = summary["tasks"]["sms_spam"]["verdict"]
    assert sms["real_needed"] == 100 and sms["setting"] == "few_shot+real100"
    assert sms["text"].startswith("augment with 100 real")


def test_a_task_at_chance_gets_no_verdict(tmp_path, monkeypatch):
    from test_analysis_fixtures import build_project

    monkeypatch.chdir(tmp_path)
    build_project(tmp_path, with_optional=False, overrides={("seinfeld_humor", "real"): 0.35})
    block = run_analyze()["tasks"]["seinfeld_humor"]
    assert block["real_lift"] < 0.05 and block["verdict"]["decision"] == "undecided"
    assert block["share_zero_shot"]["value"] is None          # undefined, not a tiny number


def test_correlations_are_permutation_tests_over_tasks(project):
    correlation = run_analyze()["correlation"]
    zero = correlation["gap_zero_shot"]
    assert zero["n"] == 6 and zero["spearman"] == pytest.approx(1.0)
    levels = list(LEVELS.values())   # two tasks share level 2: 4 of the 720 pairings tie the observed rho
    assert zero["p"] == pytest.approx(stats.correlation_test(levels, [0.1 * level for level in levels])["p"], abs=1e-6)
    assert zero["p"] == pytest.approx(4 / 720, abs=1e-6)
    assert "exact" in zero["method"]
    assert correlation["unrecovered_zero_shot"]["spearman"] == pytest.approx(1.0)


def test_findings_state_their_status_with_the_statistic(project):
    findings = run_analyze()["findings"]
    order = findings["order"]
    assert order["status"] == "reproduced"
    assert order["few_shot_minus_zero_shot"]["value"] == pytest.approx(
        np.mean([0.1 * level - FEW_SHOT_GAP[t] for t, level in LEVELS.items()]), abs=1e-6)
    assert findings["subjectivity"]["status"] == "reproduced" and findings["subjectivity"]["n"] == 6
    agreement = findings["agreement"]
    assert agreement["status"] in {"reproduced", "partly reproduced", "not reproduced"}
    assert set(agreement["per_task"]["zero_shot"]) == {"vader_tweets", "vader_nyt"}


def test_aggregates_by_level_are_flat_numbers(project):
    summary = run_analyze()
    two = summary["by_level"]["level_2"]                                # sms_spam and rt_sentiment
    assert two["n_tasks"] == 2 and two["real_macro_f1"] == pytest.approx(REAL_F1)
    assert two["gap_zero_shot"] == pytest.approx(0.2)
    assert two["gap_few_shot"] == pytest.approx((FEW_SHOT_GAP["sms_spam"] + FEW_SHOT_GAP["rt_sentiment"]) / 2)
    assert all(isinstance(v, int | float) for block in summary["by_level"].values() for v in block.values()
               if v is not None)


def test_plot_files(project):
    summary = run_analyze()
    assert sorted(p.name for p in Path("plots/instance").iterdir()) == ["vader_nyt.json", "vader_tweets.json"]
    assert sorted(p.stem for p in Path("plots/curves").iterdir()) == sorted(LEVELS)
    curve = json.loads(Path("plots/curves/sms_spam.json").read_text())
    matched = {row["size"]: row["macro_f1"] for row in curve if row["source"] == "real (matched to zero_shot)"}
    assert matched == pytest.approx(MATCHED_REAL)
    gains = summary["instance"]["vader_tweets"]["zero_shot"]
    assert gains["accuracy_gain"] > 0                      # errors sit on the contested items
    gap_rows = json.loads(Path("plots/gap_vs_subjectivity.json").read_text())
    assert len(gap_rows) == 18 and [row["level"] for row in gap_rows] == sorted(row["level"] for row in gap_rows)


def test_rerun_reproduces_outputs_byte_for_byte(project):
    outputs = [Path("metrics/summary.json"), Path("plots/gap_vs_subjectivity.json"),
               Path("plots/instance/vader_tweets.json"), Path("plots/curves/trec.json")]
    run_analyze()
    first = [path.read_bytes() for path in outputs]
    run_analyze()
    assert [path.read_bytes() for path in outputs] == first


def test_missing_sources_are_listed_and_no_metrics_is_an_error(project):
    Path("dvclive/evaluate/seinfeld_humor/zero_shot/metrics.json").unlink()
    summary = run_analyze()
    assert summary["missing"] == "seinfeld_humor/zero_shot"
    assert "gap_zero_shot" not in summary["tasks"]["seinfeld_humor"]
    assert summary["correlation"]["gap_zero_shot"]["n"] == 5
    for path in Path("dvclive/evaluate").rglob("metrics.json"):
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
    assert bt["agreement_with_cards"]["spearman"] > 0.9
    assert bt["correlation"]["gap_zero_shot"]["spearman"] > 0.9


def test_absent_judgments_file_is_skipped(project):
    assert "bradley_terry" not in run_analyze(judgments_file="nowhere.csv")


def test_a_size_real_data_cannot_match_has_no_fair_gap(project):
    """At the paper profile's scale the real split cannot match per_class: train leaves out real@n
    there, and analyze keeps the gap to all real data and the exchange rate but no fair gap."""
    from synthclf.metrics import EvaluateMetrics, write_metrics
    from synthclf.training.evaluate import score_source
    from test_analysis_fixtures import PER_CLASS, make_params

    predictions = Path("data/predictions/trec/zero_shot.jsonl")
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    for row in rows:
        row["pred"] = {unit: label for unit, label in row["pred"].items() if not unit.startswith(f"real@{PER_CLASS}/")}
    predictions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    params = make_params()
    write_metrics("dvclive/evaluate/trec/zero_shot/metrics.json",
                  score_source(rows, load_card("trec").label_names, f"zero_shot@{PER_CLASS}",
                               params.compare.confidence, params.compare.bootstrap_resamples, params.seed),
                  EvaluateMetrics)
    trec = run_analyze()["tasks"]["trec"]
    assert "fair_gap_zero_shot" not in trec and "fair_gap_few_shot" in trec
    assert trec["gap_zero_shot"]["value"] is not None and trec["exchange_zero_shot"]["value"] is not None
    from synthclf.analysis import report

    report.run(make_params())                                   # the report shows it as n/a, no crash
    assert "trec" in Path("reports/report.md").read_text()
