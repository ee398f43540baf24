"""Stage `analyze`: how much does a task's subjectivity cost when training on synthetic data?

Reads every metrics/evaluate/<task>/<source>.json, the predictions of tasks with rater votes and,
when analyze.judgments_file is set, pairwise objectivity judgments. Writes:

- metrics/summary.json: per task and source Macro-F1/accuracy (mean, std over seeds), the gap
  real - <source> per task, Spearman/Kendall correlation of each gap with subjectivity level,
  aggregates per subjectivity level (flat keys such as by_level.level_3.gap_zero_shot, so
  `dvc exp show` compares experiments level by level), instance-level gains, Bradley-Terry levels.
- plots/gap_vs_subjectivity.json: rows task, level, source, gap.
- plots/instance/<task>.json: rows gamma, source, accuracy, macro_f1, n (tasks with votes only).

Gaps are Macro-F1 differences (the study's headline metric); `gap_<source>_accuracy` keys hold the
accuracy differences. Floats are rounded to 6 places and keys sorted, so a rerun on the same inputs
reproduces every file byte for byte.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from pathlib import Path

from synthclf import paths
from synthclf.analysis import bradley_terry, instance
from synthclf.config import Params
from synthclf.errors import SynthclfError
from synthclf.records import read_json, write_json
from synthclf.tasks import load_card

REAL = paths.REAL
METRICS = ("macro_f1", "accuracy")
PLACES = 6
JUDGMENTS_DIR = Path("data/judgments")     # a dependency of the analyze stage in dvc.yaml


def instance_plots_dir() -> Path:
    return Path("plots/instance")


def instance_plot_file(task: str) -> Path:
    return instance_plots_dir() / f"{task}.json"


def gap_plot_file() -> Path:
    return Path("plots/gap_vs_subjectivity.json")


def rounded(value: float | None) -> float | None:
    """Round for stable files; NaN (e.g. a correlation of constant data) becomes null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), PLACES)


def mean(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None


# --- inputs ---------------------------------------------------------------------------------------

def load_evaluations(params: Params) -> tuple[dict[str, dict[str, dict]], list[str]]:
    """{task: {source: evaluate metrics}} for every file present, plus 'task/source' for those missing."""
    found: dict[str, dict[str, dict]] = {}
    missing: list[str] = []
    for task in params.tasks:
        for source in params.sources:
            path = paths.metrics_file("evaluate", task, source)
            if path.exists():
                found.setdefault(task, {})[source] = read_json(path)
            else:
                missing.append(f"{task}/{source}")
    if not found:
        raise SynthclfError("no evaluation metrics under metrics/evaluate/; run `dvc repro evaluate` "
                            "(or synthclf evaluate --task T --source S) first")
    return found, missing


def source_scores(metrics: dict) -> dict[str, float | None]:
    return {key: rounded(metrics.get(key)) for key in ("macro_f1", "macro_f1_std", "accuracy", "accuracy_std")}


# --- per task -------------------------------------------------------------------------------------

def gap_sources(sources: Sequence[str]) -> list[str]:
    """Every source compared against real: the generation settings and the mixes."""
    return [source for source in sources if source != REAL] if REAL in sources else []


def task_block(level: int, evaluations: dict[str, dict], sources: Sequence[str]) -> dict:
    """Scores per source and the gaps real - source for one task."""
    block: dict = {"level": level}
    for source in sources:
        if source in evaluations:
            block[source] = source_scores(evaluations[source])
    for source in gap_sources(sources):
        if REAL in block and source in block:
            for metric in METRICS:
                real, other = block[REAL][metric], block[source][metric]
                key = gap_key(source, metric)
                block[key] = rounded(real - other) if real is not None and other is not None else None
    return block


def gap_key(source: str, metric: str = "macro_f1") -> str:
    return f"gap_{source}" if metric == "macro_f1" else f"gap_{source}_{metric}"


def build_task_blocks(params: Params, evaluations: dict[str, dict[str, dict]]) -> dict[str, dict]:
    return {task: task_block(load_card(task).subjectivity.level, evaluations[task], params.sources)
            for task in params.tasks if task in evaluations}


# --- aggregates -----------------------------------------------------------------------------------

def aggregate(blocks: Sequence[dict], sources: Sequence[str]) -> dict:
    """Means over tasks of each source's scores and of each gap (flat keys for dvc exp show)."""
    result: dict = {"n_tasks": len(blocks)}
    for source in sources:
        for metric in METRICS:
            result[f"{source}_{metric}"] = rounded(mean([b[source][metric] for b in blocks if source in b]))
    for source in gap_sources(sources):
        for metric in METRICS:
            key = gap_key(source, metric)
            result[key] = rounded(mean([b.get(key) for b in blocks]))
    return result


def by_level(task_blocks: dict[str, dict], sources: Sequence[str]) -> dict[str, dict]:
    levels = sorted({block["level"] for block in task_blocks.values()})
    return {f"level_{level}": aggregate([b for b in task_blocks.values() if b["level"] == level], sources)
            for level in levels}


def correlation(levels: Sequence[float], gaps: Sequence[float | None]) -> dict:
    """Spearman and Kendall correlation of gap with level over the tasks that have a gap."""
    from scipy import stats

    pairs = [(level, gap) for level, gap in zip(levels, gaps, strict=True) if gap is not None]
    result = {"n": len(pairs), "spearman": None, "spearman_p": None, "kendall": None, "kendall_p": None}
    if len(pairs) < 3 or len({p[0] for p in pairs}) < 2 or len({p[1] for p in pairs}) < 2:
        return result    # undefined: too few tasks, or constant levels or gaps
    xs, ys = zip(*pairs)
    spearman = stats.spearmanr(xs, ys)
    kendall = stats.kendalltau(xs, ys)
    result.update(spearman=rounded(spearman.statistic), spearman_p=rounded(spearman.pvalue),
                  kendall=rounded(kendall.statistic), kendall_p=rounded(kendall.pvalue))
    return result


def gap_correlations(task_blocks: dict[str, dict], sources: Sequence[str],
                     levels: dict[str, int] | None = None) -> dict[str, dict]:
    """One correlation block per gap (Macro-F1 and accuracy), against card levels or given levels."""
    tasks = [task for task in task_blocks if levels is None or task in levels]
    task_levels = [levels[task] if levels else task_blocks[task]["level"] for task in tasks]
    return {gap_key(source, metric): correlation(task_levels, [task_blocks[t].get(gap_key(source, metric)) for t in tasks])
            for source in gap_sources(sources) for metric in METRICS}


# --- instance level -------------------------------------------------------------------------------

def instance_analysis(params: Params, tasks: Sequence[str]) -> tuple[dict[str, list[dict]], dict[str, dict]]:
    """Curves per task with votes, and per source the rise of each metric from lowest to highest gamma."""
    curves: dict[str, list[dict]] = {}
    gains: dict[str, dict] = {}
    for task in tasks:
        rows = instance.task_curves(task, params.sources, params.analyze.gammas)
        if rows is None:
            continue
        curves[task] = [{key: rounded(value) if isinstance(value, float) else value for key, value in row.items()}
                        for row in rows]
        gains[task] = {source: _gain_block(curves[task], source)
                       for source in dict.fromkeys(row["source"] for row in rows)}
    return curves, gains


def _gain_block(rows: list[dict], source: str) -> dict:
    points = [row for row in rows if row["source"] == source and row["n"] > 0]
    return {"accuracy_gain": rounded(instance.gain(rows, source, "accuracy")),
            "macro_f1_gain": rounded(instance.gain(rows, source, "macro_f1")),
            "n_lowest_gamma": points[0]["n"] if points else 0,
            "n_highest_gamma": points[-1]["n"] if points else 0}


# --- Bradley-Terry --------------------------------------------------------------------------------

def bradley_terry_block(params: Params, task_blocks: dict[str, dict]) -> dict | None:
    """BT scores and levels from analyze.judgments_file, compared with card levels and the gaps."""
    path = params.analyze.judgments_file
    if not path or not Path(path).exists():
        if path:
            print(f"analyze: judgments file {path} not found; skipping Bradley-Terry", file=sys.stderr)
        return None
    if Path(path).resolve().parent != JUDGMENTS_DIR.resolve():
        print(f"analyze: {path} is outside {JUDGMENTS_DIR}/, which dvc.yaml tracks; DVC will not rerun "
              "analyze when it changes", file=sys.stderr)
    result = bradley_terry.estimate_from_file(path, params.analyze.levels)
    tasks = {task: {"score": rounded(score), "level": result.levels[task], "wins": result.wins[task],
                    "card_level": task_blocks[task]["level"] if task in task_blocks else None}
             for task, score in result.scores.items()}
    compared = [task for task in tasks if tasks[task]["card_level"] is not None]
    return {"file": str(path), "n_comparisons": result.n_comparisons, "n_judges": result.n_judges,
            "converged": result.converged, "tasks": tasks,
            "agreement_with_cards": correlation([tasks[t]["card_level"] for t in compared],
                                                [float(tasks[t]["level"]) for t in compared]),
            "correlation": gap_correlations({t: task_blocks[t] for t in compared}, params.sources,
                                            {t: tasks[t]["level"] for t in compared})}


# --- outputs --------------------------------------------------------------------------------------

def gap_rows(task_blocks: dict[str, dict], sources: Sequence[str]) -> list[dict]:
    rows = [{"task": task, "level": block["level"], "source": source, "gap": block.get(gap_key(source))}
            for task, block in task_blocks.items() for source in gap_sources(sources)]
    return sorted((row for row in rows if row["gap"] is not None),
                  key=lambda row: (row["level"], row["task"], row["source"]))


def build_summary(params: Params) -> tuple[dict, dict[str, list[dict]], list[dict]]:
    """Everything analyze writes, computed in memory: (summary, instance curves, gap rows)."""
    evaluations, missing = load_evaluations(params)
    task_blocks = build_task_blocks(params, evaluations)
    curves, gains = instance_analysis(params, list(task_blocks))
    summary: dict = {
        "gap_metric": "macro_f1",
        "n_tasks": len(task_blocks),
        "tasks": task_blocks,
        "by_level": by_level(task_blocks, params.sources),
        "overall": aggregate(list(task_blocks.values()), params.sources),
        "correlation": gap_correlations(task_blocks, params.sources),
        "instance": gains,
    }
    if missing:
        summary["missing"] = ", ".join(missing)
    bt = bradley_terry_block(params, task_blocks)
    if bt is not None:
        summary["bradley_terry"] = bt
    return summary, curves, gap_rows(task_blocks, params.sources)


def write_instance_plots(curves: dict[str, list[dict]]) -> None:
    """One file per task with votes; files of tasks no longer analysed are removed."""
    directory = instance_plots_dir()
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.json"):
        if stale.stem not in curves:
            stale.unlink()
    for task, rows in curves.items():
        write_json(instance_plot_file(task), rows)


def run(params: Params) -> dict:
    summary, curves, rows = build_summary(params)
    if "missing" in summary:
        print(f"analyze: no evaluation metrics for {summary['missing']}; they are left out", file=sys.stderr)
    write_instance_plots(curves)
    write_json(gap_plot_file(), rows)
    write_json(paths.summary_metrics(), summary)
    return summary
