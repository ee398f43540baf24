"""The report renders Markdown, HTML and valid PNGs from a synthetic project; n/a for absent inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from synthclf.analysis import analyze, report
from synthclf.errors import SynthclfError
from test_analysis_fixtures import make_params, project  # noqa: F401

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def render(params=None):
    params = params or make_params()
    analyze.run(params)
    return report.run(params)


def table_row(markdown: str, starts_with: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {starts_with}"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_report_files_and_figures(project):
    written = render()
    md, html = Path("reports/report.md"), Path("reports/report.html")
    assert md.exists() and html.exists()
    figures = sorted(p.name for p in Path("reports/figures").iterdir())
    assert figures == ["gap_vs_subjectivity.png", "instance_vader_tweets.png", "scores_by_task.png"]
    for path in Path("reports/figures").iterdir():
        data = path.read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5_000
    assert set(written) >= {md, html}


def test_main_table_sorted_by_subjectivity_with_mean_std(project):
    render()
    text = Path("reports/report.md").read_text()
    assert "| Task | Level | Real | Zero-shot | Few-shot |" in text
    macro_table = text.split("**Macro-F1**")[1].split("**Accuracy**")[0]
    order = [line.split("|")[1].rsplit("(", 1)[1].split(")")[0] for line in macro_table.splitlines() if line.startswith("| ") and "(" in line]
    assert order == ["trec", "rt_sentiment", "sms_spam", "vader_tweets", "vader_nyt", "seinfeld_humor"]
    row = table_row(macro_table.split("\n", 1)[1], "TREC")
    assert row[1:] == ["1", "90.0 ± 1.0", "80.0 ± 1.0", "85.0 ± 1.0"]
    accuracy_row = table_row(text.split("**Accuracy**")[1], "TREC")
    assert accuracy_row[2] == "92.0 ± 2.0"


def test_gap_and_correlation_tables(project):
    render()
    text = Path("reports/report.md").read_text()
    gap_part = text.split("## Gap to real data")[1]
    assert table_row(gap_part, "TREC")[1:] == ["1", "10.0", "5.0"]
    assert table_row(gap_part, "5")[:2] == ["5", "1"]          # level 5: one task
    assert table_row(gap_part, "gap_zero_shot ")[1:3] == ["6", "1.000"]
    assert "Spearman ρ = 1.00" in text


def test_diversity_and_provenance_show_na_when_absent(project):
    render()
    text = Path("reports/report.md").read_text()
    diversity = text.split("## Diversity")[1].split("## ")[0]
    assert "| trec | Zero-shot | 0.610 | 0.330 | 0.520 | 0.400 | 0.700 |" in diversity
    assert "| trec | Few-shot | 0.720 | n/a | n/a | n/a | n/a |" in diversity
    assert "| seinfeld_humor | Zero-shot | n/a | n/a | n/a | n/a | n/a |" in diversity
    provenance = text.split("## Provenance")[1]
    assert "Generator: SmolLM2-135M-Instruct via bundled local llama.cpp server" in provenance
    assert "| trec | Zero-shot | SmolLM2-135M-Instruct | 90 | 120 | 20 | 5,000 | 2,400 | 0.0000 | 42.5 |" in provenance
    assert "| trec | Few-shot | SmolLM2-135M-Instruct | 88 | 80 | 0 | 7,000 | 1,600 | 0.2500 | 30.0 |" in provenance
    assert "Totals: 200 LLM calls (20 from cache), 12,000 tokens in, 4,000 tokens out, $0.2500." in provenance
    assert "| vader_nyt | 100 | 50 | 10 | no |" in provenance
    assert "seeds 0, 1" in provenance and "bundled:all-MiniLM-L6-v2" in provenance


def test_instance_section_and_html(project):
    render()
    text = Path("reports/report.md").read_text()
    instance = text.split("## Instance-level")[1]
    assert table_row(instance, "0.5")[:3] == ["0.5", "5", "80.0"]    # real: seed 0 60%, seed 1 all right
    assert "![Accuracy and Macro-F1 against agreement threshold γ, vader_tweets](figures/instance_vader_tweets.png)" in text
    html = Path("reports/report.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert '<img src="figures/gap_vs_subjectivity.png"' in html
    assert "<td>90.0 ± 1.0</td>" in html and "<strong>Macro-F1</strong>" in html
    assert "**" not in html


def test_report_without_optional_inputs(project):
    shutil.rmtree("metrics/validate")
    shutil.rmtree("metrics/generate")
    for path in Path("data/predictions/vader_tweets").iterdir():       # no votes anywhere
        path.write_text('{"id": "a", "label": "pos", "pred": {"0": "pos"}}\n')
    render()
    text = Path("reports/report.md").read_text()
    assert "no generation metrics found" in text
    assert "| trec | Zero-shot | n/a | n/a | n/a | n/a | n/a |" in text
    assert "No task in this run has per-item annotator votes" in text
    assert sorted(p.name for p in Path("reports/figures").iterdir()) == ["gap_vs_subjectivity.png", "scores_by_task.png"]


def test_report_with_bradley_terry(project):
    Path("judgments.csv").write_text("task_a,task_b,winner,judge\ntrec,seinfeld_humor,trec,j1\n"
                                     "sms_spam,seinfeld_humor,sms_spam,j1\ntrec,sms_spam,trec,j2\n")
    render(make_params(judgments_file="judgments.csv", levels=3))
    text = Path("reports/report.md").read_text()
    assert "3 comparisons by 2 judge(s)" in text
    assert table_row(text.split("(Bradley-Terry)")[1], "trec")[2:4] == ["1", "1"]


def test_report_is_reproducible(project):
    render()
    first = {p: p.read_bytes() for p in Path("reports").rglob("*") if p.is_file()}
    render()
    assert {p: p.read_bytes() for p in Path("reports").rglob("*") if p.is_file()} == first


def test_missing_summary_or_evaluations_is_a_clear_error(project):
    with pytest.raises(SynthclfError, match="run `synthclf analyze`"):
        report.run(make_params())
    shutil.rmtree("metrics/evaluate")
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


def test_report_shows_the_llm_panel_position_bias(project):
    panel = Path("data/judgments/llm_panel.csv")
    panel.parent.mkdir(parents=True)
    panel.write_text("task_a,task_b,winner,judge,order,answer\ntrec,sms_spam,trec,llm0,ab,A\n"
                     "sms_spam,trec,sms_spam,llm0,ba,A\ntrec,vader_nyt,trec,llm0,ab,A\n")
    Path("data/judgments/llm_panel.stats.json").write_text('{"questions": 4, "unparsed": 1, "share_first_position": 1.0}')
    render(make_params(judgments_file=str(panel)))
    text = Path("reports/report.md").read_text()
    assert "LLM panel: 4 questions, 1 without a usable answer; share of answers picking the first-listed task: 1.00" in text
