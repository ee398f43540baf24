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


def table_rows(markdown: str, section: str) -> list[list[str]]:
    """Body rows of the first Markdown table after the heading that starts with `section`."""
    text = markdown.split(section, 1)[1].split("\n### ", 1)[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in text.splitlines() if line.startswith("|")]
    return rows[2:]   # drop the header and the |---| line


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

    # the params diff names the change, the metrics diff shows it: rows whose old and new values differ
    assert ["params.yaml", "compare.confidence", "0.95", "0.8"] in table_rows(report, "### Params")
    metrics = table_rows(report, "### Metrics")
    assert ["metrics/summary.json", "confidence", "0.95", "0.8", "-0.15"] in metrics, report
    interval_rows = [row for row in metrics if row[0] == "dvclive/evaluate/sms_spam/real/metrics.json"
                     and row[1] in ("macro_f1_low", "macro_f1_high")]
    assert interval_rows and all(row[2] != row[3] for row in interval_rows), report
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
