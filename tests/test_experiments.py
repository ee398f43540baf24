"""The compact views of runs (synthclf.analysis.experiments): what a comparison of two runs leads
with, and `synthclf experiments` over real DVC experiments.

The DVC test builds a tiny git + DVC project whose one stage (a few lines of Python, no model)
writes a metrics/summary.json shaped like analyze's, its numbers a function of llm.temperature,
runs two `dvc exp run -S` experiments and reads them back through the command.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from synthclf.analysis.experiments import Interval, comparison_summary, experiments_report, task_views

LONG_TEXT = ("do not use in place of real data: few_shot recovers 42% [31, 52] of real data's lift over chance "
             "(upper bound < 90%); no tested mix (few_shot+real100) is shown within 1 point(s) of real data and "
             "above its real examples alone; few_shot data: 10 synthetic ≈ 4.3 real per label [3, 6.2]")


def scores(value: float, half: float) -> dict:
    return {"macro_f1": value, "macro_f1_low": value - half, "macro_f1_high": value + half,
            "accuracy": value, "accuracy_low": value - half, "accuracy_high": value + half}


def summary() -> dict:
    """Two tasks in analyze's layout (the keys the views read, a few they must skip)."""
    def task(decision: str, real: float, few: float, text: str = "") -> dict:
        return {"real": scores(real, 0.04), "few_shot": scores(few, 0.05), "chance_macro_f1": 0.3,
                "gap_few_shot": {"value": real - few, "low": 0.1, "high": 0.3},
                "share_few_shot": {"value": 0.42, "low": 0.31, "high": 0.52},
                "verdict": {"decision": decision, "setting": "few_shot", "text": text or decision}}
    return {"gap_metric": "macro_f1",
            "tasks": {"trec": task("do_not_use", 0.81, 0.43, LONG_TEXT), "sms_spam": task("undecided", 0.92, 0.71)},
            "verdicts": {"trec": "do_not_use", "sms_spam": "undecided"},
            "findings": {"order": {"status": "partly reproduced"}, "agreement": {"status": "not reproduced"}}}


def test_task_views_read_the_headline_metric_per_source_and_the_share_per_setting():
    view = task_views(summary())["trec"]
    assert view.decision == "do_not_use" and view.text == LONG_TEXT
    assert set(view.scores) == {"real", "few_shot"}          # gap_* and chance are not sources
    assert view.scores["real"] == Interval(0.81, 0.81 - 0.04, 0.81 + 0.04)
    assert view.shares == {"few_shot": Interval(0.42, 0.31, 0.52)}
    assert view.shares["few_shot"].text(percent=True) == "42% [31, 52]"
    accuracy = dict(summary(), gap_metric="accuracy")
    assert task_views(accuracy)["trec"].scores["real"].value == 0.81


def test_the_comparison_leads_with_changed_verdicts_scores_beyond_their_intervals_and_findings():
    base, head = summary(), summary()
    head["tasks"]["sms_spam"]["verdict"] = {"decision": "replace", "setting": "few_shot", "text": LONG_TEXT}
    head["tasks"]["sms_spam"]["few_shot"] = scores(0.85, 0.05)     # 0.71 [0.66, 0.76] -> 0.85 [0.80, 0.90]
    head["tasks"]["trec"]["few_shot"] = scores(0.46, 0.05)         # overlaps 0.43 [0.38, 0.48]
    head["findings"]["order"]["status"] = "reproduced"
    text = "\n".join(comparison_summary(base, head))

    assert "| sms_spam | undecided | **replace** |" in text
    assert f"- sms_spam (head): {LONG_TEXT}" in text               # the verdict in full, not cut in a cell
    assert "trec | do_not_use" not in text                           # an unchanged verdict has no row
    assert "| sms_spam | few_shot | 0.710 [0.660, 0.760] | 0.850 [0.800, 0.900] | +0.140 | **yes** |" in text
    assert "| trec | few_shot | 0.430 [0.380, 0.480] | 0.460 [0.410, 0.510] | +0.030 | no |" in text
    assert "2 other task/source score(s) and intervals unchanged" in text     # both real rows
    assert "- order: partly reproduced → **reproduced**" in text
    assert "agreement" not in text
    assert text.index("Verdicts") < text.index("Headline Macro-F1") < text.index("Findings")


def test_an_unchanged_comparison_says_so_in_three_lines():
    text = "\n".join(comparison_summary(summary(), copy.deepcopy(summary())))
    assert "**Verdicts:** none changed (trec do_not_use, sms_spam undecided)." in text
    assert "**Headline Macro-F1:** unchanged for every task and source (4)." in text
    assert "**Findings:** no status changed" in text
    assert "|" not in text


def test_a_side_without_a_summary_is_one_line():
    assert comparison_summary(summary(), None)[0].startswith("No metrics/summary.json on the head side")


def test_queued_and_failed_experiments_say_why_they_have_no_numbers():
    def params(temperature: float) -> dict:
        return {"params.yaml": {"data": {"llm": {"temperature": temperature}}}}

    rows = [{"rev": "abc1234def", "name": "main",
             "data": {"params": params(0.4), "metrics": {"metrics/summary.json": {"data": summary()}}},
             "experiments": [
                 {"name": "waiting", "executor": {"state": "queued"},
                  "revs": [{"rev": "fff0001112", "data": {"params": params(1.0)}}]},
                 {"name": "broken",
                  "revs": [{"rev": "eee0001112", "error": {"msg": "stage 'analyze' failed"}, "data": {}}]}]}]
    report = experiments_report(rows)
    assert "| trec | do_not_use | few_shot 42% [31, 52] | 0.810 [0.770, 0.850] | 0.430 [0.380, 0.480] |" in report
    waiting, broken = report.split("### waiting", 1)[1].split("### broken")
    assert "changed params: `llm.temperature 0.4 → 1.0`" in waiting
    assert "no metrics/summary.json yet (queued)" in waiting
    assert "changed params: not recorded" in broken and "failed: stage 'analyze' failed" in broken


# --- real DVC ---------------------------------------------------------------------------------------

STAGE = '''
import json, pathlib, yaml
params = yaml.safe_load(open("params.yaml"))
t = params["llm"]["temperature"]
tasks = {}
for i, task in enumerate(params["tasks"]):
    few = round(0.4 + 0.1 * i + t / 4, 4)          # each task's synthetic score moves with the temperature
    tasks[task] = {"real": {"macro_f1": 0.8, "macro_f1_low": 0.75, "macro_f1_high": 0.85},
                   "few_shot": {"macro_f1": few, "macro_f1_low": round(few - 0.05, 4),
                                "macro_f1_high": round(few + 0.05, 4)},
                   "share_few_shot": {"value": round(few / 0.8, 4), "low": 0.1, "high": 0.9},
                   "verdict": {"decision": "replace" if few > 0.6 else "undecided", "setting": "few_shot",
                               "text": "..."}}
summary = {"gap_metric": "macro_f1", "tasks": tasks,
           "verdicts": {k: v["verdict"]["decision"] for k, v in tasks.items()},
           "findings": {"order": {"status": "reproduced"}}}
pathlib.Path("metrics").mkdir(exist_ok=True)
pathlib.Path("metrics/summary.json").write_text(json.dumps(summary))
'''

DVC_YAML = '''
stages:
  analyze:
    cmd: python stage.py
    deps: [stage.py]
    params: [llm.temperature, tasks]
    metrics:
      - metrics/summary.json:
          cache: false
'''


def env() -> dict[str, str]:
    return dict(os.environ, DVC_NO_ANALYTICS="1", GIT_AUTHOR_NAME="test", GIT_AUTHOR_EMAIL="test@localhost",
                GIT_COMMITTER_NAME="test", GIT_COMMITTER_EMAIL="test@localhost")


def sh(cwd: Path, *command: str) -> str:
    done = subprocess.run(command, cwd=cwd, env=env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{' '.join(command)}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def experiments_repo(tmp_path_factory) -> Path:
    """Baseline llm.temperature 0.4; experiments `cool` (0.2) and `hot` (1.0)."""
    root = tmp_path_factory.mktemp("experiments")
    (root / "stage.py").write_text(textwrap.dedent(STAGE))
    (root / "dvc.yaml").write_text(textwrap.dedent(DVC_YAML))
    (root / "params.yaml").write_text("llm:\n  temperature: 0.4\n  model: tiny\ntasks: [alpha, beta]\n")
    sh(root, "git", "init", "-q")
    sh(root, sys.executable, "-m", "dvc", "init", "-q")
    sh(root, sys.executable, "-m", "dvc", "repro", "-q")
    sh(root, "git", "add", "-A")
    sh(root, "git", "commit", "-q", "-m", "baseline")
    for name, temperature in (("cool", 0.2), ("hot", 1.0)):
        sh(root, sys.executable, "-m", "dvc", "exp", "run", "-q", "--name", name,
           "-S", f"llm.temperature={temperature}")
    return root


def sections(report: str) -> dict[str, str]:
    """The report's sections by heading name (`## baseline master`, `### cool`, ...): first word after #."""
    parts = {}
    for block in report.split("\n#")[0:]:
        heading, _, body = block.lstrip("#").strip().partition("\n")
        parts[heading.split(" (")[0]] = body
    return parts


def test_synthclf_experiments_shows_each_experiments_changed_param_and_headline_numbers(experiments_repo):
    done = subprocess.run([sys.executable, "-m", "synthclf.cli", "experiments", "--repo", str(experiments_repo)],
                          env=env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    parts = sections(done.stdout)
    baseline = next(body for heading, body in parts.items() if heading.startswith("baseline"))
    assert "changed params" not in baseline
    # baseline: few = 0.4 + 0.1 i + 0.4/4
    assert "| alpha | undecided | few_shot 62% [10, 90] | 0.800 [0.750, 0.850] | 0.500 [0.450, 0.550] |" in baseline
    assert "| beta | undecided | few_shot 75% [10, 90] | 0.800 [0.750, 0.850] | 0.600 [0.550, 0.650] |" in baseline

    cool, hot = parts["cool"], parts["hot"]
    assert "changed params: `llm.temperature 0.4 → 0.2`" in cool
    assert "changed params: `llm.temperature 0.4 → 1.0`" in hot
    assert "llm.model" not in cool + hot and "tasks" not in cool.split("\n")[0]    # only what changed
    assert "| alpha | undecided | few_shot 56% [10, 90] | 0.800 [0.750, 0.850] | 0.450 [0.400, 0.500] |" in cool
    assert "| beta | undecided | few_shot 69% [10, 90] | 0.800 [0.750, 0.850] | 0.550 [0.500, 0.600] |" in cool
    assert "| alpha | replace | few_shot 81% [10, 90] | 0.800 [0.750, 0.850] | 0.650 [0.600, 0.700] |" in hot
    assert "| beta | replace | few_shot 94% [10, 90] | 0.800 [0.750, 0.850] | 0.750 [0.700, 0.800] |" in hot
    assert "| task | verdict | share recovered | Macro-F1 real | Macro-F1 few_shot |" in hot


def test_a_saved_exp_show_gives_the_same_view(experiments_repo, tmp_path):
    saved = tmp_path / "exp_show.json"
    saved.write_text(sh(experiments_repo, sys.executable, "-m", "dvc", "exp", "show", "--json"))
    rows = json.loads(saved.read_text())
    done = subprocess.run([sys.executable, "-m", "synthclf.cli", "experiments", "--from-json", str(saved)],
                          env=env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout == experiments_report(rows)


@pytest.mark.parametrize(("args", "message"), [
    (["--repo", "{tmp}"], "is not a DVC project"),
    (["--from-json", "{tmp}/missing.json"], "missing.json: file not found"),
    (["--from-json", "{tmp}/broken.json"], "broken.json: not JSON"),
    (["--from-json", "{tmp}/other.json"], "not the output of `dvc exp show --json`"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    (tmp_path / "broken.json").write_text('[{"rev": ')
    (tmp_path / "other.json").write_text('{"metrics": {}}')
    done = subprocess.run([sys.executable, "-m", "synthclf.cli", "experiments",
                           *[arg.format(tmp=tmp_path) for arg in args]],
                          env=env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], done.stderr
