"""scripts/compare_experiment.py, the experiment CI's one script (.github/workflows/experiments.yml).

The end-to-end test does what a person does locally: in a scratch clone of this repository (its HEAD,
plus this checkout's compare script and light profile committed on `main`), a branch changes one
param, and the script run on that branch against `main` must print `dvc metrics diff` with the
changed metrics. Real git, real DVC, the real pipeline in the committed light profile narrowed to one
task (so it fits a few minutes on 2 cores); the user's checkout (the scratch clone) must be untouched.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "compare_experiment.py"
PROFILE = REPO / "profiles" / "light.yaml"
GIT_IDENTITY = ["-c", "user.name=test", "-c", "user.email=test@localhost", "-c", "commit.gpgsign=false"]


def load_script():
    spec = importlib.util.spec_from_file_location("compare_experiment", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *GIT_IDENTITY, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def env() -> dict[str, str]:
    return dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
                GX_ANALYTICS_ENABLED="false", DVC_NO_ANALYTICS="1")


def scratch_clone(tmp_path: Path) -> Path:
    """A clone of this repository's HEAD with the compare script and the light profile committed on main."""
    clone = tmp_path / "project"
    subprocess.run(["git", "clone", "-q", "--shared", str(REPO), str(clone)], check=True)
    for relative in ("scripts/compare_experiment.py", "profiles/light.yaml", ".github/workflows/experiments.yml"):
        (clone / relative).parent.mkdir(parents=True, exist_ok=True)
        (clone / relative).write_bytes((REPO / relative).read_bytes())
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "--allow-empty", "-m", "the compare script and the light profile")
    git(clone, "checkout", "-q", "-B", "main")
    return clone


def folded_rows(markdown: str, summary: str) -> list[list[str]]:
    """Body rows of every table in the <details> block whose <summary> starts with `summary`, in order."""
    block = markdown.split(f"<summary>{summary}", 1)[1].split("</details>", 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in block.splitlines() if line.startswith("|")]
    return [row for row in rows if row[0] not in ("Path", "---")]   # drop each table's header and |---| line


def lead(markdown: str) -> str:
    """What the comparison leads with: everything before the folded full diff."""
    return markdown.split("### Full diff", 1)[0]


def test_profile_merge_and_masked_keys():
    script = load_script()
    params = {"tasks": ["a", "b", "c"], "split": {"a": {"train_size": 9, "test_size": 9}, "c": {"train_size": 1}},
              "train": {"backend": "transformer", "epochs": 3}, "compare": {"confidence": 0.95}}
    profile = {"tasks": ["a"], "split": {"a": {"train_size": 2}}, "train": {"backend": "tfidf_logreg"}}
    merged = script.merged(params, profile)
    assert merged["tasks"] == ["a"]                                   # a list replaces the list
    assert merged["split"] == {"a": {"train_size": 2, "test_size": 9}, "c": {"train_size": 1}}
    assert merged["train"] == {"backend": "tfidf_logreg", "epochs": 3}
    assert params["train"]["backend"] == "transformer"                # the input is not modified
    head = {**params, "compare": {"confidence": 0.8}, "train": {"backend": "x", "epochs": 3}}
    assert script.masked_keys(params, head, profile) == ["train.backend"]   # confidence is not masked


def test_committed_light_profile_makes_valid_params():
    """The light profile merged into params.yaml passes the pipeline's own params validation."""
    from synthclf.config import Params

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    light = load_script().merged(params, yaml.safe_load(PROFILE.read_text()))
    checked = Params.model_validate(light)
    assert checked.train.backend == "tfidf_logreg" and checked.llm.model == "SmolLM2-135M-Instruct"


def test_unknown_base_fails_with_one_line(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--base", "no-such-branch", "--workdir", str(tmp_path / "w")],
                          cwd=REPO, env=env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip().splitlines()[-1].startswith("error: git ref 'no-such-branch' not found")


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_changed_param_shows_in_the_metrics_diff(tmp_path):
    clone = scratch_clone(tmp_path)
    git(clone, "checkout", "-q", "-b", "lower-confidence")
    params = (clone / "params.yaml").read_text()
    edited, count = re.subn(r"(?m)^(  confidence: )0\.95\b", r"\g<1>0.8", params)
    assert count == 1, "compare.confidence: 0.95 not found in params.yaml"
    (clone / "params.yaml").write_text(edited)
    git(clone, "commit", "-q", "-am", "compare.confidence 0.8")

    # the committed light profile, narrowed to one task to keep the test to a few minutes
    profile = yaml.safe_load(PROFILE.read_text())
    profile["tasks"] = ["sms_spam"]
    (tmp_path / "light-one-task.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))

    out = tmp_path / "out" / "comparison.md"
    summary = tmp_path / "step_summary.md"
    done = subprocess.run(
        [sys.executable, "scripts/compare_experiment.py", "--base", "main", "--out", str(out),
         "--profile", str(tmp_path / "light-one-task.yaml"), "--llm-cache", str(tmp_path / "llm-cache")],
        cwd=clone, env=dict(env(), GITHUB_STEP_SUMMARY=str(summary)), capture_output=True, text=True, timeout=1700)
    assert done.returncode == 0, done.stderr[-4000:]
    report = done.stdout

    # it leads with what changed: the param, the verdicts, the headline scores (here: only their
    # intervals move, none beyond), the findings; a page, not the 33 KB of every bound
    leading = lead(report)
    assert "**Params:** `compare.confidence` 0.95 → 0.8" in leading
    assert "**Verdicts" in leading and "**Findings" in leading, leading
    headline = [row for row in leading.splitlines() if row.startswith("| sms_spam | real |")]
    assert len(headline) == 1 and headline[0].endswith("| +0.000 | no |"), leading   # same score, new interval
    assert len(leading) < 4000, len(leading)
    # then the full diffs, folded: the params diff names the change, the metrics diff shows it,
    # point estimates before interval bounds
    assert ["params.yaml", "compare.confidence", "0.95", "0.8"] in folded_rows(report, "Params")
    metrics = folded_rows(report, "Metrics")
    assert ["metrics/summary.json", "confidence", "0.95", "0.8", "-0.15"] in metrics, report
    interval_rows = [row for row in metrics if row[0] == "dvclive/evaluate/sms_spam/real/metrics.json"
                     and row[1] in ("macro_f1_low", "macro_f1_high")]
    assert interval_rows and all(row[2] != row[3] for row in interval_rows), report
    confidence_row = ["metrics/summary.json", "confidence", "0.95", "0.8", "-0.15"]
    assert metrics.index(confidence_row) < metrics.index(interval_rows[0])
    assert "Not compared" not in report                   # confidence is not a key the profile overrides

    # published: --out, the job summary, the plots diff HTML; progress went to stderr only
    assert out.read_text().strip() == report.strip()
    assert summary.read_text().strip() == report.strip()
    assert (out.parent / "comparison_plots" / "index.html").exists()
    assert "[compare" in done.stderr and "[compare" not in report
    # the head reran exactly what the param touches (the task's evaluate stage, which reads
    # compare.confidence, then analyze and report); every other stage came from the base run's run-cache
    head_log = done.stderr.split("] head ", 1)[1]
    ran = re.findall(r"Running stage '([^']+)'", head_log)
    skipped = re.findall(r"Stage '([^']+)' (?:is cached - skipping run|didn't change, skipping)", head_log)
    assert sorted(ran) == ["analyze", "evaluate@sms_spam", "report"], head_log
    assert {name.split("@")[0] for name in skipped} >= {"fetch", "prepare", "generate", "validate", "train"}, head_log
    assert re.search(rf"head {len(ran)} of {len(ran) + len(skipped)}\b", report), report

    # the user's checkout is untouched: same branch, clean, no pipeline outputs
    assert git(clone, "rev-parse", "--abbrev-ref", "HEAD").strip() == "lower-confidence"
    assert git(clone, "status", "--porcelain").strip() == ""
    assert not (clone / "data" / "prepared").exists() and not (clone / "models").exists()


def test_the_markdown_leads_with_what_changed_and_folds_the_full_diff():
    """Point estimates before bounds, a verdict's text in full (never cut in a table cell), the
    changed verdict and the score beyond its intervals in the lead."""
    script = load_script()
    verdict = ("do not use in place of real data: few_shot recovers 42% [31, 52] of real data's lift over chance "
               "(upper bound < 90%); no tested mix is shown within 1 point(s) of real data")

    def summary(decision: str, few: float) -> dict:
        block = {"real": {"macro_f1": 0.81, "macro_f1_low": 0.76, "macro_f1_high": 0.86},
                 "few_shot": {"macro_f1": few, "macro_f1_low": few - 0.05, "macro_f1_high": few + 0.05},
                 "verdict": {"decision": decision, "setting": "few_shot", "text": verdict}}
        return {"gap_metric": "macro_f1", "tasks": {"trec": block}, "findings": {"order": {"status": "reproduced"}}}

    params_diff = {"params.yaml": {"llm.temperature": {"old": 0.7, "new": 1.0, "diff": 0.3}}}
    metrics_diff = {"metrics/summary.json": {
        "tasks.trec.few_shot.macro_f1_low": {"old": 0.38, "new": 0.55, "diff": 0.17},
        "tasks.trec.few_shot.macro_f1": {"old": 0.43, "new": 0.6, "diff": 0.16999999999999998},
        "tasks.trec.verdict.text": {"old": "undecided: the share's interval is too wide", "new": verdict},
        "tasks.trec.share_few_shot.se": {"old": 0.05, "new": 0.04, "diff": -0.01}}}
    runs = {side: {"ran": 2, "stages": 9, "seconds": 30.0} for side in ("base", "head")}
    report = script.markdown(base_label="main", base_sha="a" * 40, head_label="HEAD", head_sha="b" * 40,
                             profile_path=PROFILE, profile={"tasks": ["trec"]}, masked=[], params_diff=params_diff,
                             metrics_diff=metrics_diff, summaries={"base": summary("undecided", 0.43),
                                                                   "head": summary("do_not_use", 0.60)},
                             plots=[], plots_html=Path("plots/index.html"), runs=runs)
    summary_part = lead(report)
    assert "**Params:** `llm.temperature` 0.7 → 1.0" in summary_part
    assert "| trec | undecided | **do_not_use** |" in summary_part
    assert f"- trec (head): {verdict}" in summary_part
    assert "| trec | few_shot | 0.430 [0.380, 0.480] | 0.600 [0.550, 0.650] | +0.170 | **yes** |" in summary_part
    assert "<details>" not in summary_part and report.count("<details>") == 3
    metrics = folded_rows(report, "Metrics")
    assert metrics == [["metrics/summary.json", "tasks.trec.few_shot.macro_f1", "0.43", "0.6", "0.17"],
                       ["metrics/summary.json", "tasks.trec.few_shot.macro_f1_low", "0.38", "0.55", "0.17"],
                       ["metrics/summary.json", "tasks.trec.share_few_shot.se", "0.05", "0.04", "-0.01"]]
    assert f"  - head: {verdict}\n" in report                       # the text in full, outside any table


def test_uncommitted_edits_go_to_the_head_side_only(tmp_path):
    """Staged, unstaged, new and deleted files of the checkout are committed in the scratch clone,
    and the checkout itself keeps them uncommitted."""
    script = load_script()
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    git(workspace, "init", "-q")
    for name in ("staged.txt", "edited.txt", "deleted.txt"):
        (workspace / name).write_text("old\n")
    (workspace / ".gitignore").write_text("ignored.txt\n")
    git(workspace, "add", "-A")
    git(workspace, "commit", "-q", "-m", "start")
    head = git(workspace, "rev-parse", "HEAD").strip()
    (workspace / "staged.txt").write_text("new\n")
    git(workspace, "add", "staged.txt")
    (workspace / "edited.txt").write_text("new\n")
    (workspace / "deleted.txt").unlink()
    (workspace / "sub").mkdir()
    (workspace / "sub" / "added.txt").write_text("new\n")
    (workspace / "ignored.txt").write_text("not compared\n")
    before = git(workspace, "status", "--porcelain")

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--shared", "--no-checkout", str(workspace), str(clone)], check=True)
    run = script.Runner(clone, tmp_path / "log", env())
    commit, files = script.snapshot_worktree(workspace, clone, run, head)
    assert commit != head and files == 4
    tree = set(git(clone, "ls-tree", "-r", "--name-only", commit).split())
    assert tree == {".gitignore", "staged.txt", "edited.txt", "sub/added.txt"}
    assert git(clone, "show", f"{commit}:staged.txt") == git(clone, "show", f"{commit}:edited.txt") == "new\n"
    assert git(workspace, "status", "--porcelain") == before
    assert git(workspace, "rev-parse", "HEAD").strip() == head
