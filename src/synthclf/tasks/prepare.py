"""Stage `prepare`: clean, deduplicate and split a task's real data.

Writes data/prepared/<task>/train.jsonl, test.jsonl and pool.jsonl (the few-shot pool, a subset
of train), stratified by label, with per-item annotator agreement where raters exist, plus
metrics/prepare/<task>/stats.json.
"""

from __future__ import annotations

import hashlib
import random
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable

from synthclf import paths
from synthclf.config import Params
from synthclf.errors import SynthclfError
from synthclf.metrics import PrepareStats, write_metrics
from synthclf.records import write_jsonl
from synthclf.settings.split import SplitParams
from synthclf.tasks import load_card
from synthclf.tasks.sources import read_items
from synthclf.text.normalize import normalized

MIN_CHARS = 3


def clean_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ")
    return re.sub(r"\s+", " ", text).strip()


def dedup_key(text: str) -> str:
    """Two items are duplicates when their normalised forms match (text.normalize: case, punctuation
    and spacing ignored, letters of any script kept)."""
    return normalized(text)


def deduplicate(items: list[dict]) -> tuple[list[dict], int, int]:
    """Keep the first copy of each text; drop texts that appear with conflicting labels altogether."""
    labels_of: dict[str, set[str]] = defaultdict(set)
    for item in items:
        labels_of[dedup_key(item["text"])].add(item["label"])
    kept, seen, conflicts = [], set(), 0
    for item in items:
        key = dedup_key(item["text"])
        if len(labels_of[key]) > 1:
            conflicts += 1
            continue
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept, len(items) - len(kept) - conflicts, conflicts


def to_record(task: str, item: dict) -> dict:
    record = {"id": f"{task}-{hashlib.sha1(item['text'].encode()).hexdigest()[:12]}", "task": task,
              "text": item["text"], "label": item["label"], "source": "real"}
    votes = item.get("votes")
    if votes:
        record["n_annotators"] = len(votes)
        record["agreement"] = round(Counter(votes).most_common(1)[0][1] / len(votes), 4)
    return record


def stratified_draws(records: list[dict], draws: list[dict[str, int]], rng: random.Random | None,
                     shuffle_order: Iterable[str] | None = None) -> list[list[dict]]:
    """Disjoint draws stratified by label: the one stratified draw of the project (prepare's
    test/train/pool split and training.mix's real examples).

    `records` are grouped by label (each group in record order) and, with an `rng`, every group is
    shuffled in turn, in `shuffle_order` (default: the order in which labels first occur in
    `records`). Each draw `{label: count}` then takes the next `count` records of each group, and
    lists its labels in the order of its keys; a count larger than what is left of a group is an
    error. How many of each label a draw takes is the caller's choice (see `allocate`)."""
    by_label: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        by_label[record["label"]].append(record)
    if rng is not None:
        for label in list(by_label) if shuffle_order is None else shuffle_order:
            rng.shuffle(by_label[label])
    taken: Counter = Counter()
    drawn = []
    for counts in draws:
        draw = []
        for label, count in counts.items():
            group = by_label.get(label, [])
            if taken[label] + count > len(group):
                raise SynthclfError(f"draw: {count} more '{label}' items asked for but only "
                                    f"{len(group) - taken[label]} are left")
            draw += group[taken[label]: taken[label] + count]
            taken[label] += count
        drawn.append(draw)
    return drawn


def stratified_split(records: list[dict], split: SplitParams, labels: list[str], seed: int):
    """Test first, then train from the rest, then the few-shot pool from train; all stratified."""
    rng = random.Random(seed)
    available = Counter(record["label"] for record in records)
    present = [label for label in labels if available[label]]
    shares = _label_shares(available, present, split.balance)
    needed = split.train_size + split.test_size
    if needed > len(records):
        raise SynthclfError(f"split: train_size + test_size = {needed} but only {len(records)} clean items "
                            "exist; lower the sizes in params.yaml")
    test_counts = allocate(split.test_size, shares, {label: available[label] for label in present})
    remaining = {label: available[label] - test_counts[label] for label in present}
    train_counts = allocate(split.train_size, shares, remaining)
    test, train = stratified_draws(records, [test_counts, train_counts], rng)
    rng.shuffle(test)
    rng.shuffle(train)
    pool_counts = allocate(min(split.pool_size, len(train)), {label: 1 / len(present) for label in present},
                           Counter(r["label"] for r in train))
    (pool,) = stratified_draws(train, [pool_counts], rng=None)   # the first of each label in train
    return train, test, pool


def _label_shares(available: Counter, present: list[str], balance: bool) -> dict[str, float]:
    if balance:
        return {label: 1 / len(present) for label in present}
    total = sum(available[label] for label in present)
    return {label: available[label] / total for label in present}


def allocate(total: int, shares: dict[str, float], available: dict[str, int]) -> dict[str, int]:
    """Split `total` across labels by share (largest remainder), never more than a label has."""
    counts = {label: min(int(total * share), available[label]) for label, share in shares.items()}
    order = sorted(shares, key=lambda label: -(total * shares[label] % 1))
    while sum(counts.values()) < total:
        grown = False
        for label in order:
            if sum(counts.values()) < total and counts[label] < available[label]:
                counts[label] += 1
                grown = True
        if not grown:
            raise SynthclfError(f"not enough items to draw {total} with the requested label balance; "
                                "lower the sizes or set balance: false in params.yaml")
    return counts


def run(params: Params, task: str) -> None:
    card = load_card(task)
    split = params.split[task]
    items = [dict(item, text=clean_text(item["text"])) for item in read_items(card, paths.raw_dir(task))]
    read = len(items)
    items = [item for item in items if len(item["text"]) >= MIN_CHARS]
    too_short = read - len(items)
    items, duplicates, conflicts = deduplicate(items)
    records = [to_record(task, item) for item in items]
    train, test, pool = stratified_split(records, split, card.label_names, params.seed)
    write_jsonl(paths.prepared_split(task, "train"), train)
    write_jsonl(paths.prepared_split(task, "test"), test)
    write_jsonl(paths.prepared_split(task, "pool"), pool)
    stats = {"read": read, "too_short": too_short, "duplicates": duplicates, "label_conflicts": conflicts,
             "clean": len(records), "train": len(train), "test": len(test), "pool": len(pool),
             "train_labels": dict(Counter(r["label"] for r in train)),
             "test_labels": dict(Counter(r["label"] for r in test))}
    agreements = [r["agreement"] for r in test if "agreement" in r]
    if agreements:
        stats["test_mean_agreement"] = round(sum(agreements) / len(agreements), 4)
    write_metrics(paths.metrics_file("prepare", task, "stats"), stats, PrepareStats)
    print(f"prepare {task}: {read} read, {len(records)} clean, train {len(train)}, test {len(test)}, pool {len(pool)}")
