"""The scikit-learn baseline: TF-IDF word 1-2 grams + logistic regression (joblib checkpoint)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from synthclf.training.backends.base import Backend

CHECKPOINT = "tfidf_logreg.joblib"


@dataclass
class TfidfClassifier:
    pipeline: object
    label_names: list[str]

    def predict(self, texts: list[str]) -> list[str]:
        return [self.label_names[i] for i in self.pipeline.predict(texts)]

    def save(self, folder: Path) -> None:
        import joblib

        folder.mkdir(parents=True, exist_ok=True)
        joblib.dump({"pipeline": self.pipeline, "label_names": self.label_names}, folder / CHECKPOINT)


class TfidfLogreg(Backend):
    name = "tfidf_logreg"
    checkpoint_file = CHECKPOINT
    deterministic = True
    libraries = ("sklearn.linear_model", "joblib")

    @classmethod
    def settings(cls, train) -> dict:
        return {}

    @classmethod
    def fit(cls, texts, labels, label_names, train, seed, desc="train", log=None):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline

        started = time.perf_counter()
        pipeline = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
                                 LogisticRegression(max_iter=2000, C=10.0, random_state=seed))
        pipeline.fit(texts, labels)
        stats = {"train_seconds": round(time.perf_counter() - started, 2)}
        if log is not None:   # one point, the fit's training accuracy: a linear model has no steps
            log.point("train_accuracy", round(float(pipeline.score(texts, labels)), 5))
        return TfidfClassifier(pipeline, list(label_names)), stats

    @classmethod
    def load(cls, folder: Path) -> TfidfClassifier:
        import joblib

        bundle = joblib.load(folder / CHECKPOINT)
        return TfidfClassifier(bundle["pipeline"], bundle["label_names"])
