"""Stage `mix`: a training set of validated synthetic data plus a few validated real examples.

A mix {setting: few_shot, real: 100} (source name few_shot+real100) = every validated few-shot
record of a generation replicate plus 100 real training records drawn stratified by label, a fresh
draw per replicate (seed + replicate); written to data/mixes/<task>/<mix>.jsonl with each
record's `replicate`, so `train` fits one model per replicate like any other source.
"""

from __future__ import annotations

import random
from collections import Counter

from synthclf import paths
from synthclf.config import Params
from synthclf.errors import SynthclfError
from synthclf.records import read_jsonl, write_jsonl
from synthclf.tasks.prepare import stratified_draws
from synthclf.training.units import by_replicate


def draw_stratified(records: list[dict], count: int, seed: int) -> list[dict]:
    """`count` records with label shares as in `records`, reproducible for a seed: each label's
    share rounded (labels in sorted order, through tasks.prepare's stratified draw), then topped up
    or cut to `count` with a shuffle of the records left over."""
    if count > len(records):
        raise SynthclfError(f"mix asks for {count} real examples but only {len(records)} exist; lower N in mixes")
    rng = random.Random(seed)
    labels = sorted(Counter(record["label"] for record in records).items())
    counts = {label: round(count * size / len(records)) for label, size in labels}
    (drawn,) = stratified_draws(records, [counts], rng, shuffle_order=[label for label, _size in labels])
    taken = {r["id"] for r in drawn}
    leftovers = [r for r in records if r["id"] not in taken]
    rng.shuffle(leftovers)
    return (drawn + leftovers)[:count]


def run(params: Params, task: str, source: str | None = None) -> None:
    """One mix, or (source None: the dvc stage) every mix in params.mixes; data/mixes/<task>/ exists
    afterwards even when there is none (train depends on the folder)."""
    paths.mixes_dir(task).mkdir(parents=True, exist_ok=True)
    for name in [source] if source else [mix.source for mix in params.mixes]:
        build_mix(params, task, name)


def build_mix(params: Params, task: str, source: str) -> None:
    mix = params.mix(source)
    real = read_jsonl(paths.validated_file(task, "real"))
    records = []
    for replicate, synthetic in by_replicate(read_jsonl(paths.validated_file(task, mix.setting))).items():
        drawn = draw_stratified(list(real), mix.real, params.seed + replicate)
        records += synthetic + [{**record, "replicate": replicate} for record in drawn]
    count = write_jsonl(paths.validated_file(task, source), records)
    print(f"mix {task}/{source}: {mix.setting} + {mix.real} real per replicate = {count} records")
