"""Why the few_shot+real100 mix fell to the majority label, measured with real texts only.

A mix is a generation replicate's synthetic texts (10 per label) plus 100 real ones drawn with the
real set's label shares (training/mix.py). Here real texts stand in for the synthetic part (10 per
label, drawn apart from the 100), so the only question left is training: the same set trained with
the old rule (epochs 3, min_steps 20: 20 steps for ~130 examples), with the step floor of
train.min_epochs / train.max_floor_steps (params.yaml: 15 epochs, 75 steps here), and, for
reference, the 10-per-label part alone (20 steps). Macro-F1 on the task's real test set, per seed.

Needs the task prepared (`dvc repro prepare@<task>` or `synthclf prepare --task <task>`). Threads:
resources.threads from params.yaml (time it alone: 2 shared cores collapse under load).

    python benchmarks/mix_training_floor.py --task vader_tweets --seeds 0 1
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from sklearn.metrics import f1_score

from synthclf import paths, resources
from synthclf.config import load_params
from synthclf.records import read_jsonl
from synthclf.tasks import load_card
from synthclf.training.backends.transformer import fit_transformer, predict_texts
from synthclf.training.mix import draw_stratified
from synthclf.training.units import matched_real


def stand_in_mix(task: str, labels: list[str], per_label: int, real_count: int, seed: int):
    """(the 'synthetic' part: per_label real texts per label, the mix: that plus real_count more)."""
    real = read_jsonl(paths.prepared_split(task, "train"))
    part = matched_real(real, Counter({label: per_label for label in labels}), 1000 + seed)
    taken = {record["id"] for record in part}
    rest = [record for record in real if record["id"] not in taken]
    return part, part + draw_stratified(rest, real_count, seed)


def score(records, labels, train, seed, test) -> tuple[float, int, float]:
    started = time.perf_counter()
    model, tokenizer, stats = fit_transformer([r["text"] for r in records], [labels.index(r["label"]) for r in records],
                                              labels, train, seed, "probe")
    predicted = predict_texts(model, tokenizer, [r["text"] for r in test], train.max_length)
    f1 = f1_score([r["label"] for r in test], predicted, labels=labels, average="macro")
    return f1, stats["steps"], time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="vader_tweets")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--params", default="params.yaml")
    args = parser.parse_args()
    params = load_params(args.params)
    resources.activate(params.resources)
    labels = load_card(args.task).label_names
    test = read_jsonl(paths.prepared_split(args.task, "test"))
    floor = params.train
    old = floor.model_copy(update={"min_epochs": 0})
    print(f"{args.task}: Macro-F1 on {len(test)} test items, MiniLM, threads {resources.threads()}")
    for seed in args.seeds:
        part, mix = stand_in_mix(args.task, labels, per_label=params.generate.per_class, real_count=100, seed=seed)
        for name, records, train in (("mix, old rule", mix, old), ("mix, step floor", mix, floor),
                                     ("10 per label alone", part, old)):
            f1, steps, seconds = score(records, labels, train, seed, test)
            print(f"  seed {seed}  {name:20s} n={len(records):4d} steps={steps:4d}  "
                  f"Macro-F1 {f1:.3f}  ({seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
