"""The encoder fine-tuned with torch under a classification head (the paper's method).

A checkpoint is a Hugging Face `save_pretrained` directory in safetensors, loadable by
`transformers.pipeline("text-classification", model=DIR)`. The loop is plain torch (no Trainer)
so its overhead stays measurable against a bare forward+backward loop
(benchmarks/train_throughput.py).
"""

from __future__ import annotations

import contextlib
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

from synthclf import resources
from synthclf.assets import resolve_encoder
from synthclf.errors import SynthclfError
from synthclf.settings.train import TrainParams
from synthclf.training.backends.base import Backend

CHECKPOINT = "config.json"   # with model.safetensors and the tokenizer files


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
            id2label=dict(enumerate(label_names)), label2id={label: i for i, label in enumerate(label_names)})
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


def train_transformer(texts, labels, label_names, train: TrainParams, seed: int, out: Path,
                      desc: str = "train") -> dict:
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
            for i, label_id in zip(chunk, logits.argmax(dim=-1).tolist(), strict=True):
                labels[i] = model.config.id2label[label_id]
    return labels


@dataclass
class FineTunedClassifier:
    model: object
    tokenizer: object
    max_length: int
    batch_size: int = 128

    @property
    def label_names(self) -> list[str]:
        return [self.model.config.id2label[i] for i in range(len(self.model.config.id2label))]

    def predict(self, texts: list[str]) -> list[str]:
        return predict_texts(self.model, self.tokenizer, texts, self.max_length, self.batch_size)

    def save(self, folder: Path) -> None:
        self.model.config.max_length_trained = self.max_length  # what load() truncates to again
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)


class FineTuned(Backend):
    name = "transformer"
    checkpoint_file = CHECKPOINT
    deterministic = False   # seeded, but a seed is a draw: replicates differ by it
    uses_device = True
    libraries = ("torch", "transformers")

    @classmethod
    def settings(cls, train: TrainParams) -> dict:
        return train.model_dump(exclude={"eval_batch_size", "seeds", "head", "backend"})

    @classmethod
    def fit(cls, texts, labels, label_names, train, seed, desc="train", log=None):
        model, tokenizer, stats = fit_transformer(texts, labels, label_names, train, seed, desc, log)
        return FineTunedClassifier(model, tokenizer, train.max_length, train.eval_batch_size), stats

    @classmethod
    def load(cls, folder: Path) -> FineTunedClassifier:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        resources.apply_threads()
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(folder).eval().to(resources.device())
        return FineTunedClassifier(model, tokenizer, getattr(model.config, "max_length_trained", 512))
