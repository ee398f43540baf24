"""Fine-tuning throughput: synthclf's training loop against a bare torch loop, same model and batch.

Both run the bundled MiniLM classifier on the same texts, batch size and number of optimiser
steps; the bare loop feeds pre-built tensors through forward + backward + AdamW step and nothing
else. The ratio (synthclf / bare) is the loop's overhead: tokenisation, dynamic padding, the
scheduler, gradient clipping, the progress bar and saving the checkpoint. Aim: at least 0.9.

    python benchmarks/train_throughput.py [--examples 640] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch

from synthclf.settings.train import TrainParams
from synthclf.training.backends.transformer import load_classifier, train_transformer

LABELS = ["negative", "positive"]


def make_texts(n: int, words_per_text: int = 24) -> tuple[list[str], list[int]]:
    """Texts of one length, so both loops see batches of exactly the same shape and the ratio
    measures loop overhead alone (on real data synthclf also gains from length bucketing)."""
    words = "the film was a quiet surprising slow brilliant mess of ideas and jokes that land".split()
    texts = [" ".join(words[(i + j) % len(words)] for j in range(words_per_text)) for i in range(n)]
    return texts, [i % 2 for i in range(n)]


def bare_loop(texts, labels, train: TrainParams, steps: int) -> float:
    """Examples/s of forward + backward + optimiser step on pre-tokenised, pre-padded batches."""
    torch.manual_seed(0)
    tokenizer, model = load_classifier(train.encoder, LABELS)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=train.learning_rate)
    batches = []
    for start in range(0, len(texts), train.batch_size):
        enc = tokenizer(texts[start:start + train.batch_size], truncation=True, max_length=train.max_length,
                        padding=True, return_tensors="pt")
        batches.append((enc["input_ids"], enc["attention_mask"], torch.tensor(labels[start:start + train.batch_size])))
    seen = 0
    started = time.perf_counter()
    for step in range(steps):
        ids, mask, target = batches[step % len(batches)]
        model(input_ids=ids, attention_mask=mask, labels=target).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        seen += len(target)
    return seen / (time.perf_counter() - started)


def synthclf_loop(texts, labels, train: TrainParams) -> tuple[float, int]:
    """Examples/s of the real training function, wall time including the checkpoint save."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = train_transformer(texts, labels, LABELS, train, seed=0, out=Path(tmp) / "ckpt", desc="synthclf loop")
        return result["examples_seen"] / (time.perf_counter() - started), result["steps"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=640)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    train = TrainParams(epochs=1, min_steps=0, batch_size=args.batch_size, warmup_ratio=0.0)
    texts, labels = make_texts(args.examples)
    bare_loop(texts[: args.batch_size * 2], labels, train, steps=2)  # warm-up: first calls allocate
    ours, steps = synthclf_loop(texts, labels, train)
    bare = bare_loop(texts, labels, train, steps)
    print(f"model: {train.encoder}  batch {args.batch_size}  steps {steps}  threads {torch.get_num_threads()}")
    print(f"bare torch loop     : {bare:8.1f} examples/s")
    print(f"synthclf train loop : {ours:8.1f} examples/s")
    print(f"ratio synthclf/bare : {ours / bare:8.3f}  (aim >= 0.9)")


if __name__ == "__main__":
    from synthclf.interrupts import run_script

    run_script(main)  # SIGINT/SIGTERM: one line, exit 130/143, temporary files cleaned up
