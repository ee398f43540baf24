"""The bundled generators compared by what they are for: the classifiers their data train.

For each model (llm.model) and each offline task of params.yaml, both settings (zero_shot,
few_shot), at the same `--per-class`:

- generation: `synthclf generate` (the real stage: bundled llama.cpp server, cleaning, filters),
  its wall time (server start included), seconds per kept text, rejects by reason;
- label fidelity: the share of kept texts that the project's TF-IDF backend (`tfidf_logreg`,
  training/backends/tfidf.py) trained on the task's real training split assigns to the intended label;
- downstream Macro-F1 on the real test set of the project's classifier (the fine-tuned MiniLM
  backend, params.yaml train settings, one seed), trained on the kept texts (the generator's
  output, before the validate stage), with a 95% interval from synthclf.statistics (score_interval:
  the bootstrap standard error over test items, as every interval of the pipeline).

Per model, the mean Macro-F1 over tasks and settings gets an interval whose standard error adds the
tasks' own bootstrap variances (each task's test items resampled on their own, the same items for
both settings), and the differences to the first model and to the model listed before it paired
intervals (the same resampled items for both models). Scores, intervals and readers are the
library's (synthclf.statistics, synthclf.records), so this table and the pipeline's agree on what a
Macro-F1 and an interval are; `--rescore` recomputes them from the stored predictions.
These intervals cover test-item sampling only: generation is one draw per cell (generation
seed generate.seed, replicate 0), and one draw of a small generator varies by several points per
task, so read per-task differences with care; the mean over 12 cells averages part of it out.

Everything runs in a temporary copy of the project (params.yaml, a snapshot of src/, data fetched
and prepared there with the `synthclf` CLI); the repository's data/ is never written. The
response cache lives in --cache-dir so a rerun regenerates nothing. Threads are set explicitly:
torch 1, llama.cpp server 1 (2 cores shared with other work; see README, Run time).

Usage (README's table: the first line; its results are in benchmarks/results/generator_comparison.json):
  python benchmarks/generator_comparison.py --json reports/generator_comparison.json
  python benchmarks/generator_comparison.py --json benchmarks/results/generator_comparison.json --table-only
  python benchmarks/generator_comparison.py --json benchmarks/results/generator_comparison.json --rescore
  python benchmarks/generator_comparison.py --tasks sms_spam --per-class 3 --json /tmp/check.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from statistics import fmean
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
MODELS = ["SmolLM2-135M-Instruct", "Qwen2.5-Coder-0.5B-Instruct", "Qwen2.5-Coder-1.5B-Instruct"]
SETTINGS = ["zero_shot", "few_shot"]
THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
              "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
              "GX_ANALYTICS_ENABLED": "false", "TQDM_DISABLE": "1"}


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def log(message: str) -> None:
    print(f"[{now()}] {message}", flush=True)


# ---- the temporary project --------------------------------------------------------------------

def make_project(root: Path, tasks: list[str], per_class: int, cache_dir: Path) -> dict:
    """params.yaml (the repository's, narrowed to these tasks) and a snapshot of src/ in `root`."""
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["tasks"] = tasks
    params["split"] = {task: params["split"][task] for task in tasks}
    params["train"].update(seeds=[0])
    params["resources"] = {**params.get("resources", {}), "threads": 1}
    # One llama.cpp thread serves the requests one after another: with llm.concurrency 4 a request
    # waits for three others, which for the 1.5B model on loaded cores is longer than the default
    # 60 s timeout. Waiting longer changes no text (the timeout is not part of the cache key).
    params["llm"].update(base_url=None, server_threads=1, timeout_s=600)
    params["generate"].update(settings=SETTINGS, per_class=per_class, budget_usd=0)
    os.environ.update(THREAD_ENV, SYNTHCLF_CACHE_DIR=str(cache_dir))
    # The snapshot, not the live checkout, serves this process and every `synthclf` child: the
    # comparison runs for an hour while others edit src/.
    os.environ["PYTHONPATH"] = str(root / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")
    sys.path.insert(0, str(root / "src"))
    params["generate"]["replicates"] = 1  # one draw per cell (see the module docstring)
    params["compare"] = {**params.get("compare", {}), "sizes": [1]}  # learning curves are not used here
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    return params


RUNNING: set[subprocess.Popen] = set()  # the stage a worker thread waits for, stopped on an interrupt
STOPPING = threading.Event()


def synthclf(root: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", "import sys; from synthclf.cli import app; sys.exit(app())", *args]
    if STOPPING.is_set():
        return subprocess.CompletedProcess(command, 130, "", "interrupted")
    with subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as process:
        RUNNING.add(process)
        try:
            stdout, stderr = process.communicate()
        finally:
            RUNNING.discard(process)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def set_model(root: Path, model: str) -> None:
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text(encoding="utf-8"))
    params["llm"]["model"] = model
    path.write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")


def read_jsonl(path: Path) -> list[dict]:
    from synthclf.records import read_jsonl as read  # imported late: the snapshot's src/ (make_project)

    return read(path)


# ---- measures: the library's Macro-F1 and intervals (synthclf.statistics) -----------------------
# Imported inside the functions, like every synthclf import here: the snapshot of src/ must be on
# sys.path first (make_project).

def rounded(estimate) -> tuple[float, list[float]]:
    """(value, [low, high]) of a statistics.Estimate, as the results file stores them."""
    return round(estimate.value, 4), [round(estimate.low, 4), round(estimate.high, 4)]


def cell_score(gold: np.ndarray, pred: np.ndarray, k: int, resamples: int):
    """One cell's Macro-F1 on the real test set with its interval (statistics.score_interval)."""
    from synthclf.statistics import score_interval

    return score_interval(gold, pred, k, n_resamples=resamples, seed=1)


def mean_f1_over_settings(n_labels: int):
    """A task's statistic: Macro-F1 averaged over the settings' predictions (one row per setting)."""
    from synthclf.statistics import macro_f1_batch

    def statistic(gold, preds, axis=-1):
        return macro_f1_batch(gold, preds, n_labels).mean(axis=0)
    return statistic


def mean_f1_difference(n_labels: int):
    """A task's statistic: one model's mean Macro-F1 over the settings minus another's, on the same items."""
    mean_f1 = mean_f1_over_settings(n_labels)

    def statistic(gold, preds_a, preds_b, axis=-1):
        return mean_f1(gold, preds_a) - mean_f1(gold, preds_b)
    return statistic


def task_mean_interval(per_task: list[tuple], resamples: int, seed: int):
    """Mean over tasks of per-task statistics, each (statistic, (gold, predictions...)).

    A task's test items are resampled on their own (statistics.item_standard_error), so the mean's
    standard error is sqrt(sum of the tasks' bootstrap variances) / T; the interval is the library's
    (statistics.interval_from_parts). It counts test-item sampling only (one generation per cell).
    """
    from synthclf.statistics import interval_from_parts, item_standard_error

    values = [float(statistic(*data)) for statistic, data in per_task]
    # one seed per task: tasks with as many test items must not share their resampled indices
    errors = [item_standard_error(statistic, data, n_resamples=resamples, seed=seed * 1000 + t)
              for t, (statistic, data) in enumerate(per_task)]
    tasks = len(per_task)
    return interval_from_parts(float(np.mean(values)), math.sqrt(sum(se ** 2 for se in errors)) / tasks, [],
                               n_items=sum(len(data[0]) for _, data in per_task), n_replicates=1)


def fidelity_classifier(train: list[dict], labels: list[str], train_params):
    """The project's TF-IDF backend (tfidf_logreg) fitted on the task's real training split."""
    from synthclf.training.backends import backend

    index = {label: i for i, label in enumerate(labels)}
    classifier, _ = backend("tfidf_logreg").fit([r["text"] for r in train], [index[r["label"]] for r in train],
                                                labels, train_params, seed=0, desc="fidelity")
    return classifier


def downstream(records: list[dict], label_names: list[str], test_texts: list[str], train_params, workdir: Path,
               desc: str) -> tuple[list[int], float]:
    """Train the project's classifier on `records` and predict the real test set (label ids)."""
    from synthclf.training.backends import backend
    from synthclf.training.train import training_examples

    texts, labels = training_examples(records, label_names, desc)
    started = time.monotonic()
    # the fine-tuned MiniLM, as in the committed results (benchmarks/results/generator_comparison.json)
    classifier, _ = backend("transformer").fit(texts, labels, label_names, train_params, seed=0, desc=desc)
    predicted = classifier.predict(test_texts)
    index = {label: i for i, label in enumerate(label_names)}
    return [index[label] for label in predicted], time.monotonic() - started


# ---- one cell: model x task x setting ---------------------------------------------------------

def generate_cell(root: Path, model: str, task: str, setting: str) -> tuple[dict, list[dict] | None]:
    """`synthclf generate` for one cell; its metrics and (replicate 0) records, read at once because
    the next cell overwrites the same paths."""
    set_model(root, model)
    started = time.monotonic()
    result = synthclf(root, "generate", "--task", task, "--setting", setting)
    process_s = time.monotonic() - started
    metrics_path = root / "metrics/generate" / task / f"{setting}.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
    cell: dict[str, Any] = {
        "status": "ok" if result.returncode == 0 else "generate_failed",
        "gen_wall_s": metrics.get("wall_time_s", round(process_s, 2)), "gen_process_s": round(process_s, 2),
        "kept": metrics.get("kept", 0), "attempts": metrics.get("attempts", 0),
        "rejected": sum(metrics.get("rejected", {}).values()), "rejected_by_reason": metrics.get("rejected", {}),
        "complete": metrics.get("complete", False), "calls": metrics.get("calls"),
        "cache_hits": metrics.get("cache_hits"), "tokens": metrics.get("tokens"),
    }
    if result.returncode != 0:
        cell["error"] = (result.stderr.strip().splitlines() or ["no output"])[-1]
        log(f"{model} {task}/{setting}: generate failed: {cell['error']}")
        return cell, None
    records = [r for r in read_jsonl(root / "data/synthetic" / task / f"{setting}.jsonl") if r.get("replicate", 0) == 0]
    log(f"{model} {task}/{setting}: generated, kept {cell['kept']}/{cell['attempts']} attempts "
        f"in {cell['gen_wall_s']:.0f}s")
    return cell, records


def score_cell(cell: dict, records: list[dict], what: str, real: dict, train_params, workdir: Path,
               resamples: int) -> dict:
    """Label fidelity and downstream Macro-F1 (with interval) of one cell's texts."""
    texts = [r["text"] for r in records]
    predicted = real["fidelity"].predict(texts)
    cell["fidelity"] = round(float(np.mean([p == r["label"] for p, r in zip(predicted, records, strict=True)])), 4)
    pred, train_s = downstream(records, real["labels"], real["test_texts"], train_params, workdir, what)
    cell["macro_f1"], cell["macro_f1_ci"] = rounded(cell_score(real["gold"], np.array(pred), len(real["labels"]),
                                                               resamples))
    cell["train_eval_s"] = round(train_s, 1)
    cell["n_train"] = len(records)
    cell["pred"] = pred
    log(f"{what}: fidelity {cell['fidelity']:.2f}, Macro-F1 {cell['macro_f1']:.3f} {cell['macro_f1_ci']}, "
        f"train+eval {train_s:.0f}s")
    return cell


# ---- summary ----------------------------------------------------------------------------------

def summarise(results: dict, models: list[str], tasks: list[str], golds: dict, resamples: int) -> dict:
    """Per model over the tasks every model finished: mean Macro-F1 with interval, differences to
    the first model and to the model listed before it (paired), fidelity, rejects, generation time."""
    cells = results["cells"]
    done = [t for t in tasks if all(cells.get(m, {}).get(t, {}).get(s, {}).get("status") == "ok"
                                    for m in models for s in SETTINGS)]
    summary: dict[str, Any] = {"tasks_compared": done}
    if not done:
        return summary

    def preds(model: str, task: str) -> np.ndarray:
        return np.array([cells[model][task][s]["pred"] for s in SETTINGS])   # one row per setting

    def mean_f1(model: str) -> tuple[float, list[float]]:
        per_task = [(mean_f1_over_settings(len(golds[t]["labels"])), (golds[t]["gold"], preds(model, t)))
                    for t in done]
        return rounded(task_mean_interval(per_task, resamples, seed=2))

    def paired_difference(model: str, other: str, seed: int) -> tuple[float, list[float]]:
        per_task = [(mean_f1_difference(len(golds[t]["labels"])), (golds[t]["gold"], preds(model, t), preds(other, t)))
                    for t in done]
        return rounded(task_mean_interval(per_task, resamples, seed=seed))

    baseline = models[0]
    for k, model in enumerate(models):
        chosen = [cells[model][t][s] for t in done for s in SETTINGS]
        kept = sum(c["kept"] for c in chosen)
        attempts = sum(c["attempts"] for c in chosen)
        wall = sum(c["gen_wall_s"] for c in chosen)
        calls = sum(c.get("calls") or 0 for c in chosen)
        value, interval = mean_f1(model)
        entry = {
            "mean_macro_f1": value,
            "mean_macro_f1_ci": interval,
            "mean_fidelity": round(fmean(c["fidelity"] for c in chosen), 4),
            "kept": kept, "attempts": attempts,
            "rejected": sum(c["rejected"] for c in chosen),
            "gen_wall_s": round(wall, 1), "calls": calls,
            # Cells resumed from the response cache took no time for their cached calls, so time is
            # per call made (server start included), scaled by attempts per kept text.
            "gen_s_per_call": round(wall / calls, 3) if calls else None,
            "gen_s_per_kept_text": round(wall / calls * attempts / kept, 3) if calls and kept else None,
            # load-independent cost: what the server read and wrote, cached calls included
            "prompt_tokens": sum(tokens(c, "prompt") for c in chosen),
            "completion_tokens": sum(tokens(c, "completion") for c in chosen),
        }
        entry["reject_share"] = round(entry["rejected"] / attempts, 4) if attempts else None
        if k >= 1:
            entry[f"delta_vs_{baseline}"], entry[f"delta_vs_{baseline}_ci"] = paired_difference(model, baseline, seed=3)
        if k >= 2:  # the step up from the model listed before (small to large): is the larger one worth its time?
            entry["delta_vs_previous"], entry["delta_vs_previous_ci"] = paired_difference(model, models[k - 1], seed=4)
        summary[model] = entry
    return summary


def tokens(cell: dict, kind: str) -> int:
    counts = cell.get("tokens") or {}
    return counts.get(kind, 0) + counts.get(f"cached_{kind}", 0)


def seconds(value: float | None) -> str:
    """A time per call; None when every call came from the response cache (no time measured)."""
    return "cached" if value is None else f"{value:.2f}"


def fmt_ci(value: float, ci: list[float]) -> str:
    return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"


def markdown(results: dict, models: list[str], tasks: list[str]) -> str:
    summary, cells = results["summary"], results["cells"]
    done = summary.get("tasks_compared", [])
    lines = [f"Generators at per_class {results['per_class']}, {len(done)} task(s) x {len(SETTINGS)} settings "
             f"({', '.join(done) or 'none complete'}); MiniLM, seed 0; 95% intervals over test items "
             "(bootstrap standard error, synthclf.statistics).", ""]
    if done:
        baseline = models[0]
        lines += ["| model | mean Macro-F1 [95% CI] | vs " + baseline + " [95% CI] | vs the model above [95% CI] "
                  "| label fidelity | rejected / attempts "
                  "| generation s (calls) | s per call | s per kept text | tokens read + written |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for model in models:
            entry = summary[model]
            delta = (fmt_ci(entry[f"delta_vs_{baseline}"], entry[f"delta_vs_{baseline}_ci"])
                     if model != baseline else "")
            step = (fmt_ci(entry["delta_vs_previous"], entry["delta_vs_previous_ci"])
                    if "delta_vs_previous" in entry else "")
            score = fmt_ci(entry["mean_macro_f1"], entry["mean_macro_f1_ci"])
            lines.append(f"| {model} | {score} | {delta} | {step} | "
                         f"{entry['mean_fidelity']:.2f} | {entry['rejected']} / {entry['attempts']} | "
                         f"{entry['gen_wall_s']:.0f} ({entry['calls']}) | {seconds(entry['gen_s_per_call'])} | "
                         f"{seconds(entry['gen_s_per_kept_text'])} | "
                         f"{entry['prompt_tokens']:,} + {entry['completion_tokens']:,} |")
        lines.append("")
    lines += ["Per task: Macro-F1 zero-shot / few-shot (label fidelity zero-shot / few-shot; generation s)", "",
              "| task | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for task in tasks:
        row = [task]
        for model in models:
            pair = [cells.get(model, {}).get(task, {}).get(s, {}) for s in SETTINGS]
            if all(c.get("status") == "ok" for c in pair):
                row.append(" / ".join(f"{c['macro_f1']:.3f}" for c in pair) + " ("
                           + " / ".join(f"{c['fidelity']:.2f}" for c in pair)
                           + f"; {sum(c['gen_wall_s'] for c in pair):.0f}s)")
            else:
                row.append(", ".join(c.get("status", "not run") for c in pair))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def git_head() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return head.stdout.strip()


def write_json(path: Path, data: dict) -> None:
    """Atomically (records.atomic_write), in the committed file's layout: keys in run order, compact
    (the stored predictions are most of it)."""
    from synthclf.records import atomic_write

    with atomic_write(path) as handle:
        handle.write(json.dumps(data, separators=(",", ":")))


def stored_golds(results: dict) -> dict:
    """The gold label ids stored in a results file, with each task's label names."""
    from synthclf.tasks import load_card

    return {task: {"gold": np.array(gold), "labels": load_card(task).label_names}
            for task, gold in results.get("gold", {}).items()}


def rescored(results: dict, resamples: int) -> dict:
    """A results file's Macro-F1 scores, intervals and summary recomputed from its stored predictions
    (no generation, no training; label fidelity needs the texts, which are not stored, so it stays)."""
    golds = stored_golds(results)
    for model_cells in results["cells"].values():
        for task, by_setting in model_cells.items():
            for cell in by_setting.values():
                if cell.get("status") == "ok" and task in golds:
                    gold = golds[task]
                    cell["macro_f1"], cell["macro_f1_ci"] = rounded(
                        cell_score(gold["gold"], np.array(cell["pred"]), len(gold["labels"]), resamples))
    tasks = [t for t in results["tasks"] if t in golds]
    results["summary"] = summarise(results, results["models"], tasks, golds, resamples)
    results["markdown"] = markdown(results, results["models"], results["tasks"])
    return results


def table_from_json(path: Path, resamples: int) -> str:
    """The summary and table of a results file, recomputed from its predictions (a run may be
    unfinished: only tasks every model finished enter the means)."""
    results = json.loads(path.read_text(encoding="utf-8"))
    golds = stored_golds(results)
    tasks = [t for t in results["tasks"] if t in golds]
    results["summary"] = summarise(results, results["models"], tasks, golds, resamples)
    return markdown(results, results["models"], results["tasks"])


# ---- main -------------------------------------------------------------------------------------

def prepare_real(root: Path, task: str, train_params) -> dict:
    for stage in ("fetch", "prepare"):
        result = synthclf(root, stage, "--task", task)
        if result.returncode != 0:
            sys.exit(f"synthclf {stage} --task {task} failed: {result.stderr.strip()[-500:]}")
    from synthclf.tasks import load_card

    labels = load_card(task).label_names
    train = read_jsonl(root / "data/prepared" / task / "train.jsonl")
    test = read_jsonl(root / "data/prepared" / task / "test.jsonl")
    index = {label: i for i, label in enumerate(labels)}
    return {"labels": labels, "test_texts": [r["text"] for r in test],
            "gold": np.array([index[r["label"]] for r in test]),
            "fidelity": fidelity_classifier(train, labels, train_params)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated; the first is the baseline")
    parser.add_argument("--tasks", default=None, help="comma-separated; default: params.yaml tasks")
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--json", type=Path, required=True, help="where the results go (written after every cell)")
    parser.add_argument("--cache-dir", type=Path, default=Path.home() / ".cache/synthclf/generator_comparison",
                        help="response cache (a rerun regenerates nothing)")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap resamples")
    parser.add_argument("--resume", action="store_true", help="keep finished cells of an existing --json")
    parser.add_argument("--table-only", action="store_true",
                        help="print the table of an existing --json (also a partial one) and stop")
    parser.add_argument("--rescore", action="store_true",
                        help="recompute the scores and intervals of an existing --json from its stored "
                             "predictions, write it back, print its table and stop")
    args = parser.parse_args()
    if (args.table_only or args.rescore) and not args.json.exists():
        sys.exit(f"error: {args.json} not found; run the comparison first (without --table-only/--rescore)")
    if args.rescore:
        results = rescored(json.loads(args.json.read_text(encoding="utf-8")), args.resamples)
        # the run's own provenance (command, started, git_head) stays; this says what recomputed its scores
        results["rescored"] = {"at": now(), "git_head": git_head(), "resamples": args.resamples,
                               "how": "scores and intervals from the stored predictions (synthclf.statistics)"}
        write_json(args.json, results)
        print(results["markdown"])
        return
    if args.table_only:
        print(table_from_json(args.json, args.resamples))
        return
    models = args.models.split(",")
    repo_params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    tasks = args.tasks.split(",") if args.tasks else repo_params["tasks"]

    log("command: " + " ".join([sys.executable, *sys.argv]))
    results: dict[str, Any] = {"command": " ".join(sys.argv), "started": now(), "git_head": git_head(),
                               "per_class": args.per_class, "settings": SETTINGS, "tasks": tasks, "models": models,
                               "threads": {"torch": 1, "llama_cpp_server": 1}, "cells": {}}
    if args.resume and args.json.exists():
        previous = json.loads(args.json.read_text())
        if previous.get("per_class") == args.per_class:
            results["cells"] = previous.get("cells", {})
    with tempfile.TemporaryDirectory(prefix="synthclf-generators-") as tmp:
        root = Path(tmp)
        params = make_project(root, tasks, args.per_class, args.cache_dir)
        import torch

        torch.set_num_threads(1)
        from synthclf.assets import install_generator
        from synthclf.config import load_params

        for model in models:
            started = time.monotonic()
            log(f"{model}: {install_generator(model)} ready in {time.monotonic() - started:.0f}s")
        project_params = load_params(root / "params.yaml")
        from synthclf import resources

        resources.activate(project_params.resources)  # resources.threads 1, as the synthclf children get
        train_params = project_params.train
        log(f"project in {root}; train {train_params.model_dump()}; llm.server_threads 1; "
            f"replicates {params['generate'].get('replicates', 1)}")
        golds = {}
        for task in tasks:
            golds[task] = prepare_real(root, task, train_params)
            log(f"{task}: {len(golds[task]['test_texts'])} test items, labels {golds[task]['labels']}")
        results["gold"] = {t: g["gold"].tolist() for t, g in golds.items()}
        # Task-major, so an interrupted run still compares every model on the tasks done. The next
        # cells generate (server: 1 thread) while this one trains (torch: 1 thread).
        todo = [(t, m, s) for t in tasks for m in models for s in SETTINGS
                if results["cells"].get(m, {}).get(t, {}).get(s, {}).get("status") != "ok"]
        generator = ThreadPoolExecutor(max_workers=1)
        try:
            futures = [(t, m, s, generator.submit(generate_cell, root, m, t, s)) for t, m, s in todo]
            for task, model, setting, future in futures:
                cell, records = future.result()
                if records is not None:
                    try:
                        score_cell(cell, records, f"{model} {task}/{setting}", golds[task], train_params,
                                   root / "work", args.resamples)
                    except Exception as exc:  # noqa: BLE001 - one failed cell must not cost the hour the others took
                        cell.update(status="score_failed", error=f"{type(exc).__name__}: {exc}")
                        log(f"{model} {task}/{setting}: scoring failed: {cell['error']}")
                results["cells"].setdefault(model, {}).setdefault(task, {})[setting] = cell
                if all(results["cells"].get(m, {}).get(task, {}).get(s) for m in models for s in SETTINGS):
                    results["summary"] = summarise(results, models, tasks, golds, args.resamples)
                write_json(args.json, results)
        finally:
            STOPPING.set()  # after an interrupt, no further stage; the running one is stopped, else
            generator.shutdown(wait=False, cancel_futures=True)  # the worker, and so this exit, waits for it
            for process in list(RUNNING):
                process.terminate()
            generator.shutdown()
        results["summary"] = summarise(results, models, tasks, golds, args.resamples)
        results["finished"] = now()
    table = markdown(results, models, tasks)
    results["markdown"] = table
    write_json(args.json, results)
    log("done")
    print(table)


if __name__ == "__main__":
    from synthclf.interrupts import run_script

    run_script(main)  # SIGINT/SIGTERM: one line, exit 130/143, temporary files cleaned up
