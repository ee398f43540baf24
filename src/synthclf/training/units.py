"""What one `train` stage fits: its training units, each a training set plus a training seed.

A source's units are compared on the same real test set, so every gap can be paired item by item:

- `real`: the full real training set once per training seed (`real/r0`, `real/r1`, ...): the ceiling.
- a generation setting such as `zero_shot`: for every generation replicate r and every size n on the
  learning curve (compare.sizes, then generate.per_class), the first n validated texts per label of
  replicate r (`zero_shot@n/r<r>`), and real data with exactly the same label counts drawn from the
  real training split (`real@n/r<r>`), both trained with the same seed. The gap at equal size measures
  where the data came from, not how much of it there is. A size the real training split cannot match
  for some label (the study's thousands per label, `profiles/paper.yaml`) has no real@n point: the
  stage says so, and that size is compared with all real data only.
- a mix such as `few_shot+real100`: replicate r's synthetic texts plus its own draw of real ones.

Replicate r trains with the r-th training seed (cycling through train.seeds), so an interval over
replicates carries the variance of generation and of training together.
"""

from __future__ import annotations

import random
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass

from synthclf import paths
from synthclf.config import Params, parse_mix
from synthclf.errors import SynthclfError
from synthclf.records import read_jsonl


@dataclass(frozen=True)
class Unit:
    name: str                 # e.g. real/r0, zero_shot@20/r1, real@20/r1, few_shot+real100/r0
    records: tuple[dict, ...]
    seed: int                 # training seed
    keep_as: str | None       # checkpoint folder under models/<task>/<source>/, or None (predictions only)


def training_seed(params: Params, replicate: int) -> int:
    seeds = params.train.seeds
    return seeds[replicate % len(seeds)] + 1000 * (replicate // len(seeds))


def by_replicate(records: list[dict]) -> dict[int, list[dict]]:
    groups: dict[int, list[dict]] = defaultdict(list)
    for record in records:
        groups[int(record.get("replicate", 0))].append(record)
    return dict(sorted(groups.items()))


def first_per_label(records: list[dict], n: int) -> list[dict]:
    """The first n records of every label, in file (= generation) order: nested as n grows."""
    taken: Counter = Counter()
    chosen = []
    for record in records:
        if taken[record["label"]] < n:
            taken[record["label"]] += 1
            chosen.append(record)
    return chosen


def matched_real(real: list[dict], counts: Counter, seed: int) -> list[dict]:
    """Real records with exactly `counts` per label, drawn with `seed` (nested as counts grow)."""
    by_label: dict[str, list[dict]] = defaultdict(list)
    for record in real:
        by_label[record["label"]].append(record)
    drawn = []
    for label in sorted(counts):
        group = sorted(by_label[label], key=lambda r: r["id"])
        if len(group) < counts[label]:
            raise SynthclfError(f"real data has {len(group)} validated examples of label {label!r}, fewer than the "
                                f"{counts[label]} a size-matched comparison needs; lower generate.per_class")
        random.Random(f"{seed}-{label}").shuffle(group)
        drawn += group[: counts[label]]
    return drawn


def label_counts(records: list[dict]) -> Counter:
    return Counter(record["label"] for record in records)


def units_for(params: Params, task: str, source: str) -> list[Unit]:
    real = read_jsonl(paths.validated_file(task, paths.REAL))
    if source == paths.REAL:
        return [Unit(f"real/r{i}", tuple(real), seed, f"seed{seed}") for i, seed in enumerate(params.train.seeds)]
    if parse_mix(source):
        mixed = read_jsonl(paths.validated_file(task, source))
        return [Unit(f"{source}/r{r}", tuple(group), training_seed(params, r), f"rep{r}")
                for r, group in by_replicate(mixed).items()]
    units = []
    sizes = params.curve_sizes()
    replicates = by_replicate(read_jsonl(paths.validated_file(task, source)))
    unmatched = unmatched_sizes(real, replicates, sizes)
    if unmatched:
        print(f"train {task}/{source}: real data cannot match {', '.join(map(str, unmatched))} per label "
              f"({unmatched[0]} needed, fewest real: {min(label_counts(real).values())}); "
              "no real@n point there, those sizes compare with all real data only", file=sys.stderr)
    for r, synthetic in replicates.items():
        seed = training_seed(params, r)
        for n in sizes:
            chosen = first_per_label(synthetic, n)
            keep = f"rep{r}" if n == sizes[-1] else None
            units.append(Unit(f"{source}@{n}/r{r}", tuple(chosen), seed, keep))
            if n not in unmatched:
                units.append(Unit(f"real@{n}/r{r}", tuple(matched_real(real, label_counts(chosen), params.seed + r)),
                                  seed, None))
    return units


def unmatched_sizes(real: list[dict], replicates: dict[int, list[dict]], sizes: list[int]) -> list[int]:
    """Curve sizes at which some replicate has more texts of a label than the real split holds: no
    replicate gets a real@n there, so every point keeps one replicate per generation replicate."""
    available = label_counts(real)
    return [n for n in sizes
            if any(count > available[label] for synthetic in replicates.values()
                   for label, count in label_counts(first_per_label(synthetic, n)).items())]


def point_of(unit_name: str) -> str:
    """'zero_shot@20/r1' -> 'zero_shot@20': the curve point a unit is a replicate of."""
    return unit_name.rsplit("/r", 1)[0]


def replicate_of(unit_name: str) -> int:
    return int(unit_name.rsplit("/r", 1)[1])
