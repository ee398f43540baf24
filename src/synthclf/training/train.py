"""Stage `train`: fit one source's training units and predict the real test set with each.

Reads data/validated/<task>/<source>.jsonl (and, for the size-matched comparisons, validated real
data) and the real test split; writes models/<task>/<source>/ (Hugging Face `save_pretrained`
directories in safetensors, loadable by `transformers.pipeline`: one per seed for real data, one per
generation replicate at the largest size for synthetic data and mixes), the test-set predictions of
every unit in data/predictions/<task>/<source>.jsonl, and through DVCLive dvclive/train/<task>/<source>/:
metrics.json (the units, their steps and speed; schema metrics.TrainMetrics) and
plots/metrics/curves/<unit>/{loss,learning_rate}.tsv, the
per-step curves of every checkpointed unit (one per real seed and per generation replicate).
The units are described in training/units.py. Learning-curve points keep no checkpoint: their
predictions are what the comparison needs, and a checkpoint per point would cost ~90 MB each.

The loop is plain torch (no Trainer) so its overhead stays measurable against a bare
forward+backward loop (benchmarks/train_throughput.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import random
import time
from pathlib import Path

from synthclf import paths, resources
from synthclf.assets import resolve_encoder
from synthclf.config import Params, TrainParams
from synthclf.errors import SynthclfError
from synthclf.metrics import TrainMetrics
from synthclf.records import atomic_directory, atomic_write, read_jsonl, write_jsonl
from synthclf.tasks import load_card
from synthclf.training.units import Unit, units_for

TFIDF_FILE = "tfidf_logreg.joblib"
# Predictions of units that keep no checkpoint, by content: the size-matched real units of the
# zero-shot and few-shot stages are usually identical and are then fitted once.
UNIT_CACHE = Path(".synthclf_cache/units")


def run(params: Params, task: str, source: str) -> None:
    card = load_card(task)
    test = read_jsonl(paths.prepared_split(task, "test"))
    test_texts = [record["text"] for record in test]
    units = units_for(params, task, source)
    predictions: dict[str, list[str]] = {}
    per_unit = {}
    with atomic_directory(paths.model_dir(task, source)) as staging, \
            atomic_directory(paths.live_dir("train", task, source)) as log_dir:
        live = open_live(log_dir)
        for position, unit in enumerate(units, start=1):
            desc = f"train {task}/{source} {unit.name} ({position}/{len(units)})"
            predictions[unit.name], per_unit[unit.name] = fit_and_predict(unit, card.label_names, params.train,
                                                                          test_texts, staging, desc, live)
        write_jsonl(paths.predictions_file(task, source), prediction_rows(test, predictions))
        # the stage's metrics go through DVCLive's summary (beside each checkpoint's last loss and
        # rate), checked against the schema analyze reads them with
        live.summary.update({
            "backend": params.train.backend, "encoder": params.train.encoder,
            "device": "cpu" if params.train.backend == "tfidf_logreg" else resources.device(),
            "threads": resources.threads(), "units": per_unit,
            "train_seconds": round(sum(u.get("train_seconds", 0.0) for u in per_unit.values()), 2)})
        TrainMetrics.model_validate(live.summary)
        live.end()


def open_live(folder: Path):
    """A DVCLive logger writing only into `folder`: no experiment of its own (DVC runs the stage), no
    dvc.yaml (ours declares the outputs), no report."""
    from dvclive import Live

    class FilesOnly(Live):
        # Live looks up the git and DVC repository for experiment tracking even when it saves no
        # experiment, and dvclive 3.49 fails there in a repository without commits ("Empty git
        # repo"). This logger only writes files, so it skips the lookup (and its second per stage).
        def _init_dvc(self) -> None:
            self._dvc_file = "dvc.yaml"

    return FilesOnly(dir=str(folder), save_dvc_exp=False, dvcyaml=None, report=None)


class StepLog:
    """Per-step loss and learning rate of one checkpointed unit, as DVCLive series curves/<unit>/loss
    and curves/<unit>/learning_rate (plots/metrics/curves/<unit>/*.tsv): `dvc plots show` draws one
    curve per seed or replicate, and `dvc plots diff` compares them across experiments."""

    def __init__(self, live, unit: str) -> None:
        self.live, self.unit, self.step = live, unit, 0

    def __call__(self, loss: float, learning_rate: float) -> None:
        # log_metric appends the row at once; setting the step (instead of next_step) spares
        # rewriting the summary and re-reading every series after each optimiser step
        self.live.step = self.step
        self.live.log_metric(f"curves/{self.unit}/loss", round(loss, 5))
        self.live.log_metric(f"curves/{self.unit}/learning_rate", learning_rate)
        self.step += 1


def fit_and_predict(unit: Unit, label_names: list[str], train: TrainParams, test_texts: list[str],
                    staging: Path, desc: str, live=None) -> tuple[list[str], dict]:
    """Fit one unit and predict the test texts; a unit that keeps no checkpoint may come from the cache.
    A checkpointed unit logs its training steps to `live` (DVCLive)."""
    texts, labels = training_examples(list(unit.records), label_names, unit.name)
    counts = {label: labels.count(i) for i, label in enumerate(label_names)}
    key = None if unit.keep_as else unit_key(texts, labels, label_names, train, unit.seed, test_texts)
    cached = read_unit_cache(key)
    if cached is not None:
        return cached["predictions"], {**cached["stats"], "cached": True}
    if train.backend == "tfidf_logreg":
        model, stats = fit_tfidf(texts, labels, unit.seed)
        predicted = [label_names[i] for i in model.predict(test_texts)]
        if unit.keep_as:
            save_tfidf(model, label_names, staging / unit.keep_as)
            if live is not None:   # one point, the fit's training accuracy: a linear model has no steps
                live.step = 0
                live.log_metric(f"curves/{unit.keep_as}/train_accuracy", round(float(model.score(texts, labels)), 5))
    else:
        on_step = StepLog(live, unit.keep_as) if unit.keep_as and live is not None else None
        model, tokenizer, stats = fit_transformer(texts, labels, label_names, train, unit.seed, desc, on_step)
        predicted = predict_texts(model, tokenizer, test_texts, train.max_length, train.eval_batch_size)
        if unit.keep_as:
            model.save_pretrained(staging / unit.keep_as)
            tokenizer.save_pretrained(staging / unit.keep_as)
    stats = {**stats, "n_train": len(texts), "label_counts": counts, "seed": unit.seed}
    write_unit_cache(key, predicted, stats)
    return predicted, stats


def unit_key(texts, labels, label_names, train: TrainParams, seed: int, test_texts) -> str:
    """Everything a unit's predictions depend on, this module's code included."""
    settings = train.model_dump(exclude={"eval_batch_size", "seeds"})
    blob = json.dumps([texts, labels, label_names, settings, seed, test_texts,
                       hashlib.sha256(Path(__file__).read_bytes()).hexdigest()], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def read_unit_cache(key: str | None) -> dict | None:
    if key is None or not (UNIT_CACHE / f"{key}.json").exists():
        return None
    try:
        return json.loads((UNIT_CACHE / f"{key}.json").read_text(encoding="utf-8"))
    except ValueError:
        return None  # a damaged entry is refitted


def write_unit_cache(key: str | None, predictions: list[str], stats: dict) -> None:
    if key is not None:
        with atomic_write(UNIT_CACHE / f"{key}.json") as handle:
            json.dump({"predictions": predictions, "stats": stats}, handle)


def prediction_rows(test: list[dict], predictions: dict[str, list[str]]) -> list[dict]:
    """One row per test item: gold label, every unit's prediction, rater agreement where it exists."""
    rows = []
    for i, record in enumerate(test):
        row = {"id": record["id"], "label": record["label"], "pred": {unit: p[i] for unit, p in predictions.items()}}
        for key in ("agreement", "n_annotators"):
            if key in record:
                row[key] = record[key]
        rows.append(row)
    return rows


def training_examples(records: list[dict], label_names: list[str], what: str) -> tuple[list[str], list[int]]:
    """Texts and label ids; every label must be present, or the classifier could never predict it."""
    index = {label: i for i, label in enumerate(label_names)}
    unknown = sorted({r["label"] for r in records} - set(index))
    if unknown:
        raise SynthclfError(f"{what}: labels {unknown} are not on the task card; rerun validate")
    missing = [label for label in label_names if not any(r["label"] == label for r in records)]
    if missing:
        raise SynthclfError(f"{what}: no training examples for label(s) {missing}; generate more "
                            "(raise generate.per_class) or check validation's quarantine file")
    return [r["text"] for r in records], [index[r["label"]] for r in records]


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def autocast(device: str):
    """bf16 autocast on CUDA (tensor cores, half the activation memory); full precision elsewhere."""
    import torch

    if device == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def total_steps(n_examples: int, train: TrainParams) -> int:
    """Epochs over the data, with a floor so small and mid-sized sets still train.

    The floor is min_steps, raised to min_epochs over the data up to max_floor_steps. With epochs 3
    and min_steps 20 alone, a mix of ~130 examples got 20 steps (5 epochs) while 30 examples got the
    same 20 steps as 20 epochs, and the mix's classifier fell to the majority label. Measured on
    vader_tweets with real texts standing in for the synthetic part (benchmarks/mix_training_floor.py,
    2 seeds): Macro-F1 0.24 (chance) with 20 steps, 0.62-0.64 with 75 (15 epochs).
    Tiny sets (one batch) keep min_steps and the full real set keeps its own epochs.
    """
    per_epoch = math.ceil(n_examples / train.batch_size)
    floor = max(train.min_steps, min(math.ceil(train.min_epochs * per_epoch), train.max_floor_steps))
    return max(math.ceil(train.epochs * per_epoch), floor)


def load_classifier(encoder: str, label_names: list[str]):
    """Tokenizer and a sequence-classification head on the encoder, labels named for `pipeline`."""
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    transformers.logging.set_verbosity_error()  # the new head's "newly initialized" notice is expected
    source = resolve_encoder(encoder)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        model = AutoModelForSequenceClassification.from_pretrained(
            source, num_labels=len(label_names),
            id2label=dict(enumerate(label_names)), label2id={l: i for i, l in enumerate(label_names)})
    except OSError as exc:
        raise SynthclfError(f"train.encoder {encoder!r} could not be loaded ({str(exc).splitlines()[0]}); "
                            "hub ids need the Hugging Face hub — use bundled:all-MiniLM-L6-v2 offline") from exc
    return tokenizer, model


def batches(encodings, labels: list[int], batch_size: int, rng: random.Random, bucket: int = 50):
    """Shuffled batches of texts of similar length, each padded only to its own longest text.

    Indices are shuffled, sorted by length within windows of `bucket` batches, cut into batches,
    and the batches shuffled again: padding (wasted compute) drops while every epoch still sees
    the data in a fresh random order.
    """
    import torch

    order = list(range(len(labels)))
    rng.shuffle(order)
    window = batch_size * bucket
    chunks = []
    for start in range(0, len(order), window):
        by_length = sorted(order[start:start + window], key=lambda i: len(encodings["input_ids"][i]))
        chunks += [by_length[i:i + batch_size] for i in range(0, len(by_length), batch_size)]
    rng.shuffle(chunks)
    for chunk in chunks:
        width = max(len(encodings["input_ids"][i]) for i in chunk)
        ids = torch.zeros((len(chunk), width), dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, i in enumerate(chunk):
            tokens = encodings["input_ids"][i]
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = 1
        yield ids, mask, torch.tensor([labels[i] for i in chunk])


def fit_transformer(texts, labels, label_names, train: TrainParams, seed: int, desc: str = "train", on_step=None):
    """Fine-tune the encoder with a classification head; returns (model, tokenizer, stats).
    on_step(loss, learning_rate), when given, is called after every optimiser step."""
    import torch
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    resources.apply_threads()
    device = resources.device()
    seed_everything(seed)
    tokenizer, model = load_classifier(train.encoder, label_names)
    model.to(device)
    encodings = tokenizer(texts, truncation=True, max_length=train.max_length)
    steps = total_steps(len(texts), train)
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.learning_rate, weight_decay=train.weight_decay)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(train.warmup_ratio * steps), steps)
    rng = random.Random(seed)
    model.train()
    done, seen, loss_value = 0, 0, float("nan")
    started = time.perf_counter()
    with tqdm(total=steps, desc=desc, unit="step", dynamic_ncols=True, mininterval=1.0) as bar:
        while done < steps:
            for ids, mask, target in batches(encodings, labels, train.batch_size, rng):
                ids, mask, target = ids.to(device), mask.to(device), target.to(device)
                with autocast(device):
                    loss = model(input_ids=ids, attention_mask=mask, labels=target).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                done, seen, loss_value = done + 1, seen + len(target), loss.item()
                if on_step is not None:
                    on_step(loss_value, scheduler.get_last_lr()[0])
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.3f}", ex_s=f"{seen / (time.perf_counter() - started):.0f}",
                                refresh=False)
                if done >= steps:
                    break
    seconds = time.perf_counter() - started
    model.eval()
    return model, tokenizer, {"steps": steps, "examples_seen": seen, "final_loss": round(loss_value, 4),
                              "train_seconds": round(seconds, 2), "examples_per_second": round(seen / seconds, 1),
                              "device": device}


def train_transformer(texts, labels, label_names, train: TrainParams, seed: int, out: Path, desc: str = "train") -> dict:
    """Fine-tune and save a `save_pretrained` checkpoint to `out`; returns the training stats."""
    model, tokenizer, stats = fit_transformer(texts, labels, label_names, train, seed, desc)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return stats


def predict_texts(model, tokenizer, texts: list[str], max_length: int, batch_size: int = 128) -> list[str]:
    """Predicted label names. Texts are truncated at the training max_length (what the model was
    trained to read) and batched in length order, so a batch pads to a similar length instead of
    its longest outlier. Runs on the model's device (bf16 autocast on CUDA)."""
    import torch

    device = str(model.device.type)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    labels: list[str] = [""] * len(texts)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in chunk], truncation=True, padding=True,
                              max_length=max_length, return_tensors="pt").to(device)
            with autocast(device):
                logits = model(**batch).logits
            for i, label_id in zip(chunk, logits.argmax(dim=-1).tolist()):
                labels[i] = model.config.id2label[label_id]
    return labels


def fit_tfidf(texts, labels, seed: int):
    """The scikit-learn baseline: TF-IDF word 1-2 grams + logistic regression."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    started = time.perf_counter()
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
                          LogisticRegression(max_iter=2000, C=10.0, random_state=seed))
    model.fit(texts, labels)
    return model, {"train_seconds": round(time.perf_counter() - started, 2)}


def save_tfidf(model, label_names: list[str], out: Path) -> None:
    import joblib

    out.mkdir(parents=True, exist_ok=True)
    joblib.dump({"pipeline": model, "label_names": label_names}, out / TFIDF_FILE)


def train_tfidf(texts, labels, label_names, seed: int, out: Path) -> dict:
    model, stats = fit_tfidf(texts, labels, seed)
    save_tfidf(model, label_names, out)
    return stats
