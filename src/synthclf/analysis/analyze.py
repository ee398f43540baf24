"""Stage `analyze`: can synthetic data replace real data for each task, and what does subjectivity cost?

Reads every source's test-set predictions (data/predictions/, one column per training unit) and
evaluate metrics, and, when analyze.judgments_file is set, pairwise objectivity judgments. Writes:

- metrics/summary.json, per task: each source's Macro-F1 with its interval; the gap to all real data
  and the *fair* gap to real data of the same size and label balance; the recovered share of real
  data's lift over chance, (synthetic - chance) / (real - chance); the exchange rate (what synthetic
  data at its largest size is worth in real examples per label); the mixes' gaps; and the verdict.
  Every interval combines a bootstrap over test items (paired between sources on the same items)
  with the spread between generation replicates and training seeds (statistics.py).
  Then aggregates per subjectivity level (flat keys such as by_level.level_3.share_zero_shot, so
  `dvc exp show` compares experiments level by level), permutation tests of gap and share against
  subjectivity with the task as the unit, the study's three findings with their statistics, the
  instance-level gains and Bradley-Terry levels.
- plots/curves/<task>.json: learning curves (size per label, source, Macro-F1 and interval).
- plots/gap_vs_subjectivity.json: rows task, level, source, gap.
- plots/instance/<task>.json: rows gamma, source, n and every metric (tasks with votes only).

Gaps and shares are in Macro-F1 (the study's headline metric, scoring.HEADLINE), as fractions (0.05 =
5 points); every gap and gain is also estimated in each other registered metric (gap_<source>_accuracy).
Floats are rounded to 6 places and keys sorted, so a rerun on the same inputs reproduces every file
byte for byte.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthclf import paths, scoring
from synthclf import statistics as stats
from synthclf.analysis import bradley_terry, instance, verdict
from synthclf.config import Params
from synthclf.errors import SynthclfError
from synthclf.metrics import EvaluateMetrics, Summary, TrainMetrics, read_metrics, write_metrics
from synthclf.records import read_jsonl, write_json
from synthclf.settings.mix import parse_mix, real_alone_point
from synthclf.tasks import load_card

REAL = paths.REAL
PLACES = 6


def rounded(value: float | None) -> float | None:
    """Round for stable files; NaN and infinities (undefined statistics) become null."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return round(float(value), PLACES)


def mean(values: Sequence[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return sum(present) / len(present) if present else None


def gap_key(source: str, metric: str = scoring.HEADLINE) -> str:
    return scoring.suffixed(f"gap_{source}", metric)


def gap_sources(sources: Sequence[str]) -> list[str]:
    """Every source compared against real: the generation settings and the mixes."""
    return [source for source in sources if source != REAL] if REAL in sources else []


def settings_of(params: Params) -> list[str]:
    return [source for source in params.sources if source in params.generate.settings]


def mixes_of(params: Params) -> list[tuple[str, int]]:
    return [(source, parse_mix(source)[1]) for source in params.sources if parse_mix(source)]


# --- inputs ---------------------------------------------------------------------------------------

@dataclass
class TaskData:
    """One task's test set and every training unit's predictions, integer-coded by the card's labels."""

    task: str
    level: int
    n_labels: int
    gold: np.ndarray
    agreement: np.ndarray | None
    units: dict[str, dict[str, np.ndarray]]     # source -> unit name -> predictions (n,)
    evaluations: dict[str, dict]                # source -> evaluate metrics
    train_counts: dict[str, int] | None = None  # label -> count in all real training data (train metrics)

    @property
    def train_shares(self) -> np.ndarray | None:
        """The real training data's label shares in the card's label order (the guessing baseline)."""
        if not self.train_counts:
            return None
        total = sum(self.train_counts.values())
        return np.array([count / total for count in self.train_counts.values()])

    @property
    def real_per_label(self) -> float | None:
        """All real data on the per-label size axis: the largest label's count. The real curve's size n
        means n examples of every label, each capped at what it has, so all real data is the point at
        the largest label's count (the label-count mean, n_train / L, is no size any label has)."""
        return float(max(self.train_counts.values())) if self.train_counts else None

    def point(self, source: str, point: str) -> np.ndarray | None:
        """(replicates, items) predictions of one curve point in one source's file, or None."""
        names = [name for name in self.units.get(source, {}) if name.rsplit("/r", 1)[0] == point]
        if not names:
            return None
        names.sort(key=lambda name: int(name.rsplit("/r", 1)[1]))
        return np.stack([self.units[source][name] for name in names])


def load_task(params: Params, task: str) -> TaskData | None:
    card = load_card(task)
    index = {label: i for i, label in enumerate(card.label_names)}
    units: dict[str, dict[str, np.ndarray]] = {}
    evaluations: dict[str, dict] = {}
    rows: list[dict] = []
    for source in params.sources:
        metrics_path = paths.evaluate_metrics_file(task, source)
        predictions_path = paths.predictions_file(task, source)
        if not (metrics_path.exists() and predictions_path.exists()):
            continue
        evaluations[source] = read_metrics(metrics_path, EvaluateMetrics).model_dump()
        rows = read_jsonl(predictions_path)
        units[source] = {unit: np.array([index[row["pred"][unit]] for row in rows]) for unit in rows[0]["pred"]}
    if not rows:
        return None
    gold = np.array([index[row["label"]] for row in rows])
    agreement = (np.array([row.get("agreement", np.nan) for row in rows], dtype=float)
                 if any("agreement" in row for row in rows) else None)
    return TaskData(task, card.subjectivity.level, len(card.label_names), gold, agreement, units, evaluations,
                    real_training_counts(task, card.label_names) if REAL in evaluations else None)


def real_training_counts(task: str, label_names: list[str]) -> dict[str, int] | None:
    """Label counts of all real training data, from the real source's train metrics (its first fit)."""
    path = paths.train_metrics_file(task, REAL)
    if not path.exists():
        return None
    units = read_metrics(path, TrainMetrics).units
    first = units.get("real/r0") or next(iter(units.values()))
    return {label: int(first.label_counts.get(label, 0)) for label in label_names}


# --- per task -------------------------------------------------------------------------------------

def interval_options(params: Params) -> dict:
    return {"confidence": params.compare.confidence, "n_resamples": params.compare.bootstrap_resamples,
            "seed": params.seed}


def source_scores(metrics: dict) -> dict[str, float | None]:
    keys = [key for metric in scoring.METRICS for key in scoring.score_keys(metric)]
    return {key: rounded(metrics.get(key)) for key in keys} | {"replicates": metrics.get("replicates")}


def estimate_block(estimate: stats.Estimate) -> dict:
    block = estimate.as_dict(PLACES)
    block["significant"] = estimate.significant()
    return block


def task_block(params: Params, data: TaskData) -> dict:
    """Scores, gaps (to all real data and to real data of the same size), shares, exchange rates,
    each mix against all real data and against its own real examples alone, and the verdict."""
    options = interval_options(params)
    block: dict = {"level": data.level, "n_test": int(data.gold.size)}
    for source, metrics in data.evaluations.items():
        block[source] = source_scores(metrics)
    real = data.point(REAL, params.headline_point(REAL))
    if real is None:
        return block
    shares = data.train_shares
    chance = stats.chance(scoring.HEADLINE, data.gold, data.n_labels, shares)
    constant = stats.chance(scoring.HEADLINE, data.gold, data.n_labels)
    block[scoring.chance_key()] = rounded(chance)
    block["chance_basis"] = "best constant" if shares is None or chance <= constant else "guessing by training shares"
    block["real_lift"] = rounded(block[REAL][scoring.HEADLINE] - chance)
    top = params.generate.per_class
    for source in gap_sources(params.sources):
        headline = data.point(source, params.headline_point(source))
        if headline is None:
            continue
        for metric in scoring.METRICS:
            block[gap_key(source, metric)] = estimate_block(
                stats.difference_interval(data.gold, real, headline, data.n_labels, metric=metric, **options))
        if mix := parse_mix(source):
            alone = data.point(source, real_alone_point(mix[1]))
            if alone is not None:   # None: trained before the real@N-alone units existed
                for metric in scoring.METRICS:
                    block[gain_key(source, metric)] = estimate_block(
                        stats.difference_interval(data.gold, headline, alone, data.n_labels, metric=metric, **options))
            continue
        matched = data.point(source, f"real@{top}")
        if matched is not None:   # None: the real split holds fewer than per_class of some label
            block[f"fair_gap_{source}"] = estimate_block(
                stats.difference_interval(data.gold, matched, headline, data.n_labels, **options))
        block[f"share_{source}"] = estimate_block(
            stats.recovered_share_interval(data.gold, headline, real, data.n_labels, train_shares=shares,
                                           min_lift=params.compare.verdict.min_real_lift, **options))
        block[f"exchange_{source}"] = exchange_block(params, data, source, real, options)
    block["verdict"] = verdict.decide(block, settings_of(params), mixes_of(params), params.compare.verdict)
    return block


def gain_key(mix: str, metric: str = scoring.HEADLINE) -> str:
    """The mix minus its own N real examples trained alone: does the synthetic part add anything?"""
    return scoring.suffixed(f"gain_{mix}", metric)


def real_curve(params: Params, data: TaskData, setting: str, real: np.ndarray) -> dict[float, np.ndarray]:
    """The measured real learning curve, per label: the points size-matched to `setting` (up to
    generate.per_class), the real-only points above it (compare.real_sizes, from the real source),
    and all real data at the largest label's count."""
    curve = {n: data.point(setting, f"real@{n}") for n in params.curve_sizes()}
    curve = {float(n): preds for n, preds in curve.items() if preds is not None}
    top = max(curve, default=0.0)
    for n in params.compare.real_sizes:
        preds = data.point(REAL, f"real@{n}")
        if preds is not None and n > top:
            curve[float(n)] = preds
    all_real = data.real_per_label
    if all_real is not None and all_real > max(curve, default=0.0):
        curve[all_real] = real
    return dict(sorted(curve.items()))


def exchange_block(params: Params, data: TaskData, setting: str, real: np.ndarray, options: dict) -> dict:
    """Real examples per label that synthetic data at its largest size is worth, and the reverse."""
    sizes = params.curve_sizes()
    curve = real_curve(params, data, setting, real)
    syn_curve = {n: data.point(setting, f"{setting}@{n}") for n in sizes}
    syn_curve = {n: preds for n, preds in syn_curve.items() if preds is not None}
    rate = stats.exchange_rate_interval(data.gold, curve, syn_curve, data.n_labels, **options)
    block = estimate_block(rate.estimate)
    block.pop("significant")
    value = rate.estimate.value
    interpolated = rate.bracket_fold > params.compare.max_interpolation_fold
    block.update(censored=rate.censored, synthetic_size=sizes[-1],
                 synthetic_per_real=rounded(sizes[-1] / value) if value else None,
                 bracket=[rounded(size) for size in rate.bracket], interpolated=interpolated,
                 one_sided=rate.censored != "=", real_sizes=[rounded(size) for size in curve],
                 meaning=exchange_meaning(rate, interpolated, params.compare.confidence))
    # the reverse question: how many synthetic per label match real data at the smallest size?
    reference = curve.get(float(sizes[0]))
    if reference is None:
        block.update(real_reference=sizes[0], synthetic_needed=None, synthetic_needed_censored=None)
        return block
    target = float(stats.metric_batch(scoring.HEADLINE, data.gold, reference, data.n_labels).mean())
    syn_scores = [(n, float(stats.metric_batch(scoring.HEADLINE, data.gold, preds, data.n_labels).mean()))
                  for n, preds in sorted(syn_curve.items())]
    needed, needed_flag = stats.synthetic_needed(target, syn_scores)
    block.update(real_reference=sizes[0], synthetic_needed=rounded(needed), synthetic_needed_censored=needed_flag)
    return block


def exchange_meaning(rate: stats.ExchangeRate, interpolated: bool, confidence: float) -> str:
    """What the exchange rate's interval says, in words (the report quotes it)."""
    low, high = rate.bracket
    if rate.censored == "<=":
        return (f"below the smallest real size measured ({low:g} per label): at most the upper bound, a one-sided "
                f"{100 * confidence:g}% bound; nothing is measured below it")
    if rate.censored == ">=":
        return (f"above the largest real size measured ({high:g} per label): at least the lower bound, a one-sided "
                f"{100 * confidence:g}% bound; nothing is measured above it")
    where = (f"on the measured real point {low:g}" if low == high else
             f"interpolated in log size between the measured real points {low:g} and {high:g}")
    caveat = (f" ({high / low:.1f} times apart: the value assumes the real curve is straight in log size there)"
              if interpolated else "")
    return (f"{where}{caveat}; the interval counts test items, synthetic replicates and the real curve's own "
            "draws and seeds, cut to the measured real sizes")


def curve_row(source: str, size: float, scores: dict) -> dict:
    """One learning-curve point in the headline metric: {source, size, macro_f1, low, high}."""
    score, low, high, _std = scoring.score_keys(scoring.HEADLINE)
    return {"source": source, "size": size, scoring.HEADLINE: scores[score], "low": scores[low], "high": scores[high]}


def curve_rows(params: Params, data: TaskData) -> list[dict]:
    """Learning-curve points from the evaluate metrics: every size of every setting and of real@n."""
    rows = []
    for source in settings_of(params):
        points = data.evaluations.get(source, {}).get("points", {})
        for point, block in points.items():
            name, _, size = point.partition("@")
            rows.append(curve_row(source if name == source else f"real (matched to {source})", int(size), block))
    real = data.evaluations.get(REAL)
    if real:
        for point, block in real.get("points", {}).items():
            if point.startswith("real@"):
                rows.append(curve_row("real (alone, capped per label)", int(point.partition("@")[2]), block))
        if data.real_per_label is not None:
            rows.append(curve_row("real (all)", round(data.real_per_label, 1), real))
    return sorted(rows, key=lambda row: (row["source"], row["size"]))


# --- aggregates -----------------------------------------------------------------------------------

def value_of(block: dict, key: str) -> float | None:
    entry = block.get(key)
    return entry.get("value") if isinstance(entry, dict) else entry


def aggregate(blocks: Sequence[dict], params: Params) -> dict:
    """Means over tasks of scores, gaps, shares and exchange rates (flat keys for dvc exp show)."""
    result: dict = {"n_tasks": len(blocks)}
    for source in params.sources:
        for metric in scoring.METRICS:
            result[f"{source}_{metric}"] = rounded(mean([b[source][metric] for b in blocks if source in b]))
    for source in gap_sources(params.sources):
        result[gap_key(source)] = rounded(mean([value_of(b, gap_key(source)) for b in blocks]))
    for setting in settings_of(params):
        for key in (f"fair_gap_{setting}", f"share_{setting}", f"exchange_{setting}"):
            result[key] = rounded(mean([value_of(b, key) for b in blocks]))
    return result


def by_level(task_blocks: dict[str, dict], params: Params) -> dict[str, dict]:
    levels = sorted({block["level"] for block in task_blocks.values()})
    return {f"level_{level}": aggregate([b for b in task_blocks.values() if b["level"] == level], params)
            for level in levels}


def correlations(task_blocks: dict[str, dict], params: Params, levels: dict[str, int] | None = None) -> dict:
    """Permutation tests, task as the unit, against level: every gap to all real data, every fair gap
    (to real data of the same size) and every unrecovered share. All are reported; the one finding
    rests on the statistic params chose before the run (compare.gap_statistic)."""
    tasks = [task for task in task_blocks if levels is None or task in levels]
    x = [levels[task] if levels else task_blocks[task]["level"] for task in tasks]
    result = {}
    for source in gap_sources(params.sources):
        result[gap_key(source)] = correlation_block(x, [value_of(task_blocks[t], gap_key(source)) for t in tasks])
    for setting in settings_of(params):
        result[f"fair_gap_{setting}"] = correlation_block(x, [value_of(task_blocks[t], f"fair_gap_{setting}")
                                                              for t in tasks])
        unrecovered = [None if value_of(task_blocks[t], f"share_{setting}") is None
                       else 1 - value_of(task_blocks[t], f"share_{setting}") for t in tasks]
        result[f"unrecovered_{setting}"] = correlation_block(x, unrecovered)
    return result


def correlation_block(x: Sequence[float], y: Sequence[float | None]) -> dict:
    test = stats.correlation_test(x, [math.nan if v is None else v for v in y])
    return {"spearman": rounded(test["rho"]), "p": rounded(test["p"]), "n": test["n"], "method": test["method"]}


# --- the study's findings -------------------------------------------------------------------------

def pooled(values: dict[str, float | None], params: Params) -> dict:
    """Mean over tasks with a t interval over tasks (statistics.mean_over_tasks), cut to [-1, 1] (a
    mean of Macro-F1 differences lies there); no interval below compare.min_tasks tasks."""
    result = stats.mean_over_tasks(values, confidence=params.compare.confidence, min_tasks=params.compare.min_tasks)

    def cut(block: dict) -> dict:
        low, high = block.get("low"), block.get("high")
        return {**block, "value": rounded(block["value"]),
                "low": None if low is None else rounded(max(low, -1.0)),
                "high": None if high is None else rounded(min(high, 1.0))}

    result = cut(result)
    result["leave_one_out"] = {task: cut(block) for task, block in result["leave_one_out"].items()}
    return result


def positive(block: dict | None) -> bool | None:
    """True when a pooled interval lies above 0, False when not; None when it is not testable."""
    if not block or not block.get("testable"):
        return None
    return block["low"] is not None and block["low"] > 0


def findings(params: Params, datas: dict[str, TaskData], task_blocks: dict[str, dict], corr: dict,
             agreement: dict) -> dict:
    """Whether this run reproduces each of the study's three findings, with the statistic behind it."""
    order = {}
    if REAL in params.sources and {"zero_shot", "few_shot"} <= set(params.sources):
        real_vs_few, few_vs_zero = {}, {}
        for task, block in task_blocks.items():
            zero, few = value_of(block, gap_key("zero_shot")), value_of(block, gap_key("few_shot"))
            if zero is None or few is None:
                continue
            real_vs_few[task] = few                   # real - few-shot, paired on the same items
            few_vs_zero[task] = zero - few            # (real - zero) - (real - few) = few - zero
        a, b = pooled(real_vs_few, params), pooled(few_vs_zero, params)
        holds = [positive(a), positive(b)]
        status = ("not testable" if None in holds else "reproduced" if all(holds) else
                  "partly reproduced" if any(holds) else "not reproduced")
        driven = sorted(set(a["driven_by"]) | set(b["driven_by"]))
        order = {"statement": "real > few-shot > zero-shot (mean Macro-F1 difference over tasks, t interval over "
                              "tasks)",
                 "real_minus_few_shot": a, "few_shot_minus_zero_shot": b, "status": status, "driven_by": driven}
        if status == "not testable":
            order["why"] = f"{max(a['n_tasks'], b['n_tasks'])} task(s); an interval over tasks needs " \
                           f"{params.compare.min_tasks} (compare.min_tasks)"
    return {"order": order, "subjectivity": subjectivity_finding(params, corr), "agreement": agreement}


def subjectivity_finding(params: Params, corr: dict) -> dict:
    """The correlation of the statistic chosen before the run (compare.gap_statistic) with level; the
    others are reported beside it (summary `correlation`), never chosen after the fact."""
    if not settings_of(params):
        return {}
    key = params.compare.gap_statistic
    alpha = 1 - params.compare.confidence
    test = corr.get(key)
    statement = f"the gap grows with subjectivity ({key} vs level; compare.gap_statistic)"
    if test is None:
        return {"statement": statement, "statistic": key, "spearman": None, "p": None, "n": 0, "status": "not testable",
                "why": f"{key} is not computed in this run (computed: {', '.join(sorted(corr)) or 'none'})",
                "other_statistics": sorted(corr)}
    critical = stats.critical_spearman(test["n"], alpha)
    status = ("not testable" if test.get("spearman") is None or critical is None else
              "reproduced" if test["spearman"] > 0 and test["p"] < alpha else "not reproduced")
    note = (f"with n = {test['n']} tasks only rho <= -{critical:.2f} or rho >= {critical:.2f} can be significant "
            f"at {alpha:g}"
            if critical is not None else f"with n = {test['n']} tasks no rho can be significant at {alpha:g}")
    return {"statement": statement, "statistic": key, **test, "status": status, "critical_rho": rounded(critical),
            "note": note, "other_statistics": sorted(k for k in corr if k != key)}


# --- instance level -------------------------------------------------------------------------------

def instance_analysis(params: Params, datas: dict[str, TaskData]) -> tuple[dict[str, list[dict]], dict, dict]:
    """Agreement curves per task with votes, each source's gain from lowest to highest gamma, and the
    third finding: is the synthetic-trained model's gain steeper than the real-trained one's?"""
    curves: dict[str, list[dict]] = {}
    gains: dict[str, dict] = {}
    steeper: dict[str, dict] = {}
    for task, data in datas.items():
        if data.agreement is None:
            continue
        rows = []
        headlines = {source: data.point(source, params.headline_point(source)) for source in params.sources}
        for source, preds in headlines.items():
            if preds is not None:
                rows += [{"source": source, **point}
                         for point in instance.curve(data.gold, data.agreement, preds, data.n_labels,
                                                     params.analyze.gammas)]
        curves[task] = [{key: rounded(value) if isinstance(value, float) else value for key, value in row.items()}
                        for row in rows]
        gains[task] = {source: _gain_block(curves[task], source) for source in dict.fromkeys(r["source"] for r in rows)}
        gammas = instance.gain_gammas(data.agreement, params.analyze.gammas)
        if gammas is None or headlines.get(REAL) is None:
            continue
        for setting in settings_of(params):
            if headlines.get(setting) is not None:
                estimate = instance.steeper_interval(data.gold, data.agreement, headlines[setting], headlines[REAL],
                                                     gammas, **interval_options(params))
                steeper.setdefault(setting, {})[task] = {**estimate_block(estimate), "gammas": list(gammas)}
    return curves, gains, steeper


def agreement_finding(params: Params, gains: dict, steeper: dict) -> dict:
    """Accuracy rises with agreement for every source, more steeply for synthetic-trained models."""
    if not gains:
        return {"statement": "accuracy rises with annotator agreement", "status": "not testable",
                "why": "no task in this run has per-item annotator votes"}
    gain_of = f"{scoring.AGREEMENT}_gain"   # the study's finding is stated in accuracy
    rises = [block[gain_of] for task in gains.values() for block in task.values() if block[gain_of] is not None]
    per_setting = {setting: pooled({task: block["value"] for task, block in tasks.items()}, params)
                   for setting, tasks in steeper.items()}
    rising = bool(rises) and all(value > 0 for value in rises)
    steeper_holds = [bool(positive(b)) for b in per_setting.values()]
    status = ("reproduced" if rising and steeper_holds and all(steeper_holds) else
              "partly reproduced" if rising or any(steeper_holds) else "not reproduced")
    result = {"statement": "accuracy rises with annotator agreement, more steeply for synthetic-trained models",
              "sources_rising": sum(value > 0 for value in rises), "sources": len(rises),
              "steeper_than_real": per_setting, "per_task": steeper, "status": status}
    untestable = [block["n_tasks"] for block in per_setting.values() if positive(block) is None]
    if untestable:
        result["why"] = (f"steeper than real: {max(untestable)} task(s) with votes; a mean over tasks needs "
                         f"{params.compare.min_tasks} tasks (compare.min_tasks)")
    return result


def _gain_block(rows: list[dict], source: str) -> dict:
    points = [row for row in rows if row["source"] == source and row["n"] > 0]
    return {**{f"{metric}_gain": rounded(instance.gain(rows, source, metric)) for metric in scoring.METRICS},
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
    if Path(path).resolve().parent != paths.JUDGMENTS_DIR.resolve():
        print(f"analyze: {path} is outside {paths.JUDGMENTS_DIR}/, which dvc.yaml tracks; DVC will not rerun "
              "analyze when it changes", file=sys.stderr)
    result = bradley_terry.estimate_from_file(path, params.analyze.levels)
    tasks = {task: {"score": rounded(score), "level": result.levels[task], "wins": result.wins[task],
                    "card_level": task_blocks[task]["level"] if task in task_blocks else None}
             for task, score in result.scores.items()}
    compared = [task for task in tasks if tasks[task]["card_level"] is not None]
    return {"file": str(path), "n_comparisons": result.n_comparisons, "n_judges": result.n_judges,
            "converged": result.converged, "tasks": tasks,
            "agreement_with_cards": correlation_block([tasks[t]["card_level"] for t in compared],
                                                      [float(tasks[t]["level"]) for t in compared]),
            "correlation": correlations({t: task_blocks[t] for t in compared}, params,
                                        {t: tasks[t]["level"] for t in compared})}


# --- outputs --------------------------------------------------------------------------------------

def gap_rows(task_blocks: dict[str, dict], sources: Sequence[str]) -> list[dict]:
    rows = [{"task": task, "level": block["level"], "source": source, "gap": value_of(block, gap_key(source))}
            for task, block in task_blocks.items() for source in gap_sources(sources)]
    return sorted((row for row in rows if row["gap"] is not None),
                  key=lambda row: (row["level"], row["task"], row["source"]))


@dataclass
class Analysis:
    summary: dict
    instance_curves: dict[str, list[dict]]
    learning_curves: dict[str, list[dict]]
    gap_rows: list[dict]


def build_summary(params: Params) -> Analysis:
    """Everything analyze writes, computed in memory."""
    datas = {task: data for task in params.tasks if (data := load_task(params, task)) is not None}
    missing = [f"{task}/{source}" for task in params.tasks for source in params.sources
               if task not in datas or source not in datas[task].evaluations]
    if not datas:
        raise SynthclfError("no evaluation metrics under dvclive/evaluate/; run `dvc repro evaluate` "
                            "(or synthclf train/evaluate --task T --source S) first")
    task_blocks = {task: task_block(params, data) for task, data in datas.items()}
    curves, gains, steeper = instance_analysis(params, datas)
    corr = correlations(task_blocks, params)
    summary: dict = {
        "gap_metric": scoring.HEADLINE,
        "confidence": params.compare.confidence,
        "n_tasks": len(task_blocks),
        "tasks": task_blocks,
        "by_level": by_level(task_blocks, params),
        "overall": aggregate(list(task_blocks.values()), params),
        "correlation": corr,
        "instance": gains,
        "findings": findings(params, datas, task_blocks, corr, agreement_finding(params, gains, steeper)),
        "verdicts": {task: block["verdict"]["decision"] for task, block in task_blocks.items() if "verdict" in block},
    }
    if missing:
        summary["missing"] = ", ".join(missing)
    bt = bradley_terry_block(params, task_blocks)
    if bt is not None:
        summary["bradley_terry"] = bt
    learning = {task: curve_rows(params, data) for task, data in datas.items()}
    return Analysis(summary, curves, learning, gap_rows(task_blocks, params.sources))


def write_plot_files(directory: Path, per_task: dict[str, list[dict]]) -> None:
    """One file per task; files of tasks no longer analysed are removed."""
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.json"):
        if stale.stem not in per_task:
            stale.unlink()
    for task, rows in per_task.items():
        write_json(directory / f"{task}.json", rows)


def run(params: Params) -> dict:
    analysis = build_summary(params)
    if "missing" in analysis.summary:
        print(f"analyze: no evaluation metrics for {analysis.summary['missing']}; they are left out", file=sys.stderr)
    write_plot_files(paths.instance_plots_dir(), analysis.instance_curves)
    write_plot_files(paths.curves_plots_dir(), analysis.learning_curves)
    write_json(paths.gap_plot_file(), analysis.gap_rows)
    write_metrics(paths.summary_metrics(), analysis.summary, Summary)
    for task, block in analysis.summary["tasks"].items():
        if "verdict" in block:
            print(f"{task}: {block['verdict']['text']}")
    return analysis.summary
