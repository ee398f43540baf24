"""What one `train` stage fits: its training units, each a training set plus a training seed.

A source's units are compared on the same real test set, so every gap can be paired item by item:

- `real`: the full real training set once per training seed (`real/r0`, `real/r1`, ...): the ceiling.
  With a backend that is random given its data (fine-tuning), as many fits as there are generation
  replicates, and at least one per training seed, so the real ceiling's seed variance is estimated
  with as many degrees of freedom as the synthetic side's; a deterministic backend (a frozen encoder's
  head) gives identical fits, whose variance is zero: the test items alone vary. Beside them, the real
  learning curve above generate.per_class, where an exchange rate lands: for every size n in
  compare.real_sizes between per_class and the largest label's count, replicate r's own draw of n
  real examples per label (each label capped at what it has; seed + r) trained with seed r
  (`real@50/r<r>`). Analyze reads the real curve from these and the size-matched points below.
- a generation setting such as `zero_shot`: for every generation replicate r and every size n on the
  learning curve (compare.sizes, then generate.per_class), the first n validated texts per label of
  replicate r (`zero_shot@n/r<r>`), and real data with exactly the same label counts drawn from the
  real training split (`real@n/r<r>`), both trained with the same seed. The gap at equal size measures
  where the data came from, not how much of it there is. A size the real training split cannot match
  for some label (the study's thousands per label, `profiles/paper.yaml`) has no real@n point: the
  stage says so, and that size is compared with all real data only.
- a mix such as `few_shot+real100`: replicate r's synthetic texts plus its own draw of real ones
  (`few_shot+real100/r<r>`), and the same draw of real ones alone (`real100/r<r>`), trained with the
  same seed: does the synthetic data add anything to the N real examples?

Replicate r trains with the r-th training seed (cycling through train.seeds), so an interval over
replicates carries the variance of generation and of training together.
"""

from __future__ import annotations

import random
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass

from synthclf import paths
from synthclf.config import Params
from synthclf.errors import SynthclfError
from synthclf.records import read_jsonl
from synthclf.settings.mix import parse_mix, real_alone_point


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


def real_fits(params: Params, deterministic: bool | None = None) -> int:
    """Fits of all real data: one per training seed, and one per generation replicate when the backend
    is random given its data (so the real ceiling pairs with the replicates in every interval). The
    caller that knows the backend says whether it is deterministic (train: the backend class's
    `deterministic`); None (not said) keeps one fit per training seed."""
    seeds = len(params.train.seeds)
    return max(seeds, params.generate.replicates) if deterministic is False else seeds


def real_curve_sizes(params: Params, real: list[dict]) -> list[int]:
    """compare.real_sizes above generate.per_class and below the largest label's count (all real data
    is the point there): the real-only points of the real learning curve."""
    largest = max(label_counts(real).values(), default=0)
    return [n for n in params.compare.real_sizes if params.generate.per_class < n < largest]


def capped_real(real: list[dict], n: int, seed: int) -> list[dict]:
    """n real records of every label (all of a label that has fewer), drawn with `seed`."""
    counts = label_counts(real)
    return matched_real(real, Counter({label: min(n, count) for label, count in counts.items()}), seed)


def real_alone(mixed: list[dict]) -> list[dict]:
    """The real part of one replicate of a mix: the records whose source is real."""
    return [record for record in mixed if record.get("source") == paths.REAL]


def units_for(params: Params, task: str, source: str, *, deterministic: bool | None = None) -> list[Unit]:
    """The units of one source; `deterministic`: whether the backend gives the same model for the same
    data (real_fits: a random one fits all real data once per replicate)."""
    real = read_jsonl(paths.validated_file(task, paths.REAL))
    if source == paths.REAL:
        seeds = [training_seed(params, i) for i in range(real_fits(params, deterministic))]
        units = [Unit(f"real/r{i}", tuple(real), seed, f"seed{seed}") for i, seed in enumerate(seeds)]
        for n in real_curve_sizes(params, real):
            units += [Unit(f"real@{n}/r{r}", tuple(capped_real(real, n, params.seed + r)), training_seed(params, r),
                           None) for r in range(params.generate.replicates)]
        return units
    if mix := parse_mix(source):
        mixed = read_jsonl(paths.validated_file(task, source))
        units = []
        for r, group in by_replicate(mixed).items():
            units.append(Unit(f"{source}/r{r}", tuple(group), training_seed(params, r), f"rep{r}"))
            units.append(Unit(f"{real_alone_point(mix[1])}/r{r}", tuple(real_alone(group)), training_seed(params, r),
                              None))
        return units
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
