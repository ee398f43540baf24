"""Are five texts per call as good as one? The same tasks generated both ways, scored alike.

`generate.texts_per_call: 5` (a completion-style call continues a numbered list) made the default
run's generation about four times cheaper (docs/run-time.md). This checks that the texts are no
worse, on replicate 0 of each task and setting (the same generation seed both ways):

- cost: calls, attempts and rejects by reason per kept text (from each run's generate metrics);
- label fidelity: the share of kept texts that the project's TF-IDF backend (`tfidf_logreg`),
  trained on the task's real training split, assigns to the intended label;
- downstream Macro-F1 on the real test set of the default classifier (`train.backend` of
  params.yaml, the frozen MiniLM head) trained on the kept texts, with the library's intervals
  (synthclf.statistics.score_interval) and the paired difference five - one
  (difference_interval: the same resampled test items for both);
- diversity: Remote-Clique and Chamfer distance of the kept texts' MiniLM embeddings, each divided
  by the same measure on real training texts of the same number (text.diversity, as validate
  measures them), and distinct bigrams.

Generation is one draw per cell, so the intervals cover test-item sampling only.

Both runs are project folders after `synthclf generate` (their data/synthetic/ and
metrics/generate/); the real splits are read from the first. The run behind
benchmarks/results/texts_per_call.json (docs/generators-and-backends.md):

  python benchmarks/texts_per_call.py --five <committed run> --one <texts_per_call 1 run> \\
      --tasks sms_spam vader_nyt --json benchmarks/results/texts_per_call.json
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from synthclf import paths, resources
from synthclf.config import load_params
from synthclf.records import read_json, read_jsonl
from synthclf.statistics import difference_interval, score_interval
from synthclf.text import diversity
from synthclf.text.embeddings import embed_texts
from synthclf.training.backends import backend
from synthclf.training.train import training_examples

REPO = Path(__file__).resolve().parents[1]
SETTINGS = ("zero_shot", "few_shot")
ARMS = ("one", "five")


def rounded(estimate) -> dict:
    return {"value": round(estimate.value, 4), "low": round(estimate.low, 4), "high": round(estimate.high, 4)}


def cost(root: Path, task: str, setting: str) -> dict:
    """Per kept text: calls, attempts and rejects by reason (the run's generate metrics, all replicates)."""
    metrics = read_json(root / paths.metrics_file("generate", task, setting))
    kept = max(1, metrics["kept"])
    return {"kept": metrics["kept"], "calls": metrics["calls"] + metrics["cache_hits"], "attempts": metrics["attempts"],
            "calls_per_kept": round((metrics["calls"] + metrics["cache_hits"]) / kept, 3),
            "rejected_per_kept": round(sum(metrics["rejected"].values()) / kept, 3), "rejected": metrics["rejected"]}


def fit_predict(name: str, records: list[dict], label_names: list[str], texts: list[str], train) -> list[str]:
    examples, labels = training_examples(records, label_names, name)
    classifier, _ = backend(name).fit(examples, labels, label_names, train, seed=0, desc=name)
    return classifier.predict(texts)


def diversity_ratios(texts: list[str], real_texts: list[str]) -> dict:
    """Remote-Clique and Chamfer of the texts over the same measures on as many real texts (3 draws)."""
    own = diversity.diversity_measures(texts, embed_texts(texts), None)
    real = diversity.size_matched_reference(real_texts, embed_texts(real_texts), len(texts))
    return {"remote_clique_ratio": round(own["remote_clique"] / real["remote_clique"], 3),
            "chamfer_ratio": round(own["chamfer"] / real["chamfer"], 3),
            "distinct_2": round(own["distinct_2"], 3), "real_distinct_2": round(real["distinct_2"], 3)}


def compare_cell(roots: dict[str, Path], task: str, setting: str, real: dict, params) -> dict:
    """Each arm's kept texts of replicate 0 scored alike; the paired difference is the second arm's
    Macro-F1 minus the first's (key "<second>_minus_<first>")."""
    gold = np.array([real["index"][record["label"]] for record in real["test"]])
    test_texts = [record["text"] for record in real["test"]]
    cell, preds = {}, {}
    for arm, root in roots.items():
        records = [r for r in read_jsonl(root / paths.synthetic_file(task, setting)) if r.get("replicate", 0) == 0]
        texts = [r["text"] for r in records]
        fidelity = real["fidelity"].predict(texts)
        predicted = fit_predict(params.train.backend, records, real["labels"], test_texts, params.train)
        preds[arm] = np.array([real["index"][label] for label in predicted])
        faithful = [p == r["label"] for p, r in zip(fidelity, records, strict=True)]
        cell[arm] = {"texts": len(texts), **cost(root, task, setting), "fidelity": round(float(np.mean(faithful)), 3),
                     "macro_f1": rounded(score_interval(gold, preds[arm], len(real["labels"]), seed=1)),
                     **diversity_ratios(texts, [r["text"] for r in real["train"]])}
    first, second = roots
    paired = difference_interval(gold, preds[second], preds[first], len(real["labels"]), seed=1)
    cell[f"{second}_minus_{first}"] = rounded(paired)
    return cell


def real_splits(root: Path, task: str, train_params) -> dict:
    """The task's real splits and the label-fidelity classifier, fitted once on the real training split."""
    train = read_jsonl(root / paths.prepared_split(task, "train"))
    labels = sorted({record["label"] for record in train})
    examples, ids = training_examples(train, labels, "fidelity")
    fidelity, _ = backend("tfidf_logreg").fit(examples, ids, labels, train_params, seed=0, desc="fidelity")
    return {"train": train, "test": read_jsonl(root / paths.prepared_split(task, "test")), "labels": labels,
            "index": {label: i for i, label in enumerate(labels)}, "fidelity": fidelity}


def arm_cells(cell: dict) -> str:
    """One arm's table cells after its name columns: cost, fidelity, Macro-F1, diversity."""
    f1 = cell["macro_f1"]
    return (f"{cell['calls_per_kept']:.2f} | {cell['rejected_per_kept']:.2f} | {cell['fidelity']:.2f} | "
            f"{100 * f1['value']:.1f} [{100 * f1['low']:.1f}, {100 * f1['high']:.1f}] | "
            f"{cell['remote_clique_ratio']:.2f} | {cell['chamfer_ratio']:.2f} |")


def difference_cells(difference: dict) -> str:
    """The paired Macro-F1 difference in the arms' columns, the others blank."""
    return (f" | | | | {100 * difference['value']:+.1f} "
            f"[{100 * difference['low']:+.1f}, {100 * difference['high']:+.1f}] | | |")


def markdown(results: dict) -> str:
    lines = ["| task | setting | texts per call | calls / kept | rejected / kept | label fidelity | "
             "Macro-F1 [95%] | Remote-Clique / real | Chamfer / real |", "|---|---|---|---|---|---|---|---|---|"]
    for key, cell in results["cells"].items():
        task, setting = key.split("/")
        for arm in ARMS:
            lines.append(f"| {task} | {setting} | {1 if arm == 'one' else 5} | {arm_cells(cell[arm])}")
        lines.append(f"| {task} | {setting} | 5 - 1{difference_cells(cell['five_minus_one'])}")
    return "\n".join(lines)


def compare_runs(roots: dict[str, Path], tasks: list[str], settings: tuple[str, ...], key) -> dict:
    """Every task and setting compared across the two runs (real splits read from the second);
    `key(task, setting)` names each cell in the results."""
    params = load_params(REPO / "params.yaml")
    resources.activate(params.resources.model_copy(update={"threads": 1}))   # 2 shared cores: time nothing here
    cells = {}
    for task in tasks:
        real = real_splits(list(roots.values())[1], task, params.train)
        for setting in settings:
            cells[key(task, setting)] = compare_cell(roots, task, setting, real, params)
            print(f"{key(task, setting)}: done", flush=True)
    return {"backend": params.train.backend, "encoder": params.train.encoder, "replicate": 0, "cells": cells}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--one", type=Path, required=True, help="project folder generated with texts_per_call 1")
    parser.add_argument("--five", type=Path, required=True, help="project folder generated with texts_per_call 5")
    parser.add_argument("--tasks", nargs="+", required=True)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    results = compare_runs({"one": args.one, "five": args.five}, args.tasks, SETTINGS,
                           key=lambda task, setting: f"{task}/{setting}")
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
