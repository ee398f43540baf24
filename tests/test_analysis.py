"""analyze on a synthetic project whose every score is known (tests/test_analysis_fixtures.py):
gaps, fair gaps, shares, exchange rates, verdicts, findings, instance curves, Bradley-Terry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import f1_score

from synthclf import statistics as stats
from synthclf.analysis import analyze, instance
from synthclf.errors import SynthclfError
from synthclf.tasks import load_card

from test_analysis_fixtures import (
    FEW_SHOT_GAP,
    LEVELS,
    MATCHED_REAL,
    MIX_GAP,
    N_TEST,
    REAL_100,
    REAL_F1,
    SPREAD,
    TRAIN_SIZE,
    build_project,
    make_params,
    project,  # noqa: F401 (the fixture)
    write_source,
)


def run_analyze(**analyze_params) -> dict:
    analyze.run(make_params(**analyze_params))
    return json.loads(Path("metrics/summary.json").read_text())


def chance(task: str) -> float:
    """Guessing by balanced training shares on a balanced test set of L labels: every label's F1 is
    1/L, so Macro-F1 1/L; the best constant predictor, 2/(L+1)/L, scores less for every L >= 2."""
    labels = len(load_card(task).label_names)
    return max(1 / labels, 2 / (labels + 1) / labels)


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
    assert summary["tasks"]["trec"]["gap_zero_shot"]["significant"]               # 10 points, no replicate spread


def test_replicate_variance_enters_every_interval(project):
    """Where the fixture's replicates disagree (SPREAD) the per-replicate gaps differ by 4s: the gap's
    standard error is at least the replicate part, sd / sqrt(R), recomputed here by hand."""
    tasks = run_analyze()["tasks"]
    for task, spread in SPREAD.items():
        block = tasks[task]
        level = LEVELS[task]
        synthetic = REAL_F1 - 0.1 * level
        per_replicate = [(REAL_F1 - spread) - (synthetic + spread), (REAL_F1 + spread) - (synthetic - spread)]
        replicate_se = np.std(per_replicate, ddof=1) / np.sqrt(2)
        assert block["gap_zero_shot"]["se"] >= replicate_se - 1e-9
        assert block["gap_zero_shot"]["value"] == pytest.approx(0.1 * level, abs=1e-6)
        # with 1 degree of freedom (t = 12.7) the interval is far wider than a task without spread
        assert block["gap_zero_shot"]["high"] - block["gap_zero_shot"]["low"] > \
            3 * (tasks["vader_nyt"]["gap_zero_shot"]["high"] - tasks["vader_nyt"]["gap_zero_shot"]["low"])
        assert block["share_few_shot"]["se"] > 2 * tasks["vader_nyt"]["share_few_shot"]["se"]
    # vader_tweets' zero-shot: replicate 0 (0.65 on a real curve 0.55/0.65/...) is worth 10 real per label,
    # replicate 1 (0.55 below its curve's 0.65) at most 5: log2 values 3.32 and 2.32
    exchange = tasks["vader_tweets"]["exchange_zero_shot"]
    assert exchange["se"] >= np.std(np.log2([10, 5]), ddof=1) / np.sqrt(2) - 1e-9


def test_share_recovered_is_lift_over_chance(project):
    summary = run_analyze()
    for task, level in LEVELS.items():
        block = summary["tasks"][task]
        assert block["chance_macro_f1"] == pytest.approx(chance(task), abs=1e-6)
        synthetic = REAL_F1 - 0.1 * level
        expected = (synthetic - chance(task)) / (REAL_F1 - chance(task))
        assert block["share_zero_shot"]["value"] == pytest.approx(expected, abs=1e-6)
        assert block["share_zero_shot"]["low"] < expected < block["share_zero_shot"]["high"]
        assert block["chance_basis"] == "guessing by training shares"
    assert summary["tasks"]["trec"]["share_few_shot"]["value"] == pytest.approx(1.0)


def test_chance_is_guessing_by_the_training_shares_when_that_is_stronger(tmp_path, monkeypatch):
    """seinfeld_humor is balanced and binary: the best constant scores 1/3, guessing 1/2. A real
    classifier at 53.3 beats the constant by 20 points but guessing by only 3.3 (< min_real_lift 5):
    undecided, and no share (the old chance, 1/3, gave a share and a verdict)."""
    monkeypatch.chdir(tmp_path)
    build_project(tmp_path, with_optional=False, overrides={("seinfeld_humor", "real"): 32 / 60})
    block = run_analyze()["tasks"]["seinfeld_humor"]
    assert block["chance_macro_f1"] == pytest.approx(0.5)
    assert block["real_lift"] == pytest.approx(32 / 60 - 0.5, abs=1e-6)
    assert block["verdict"]["decision"] == "undecided" and "beats chance by only 3.3" in block["verdict"]["text"]
    assert block["share_zero_shot"]["value"] is None and block["share_few_shot"]["value"] is None


def test_chance_uses_the_training_shares_not_the_test_shares(project):
    """Unbalanced training data (sms_spam 500 ham : 100 spam) guessed on a balanced test set:
    F1_ham = 2 (1/2)(5/6) / (1/2 + 5/6) = 0.625, F1_spam = 2 (1/2)(1/6) / (1/2 + 1/6) = 0.25."""
    from synthclf.metrics import TrainMetrics, read_metrics, write_metrics

    path = Path("dvclive/train/sms_spam/real/metrics.json")
    metrics = read_metrics(path, TrainMetrics).model_dump()
    for unit in metrics["units"].values():
        unit["label_counts"] = {"ham": 500, "spam": 100}
    write_metrics(path, metrics, TrainMetrics)
    block = run_analyze()["tasks"]["sms_spam"]
    assert block["chance_macro_f1"] == pytest.approx((0.625 + 0.25) / 2, abs=1e-6)
    # all real data sits on the per-label axis at its largest label's count, not at n_train / L = 300
    assert block["exchange_few_shot"]["real_sizes"][-1] == pytest.approx(500)


def test_exchange_rate_inverts_the_real_curve(project):
    """Real curve: 5 -> 0.6, 10 -> 0.7, 20 -> 0.8, real@50 alone -> 0.85, all data (the largest label's
    count: TRAIN_SIZE / labels per label here) -> 0.9."""
    tasks = run_analyze()["tasks"]
    trec, sms, tweets, nyt = (tasks[t]["exchange_zero_shot"] for t in ("trec", "sms_spam", "vader_tweets", "vader_nyt"))
    assert trec["value"] == pytest.approx(20) and trec["censored"] == "="          # 0.8 = real@20
    assert trec["bracket"] == [20, 20] and not trec["interpolated"] and not trec["one_sided"]
    assert trec["real_sizes"] == [5, 10, 20, 50, 100]
    assert sms["value"] == pytest.approx(10) and sms["synthetic_per_real"] == pytest.approx(2.0)
    assert tweets["value"] == pytest.approx(5)
    assert trec["low"] <= trec["value"] <= trec["high"]
    # censored below the smallest real size: a one-sided upper bound, never a two-sided interval
    assert nyt["value"] == pytest.approx(5) and nyt["censored"] == "<="           # 0.5 is below real@5
    assert nyt["one_sided"] and nyt["low"] == 0 and nyt["high"] >= 5
    assert "at most" in nyt["meaning"]
    few = tasks["trec"]["exchange_few_shot"]                                       # 0.9 = all real data
    assert few["value"] == pytest.approx(TRAIN_SIZE / len(load_card("trec").label_names))
    # the reverse: synthetic per label needed to match real@5 (0.6); trec's zero-shot@5 is 0.7 already
    assert trec["synthetic_needed"] == pytest.approx(5) and trec["real_reference"] == 5


def test_an_exchange_rate_read_across_a_wide_gap_is_flagged_interpolated(project):
    """rt_sentiment's few-shot at 53/60 lies between real@50 (0.85) and all real data (300 per label,
    0.90): six times apart, beyond compare.max_interpolation_fold (3)."""
    write_source(Path.cwd(), make_params(), "rt_sentiment", "few_shot", {("rt_sentiment", "few_shot@20"): 53 / 60})
    block = run_analyze()["tasks"]["rt_sentiment"]["exchange_few_shot"]
    assert block["censored"] == "=" and 50 < block["value"] < 300
    assert block["bracket"] == [50, 300] and block["interpolated"] is True
    assert "interpolated in log size between the measured real points 50 and 300" in block["meaning"]
    assert "interpolated between real 50 and 300" in run_analyze()["tasks"]["rt_sentiment"]["verdict"]["worth"]


def test_verdicts_follow_the_thresholds(project):
    summary = run_analyze()
    assert summary["verdicts"] == {"trec": "replace", "sms_spam": "augment", "rt_sentiment": "augment",
                                   "vader_tweets": "undecided", "vader_nyt": "do_not_use",
                                   "seinfeld_humor": "undecided"}
    sms = summary["tasks"]["sms_spam"]["verdict"]
    assert sms["real_needed"] == 100 and sms["setting"] == "few_shot+real100"
    assert sms["text"].startswith("augment with 100 real: few_shot+real100 comes within 1 Macro-F1 point(s)")
    assert "beats its 100 real alone by +15.0" in sms["text"]
    # the mix against its own 100 real alone (REAL_100), in both metrics
    gain = summary["tasks"]["sms_spam"]["gain_few_shot+real100"]
    assert gain["value"] == pytest.approx(REAL_F1 - REAL_100, abs=1e-6) and gain["low"] > 0
    assert summary["tasks"]["sms_spam"]["gain_few_shot+real100_accuracy"]["value"] == pytest.approx(0.15, abs=1e-6)
    # not a replacement still says what the synthetic data is worth
    nyt = summary["tasks"]["vader_nyt"]["verdict"]
    assert nyt["text"].startswith("do not use in place of real data: few_shot recovers")
    assert "few_shot data: 20 synthetic ≈ 14 real per label" in nyt["text"]       # 0.75: between real@10 and @20
    # undecided names the interval that is too wide and what would settle it
    tweets = summary["tasks"]["vader_tweets"]["verdict"]
    assert tweets["open"] and "few_shot's share" in tweets["open"][0] and "straddles 90%" in tweets["open"][0]
    assert "replicates" in tweets["open"][0] and "test items" in tweets["open"][0]


def test_augment_needs_the_mix_to_beat_its_real_alone(project):
    """sms_spam's mix equals all real data, but so do its 100 real examples alone: the synthetic
    part adds nothing shown, so the verdict is not augment."""
    write_source(Path.cwd(), make_params(), "sms_spam", "few_shot+real100", {("sms_spam", "real100"): REAL_F1})
    block = run_analyze()["tasks"]["sms_spam"]
    assert block["gain_few_shot+real100"]["value"] == pytest.approx(0.0, abs=1e-6)
    assert block["verdict"]["decision"] != "augment"


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
    # accuracy rises everywhere; "steeper" pools 2 tasks with votes, fewer than compare.min_tasks (3)
    assert agreement["status"] == "partly reproduced"
    assert agreement["steeper_than_real"]["zero_shot"]["testable"] is False
    assert agreement["steeper_than_real"]["zero_shot"]["low"] is None
    assert set(agreement["per_task"]["zero_shot"]) == {"vader_tweets", "vader_nyt"}


def test_the_order_finding_counts_the_spread_between_tasks(project):
    """few - zero per task is 0.1 x level - FEW_SHOT_GAP: the interval is the t interval over the six
    task values (df 5), not the fixed-effect sqrt(sum se^2) / T."""
    from scipy.stats import t as t_distribution

    order = run_analyze()["findings"]["order"]
    values = [0.1 * level - FEW_SHOT_GAP[t] for t, level in LEVELS.items()]
    half = t_distribution.ppf(0.975, 5) * np.std(values, ddof=1) / np.sqrt(6)
    block = order["few_shot_minus_zero_shot"]
    assert block["low"] == pytest.approx(np.mean(values) - half, abs=1e-6)
    assert block["high"] == pytest.approx(np.mean(values) + half, abs=1e-6)
    assert set(block["leave_one_out"]) == set(LEVELS) and order["driven_by"] == []


def test_one_task_against_the_order_makes_it_not_reproduced_or_names_it(tmp_path, monkeypatch):
    """Two tasks (below compare.min_tasks): not testable, however clear each task is. Then three,
    where one task carries the whole effect: leaving it out changes the conclusion, and it is named."""
    monkeypatch.chdir(tmp_path)
    build_project(tmp_path, with_optional=False)
    params = make_params()
    params.tasks = ["trec", "seinfeld_humor"]
    analyze.run(params)
    order = json.loads(Path("metrics/summary.json").read_text())["findings"]["order"]
    assert order["status"] == "not testable" and order["few_shot_minus_zero_shot"]["low"] is None
    assert "compare.min_tasks" in order["why"]
    params.compare.min_tasks = 2
    analyze.run(params)
    order = json.loads(Path("metrics/summary.json").read_text())["findings"]["order"]
    assert order["status"] != "not testable" and order["few_shot_minus_zero_shot"]["testable"]


def test_the_subjectivity_statistic_is_chosen_in_params_and_every_correlation_is_listed(project):
    summary = run_analyze()
    assert set(summary["correlation"]) == {"gap_zero_shot", "gap_few_shot", "gap_few_shot+real100",
                                           "fair_gap_zero_shot", "fair_gap_few_shot", "unrecovered_zero_shot",
                                           "unrecovered_few_shot"}
    finding = summary["findings"]["subjectivity"]
    assert finding["statistic"] == "unrecovered_zero_shot" and finding["critical_rho"] == pytest.approx(0.885714)
    assert "only rho <= -0.89 or rho >= 0.89 can be significant at 0.05" in finding["note"]
    assert "gap_zero_shot" in finding["other_statistics"]
    params = make_params()
    params.compare.gap_statistic = "gap_few_shot"
    analyze.run(params)
    finding = json.loads(Path("metrics/summary.json").read_text())["findings"]["subjectivity"]
    assert finding["statistic"] == "gap_few_shot"
    assert finding["spearman"] == summary["correlation"]["gap_few_shot"]["spearman"]
    params.compare.gap_statistic = "gap_nothing"
    analyze.run(params)
    finding = json.loads(Path("metrics/summary.json").read_text())["findings"]["subjectivity"]
    assert finding["status"] == "not testable" and "not computed" in finding["why"]


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
