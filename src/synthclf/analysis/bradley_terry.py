"""Task-level subjectivity from pairwise judgments, as the study did with 540 crowd comparisons.

Each judgment says which of two tasks is *more objective*. A Bradley-Terry model gives every task
a strength p with P(i beats j) = p_i / (p_i + p_j); we fit it with Hunter's (2004) MM algorithm.
A small prior keeps a task that wins (or loses) every comparison finite: every task is credited
with `prior` wins and `prior` losses against a virtual reference task of strength 1.

Scores are centred log-strengths (higher = more objective). Levels bin the scores into L
quantile groups, level 1 = most objective, matching the task cards' subjectivity.level scale.
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from synthclf.errors import SynthclfError

REQUIRED_COLUMNS = ("task_a", "task_b", "winner", "judge")


@dataclass(frozen=True)
class Comparison:
    task_a: str
    task_b: str
    winner: str
    judge: str

    @property
    def loser(self) -> str:
        return self.task_b if self.winner == self.task_a else self.task_a


@dataclass
class BradleyTerryResult:
    scores: dict[str, float]           # centred log-strength; higher = more objective
    levels: dict[str, int]             # 1 = most objective .. L
    wins: dict[str, int]
    n_comparisons: int
    n_judges: int
    iterations: int
    converged: bool


def read_judgments(path: str | Path) -> list[Comparison]:
    """Read a task_a,task_b,winner,judge CSV; any malformed row is one clear error naming the line."""
    path = Path(path)
    if not path.exists():
        raise SynthclfError(f"{path}: judgments file not found; run `synthclf judge` or fix analyze.judgments_file")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        columns = [name.strip() for name in (reader.fieldnames or [])]
        missing = [name for name in REQUIRED_COLUMNS if name not in columns]
        if missing:
            raise SynthclfError(f"{path}: missing column(s) {', '.join(missing)}; the header must include "
                                f"{','.join(REQUIRED_COLUMNS)}")
        reader.fieldnames = columns
        comparisons = [_parse_row(path, number, row) for number, row in enumerate(reader, start=2)
                       if any((value or "").strip() for value in row.values())]
    if not comparisons:
        raise SynthclfError(f"{path}: no judgments; add rows of {','.join(REQUIRED_COLUMNS)}")
    return comparisons


def _parse_row(path: Path, line: int, row: dict) -> Comparison:
    values = {name: (row.get(name) or "").strip() for name in REQUIRED_COLUMNS}
    empty = [name for name, value in values.items() if not value]
    if empty:
        raise SynthclfError(f"{path}:{line}: empty {', '.join(empty)}; every row needs {','.join(REQUIRED_COLUMNS)}")
    if values["task_a"] == values["task_b"]:
        raise SynthclfError(f"{path}:{line}: task_a and task_b are both {values['task_a']!r}; "
                            "compare two different tasks")
    if values["winner"] not in (values["task_a"], values["task_b"]):
        raise SynthclfError(f"{path}:{line}: winner {values['winner']!r} is neither task_a {values['task_a']!r} "
                            f"nor task_b {values['task_b']!r}; the winner must be one of the two tasks")
    return Comparison(**values)


def fit_strengths(comparisons: list[Comparison], prior: float = 1.0, max_iter: int = 10_000,
                  tol: float = 1e-10) -> tuple[dict[str, float], int, bool]:
    """MM iterations for Bradley-Terry strengths; returns (centred log-strengths, iterations, converged)."""
    if prior <= 0:
        raise ValueError("prior must be positive so that every strength stays finite")
    tasks = sorted({c.task_a for c in comparisons} | {c.task_b for c in comparisons})
    wins = Counter(c.winner for c in comparisons)
    games: dict[str, Counter] = defaultdict(Counter)    # games[i][j] = comparisons between i and j
    for c in comparisons:
        games[c.task_a][c.task_b] += 1
        games[c.task_b][c.task_a] += 1
    strength = {task: 1.0 for task in tasks}
    converged, iteration = False, 0
    for iteration in range(1, max_iter + 1):  # noqa: B007 - returned below: the iterations it took
        updated = {}
        for task in tasks:
            denominator = sum(n / (strength[task] + strength[other]) for other, n in games[task].items())
            denominator += 2 * prior / (strength[task] + 1.0)    # the virtual reference task, strength 1
            updated[task] = (wins[task] + prior) / denominator
        change = max(abs(math.log(updated[t] / strength[t])) for t in tasks)
        strength = updated
        if change < tol:
            converged = True
            break
    logs = {task: math.log(value) for task, value in strength.items()}
    centre = sum(logs.values()) / len(logs)
    return {task: value - centre for task, value in logs.items()}, iteration, converged


def quantile_levels(scores: dict[str, float], levels: int) -> dict[str, int]:
    """Bin tasks into `levels` equal-count groups by score; level 1 holds the highest (most objective)."""
    ordered = sorted(scores, key=lambda task: (-scores[task], task))
    result: dict[str, int] = {}
    for position, task in enumerate(ordered):
        tied_with_previous = position > 0 and math.isclose(scores[task], scores[ordered[position - 1]],
                                                            rel_tol=0, abs_tol=1e-9)
        result[task] = result[ordered[position - 1]] if tied_with_previous else 1 + position * levels // len(ordered)
    return result


def estimate(comparisons: list[Comparison], levels: int, prior: float = 1.0) -> BradleyTerryResult:
    """Fit Bradley-Terry on the judgments and bin the scores into ordinal subjectivity levels."""
    scores, iterations, converged = fit_strengths(comparisons, prior=prior)
    wins = Counter(c.winner for c in comparisons)
    return BradleyTerryResult(scores=scores, levels=quantile_levels(scores, levels),
                              wins={task: wins[task] for task in scores}, n_comparisons=len(comparisons),
                              n_judges=len({c.judge for c in comparisons}), iterations=iterations,
                              converged=converged)


def estimate_from_file(path: str | Path, levels: int, prior: float = 1.0) -> BradleyTerryResult:
    return estimate(read_judgments(path), levels, prior=prior)
