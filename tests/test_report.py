"""The report: verdict table first, then the study's findings, then the evidence with intervals.

Rendered from the synthetic project of test_analysis_fixtures.py (known scores), through the real
`analyze` stage; Markdown, HTML and valid PNGs; n/a for absent optional inputs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from synthclf.analysis import analyze, report
from synthclf.errors import SynthclfError
from synthclf.metrics import JudgeStats, write_metrics
from synthclf.records import read_json

from test_analysis_fixtures import (
    FEW_SHOT_GAP,
    LEVELS,
    SOURCES,
    build_project,
    make_params,
    project,  # noqa: F401 (the fixture)
    write_source,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
AGREEMENT_FINDING = "Accuracy rises with annotator agreement, more steeply for synthetic-trained models"
ORDER = ["trec", "rt_sentiment", "sms_spam", "vader_tweets", "vader_nyt", "seinfeld_humor"]   # level, then name


def render(params=None):
    params = params or make_params()
    analyze.run(params)
    return report.run(params)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """One project, analysed and reported once, for the tests that only read the report."""
    root = tmp_path_factory.mktemp("report")
    previous = os.getcwd()
    os.chdir(root)
    try:
        build_project(root)
        render()
        yield root
    finally:
        os.chdir(previous)


def section(markdown: str, title_start: str) -> str:
    return markdown.split(f"\n## {title_start}", 1)[1].split("\n## ", 1)[0]


def rows_of(markdown: str, first_cell: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in markdown.splitlines()
            if line.startswith(f"| {first_cell} ")]


def row(markdown: str, first_cell: str) -> list[str]:
    found = rows_of(markdown, first_cell)
    assert found, f"no table row starting with {first_cell!r}"
    return found[0]


def interval(value: float, low: float, high: float, places: int = 1) -> str:
    return f"{100 * value:.{places}f} [{100 * low:.{places}f}, {100 * high:.{places}f}]"


def task_cell(task: str) -> str:
    from synthclf.tasks import load_card

    return f"{load_card(task).title} ({task})"


# --- the verdict table opens the report -----------------------------------------------------------

def test_report_opens_with_the_verdict_table(rendered):
    text = (rendered / "reports/report.md").read_text()
    summary = read_json(rendered / "metrics/summary.json")
    assert re.findall(r"^## (.*)$", text, flags=re.M)[:2] == ["Verdict: can synthetic data replace real data?",
                                                              "Does this run reproduce the study?"]
    verdict = section(text, "Verdict")
    assert ("| Task | Level | Real Macro-F1 | Chance | Best setting | Share of real recovered, % | Exchange rate | "
            "Real examples a mix needs (within 1 pt, beating them alone) | Verdict |") in verdict
    order = [line.split("|")[1].rsplit("(", 1)[1].rstrip(") ") for line in verdict.splitlines()
             if line.startswith("| ") and "(" in line.split("|")[1]]
    assert order == ORDER
    for task in ORDER:
        block = summary["tasks"][task]
        cells = row(verdict, task_cell(task))
        real = block["real"]
        assert cells[1] == str(LEVELS[task])
        assert cells[2] == interval(real["macro_f1"], real["macro_f1_low"], real["macro_f1_high"])
        assert cells[3] == f"{100 * block['chance_macro_f1']:.1f}"
        assert cells[4] == "Few-shot"                        # the fixture's few-shot data is always the better
        share = block["share_few_shot"]
        assert cells[5] == interval(share["value"], share["low"], share["high"], places=0)
        assert cells[8] == block["verdict"]["text"]


def test_verdict_rows_carry_the_known_decisions(rendered):
    verdict = section((rendered / "reports/report.md").read_text(), "Verdict")
    trec = row(verdict, task_cell("trec"))
    assert trec[3] == "16.7"                                  # guessing by six balanced labels: 1/6
    assert trec[5] == "100 [100, 100]"                       # trec's few-shot predictions are real's
    assert trec[6].startswith("20 synthetic ≈ 100 real per label [")     # reaches all real data (100/label)
    assert trec[7] == "0 (synthetic alone)"
    assert trec[8].startswith("replace: few_shot recovers 100%")
    for task in ("sms_spam", "rt_sentiment"):                 # their mix equals real data and beats its real alone
        cells = row(verdict, task_cell(task))
        assert cells[7] == "100 (Few-shot + 100 real)"
        assert cells[8].startswith("augment with 100 real: few_shot+real100 comes within 1 Macro-F1 point(s) of all "
                                   "real data (gap +0.0 [+0.0, +0.0]) and beats its 100 real alone by +15.0 [")
    sms = row(verdict, task_cell("sms_spam"))
    assert sms[6] == "20 synthetic ≈ 20 real per label [20, 20]"          # few-shot 0.80 = real@20
    nyt = row(verdict, task_cell("vader_nyt"))
    assert nyt[7] == "none shown of 100 tested" and nyt[8].startswith("do not use in place of real data:")
    assert "few_shot data: 20 synthetic ≈ 14 real per label" in nyt[8]      # not a replacement, not worthless
    for task in ("vader_tweets", "seinfeld_humor"):           # two replicates that disagree: intervals too wide
        cells = row(verdict, task_cell(task))
        assert cells[8].startswith("undecided: few_shot's share") and "would settle it" in cells[8]
    assert row(verdict, task_cell("seinfeld_humor"))[6].startswith("20 synthetic ≈ 10 real per label")
    assert ("Every verdict stands on an interval (params `compare.verdict`): **replace** when the best setting's "
            "recovered share has its lower 95% bound at or above 90%; **augment with N real** when the smallest "
            "tested mix (synthetic + N real) is shown within 1 Macro-F1 point(s) of all real data") in verdict
    assert "Chance: the stronger of guessing by the real training data's label shares" in verdict


def test_the_verdict_table_renders_for_the_readme(rendered):
    """README's verdict table is regenerated from a committed run's summary, not edited by hand."""
    summary = read_json(rendered / "metrics/summary.json")
    markdown = report.verdict_markdown(summary, make_params())
    assert markdown.startswith("Per task, ordered by subjectivity")
    assert "| Task | Level | Real Macro-F1 | Chance |" in markdown
    assert markdown in (rendered / "reports/report.md").read_text()


def test_censored_exchange_rates_and_an_undecided_task(project):
    """Beyond the tested real sizes the exchange rate shows ≥ / ≤; real data at chance gives no verdict."""
    params = make_params()
    write_source(project, params, "trec", "few_shot", {("trec", "few_shot@20"): 0.95})       # above all real data
    write_source(project, params, "vader_nyt", "few_shot", {("vader_nyt", "few_shot@20"): 0.55})  # below real@5
    write_source(project, params, "seinfeld_humor", "real", {("seinfeld_humor", "real"): 0.35})  # chance: 1/3
    render(params)
    text = Path("reports/report.md").read_text()
    verdict = section(text, "Verdict")
    trec = row(verdict, task_cell("trec"))
    # censored: one-sided bounds, never a two-sided interval
    assert trec[6].startswith("20 synthetic ≥ 100 real per label (lower bound ") and trec[8].startswith("replace:")
    nyt = row(verdict, task_cell("vader_nyt"))
    assert nyt[4] == "Few-shot" and nyt[6].startswith("20 synthetic ≤ 5 real per label (upper bound ")
    seinfeld = row(verdict, task_cell("seinfeld_humor"))
    assert seinfeld[8] == ("undecided: real data beats chance by only -15.0 Macro-F1 points (< 5); "
                           "no comparison is meaningful")
    assert seinfeld[5] == "n/a"                  # no share when real data does not beat chance
    curves = section(text, "Learning curves")
    assert row(curves, task_cell("vader_nyt"))[4] == "> 20 to match 5 real"    # 0.55 never reaches real@5 = 0.60
    findings = section(text, "Does this run")
    assert row(findings, "The gap grows with subjectivity")[4] == "5 tasks"     # the undecided task has no share


# --- the study's findings -------------------------------------------------------------------------

def test_findings_section_states_status_statistic_interval_and_n(rendered):
    text = (rendered / "reports/report.md").read_text()
    summary = read_json(rendered / "metrics/summary.json")
    findings = section(text, "Does this run")
    assert "| Finding | Status | Statistic | 95% interval | n |" in findings
    order = row(findings, "Real > few-shot > zero-shot")
    real_minus_few = sum(FEW_SHOT_GAP.values()) / 6
    few_minus_zero = sum(0.1 * level for level in LEVELS.values()) / 6 - real_minus_few
    assert order[1] == "reproduced"
    assert order[2] == (f"real − few-shot {100 * real_minus_few:.1f} points; few-shot − zero-shot "
                        f"{100 * few_minus_zero:.1f} points (mean Macro-F1 difference over tasks, t interval over "
                        "tasks)")
    pooled = summary["findings"]["order"]
    assert order[3] == (f"real − few-shot [{100 * pooled['real_minus_few_shot']['low']:.1f}, "
                        f"{100 * pooled['real_minus_few_shot']['high']:.1f}]; few-shot − zero-shot "
                        f"[{100 * pooled['few_shot_minus_zero_shot']['low']:.1f}, "
                        f"{100 * pooled['few_shot_minus_zero_shot']['high']:.1f}]")
    assert order[4] == "6 tasks"
    subjectivity = row(findings, "The gap grows with subjectivity")
    p = summary["findings"]["subjectivity"]["p"]
    assert subjectivity[1] == "reproduced"
    assert subjectivity[2].startswith(f"Spearman ρ = 1.00, permutation p = {p:.3f} (unrecovered_zero_shot against "
                                      "level, chosen in params `compare.gap_statistic`")
    assert subjectivity[2].endswith("with n = 6 tasks only rho <= -0.89 or rho >= 0.89 can be significant at 0.05")
    assert subjectivity[4] == "6 tasks"
    agreement = row(findings, AGREEMENT_FINDING)
    # two tasks with votes: "steeper" pooled over tasks needs compare.min_tasks (3)
    assert agreement[1] == "partly reproduced"
    # zero-shot's accuracy gain (γ 0.5 -> 0.9) minus real's: 30 points on vader_tweets, 40 on vader_nyt
    assert "accuracy rises for 8 of 8 sources" in agreement[2] and "Zero-shot 35.0" in agreement[2]
    assert "needs 3 tasks" in agreement[2]
    assert agreement[3] == "Few-shot n/a; Zero-shot n/a"
    assert agreement[4] == "2 tasks with votes"


def test_findings_not_testable_and_optional_inputs_absent(project):
    """No votes, no few-shot source, no validate/generate metrics: said so, n/a, never a crash."""
    shutil.rmtree("metrics/validate")
    shutil.rmtree("metrics/generate")
    for task in ("vader_tweets", "vader_nyt"):                 # no votes anywhere
        for path in Path(f"data/predictions/{task}").iterdir():
            rows = [json.loads(line) for line in path.read_text().splitlines()]
            path.write_text("".join(json.dumps({k: v for k, v in r.items() if k not in ("agreement", "n_annotators")})
                                    + "\n" for r in rows))
    render(make_params(sources=["real", "zero_shot"]))
    text = Path("reports/report.md").read_text()
    findings = section(text, "Does this run")
    assert row(findings, "Real > few-shot > zero-shot")[1:3] == [
        "not testable", "needs real, zero_shot and few_shot among the sources"]
    assert row(findings, AGREEMENT_FINDING)[1:3] == [
        "not testable", "no task in this run has per-item annotator votes"]
    assert row(findings, "The gap grows with subjectivity")[1] == "reproduced"
    assert "no generation metrics found" in text
    assert "| trec | Zero-shot | n/a | n/a | n/a | n/a | n/a |" in text
    assert "No task in this run has per-item annotator votes" in text
    assert row(section(text, "Verdict"), task_cell("sms_spam"))[7] == "no mix tested"
    assert sorted(p.name for p in Path("reports/figures").iterdir()) == sorted(
        ["gap_vs_subjectivity.png", "scores_by_task.png", *(f"curves_{task}.png" for task in LEVELS)])


# --- the evidence ---------------------------------------------------------------------------------

def test_scores_carry_intervals_not_standard_deviations(rendered):
    text = (rendered / "reports/report.md").read_text()
    summary = read_json(rendered / "metrics/summary.json")
    assert "±" not in text
    scores = section(text, "Performance on the real test set")
    assert "| Task | Level | Test items | Chance | Real | Zero-shot | Few-shot | Few-shot + 100 real |" in scores
    macro = scores.split("**Macro-F1**")[1].split("**Accuracy**")[0]
    trec = row(macro, task_cell("trec"))
    assert trec[1:4] == ["1", "120", "16.7"]                 # guessing by six balanced training shares: 1/6
    assert row(macro, task_cell("sms_spam"))[3] == "50.0"    # a coin flip, not the constant's 33.3
    for index, source in enumerate(SOURCES):
        block = summary["tasks"]["trec"][source]
        assert trec[4 + index] == interval(block["macro_f1"], block["macro_f1_low"], block["macro_f1_high"])
    assert trec[4].startswith("90.0 [") and trec[5].startswith("80.0 [")
    accuracy = row(scores.split("**Accuracy**")[1], task_cell("trec"))
    block = summary["tasks"]["trec"]["zero_shot"]
    assert accuracy[4] == interval(block["accuracy"], block["accuracy_low"], block["accuracy_high"])


def test_fair_comparison_at_equal_size(rendered):
    fair = section((rendered / "reports/report.md").read_text(), "Fair comparison")
    assert "| Task | Level | Setting | Gap to all real | Fair gap at 20/label | Share of real recovered, % |" in fair
    for task, level in LEVELS.items():
        cells = {r[2]: r for r in rows_of(fair, task_cell(task))}
        # zero-shot at 20/label scores 0.9 - 0.1 x level; real data at 20/label scores 0.80
        assert cells["Zero-shot"][3].startswith(f"{10 * level:.1f} [")
        assert cells["Zero-shot"][4].startswith(f"{10 * level - 10:.1f} [")
        assert cells["Few-shot"][3].startswith(f"{100 * FEW_SHOT_GAP[task]:.1f} [")
    trec = {r[2]: r for r in rows_of(fair, task_cell("trec"))}
    assert trec["Few-shot"][3] == "0.0 [0.0, 0.0]"                       # identical predictions: no gap, no doubt
    assert trec["Few-shot"][4].startswith("-10.0 [") and trec["Few-shot"][4].endswith("] *")   # significant
    assert not trec["Zero-shot"][4].endswith("*")                          # 0.80 vs 0.80
    mixes = fair.split("**Mixes**")[1]
    assert row(mixes, task_cell("vader_tweets"))[2] == "Few-shot + 100 real"
    assert row(mixes, task_cell("vader_tweets"))[3].startswith("10.0 [")
    sms = row(mixes, task_cell("sms_spam"))                  # against all real, then against its 100 real alone
    assert sms[3] == "0.0 [0.0, 0.0]" and sms[4] == "0.0 [0.0, 0.0]"
    assert sms[5].startswith("15.0 [") and sms[5].endswith("*") and sms[6].startswith("15.0 [")


def test_learning_curves_and_exchange_rates(rendered):
    text = (rendered / "reports/report.md").read_text()
    curves = section(text, "Learning curves")
    rows = {(r[0], r[1]): r for task in LEVELS for r in rows_of(curves, task_cell(task))}
    assert rows[(task_cell("trec"), "Zero-shot")][2].startswith("20 synthetic ≈ 20 real per label")
    assert rows[(task_cell("sms_spam"), "Zero-shot")][2:5] == [
        "20 synthetic ≈ 10 real per label [10, 10]", "2.0", "5 to match 5 real"]
    assert rows[(task_cell("vader_nyt"), "Zero-shot")][2].startswith("20 synthetic ≤ 5 real per label")
    assert rows[(task_cell("vader_nyt"), "Zero-shot")][4] == "> 20 to match 5 real"
    assert rows[(task_cell("trec"), "Few-shot")][4] == "≤ 5 to match 5 real"
    assert rows[(task_cell("trec"), "Zero-shot")][5].startswith("on the measured real point 20; the interval counts")
    assert rows[(task_cell("vader_nyt"), "Zero-shot")][5].startswith("below the smallest real size measured (5 per "
                                                                      "label): at most the upper bound")
    for task in LEVELS:
        caption = f"Learning curves, {task}: synthetic settings vs size-matched real data"
        assert f"![{caption}](figures/curves_{task}.png)" in text


def test_gap_and_unrecovered_share_against_subjectivity(rendered):
    text = (rendered / "reports/report.md").read_text()
    summary = read_json(rendered / "metrics/summary.json")
    part = section(text, "Gap and unrecovered share")
    assert row(part, task_cell("vader_nyt"))[2].startswith("40.0 [")
    assert row(part, "5")[:2] == ["5", "1"]                        # level 5: one task
    assert row(part, "2")[:2] == ["2", "2"]
    zero = summary["correlation"]["gap_zero_shot"]
    assert row(part, "Gap Zero-shot")[1:4] == ["1.00", f"{zero['p']:.3f}", "6"]
    assert row(part, "Unrecovered share Zero-shot")[1] == "1.00"
    assert "permutation test over all 720 pairings (exact)" in row(part, "Gap Zero-shot")[4]


def test_diversity_instance_and_provenance(rendered):
    text = (rendered / "reports/report.md").read_text()
    diversity = section(text, "Diversity")
    assert "| trec | Zero-shot | 0.610 | 0.330 | 0.520 | 0.400 | 0.700 |" in diversity
    assert "| trec | Few-shot | 0.720 | n/a | n/a | n/a | n/a |" in diversity
    assert "| seinfeld_humor | Zero-shot | n/a | n/a | n/a | n/a | n/a |" in diversity
    instance = section(text, "Instance-level")
    steeper = {(r[0], r[1]): r for r in rows_of(instance, "Zero-shot") + rows_of(instance, "Few-shot")}
    assert steeper[("Zero-shot", "vader_tweets")][2] == "0.5 → 0.9"
    tweets_gain = steeper[("Zero-shot", "vader_tweets")][3]
    assert tweets_gain.startswith("30.0 [") and tweets_gain.endswith("*")
    assert steeper[("Few-shot", "all tasks (mean)")][3] == "12.5"        # 2 tasks: no interval over tasks
    tweets = instance.split("(vader_tweets)** (accuracy %)")[1]
    assert row(tweets, "0.5")[:6] == ["0.5", "120", "90.0", "60.0", "80.0", "80.0"]
    assert row(tweets, "0.6")[:3] == ["0.6", "99", "100.0"]        # real's errors sit on the least agreed items
    provenance = section(text, "Provenance")
    assert "Generator: SmolLM2-135M-Instruct via bundled local llama.cpp server" in provenance
    assert "| Task | Setting | Model | Replicates | Kept per replicate | Calls |" in provenance
    assert row(provenance, "trec | Zero-shot") == ["trec", "Zero-shot", "SmolLM2-135M-Instruct", "2", "120, 118", "300",
                                                   "20", "5,000", "2,400", "0.0000", "42.5"]
    assert row(provenance, "trec | Few-shot") == ["trec", "Few-shot", "SmolLM2-135M-Instruct", "2", "120, 120", "260",
                                                  "0", "7,000", "1,600", "0.2500", "30.0"]
    assert "Totals: 560 LLM calls (20 from cache), 12,000 tokens in, 4,000 tokens out, $0.2500." in provenance
    assert "20 examples per label in each of 2 replicate(s)" in provenance
    assert "| vader_nyt | 600 | 120 | 10 | no |" in provenance
    assert "seeds 0, 1" in provenance and "bundled:all-MiniLM-L6-v2" in provenance



def test_drifted_generation_metrics_show_as_na_naming_the_key(project, capsys):
    """A metrics file another version of synthclf wrote is shown as n/a, with the key that drifted."""
    path = Path("metrics/generate/trec/zero_shot.json")
    metrics = json.loads(path.read_text())
    metrics["n_calls"] = metrics.pop("calls")
    path.write_text(json.dumps(metrics))
    render()
    provenance = section(Path("reports/report.md").read_text(), "Provenance")
    assert row(provenance, "trec | Zero-shot")[2:6] == ["n/a", "n/a", "n/a", "n/a"]
    assert row(provenance, "trec | Few-shot")[5] == "260"
    assert "zero_shot.json: calls: Field required" in capsys.readouterr().err

def test_figures_and_html(rendered):
    figures = sorted(p.name for p in (rendered / "reports/figures").iterdir())
    assert figures == sorted(["gap_vs_subjectivity.png", "scores_by_task.png", "instance_vader_nyt.png",
                              "instance_vader_tweets.png", *(f"curves_{task}.png" for task in LEVELS)])
    for path in (rendered / "reports/figures").iterdir():
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5_000
    html = (rendered / "reports/report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert re.findall(r"<h2>(.*?)</h2>", html)[:2] == ["Verdict: can synthetic data replace real data?",
                                                       "Does this run reproduce the study?"]
    assert '<img src="figures/curves_trec.png"' in html and '<img src="figures/gap_vs_subjectivity.png"' in html
    assert "<td>100 [100, 100]</td>" in html and "<strong>replace</strong>" in html
    assert "**" not in html


def test_report_is_reproducible(rendered):
    os.chdir(rendered)
    first = {p: p.read_bytes() for p in Path("reports").rglob("*") if p.is_file()}
    render()
    assert {p: p.read_bytes() for p in Path("reports").rglob("*") if p.is_file()} == first


# --- formatting and errors ------------------------------------------------------------------------

def test_exchange_and_needed_texts():
    block = {"value": 7.07, "low": 4.2, "high": 12.4, "censored": "=", "synthetic_size": 20,
             "synthetic_needed": 40.0, "synthetic_needed_censored": ">"}
    assert report.exchange_text(block) == "20 synthetic ≈ 7.1 real per label [4.2, 12]"
    assert report.exchange_text(block | {"censored": ">="}) == "20 synthetic ≥ 7.1 real per label (lower bound 4.2)"
    assert report.exchange_text(block | {"censored": "<="}) == "20 synthetic ≤ 7.1 real per label (upper bound 12)"
    assert report.exchange_text(block | {"interpolated": True, "bracket": [50, 300]}).endswith(
        "[4.2, 12], interpolated between real 50 and 300")
    assert report.exchange_text({"value": None}) == "n/a" and report.exchange_text(None) == "n/a"
    assert report.synthetic_needed_text(block) == "> 40"
    assert report.synthetic_needed_text(block | {"synthetic_needed_censored": "="}) == "40"
    assert report.real_needed_text({"verdict": {"decision": "do_not_use"}}, [], 1.0) == "no mix tested"
    mixes = [("few_shot+real50", 50), ("few_shot+real200", 200)]
    block = {"verdict": {"decision": "undecided"}, "gap_few_shot+real50": {"value": 0.03},
             "gap_few_shot+real200": {"value": 0.005}}
    assert report.real_needed_text(block, mixes, 1.0) == "none shown of 50, 200 tested"
    augment = {"verdict": {"decision": "augment", "real_needed": 200, "setting": "few_shot+real200"}}
    assert report.real_needed_text(augment, mixes, 1.0) == "200 (Few-shot + 200 real)"


def test_report_with_bradley_terry(project):
    Path("judgments.csv").write_text("task_a,task_b,winner,judge\ntrec,seinfeld_humor,trec,j1\n"
                                     "sms_spam,seinfeld_humor,sms_spam,j1\ntrec,sms_spam,trec,j2\n")
    render(make_params(judgments_file="judgments.csv", levels=3))
    text = Path("reports/report.md").read_text()
    assert "3 comparisons by 2 judge(s)" in text
    assert row(section(text, "Task subjectivity from pairwise"), "trec")[2:4] == ["1", "1"]


def test_report_shows_the_llm_panel_position_bias(project):
    panel = Path("data/judgments/llm_panel.csv")
    panel.parent.mkdir(parents=True)
    panel.write_text("task_a,task_b,winner,judge,order,answer\ntrec,sms_spam,trec,llm0,ab,A\n"
                     "sms_spam,trec,sms_spam,llm0,ba,A\ntrec,vader_nyt,trec,llm0,ab,A\n")
    stats = {"questions": 4, "judgments": 3, "unparsed": 1, "asks": 4, "tokens_in": 400, "tokens_out": 8, "tasks": 3,
             "judges": 1, "share_first_position": 1.0, "spearman_with_cards": None, "calls": 4, "cache_hits": 0,
             "http_requests": 4, "retries": 0, "cost_usd": 0.0}
    write_metrics("data/judgments/llm_panel.stats.json", stats, JudgeStats)
    render(make_params(judgments_file=str(panel)))
    text = Path("reports/report.md").read_text()
    assert ("LLM panel: 4 questions, 1 without a usable answer; share of answers picking the first-listed task: "
            "1.00") in text


def test_missing_summary_or_evaluations_is_a_clear_error(project):
    with pytest.raises(SynthclfError, match="run `synthclf analyze`"):
        report.run(make_params())
    Path("metrics").mkdir(exist_ok=True)
    # an older analyze wrote a gap as a bare number; a newer one renamed a key: both name the key
    older = {"gap_metric": "macro_f1", "confidence": 0.95, "n_tasks": 1,
             "tasks": {"trec": {"level": 1, "gap_zero_shot": 0.1}}, "by_level": {}, "overall": {},
             "correlation": {}, "instance": {}, "findings": {"order": {}, "subjectivity": {}, "agreement": {}},
             "verdicts": {}}
    Path("metrics/summary.json").write_text(json.dumps(older))
    with pytest.raises(SynthclfError, match=r"tasks: .*trec\.gap_zero_shot is 0\.1, not an estimate.*"
                                            r"rerun `synthclf analyze`"):
        report.run(make_params())
    renamed = {**older, "tasks": {"trec": {"level": 1}}, "verdict": older["verdicts"]}
    del renamed["verdicts"]
    Path("metrics/summary.json").write_text(json.dumps(renamed))
    with pytest.raises(SynthclfError, match=r"summary\.json: verdicts: Field required"):
        report.run(make_params())
    shutil.rmtree("dvclive/evaluate")
    with pytest.raises(SynthclfError, match="no evaluation metrics"):
        render()


def test_cli_analyze_then_report(project):
    """The wired commands: one line and exit code 2 for a user error, files on success."""
    import yaml
    from typer.testing import CliRunner

    from synthclf.cli import app

    params = make_params().model_dump(by_alias=True)
    Path("params.yaml").write_text(yaml.safe_dump(params))
    runner = CliRunner()
    missing = runner.invoke(app, ["report"])
    assert missing.exit_code == 2 and "metrics/summary.json: not found" in missing.output
    assert runner.invoke(app, ["analyze"]).exit_code == 0
    assert runner.invoke(app, ["report"]).exit_code == 0
    assert Path("reports/report.html").exists() and Path("metrics/summary.json").exists()


def test_verdict_cautions_against_two_replicates_and_not_three(rendered):
    """2 replicates: the replicate spread has 1 df, so the verdict section says to raise them."""
    verdict = section((rendered / "reports" / "report.md").read_text(encoding="utf-8"), "Verdict")
    assert "Caution: 2 generation replicates" in verdict and "`generate.replicates` to 3" in verdict
    params = make_params()
    params.generate.replicates = 3
    summary = read_json(rendered / "metrics" / "summary.json")
    blocks = report.verdict_section(summary, params, ORDER).blocks
    assert not any("Caution" in str(block) for block in blocks)
