"""The whole pipeline under real DVC, on a tiny configuration: repro, no-op rerun, a change to one
task reruns that task only, push → delete cache → pull, and no API key in anything written.

This is the slowest test (it starts the bundled llama.cpp server per generate stage and
fine-tunes MiniLM per source); it is the one that proves the stages fit together.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from sklearn.metrics import accuracy_score, f1_score

from synthclf.tasks import load_card

from dvc_project import API_KEY, REPO, dvc, reproduced_project

pytestmark = pytest.mark.slow

TASKS = ["sms_spam", "trec"]


def tiny_params() -> dict:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["tasks"] = TASKS
    params["split"] = {"sms_spam": {"train_size": 60, "test_size": 40, "pool_size": 12},
                       "trec": {"train_size": 90, "test_size": 60, "pool_size": 18}}
    params["mixes"] = [{"setting": "few_shot", "real": 10}]
    params["sources"] = ["real", "zero_shot", "few_shot", "few_shot+real10"]
    params["train"].update(epochs=1, min_steps=4, min_epochs=0, batch_size=16, max_length=32, seeds=[0])
    params["generate"].update(per_class=2, replicates=2, max_attempts_factor=6.0,
                              cache_path=".synthclf_cache/responses.sqlite")
    params["compare"].update(sizes=[1], bootstrap_resamples=200)
    params["llm"].update(model="SmolLM2-135M-Instruct", max_tokens=40)   # the light profile
    # tiny synthetic sets cannot meet the dataset-level diversity bounds of real-sized data
    params["validate"].update(policy="quarantine")
    return params


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return reproduced_project(tmp_path_factory.mktemp("pipeline"), tiny_params(), remote=True)


def test_repro_produces_metrics_for_every_task_and_source(project):
    for task in TASKS:
        for source in tiny_params()["sources"]:
            scores = json.loads((project / f"dvclive/evaluate/{task}/{source}/metrics.json").read_text())
            assert scores["macro_f1_low"] <= scores["macro_f1"] <= scores["macro_f1_high"]
            assert scores["n_test"] == tiny_params()["split"][task]["test_size"]
            check_scores_match_the_predictions(project, task, source, scores)
            kept = "seed0" if source == "real" else "rep0"
            assert (project / f"models/{task}/{source}/{kept}/frozen_head.json").exists()   # the default backend
        for setting in ("zero_shot", "few_shot"):
            synthetic = [json.loads(line) for line in
                         (project / f"data/synthetic/{task}/{setting}.jsonl").read_text().splitlines()]
            assert {record["replicate"] for record in synthetic} == {0, 1}, f"{task}/{setting}: a replicate is missing"
            points = json.loads((project / f"dvclive/evaluate/{task}/{setting}/metrics.json").read_text())["points"]
            assert set(points) == {f"{setting}@1", f"{setting}@2", "real@1", "real@2"}
    summary = json.loads((project / "metrics/summary.json").read_text())
    assert set(summary["tasks"]) == set(TASKS)
    for task, block in summary["tasks"].items():
        check_verdict(project, task, block)
        assert block["gap_zero_shot"]["low"] <= block["gap_zero_shot"]["value"] <= block["gap_zero_shot"]["high"]
    assert set(summary["findings"]) == {"order", "subjectivity", "agreement"}
    assert sorted(p.name for p in (project / "plots/curves").iterdir()) == ["sms_spam.json", "trec.json"]
    assert (project / "reports/report.html").exists() and (project / "reports/report.md").exists()
    shown = dvc(project, "metrics", "show", "--json").stdout
    assert "macro_f1" in shown and "sms_spam" in shown and "trec" in shown


def check_verdict(project: Path, task: str, block: dict) -> None:
    """The verdict is the rule applied to the run's own numbers and thresholds, and it stands on them:
    each decision is checked against the intervals it names."""
    from synthclf.analysis.verdict import decide
    from synthclf.config import load_params, parse_mix

    params = load_params(project / "params.yaml")
    thresholds = params.compare.verdict
    settings = [source for source in params.sources if source in params.generate.settings]
    mixes = [(source, parse_mix(source)[1]) for source in params.sources if parse_mix(source)]
    assert settings and mixes          # the tiny run trains both settings and a mix
    verdict = block["verdict"]
    expected = decide(block, settings, mixes, thresholds)
    assert (verdict["decision"], verdict["text"]) == (expected["decision"], expected["text"]), task
    if block.get("real_lift") is None or block["real_lift"] < thresholds.min_real_lift:
        assert verdict["decision"] == "undecided" and "beats chance by only" in verdict["text"], task
    elif verdict["decision"] == "replace":
        assert block[f"share_{verdict['setting']}"]["low"] >= thresholds.replace_share, task
    elif verdict["decision"] == "augment":
        source = verdict["setting"]                      # the mix, with its real examples
        assert (source, verdict["real_needed"]) in mixes, task
        assert block[f"gap_{source}"]["high"] <= thresholds.within_points / 100, task
        assert block[f"gain_{source}"]["low"] > 0, task
    elif verdict["decision"] == "do_not_use":
        if verdict["setting"] is not None:   # the setting with the best share: ruled out as a replacement
            assert block[f"share_{verdict['setting']}"]["high"] < thresholds.replace_share, task
    else:
        assert verdict["decision"] == "undecided" and verdict["open"], task


def check_scores_match_the_predictions(project: Path, task: str, source: str, scores: dict) -> None:
    """evaluate's numbers are sklearn's on the predictions train stored: per unit, and the headline
    as the mean over the headline point's replicates."""
    rows = [json.loads(line) for line in (project / f"data/predictions/{task}/{source}.jsonl").read_text().splitlines()]
    assert len(rows) == scores["n_test"]
    gold = [row["label"] for row in rows]
    labels = load_card(task).label_names
    assert set(scores["units"]) == set(rows[0]["pred"])
    for unit, unit_scores in scores["units"].items():
        pred = [row["pred"][unit] for row in rows]
        expected = f1_score(gold, pred, labels=labels, average="macro", zero_division=0)
        assert unit_scores["macro_f1"] == pytest.approx(expected, abs=1e-6), f"{task}/{source} {unit}"
        assert unit_scores["accuracy"] == pytest.approx(accuracy_score(gold, pred), abs=1e-6)
    headline = [unit for unit in scores["units"] if unit.rsplit("/r", 1)[0] == scores["headline"]]
    assert len(headline) == scores["replicates"] > 0
    mean = sum(scores["units"][unit]["macro_f1"] for unit in headline) / len(headline)
    assert scores["macro_f1"] == pytest.approx(mean, abs=1e-5)


def test_second_repro_is_a_no_op(project):
    result = dvc(project, "repro")
    assert "Running stage" not in result.stdout
    assert json.loads(dvc(project, "status", "--json").stdout or "{}") == {}


def test_changing_one_tasks_split_reruns_that_task_only(project):
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["split"]["trec"]["test_size"] = 50
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    status = json.loads(dvc(project, "status", "--json").stdout or "{}")
    assert "prepare@trec" in status
    assert not [stage for stage in status if "sms_spam" in stage]
    result = dvc(project, "repro")
    assert "Running stage 'prepare@trec'" in result.stdout
    assert "Running stage 'prepare@sms_spam'" not in result.stdout
    assert "Running stage 'train@sms_spam'" not in result.stdout


def test_push_delete_cache_pull_round_trip(project):
    dvc(project, "push")
    prepared = project / "data/prepared/sms_spam/train.jsonl"
    checkpoint = project / "models/sms_spam/real/seed0/head.safetensors"
    before = (prepared.read_bytes(), checkpoint.read_bytes())
    shutil.rmtree(project / ".dvc/cache")
    shutil.rmtree(project / "data/prepared")
    shutil.rmtree(project / "models")
    dvc(project, "pull")
    assert (prepared.read_bytes(), checkpoint.read_bytes()) == before
    assert "Running stage" not in dvc(project, "repro").stdout


def test_the_api_key_is_in_no_file_the_pipeline_wrote(project):
    leaked = []
    for path in project.rglob("*"):
        if path.is_file() and API_KEY.encode() in path.read_bytes():
            leaked.append(str(path.relative_to(project)))
    assert not leaked, f"API key written to {leaked}"
