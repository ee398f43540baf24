"""train and evaluate: real fine-tuning of the bundled MiniLM on a tiny, separable task."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest
import yaml

from synthclf import paths
from synthclf.config import load_params
from synthclf.errors import SynthclfError
from synthclf.records import read_jsonl, write_jsonl
from synthclf.training import evaluate, mix, train

REPO = Path(__file__).resolve().parents[1]
SPAM = ["WIN a free prize now, call {n} to claim your cash", "URGENT you have won {n} pounds, text CLAIM today",
        "Free ringtones for you, reply {n} to subscribe now", "Congratulations winner, claim your {n} reward now"]
HAM = ["are we still meeting for lunch at {n} today", "sorry I am late, see you at the station at {n}",
       "mum says dinner is at {n}, bring the kids", "can you pick up milk on the way home, back by {n}"]


def records(n_per_label: int, seed: int, source: str = "real") -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for label, templates in (("spam", SPAM), ("ham", HAM)):
        for i in range(n_per_label):
            text = rng.choice(templates).format(n=rng.randint(1, 99))
            rows.append({"id": f"{label}-{seed}-{i}", "task": "sms_spam", "text": text, "label": label,
                         "source": source})
    return rows


@pytest.fixture
def project(tmp_path, monkeypatch):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["tasks"] = ["sms_spam"]
    params["split"] = {"sms_spam": {"train_size": 40, "test_size": 20, "pool_size": 4}}
    params["train"].update(epochs=1, min_steps=24, batch_size=8, max_length=32, seeds=[0, 1])
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
    metrics = json.loads(paths.metrics_file("train", "sms_spam", "real").read_text())
    assert metrics["per_seed"]["0"]["steps"] == 24 and metrics["n_train"] == 40

    evaluate.run(params, "sms_spam", "real")
    scores = json.loads(paths.metrics_file("evaluate", "sms_spam", "real").read_text())
    assert scores["macro_f1"] >= 0.9 and scores["accuracy"] >= 0.9
    assert scores["seeds"] == [0, 1] and set(scores["per_seed"]) == {"0", "1"}
    assert set(scores["per_class"]) == {"ham", "spam"} and scores["per_class"]["spam"]["support"] == 10
    predictions = read_jsonl(paths.predictions_file("sms_spam", "real"))
    assert len(predictions) == 20 and set(predictions[0]["pred"]) == {"0", "1"}
    assert paths.confusion_plot("sms_spam", "real").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


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
    assert json.loads(paths.metrics_file("evaluate", "sms_spam", "real").read_text())["macro_f1"] >= 0.9


def test_a_source_missing_a_label_is_refused_and_leaves_no_checkpoint(project):
    write_jsonl(paths.validated_file("sms_spam", "few_shot"),
                [r for r in records(5, seed=3, source="few_shot") if r["label"] == "ham"])
    with pytest.raises(SynthclfError, match=r"no training examples for label\(s\) \['spam'\]"):
        train.run(load_params(), "sms_spam", "few_shot")
    assert not paths.model_dir("sms_spam", "few_shot").exists()


def test_mix_adds_stratified_real_examples_to_the_synthetic_set(project):
    synthetic = records(5, seed=4, source="few_shot")
    write_jsonl(paths.validated_file("sms_spam", "few_shot"), synthetic)
    mix.run(load_params(), "sms_spam", "few_shot+real6")
    mixed = read_jsonl(paths.validated_file("sms_spam", "few_shot+real6"))
    real = [r for r in mixed if r["source"] == "real"]
    assert len(mixed) == len(synthetic) + 6 and len(real) == 6
    assert {r["label"] for r in real} == {"ham", "spam"}
    assert len({r["id"] for r in real}) == 6
