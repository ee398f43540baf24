"""benchmarks/generator_comparison.py scores with the library, and its committed table says so.

The docs' choice of the default generator rests on benchmarks/results/generator_comparison.json.
Its Macro-F1 scores and intervals are recomputed here from the predictions stored in it, with the
script's own code (synthclf.statistics underneath), and must equal what the file says: a change to
the statistics that moves the table fails here, not silently in the docs. Label fidelity cannot be
recomputed (the generated texts are not stored); it is checked by its classifier instead: the
project's TF-IDF backend must decide exactly as the classifier the column was measured with.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "generator_comparison.json"


@pytest.fixture(scope="module")
def script():
    path = REPO / "benchmarks" / "generator_comparison.py"
    spec = importlib.util.spec_from_file_location("generator_comparison", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_table_is_what_the_library_computes_from_its_predictions(script):
    committed = json.loads(RESULTS.read_text(encoding="utf-8"))
    recomputed = script.rescored(copy.deepcopy(committed), resamples=committed["rescored"]["resamples"])
    for model, tasks in committed["cells"].items():
        for task, settings in tasks.items():
            for setting, cell in settings.items():
                again = recomputed["cells"][model][task][setting]
                assert (again["macro_f1"], again["macro_f1_ci"]) == (cell["macro_f1"], cell["macro_f1_ci"]), \
                    f"{model} {task}/{setting}"
    assert recomputed["summary"] == committed["summary"]
    assert recomputed["markdown"] == committed["markdown"]


def test_a_cell_interval_surrounds_its_score_and_a_better_model_wins_the_paired_difference(script):
    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, size=300)
    good = np.where(rng.random(300) < 0.8, gold, rng.integers(0, 3, size=300))
    poor = np.where(rng.random(300) < 0.4, gold, rng.integers(0, 3, size=300))
    value, (low, high) = script.rounded(script.cell_score(gold, good, 3, resamples=500))
    assert low < value < high and high - low < 0.2
    per_task = [(script.mean_f1_difference(3), (gold, np.stack([good, good]), np.stack([poor, poor])))]
    difference = script.task_mean_interval(per_task, resamples=500, seed=3)
    assert difference.low > 0                        # 80% against 40% correct: the interval excludes 0
    same = script.task_mean_interval([(script.mean_f1_difference(3), (gold, np.stack([good]), np.stack([good])))],
                                     resamples=500, seed=3)
    assert same.value == 0 and same.low == same.high == 0   # a model against itself: no difference at all


def test_the_mean_over_tasks_adds_the_tasks_own_variances(script):
    """Two identical tasks: the mean's standard error is one task's divided by sqrt(2)."""
    rng = np.random.default_rng(1)
    gold = rng.integers(0, 2, size=400)
    pred = np.where(rng.random(400) < 0.7, gold, 1 - gold)[None, :]
    one = script.task_mean_interval([(script.mean_f1_over_settings(2), (gold, pred))], resamples=800, seed=2)
    statistic = script.mean_f1_over_settings(2)
    two = script.task_mean_interval([(statistic, (gold, pred)), (statistic, (gold, pred))], resamples=800, seed=2)
    assert two.value == pytest.approx(one.value)
    assert two.se == pytest.approx(one.se / np.sqrt(2), rel=0.15)   # bootstrap noise: each task its own seed


def test_fidelity_uses_the_project_tfidf_backend_deciding_as_the_measured_classifier(script):
    """The fidelity column was measured with TF-IDF word 1-2 grams (sublinear tf) + logistic regression
    (C 10, max_iter 2000, random_state 0) fitted on label names; the backend must decide the same."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from synthclf.config import load_params

    rng = np.random.default_rng(2)
    labels = ["sport", "money", "weather"]
    words = {"sport": "match goal team score", "money": "bank price cash loan", "weather": "rain sun wind cloud"}
    shared = "the a today news said very".split()

    def text(label: str) -> str:   # overlapping vocabularies: the classifiers must weigh words, not just spot one
        own = rng.choice(words[label].split(), 2).tolist()
        other = rng.choice(words[labels[rng.integers(3)]].split(), 2).tolist()
        return " ".join(rng.permutation(own + other + rng.choice(shared, 3).tolist()))

    train = [{"text": text(label), "label": label} for label in labels for _ in range(30)]
    texts = [text(labels[i % 3]) for i in range(300)]
    measured = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
                             LogisticRegression(max_iter=2000, C=10.0, random_state=0))
    measured.fit([r["text"] for r in train], [r["label"] for r in train])
    backend = script.fidelity_classifier(train, labels, load_params(REPO / "params.yaml").train)
    assert backend.predict(texts) == measured.predict(texts).tolist()
    assert len(set(backend.predict(texts))) == 3
