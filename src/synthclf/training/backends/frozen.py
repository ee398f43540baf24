"""Frozen encoder + linear head: sentence embeddings of `train.encoder` (mean-pooled, unit length,
from text/embeddings.py's per-text store) under scikit-learn's LogisticRegression (`train.head`).

Why it is the offline default: on 2 cores one fine-tuned MiniLM unit costs 20-35 s, and a run fits
200-odd units; here every text is embedded once (validation has usually embedded it already) and a
fit takes a fraction of a second. At the sizes synthetic data is compared at (2-10 per label) the
head scores higher than fine-tuning; with all real data lower (docs/generators-and-backends.md).

The checkpoint is the head alone: frozen_head.json (encoder, its embedding id, label names) and
head.safetensors (coef, intercept). `load_checkpoint(folder).predict(texts)` embeds and scores.
Fitting is deterministic (lbfgs), so the training seed changes nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthclf.errors import SynthclfError
from synthclf.text import embeddings
from synthclf.training.backends.base import Backend

CHECKPOINT = "frozen_head.json"
WEIGHTS = "head.safetensors"


@dataclass
class FrozenHead:
    encoder: str
    label_names: list[str]
    coef: np.ndarray       # (labels, dimension), or (1, dimension) for two labels (scikit-learn's form)
    intercept: np.ndarray  # (labels,) or (1,)

    def decision(self, vectors: np.ndarray) -> np.ndarray:
        return vectors @ self.coef.T + self.intercept

    def predict(self, texts: list[str]) -> list[str]:
        scores = self.decision(embeddings.embed_texts(texts, encoder=self.encoder))
        ids = (scores[:, 0] > 0).astype(int) if scores.shape[1] == 1 else scores.argmax(axis=1)
        return [self.label_names[i] for i in ids]

    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        folder.mkdir(parents=True, exist_ok=True)
        save_file({"coef": np.ascontiguousarray(self.coef, dtype=np.float32),
                   "intercept": np.ascontiguousarray(self.intercept, dtype=np.float32)}, str(folder / WEIGHTS))
        config = {"backend": FrozenLogreg.name, "encoder": self.encoder,
                  "embedding_id": embeddings.model_id(self.encoder), "label_names": self.label_names}
        (folder / CHECKPOINT).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def full_head(head, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """The fitted head in the card's label order. scikit-learn keeps rows for the labels it saw only
    (a small real draw may miss a rare label): a missing label gets a row that never wins."""
    classes = [int(c) for c in head.classes_]
    if classes == list(range(n_labels)):
        return head.coef_.astype(np.float32), head.intercept_.astype(np.float32)
    if len(classes) == 2:   # one binary row: class[1] against class[0]
        rows = np.vstack([-head.coef_[0] / 2, head.coef_[0] / 2])
        biases = np.array([-head.intercept_[0] / 2, head.intercept_[0] / 2])
    else:
        rows, biases = head.coef_, head.intercept_
    coef = np.zeros((n_labels, head.coef_.shape[1]), np.float32)
    intercept = np.full(n_labels, -1e6, np.float32)
    coef[classes], intercept[classes] = rows, biases
    return coef, intercept


class FrozenLogreg(Backend):
    name = "frozen_logreg"
    checkpoint_file = CHECKPOINT
    deterministic = True
    uses_device = True   # the encoder, when a text is not in the store yet
    libraries = ("sklearn.linear_model", "safetensors.numpy")   # vectors usually come from the store

    @classmethod
    def settings(cls, train) -> dict:
        return {"encoder": train.encoder, "embedding_id": embeddings.model_id(train.encoder),
                "head": train.head.model_dump()}

    @classmethod
    def code_files(cls) -> list[Path]:
        return [*super().code_files(), Path(embeddings.__file__)]

    @classmethod
    def fit(cls, texts, labels, label_names, train, seed, desc="train", log=None):
        from sklearn.linear_model import LogisticRegression

        from synthclf import resources

        resources.apply_threads()
        vectors = embeddings.embed_texts(texts, encoder=train.encoder)
        started = time.perf_counter()
        head = LogisticRegression(C=train.head.C, max_iter=train.head.max_iter,
                                  class_weight=None if train.head.class_weight == "none" else "balanced")
        head.fit(vectors, labels)
        stats = {"train_seconds": round(time.perf_counter() - started, 3), "iterations": int(np.max(head.n_iter_))}
        if log is not None:   # a linear head has no steps: its training accuracy as one point
            log.point("train_accuracy", round(float(head.score(vectors, labels)), 5))
        coef, intercept = full_head(head, len(label_names))
        return FrozenHead(train.encoder, list(label_names), coef, intercept), stats

    @classmethod
    def load(cls, folder: Path) -> FrozenHead:
        from safetensors.numpy import load_file

        config = json.loads((folder / CHECKPOINT).read_text(encoding="utf-8"))
        if config.get("embedding_id") != embeddings.model_id(config["encoder"]):
            raise SynthclfError(f"{folder}: the head was fitted on {config.get('embedding_id')} embeddings, but "
                                f"{embeddings.model_id(config['encoder'])} is installed; rerun train")
        weights = load_file(str(folder / WEIGHTS))
        return FrozenHead(config["encoder"], config["label_names"], weights["coef"], weights["intercept"])
