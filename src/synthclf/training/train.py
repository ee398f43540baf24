"""Stage `train`: fine-tune a classifier on one training source, once per seed.

Reads data/validated/<task>/<source>.jsonl; writes models/<task>/<source>/seed<k>/ (Hugging Face
`save_pretrained` directories in safetensors, loadable by `transformers.pipeline`) and
metrics/train/<task>/<source>.json. The loop is plain torch (no Trainer) so its overhead stays
measurable against a bare forward+backward loop (benchmarks/train_throughput.py).
"""

from __future__ import annotations

import math
import os
import random
import time
from pathlib import Path

from synthclf import paths
from synthclf.assets import resolve_encoder
from synthclf.config import Params, TrainParams
from synthclf.errors import SynthclfError
from synthclf.records import atomic_directory, read_jsonl, write_json
from synthclf.tasks import load_card

TFIDF_FILE = "tfidf_logreg.joblib"


def run(params: Params, task: str, source: str) -> None:
    card = load_card(task)
    records = read_jsonl(paths.validated_file(task, source))
    texts, labels = training_examples(records, card.label_names, f"{task}/{source}")
    per_seed = {}
    with atomic_directory(paths.model_dir(task, source)) as staging:
        for seed in params.train.seeds:
            out = staging / f"seed{seed}"
            if params.train.backend == "tfidf_logreg":
                per_seed[str(seed)] = train_tfidf(texts, labels, card.label_names, seed, out)
            else:
                per_seed[str(seed)] = train_transformer(texts, labels, card.label_names, params.train, seed, out,
                                                        desc=f"train {task}/{source} seed {seed}")
    write_json(paths.metrics_file("train", task, source),
               {"backend": params.train.backend, "encoder": params.train.encoder, "n_train": len(texts),
                "per_seed": per_seed})


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


def configure_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads or os.cpu_count() or 1)


def total_steps(n_examples: int, train: TrainParams) -> int:
    """Epochs over the data, but at least min_steps so a small synthetic set still trains."""
    per_epoch = math.ceil(n_examples / train.batch_size)
    return max(math.ceil(train.epochs * per_epoch), train.min_steps)


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


def train_transformer(texts, labels, label_names, train: TrainParams, seed: int, out: Path, desc: str = "train") -> dict:
    import torch
    from tqdm.auto import tqdm
    from transformers import get_linear_schedule_with_warmup

    configure_threads(train.threads)
    seed_everything(seed)
    tokenizer, model = load_classifier(train.encoder, label_names)
    encodings = tokenizer(texts, truncation=True, max_length=train.max_length)
    steps = total_steps(len(texts), train)
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.learning_rate, weight_decay=train.weight_decay)
    scheduler = get_linear_schedule_with_warmup(optimizer, int(train.warmup_ratio * steps), steps)
    rng = random.Random(seed)
    model.train()
    done, seen, loss_value = 0, 0, float("nan")
    started = time.perf_counter()
    with tqdm(total=steps, desc=desc, unit="step", dynamic_ncols=True) as bar:
        while done < steps:
            for ids, mask, target in batches(encodings, labels, train.batch_size, rng):
                loss = model(input_ids=ids, attention_mask=mask, labels=target).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                done, seen, loss_value = done + 1, seen + len(target), loss.item()
                bar.update(1)
                bar.set_postfix(loss=f"{loss_value:.3f}", ex_s=f"{seen / (time.perf_counter() - started):.0f}")
                if done >= steps:
                    break
    seconds = time.perf_counter() - started
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {"steps": steps, "examples_seen": seen, "final_loss": round(loss_value, 4),
            "train_seconds": round(seconds, 2), "examples_per_second": round(seen / seconds, 1)}


def train_tfidf(texts, labels, label_names, seed: int, out: Path) -> dict:
    """The scikit-learn baseline: TF-IDF word 1-2 grams + logistic regression."""
    import joblib
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    started = time.perf_counter()
    model = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True),
                          LogisticRegression(max_iter=2000, C=10.0, random_state=seed))
    model.fit(texts, labels)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump({"pipeline": model, "label_names": label_names}, out / TFIDF_FILE)
    return {"train_seconds": round(time.perf_counter() - started, 2)}
