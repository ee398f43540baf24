"""train and evaluate: real fine-tuning of the bundled MiniLM on a tiny, separable task."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

from synthclf import paths
from synthclf.config import load_params
from synthclf.errors import SynthclfError
from synthclf.records import read_jsonl, write_jsonl
from synthclf.training import evaluate, mix, train, units

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
SPAM = ["WIN a free prize now, call {n} to claim your cash", "URGENT you have won {n} pounds, text CLAIM today",
        "Free ringtones for you, reply {n} to subscribe now", "Congratulations winner, claim your {n} reward now"]
HAM = ["are we still meeting for lunch at {n} today", "sorry I am late, see you at the station at {n}",
       "mum says dinner is at {n}, bring the kids", "can you pick up milk on the way home, back by {n}"]


def records(n_per_label: int, seed: int, source: str = "real", numbers: int = 99) -> list[dict]:
    """A tiny separable SMS task: templated spam and ham, each with a number from 1 to `numbers`."""
    rng = random.Random(seed)
    rows = []
    for label, templates in (("spam", SPAM), ("ham", HAM)):
        for i in range(n_per_label):
            text = rng.choice(templates).format(n=rng.randint(1, numbers))
            rows.append({"id": f"{label}-{seed}-{i}", "task": "sms_spam", "text": text, "label": label,
                         "source": source})
    return rows


@pytest.fixture
def project(tmp_path, monkeypatch):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["tasks"] = ["sms_spam"]
    params["split"] = {"sms_spam": {"train_size": 40, "test_size": 20, "pool_size": 4}}
    params["train"].update(backend="transformer", epochs=1, min_steps=24, min_epochs=0, batch_size=8, max_length=32,
                           seeds=[0, 1])
    params["generate"].update(per_class=5, replicates=2)
    params["compare"] = {"sizes": [2], "bootstrap_resamples": 200}
    params["mixes"] = [{"setting": "few_shot", "real": 6}]
    params["sources"] = ["real", "few_shot", "few_shot+real6"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    write_jsonl(paths.validated_file("sms_spam", "real"), records(20, seed=1))
    write_jsonl(paths.prepared_split("sms_spam", "test"), records(10, seed=2))
    return tmp_path


def test_fine_tuned_checkpoint_learns_and_loads_in_a_pipeline(project):
    from transformers import pipeline

    params = load_params()
    train.run(params, "sms_spam", "real")
    for seed in (0, 1):
        checkpoint = paths.model_dir("sms_spam", "real") / f"seed{seed}"
        assert (checkpoint / "model.safetensors").exists()
    classify = pipeline("text-classification", model=str(paths.model_dir("sms_spam", "real") / "seed0"))
    assert classify("WIN a free prize now, call 55 to claim your cash")[0]["label"] == "spam"
    assert classify("are we still meeting for lunch at 12 today")[0]["label"] == "ham"
    metrics = json.loads(paths.train_metrics_file("sms_spam", "real").read_text())
    assert metrics["units"]["real/r0"]["steps"] == 24 and metrics["units"]["real/r1"]["n_train"] == 40

    evaluate.run(params, "sms_spam", "real")
    scores = json.loads(paths.evaluate_metrics_file("sms_spam", "real").read_text())
    assert scores["macro_f1"] >= 0.9 and scores["accuracy"] >= 0.9
    assert scores["macro_f1_low"] <= scores["macro_f1"] <= scores["macro_f1_high"]
    assert scores["headline"] == "real" and scores["replicates"] == 2 and set(scores["units"]) == {"real/r0", "real/r1"}
    assert scores["chance_macro_f1"] == pytest.approx(1 / 3)   # balanced binary: constant guess F1 2/3 on one label
    assert set(scores["per_class"]) == {"ham", "spam"} and scores["per_class"]["spam"]["support"] == 10
    predictions = read_jsonl(paths.predictions_file("sms_spam", "real"))
    assert len(predictions) == 20 and set(predictions[0]["pred"]) == {"real/r0", "real/r1"}
    # DVCLive: one loss and one learning-rate row per optimiser step for each seed's checkpoint ...
    for seed in (0, 1):
        curve = (paths.live_plots_dir("train", "sms_spam", "real") / f"metrics/curves/seed{seed}/loss.tsv").read_text()
        rows = [line.split("\t") for line in curve.splitlines()]
        assert rows[0] == ["step", "loss"] and [int(row[0]) for row in rows[1:]] == list(range(24))
        rates = (paths.live_plots_dir("train", "sms_spam", "real")
                 / f"metrics/curves/seed{seed}/learning_rate.tsv").read_text()
        assert float(rates.splitlines()[-1].split("\t")[1]) == 0.0     # the linear schedule ends at zero
    # ... and the headline's confusion matrix: one (actual, predicted) pair per test item and seed
    plots = paths.live_plots_dir("evaluate", "sms_spam", "real")
    pairs = json.loads((plots / "sklearn/confusion_matrix.json").read_text())
    gold = [row["label"] for row in predictions]
    assert [pair["actual"] for pair in pairs] == gold * 2
    assert [pair["predicted"] for pair in pairs] == [row["pred"][unit] for unit in ("real/r0", "real/r1")
                                                     for row in predictions]


def test_same_seed_reproduces_the_metrics_exactly(project):
    params = load_params()
    params.train.seeds = [0]
    runs = []
    for _ in range(2):
        train.run(params, "sms_spam", "real")
        evaluate.run(params, "sms_spam", "real")
        runs.append(paths.predictions_file("sms_spam", "real").read_bytes())
    assert runs[0] == runs[1]


def test_tfidf_baseline(project):
    params = load_params()
    params.train.backend = "tfidf_logreg"
    train.run(params, "sms_spam", "real")
    evaluate.run(params, "sms_spam", "real")
    assert json.loads(paths.evaluate_metrics_file("sms_spam", "real").read_text())["macro_f1"] >= 0.9


def test_a_source_missing_a_label_is_refused_and_leaves_no_checkpoint(project):
    write_jsonl(paths.validated_file("sms_spam", "few_shot"),
                [r for r in records(5, seed=3, source="few_shot") if r["label"] == "ham"])
    with pytest.raises(SynthclfError, match=r"no training examples for label\(s\) \['spam'\]"):
        train.run(load_params(), "sms_spam", "few_shot")
    assert not paths.model_dir("sms_spam", "few_shot").exists()


def test_mix_adds_a_stratified_real_draw_to_every_replicate(project):
    synthetic = synthetic_replicates(5, 2)
    write_jsonl(paths.validated_file("sms_spam", "few_shot"), synthetic)
    mix.run(load_params(), "sms_spam", "few_shot+real6")
    mixed = read_jsonl(paths.validated_file("sms_spam", "few_shot+real6"))
    for r in (0, 1):
        real = [row for row in mixed if row["source"] == "real" and row["replicate"] == r]
        assert len(real) == 6 and {row["label"] for row in real} == {"ham", "spam"}
        assert len({row["id"] for row in real}) == 6
    assert len(mixed) == len(synthetic) + 12
    draws = [{row["id"] for row in mixed if row["source"] == "real" and row["replicate"] == r} for r in (0, 1)]
    assert draws[0] != draws[1]   # each replicate gets its own real draw


def synthetic_replicates(per_label: int, replicates: int) -> list[dict]:
    rows = []
    for r in range(replicates):
        rows += [{**row, "replicate": r, "id": f"r{r}-{row['id']}"}
                 for row in records(per_label, seed=10 + r, source="few_shot")]
    return rows


def test_size_matched_real_units_have_exactly_the_synthetic_label_counts(project):
    synthetic = synthetic_replicates(5, 2)
    synthetic = [row for row in synthetic if not (row["replicate"] == 1 and row["label"] == "spam"
                                                  and row["id"].endswith(("-3", "-4")))]   # replicate 1 is short
    write_jsonl(paths.validated_file("sms_spam", "few_shot"), synthetic)
    built = {unit.name: unit for unit in units.units_for(load_params(), "sms_spam", "few_shot")}
    assert set(built) == {f"{kind}@{n}/r{r}" for kind in ("few_shot", "real") for n in (2, 5) for r in (0, 1)}
    for name, unit in built.items():
        if name.startswith("few_shot"):
            matched = built[name.replace("few_shot@", "real@")]
            assert units.label_counts(list(matched.records)) == units.label_counts(list(unit.records))
            assert all(r["source"] == "real" for r in matched.records) and matched.seed == unit.seed
    assert units.label_counts(list(built["few_shot@5/r1"].records)) == {"ham": 5, "spam": 3}
    # nested: the smaller draw is part of the larger one, for both kinds of data
    for kind in ("few_shot", "real"):
        small = {r["id"] for r in built[f"{kind}@2/r0"].records}
        assert small <= {r["id"] for r in built[f"{kind}@5/r0"].records}
    assert built["few_shot@5/r0"].keep_as == "rep0" and built["real@5/r0"].keep_as is None
    assert built["few_shot@5/r0"].seed != built["few_shot@5/r1"].seed   # replicates train with their own seed


def test_a_setting_scores_every_curve_point_with_an_interval(project):
    write_jsonl(paths.validated_file("sms_spam", "few_shot"), synthetic_replicates(5, 2))
    params = load_params()
    train.run(params, "sms_spam", "few_shot")
    assert sorted(p.name for p in paths.model_dir("sms_spam", "few_shot").iterdir()) == ["rep0", "rep1"]
    evaluate.run(params, "sms_spam", "few_shot")
    scores = json.loads(paths.evaluate_metrics_file("sms_spam", "few_shot").read_text())
    assert scores["headline"] == "few_shot@5" and scores["replicates"] == 2
    assert set(scores["points"]) == {"few_shot@2", "few_shot@5", "real@2", "real@5"}
    for block in scores["points"].values():
        assert block["macro_f1_low"] <= block["macro_f1"] <= block["macro_f1_high"]


def test_matched_real_units_are_fitted_once_across_settings(project, capsys):
    """The zero-shot and few-shot stages draw the same real@n sets: the second setting's stage reuses
    the first's fits (same units, same predictions) and fits only its own synthetic units."""
    synthetic = synthetic_replicates(5, 1)
    write_jsonl(paths.validated_file("sms_spam", "few_shot"), synthetic)
    params = load_params()
    params.train.seeds = [0]
    params.sources = [*params.sources, "zero_shot"]
    train.run(params, "sms_spam", "few_shot")
    first = json.loads(paths.train_metrics_file("sms_spam", "few_shot").read_text())["units"]
    assert not any(stats.get("cached") for stats in first.values())
    # the other setting: its own texts (different fits), the same label counts (the same real@n draws)
    zero_shot = [{**r, "source": "zero_shot", "id": r["id"].replace("few_shot", "zero_shot"), "text": r["text"] + " !"}
                 for r in synthetic]
    write_jsonl(paths.validated_file("sms_spam", "zero_shot"), zero_shot)
    train.run(params, "sms_spam", "zero_shot")
    second = json.loads(paths.train_metrics_file("sms_spam", "zero_shot").read_text())["units"]
    real_units = sorted(name for name in first if name.startswith("real@"))
    assert real_units and sorted(name for name in second if name.startswith("real@")) == real_units
    assert all(second[name].get("cached") for name in real_units), second
    own = [name for name in second if name.startswith("zero_shot@")]
    assert own and not any(second[name].get("cached") for name in own), second
    predicted = {source: read_jsonl(paths.predictions_file("sms_spam", source)) for source in ("few_shot", "zero_shot")}
    for name in real_units:
        zero_shot, few_shot = ([row["pred"][name] for row in predicted[source]] for source in ("zero_shot", "few_shot"))
        assert zero_shot == few_shot


@pytest.mark.parametrize("n_examples, steps", [
    (20, 20),      # one batch: min_steps (15 epochs would be 15 steps)
    (60, 30),      # two batches: 15 epochs
    (130, 75),     # a mix of ~130: 15 epochs, not the 20 steps (5 epochs) it collapsed with
    (320, 100),    # 15 epochs would be 150 steps: capped at max_floor_steps
    (1200, 114),   # the full real set: its own 3 epochs (38 batches), above the floor
])
def test_step_floor_grows_with_mid_sized_sets_and_stops_at_the_cap(n_examples, steps):
    from synthclf.settings.train import TrainParams
    from synthclf.training.backends.transformer import total_steps

    params = TrainParams(epochs=3, min_steps=20, min_epochs=15, max_floor_steps=100, batch_size=32)
    assert total_steps(n_examples, params) == steps
    batches = -(-n_examples // 32)
    assert total_steps(n_examples, params.model_copy(update={"min_epochs": 0})) == max(20, 3 * batches)
