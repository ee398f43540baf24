"""Stage `evaluate`: score every seed's checkpoint of a source on the real test set.

Writes metrics/evaluate/<task>/<source>.json (Macro-F1 and accuracy as mean and std over seeds,
per-seed and per-class scores), data/predictions/<task>/<source>.jsonl (one line per test item,
every seed's prediction, with annotator agreement where raters exist) and a confusion-matrix PNG.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from synthclf import paths
from synthclf.config import Params
from synthclf.errors import SynthclfError
from synthclf.records import atomic_write, read_jsonl, write_json, write_jsonl
from synthclf.tasks import load_card
from synthclf.training.train import TFIDF_FILE, configure_threads

EVAL_BATCH = 128


def run(params: Params, task: str, source: str) -> None:
    card = load_card(task)
    test = read_jsonl(paths.prepared_split(task, "test"))
    texts = [r["text"] for r in test]
    gold = [r["label"] for r in test]
    predictions = {}
    for seed in params.train.seeds:
        checkpoint = paths.model_dir(task, source) / f"seed{seed}"
        if not checkpoint.exists():
            raise SynthclfError(f"{checkpoint}: missing; run `synthclf train --task {task} --source {source}`")
        predictions[str(seed)] = predict(checkpoint, texts, params.train.max_length, params.train.threads)
    metrics = score(gold, predictions, card.label_names)
    write_json(paths.metrics_file("evaluate", task, source), metrics)
    write_jsonl(paths.predictions_file(task, source), prediction_rows(test, predictions))
    plot_confusion(gold, predictions, card.label_names, paths.confusion_plot(task, source), f"{task} / {source}")
    print(f"evaluate {task}/{source}: macro-F1 {metrics['macro_f1']:.4f} accuracy {metrics['accuracy']:.4f} "
          f"over {len(predictions)} seed(s), {len(test)} test items")


def predict(checkpoint: Path, texts: list[str], max_length: int, threads: int = 0) -> list[str]:
    """Predicted label names, from a transformers checkpoint or the TF-IDF baseline.

    Texts are truncated at the training max_length (what the model was trained to read) and
    batched in length order, so a batch pads to a similar length instead of its longest outlier.
    """
    if (checkpoint / TFIDF_FILE).exists():
        import joblib

        bundle = joblib.load(checkpoint / TFIDF_FILE)
        return [bundle["label_names"][i] for i in bundle["pipeline"].predict(texts)]
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    configure_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    labels: list[str] = [""] * len(texts)
    with torch.inference_mode():
        for start in range(0, len(order), EVAL_BATCH):
            chunk = order[start:start + EVAL_BATCH]
            batch = tokenizer([texts[i] for i in chunk], truncation=True, padding=True,
                              max_length=max_length, return_tensors="pt")
            for i, label_id in zip(chunk, model(**batch).logits.argmax(dim=-1).tolist()):
                labels[i] = model.config.id2label[label_id]
    return labels


def score(gold: list[str], predictions: dict[str, list[str]], label_names: list[str]) -> dict:
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    per_seed = {seed: {"macro_f1": round(f1_score(gold, pred, labels=label_names, average="macro", zero_division=0), 4),
                       "accuracy": round(accuracy_score(gold, pred), 4)}
                for seed, pred in predictions.items()}
    f1s = [s["macro_f1"] for s in per_seed.values()]
    accs = [s["accuracy"] for s in per_seed.values()]
    pooled_pred = [p for pred in predictions.values() for p in pred]
    pooled_gold = gold * len(predictions)
    precision, recall, f1, support = precision_recall_fscore_support(
        pooled_gold, pooled_pred, labels=label_names, zero_division=0)
    per_class = {label: {"precision": round(float(precision[i]), 4), "recall": round(float(recall[i]), 4),
                         "f1": round(float(f1[i]), 4), "support": int(support[i]) // len(predictions)}
                 for i, label in enumerate(label_names)}
    return {"macro_f1": round(statistics.fmean(f1s), 4), "macro_f1_std": round(_std(f1s), 4),
            "accuracy": round(statistics.fmean(accs), 4), "accuracy_std": round(_std(accs), 4),
            "n_test": len(gold), "seeds": [int(s) for s in predictions], "per_seed": per_seed,
            "per_class": per_class}


def _std(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def prediction_rows(test: list[dict], predictions: dict[str, list[str]]) -> list[dict]:
    rows = []
    for i, record in enumerate(test):
        row = {"id": record["id"], "label": record["label"], "pred": {s: p[i] for s, p in predictions.items()}}
        for key in ("agreement", "n_annotators"):
            if key in record:
                row[key] = record[key]
        rows.append(row)
    return rows


def plot_confusion(gold, predictions, label_names, path: Path, title: str) -> None:
    """Confusion matrix summed over seeds, rows = true label, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.metrics import confusion_matrix

    matrix = sum(confusion_matrix(gold, pred, labels=label_names) for pred in predictions.values())
    size = 1.2 + 0.6 * len(label_names)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(label_names)), label_names, rotation=45, ha="right")
    ax.set_yticks(range(len(label_names)), label_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for (row, col), value in np.ndenumerate(matrix):
        ax.text(col, row, str(value), ha="center", va="center",
                color="white" if value > matrix.max() / 2 else "black", fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=110)
    plt.close(fig)
