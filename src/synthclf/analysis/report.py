"""Stage `report`: reports/report.md and reports/report.html, figures in reports/figures/.

The report answers a team lead first: a verdict table per task (share of real performance that
synthetic data recovers, its exchange rate against real data, the real examples a mix needs, the
one-line verdict), then whether this run reproduces each of the study's three findings, then the
evidence (scores with intervals, the fair comparison at equal size, learning curves, gap against
subjectivity, diversity, instance level, Bradley-Terry, provenance).

It is built once as a list of sections (paragraphs, tables, figures) and rendered twice, to
Markdown and to a self-contained HTML page, so the two never disagree. It reads what `analyze`
wrote (metrics/summary.json, plots/curves/*.json, plots/instance/*.json) plus the optional
diversity metrics from `validate` and generation metrics from `generate`; an optional input that
is absent shows as n/a. Nothing in it depends on the clock, so the same inputs give the same files.
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from synthclf import paths, scoring
from synthclf.analysis import figures, verdict
from synthclf.analysis.analyze import gain_key, gap_key, gap_sources
from synthclf.config import Params
from synthclf.errors import SynthclfError
from synthclf.metrics import DIVERSITY_KEYS, GenerateMetrics, JudgeStats, Summary, ValidateSummary, read_metrics
from synthclf.records import atomic_write, read_json
from synthclf.schema import Strict
from synthclf.settings.mix import parse_mix
from synthclf.tasks import load_card

NA = "n/a"
# the generate stage's metrics (generation/generate.py): flat keys, and two nested token counts
GENERATION_COLUMNS = (("Calls", ("calls",)), ("Cache hits", ("cache_hits",)), ("Tokens in", ("tokens", "prompt")),
                      ("Tokens out", ("tokens", "completion")), ("Cost $", ("cost_usd",)),
                      ("Wall s", ("wall_time_s",)))
CENSORED = {"=": "≈", "<=": "≤", ">=": "≥", ">": ">"}


# --- the document model ---------------------------------------------------------------------------

@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Figure:
    path: str          # relative to reports/
    caption: str


@dataclass
class Section:
    title: str
    blocks: list[str | Table | Figure] = field(default_factory=list)


# --- formatting -----------------------------------------------------------------------------------

def percent(value: float | None, places: int = 1) -> str:
    return NA if value is None else f"{100 * value:.{places}f}"


def with_interval(value: float | None, low: float | None, high: float | None, places: int = 1) -> str:
    """'90.0 [84.9, 95.1]' in percent; the bracket is left out when the interval is undefined."""
    if value is None:
        return NA
    if low is None or high is None:
        return percent(value, places)
    return f"{percent(value, places)} [{percent(low, places)}, {percent(high, places)}]"


def score_cell(scores: dict | None, metric: str = scoring.HEADLINE) -> str:
    """A source's score with its interval (evaluate's keys <metric>, <metric>_low, <metric>_high)."""
    if not isinstance(scores, dict):
        return NA
    score, low, high, _std = scoring.score_keys(metric)
    return with_interval(scores.get(score), scores.get(low), scores.get(high))


def and_list(words: Sequence[str]) -> str:
    """'Macro-F1 and accuracy'; 'a, b and c'."""
    return " and ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else "".join(words)


def metric_labels() -> str:
    """The registered metrics as a sentence names them, headline first: 'Macro-F1 and accuracy'."""
    return and_list([scoring.headline().label, *(metric.label for metric in scoring.others())])


def estimate_cell(block: dict | None, places: int = 1, mark_significant: bool = False) -> str:
    """An analyze estimate {value, low, high, significant}; '*' when its interval excludes 0."""
    if not isinstance(block, dict):
        return NA
    text = with_interval(block.get("value"), block.get("low"), block.get("high"), places)
    return f"{text} *" if mark_significant and block.get("significant") else text


def bracket(block: dict | None) -> str:
    """Only the interval of an estimate, in percent: '[9.4, 13.9]'."""
    if not isinstance(block, dict) or block.get("low") is None or block.get("high") is None:
        return NA
    return f"[{percent(block['low'])}, {percent(block['high'])}]"


def count(value: float | None) -> str:
    """Examples per label: whole numbers from 10 on, one decimal below (5, 7.1, 12)."""
    if value is None:
        return NA
    text = f"{value:.0f}" if value >= 10 else f"{value:.1f}"
    return text.removesuffix(".0")


def number(value, places: int = 3) -> str:
    if value is None:
        return NA
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{places}f}"
    return str(value)


def p_value(value: float | None) -> str:
    return NA if value is None else f"{value:.3f}"


def source_title(source: str) -> str:
    names = {"real": "Real", "zero_shot": "Zero-shot", "few_shot": "Few-shot"}
    mix = parse_mix(source)
    return f"{names[mix[0]]} + {mix[1]} real" if mix else names.get(source, source)


def task_title(task: str) -> str:
    return f"{load_card(task).title} ({task})"


def confidence_label(summary: dict) -> str:
    return f"{100 * summary.get('confidence', 0.95):g}%"


# --- inputs ---------------------------------------------------------------------------------------

def load_summary() -> dict:
    path = paths.summary_metrics()
    if not path.exists():
        raise SynthclfError(f"{path}: not found; run `synthclf analyze` (dvc repro analyze) before the report")
    # the schema names a drifted key (e.g. a gap written as a bare number by an older analyze)
    summary = read_metrics(path, Summary, "`synthclf analyze` (dvc repro analyze)").model_dump(exclude_unset=True)
    if not summary["tasks"]:
        raise SynthclfError(f"{path}: no evaluated tasks; run `dvc repro evaluate` and `synthclf analyze` first")
    return summary


def read_optional(path: Path, schema: type[Strict] | None = None) -> dict | list | None:
    """A file another stage may not have written (yet): a metrics file read through its schema, or
    plot rows (schema None). Unreadable or drifted counts as absent."""
    if not path.exists():
        return None
    try:
        return read_json(path) if schema is None else read_metrics(path, schema).model_dump(exclude_unset=True)
    except (SynthclfError, ValueError) as error:
        print(f"report: {error}; shown as n/a", file=sys.stderr)
        return None


def nested(metrics: dict, keys: Sequence[str]):
    value = metrics
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def tasks_by_subjectivity(summary: dict) -> list[str]:
    return sorted(summary["tasks"], key=lambda task: (summary["tasks"][task]["level"], task))


def settings_of(params: Params) -> list[str]:
    return [source for source in params.sources if source in params.generate.settings]


def mixes_of(params: Params) -> list[tuple[str, int]]:
    return [(source, mix[1]) for source in params.sources if (mix := parse_mix(source))]


# --- the verdict ----------------------------------------------------------------------------------

def best_setting(block: dict, settings: Sequence[str]) -> str | None:
    """The setting the verdict speaks of (when it names one), else the one with the largest share."""
    named = block.get("verdict", {}).get("setting")
    if named in settings:
        return named
    shares = {s: block[f"share_{s}"]["value"] for s in settings
              if (block.get(f"share_{s}") or {}).get("value") is not None}
    return max(shares, key=lambda s: (shares[s], s)) if shares else None


def exchange_text(block: dict | None) -> str:
    """'20 synthetic ≈ 7.1 real per label [4, 12]'; ≤ / ≥ with a one-sided bound when beyond the real
    sizes measured; 'interpolated between ...' when read across a wide gap between measured sizes."""
    return verdict.worth_text(block) or NA


def synthetic_needed_text(block: dict | None) -> str:
    """Synthetic examples per label that match real data at the curve's smallest size."""
    if not isinstance(block, dict) or block.get("synthetic_needed") is None:
        return NA
    sign = CENSORED.get(block.get("synthetic_needed_censored", "="), "")
    value = count(block["synthetic_needed"])
    return value if sign == "≈" else f"{sign} {value}"


def real_needed_text(block: dict, mixes: Sequence[tuple[str, int]], within_points: float) -> str:
    """Real examples the verdict's mix needs: shown within the points of real data and above its real alone."""
    decided = block.get("verdict", {})
    if decided.get("decision") == "replace":
        return "0 (synthetic alone)"
    if decided.get("decision") == "augment" and isinstance(decided.get("real_needed"), int):
        return f"{decided['real_needed']} ({source_title(decided['setting'])})" \
            if isinstance(decided.get("setting"), str) else str(decided["real_needed"])
    tested = [real for source, real in mixes if (block.get(gap_key(source)) or {}).get("value") is not None]
    return f"none shown of {', '.join(map(str, sorted(tested)))} tested" if tested else "no mix tested"


def verdict_table(summary: dict, params: Params, tasks: list[str] | None = None) -> Table:
    """The verdict table (report, and README's and docs/' tables regenerated from a committed run's summary)."""
    thresholds = params.compare.verdict
    settings, mixes = settings_of(params), mixes_of(params)
    rows = []
    for task in tasks or tasks_by_subjectivity(summary):
        block = summary["tasks"][task]
        best = best_setting(block, settings)
        rows.append([task_title(task), str(block["level"]), score_cell(block.get(paths.REAL)),
                     percent(block.get(scoring.chance_key())),
                     source_title(best) if best else NA,
                     estimate_cell(block.get(f"share_{best}"), places=0) if best else NA,
                     exchange_text(block.get(f"exchange_{best}")) if best else NA,
                     real_needed_text(block, mixes, thresholds.within_points),
                     block.get("verdict", {}).get("text", NA)])
    return Table(["Task", "Level", "Real Macro-F1", "Chance", "Best setting", "Share of real recovered, %",
                  "Exchange rate", f"Real examples a mix needs (within {thresholds.within_points:g} pt, beating "
                  "them alone)", "Verdict"], rows)


def verdict_markdown(summary: dict, params: Params) -> str:
    """The verdict table and its notes as Markdown: what scripts/docs_tables.py renders into docs/."""
    section = verdict_section(summary, params, tasks_by_subjectivity(summary))
    return render_markdown([section]).split("\n", 4)[4]


def verdict_notes(summary: dict, tasks: list[str]) -> list[str]:
    """Per task: the intervals a verdict could not decide on, and where the metrics disagree."""
    notes = []
    for task in tasks:
        decided = summary["tasks"][task].get("verdict", {})
        for note in decided.get("notes", []):
            notes.append(f"{task}: {metric_labels()} disagree — {note}.")
    return notes


def verdict_section(summary: dict, params: Params, tasks: list[str]) -> Section:
    thresholds = params.compare.verdict
    level = confidence_label(summary)
    section = Section("Verdict: can synthetic data replace real data?", [
        f"Per task, ordered by subjectivity (level 1 = most objective). Macro-F1 on the real test set, %, "
        f"with {level} intervals in brackets.",
        verdict_table(summary, params, tasks),
        f"Every verdict stands on an interval (params `compare.verdict`): **replace** when the best setting's "
        f"recovered share has its lower {level} bound at or above {100 * thresholds.replace_share:g}%; "
        f"**augment with N real** when the smallest tested mix (synthetic + N real) is shown within "
        f"{thresholds.within_points:g} Macro-F1 point(s) of all real data (the upper bound of the gap) and shown "
        "to beat the same N real examples trained alone (the lower bound of mix − real alone above 0); "
        "**do not use** when the intervals rule both out; **undecided** when real data beats chance by less "
        f"than {100 * thresholds.min_real_lift:g} Macro-F1 points, or when an interval straddles its threshold "
        "(the verdict names it and about how many more test items and replicates would settle it).",
        "Chance: the stronger of guessing by the real training data's label shares and the best constant "
        "predictor. Share of real recovered = (synthetic − chance) / (real − chance), for the setting at its "
        f"largest size ({params.generate.per_class} per label). Exchange rate: the real examples per label whose "
        "Macro-F1 synthetic data at that size reaches, read off the measured real learning curve (size n = n "
        "examples of every label, each capped at what it has; all real data at its largest label's count); "
        "its interval counts the test items, the synthetic replicates and the real curve's own draws and seeds. "
        "≤ / ≥: beyond the real sizes measured, with a one-sided bound; 'interpolated': read between two "
        f"measured sizes more than {params.compare.max_interpolation_fold:g} times apart.",
    ])
    section.blocks += verdict_notes(summary, tasks)
    if params.generate.replicates < 3:
        section.blocks.append(few_replicates_warning(params.generate.replicates))
    if summary.get("missing"):
        section.blocks.append(f"Not evaluated (left out): {summary['missing']}.")
    return section


def few_replicates_warning(replicates: int) -> str:
    """Why intervals from 1-2 generation replicates are too wide (or too narrow) to act on."""
    if replicates == 1:
        return ("**Caution: 1 generation replicate.** The intervals cover test items and nothing of the "
                "generator's randomness, which moved Macro-F1 by 10-15 points between samples; set "
                "`generate.replicates` to 3 or more before acting on a verdict.")
    return ("**Caution: 2 generation replicates.** The spread between them is estimated with 1 degree of "
            "freedom (t = 12.7 for a 95% interval), so where the two samples disagree an interval spans "
            "most of the scale (intervals are cut at 0 and 100). Set `generate.replicates` to 3 or more "
            "(t = 4.3 with 3) before acting on a verdict.")


# --- the study's findings -------------------------------------------------------------------------

def pooled_text(block: dict | None) -> str:
    if not block or block.get("value") is None:
        return NA
    return f"{percent(block['value'])}"


def order_row(finding: dict) -> list[str]:
    statement = "Real > few-shot > zero-shot"
    if not finding:
        return [statement, "not testable", "needs real, zero_shot and few_shot among the sources", NA, NA]
    parts = [("real − few-shot", finding.get("real_minus_few_shot")),
             ("few-shot − zero-shot", finding.get("few_shot_minus_zero_shot"))]
    statistic = "; ".join(f"{name} {pooled_text(block)} points" for name, block in parts)
    statistic += " (mean Macro-F1 difference over tasks, t interval over tasks)"
    if finding.get("driven_by"):
        statistic += f"; leaving out {', '.join(finding['driven_by'])} alone changes the conclusion"
    if finding.get("why"):
        statistic += f"; {finding['why']}"
    interval = "; ".join(f"{name} {bracket(block)}" for name, block in parts)
    n_tasks = max(((block or {}).get("n_tasks") or 0 for _, block in parts), default=0)
    return [statement, finding.get("status", NA), statistic, interval, f"{n_tasks} tasks"]


def subjectivity_row(finding: dict) -> list[str]:
    statement = "The gap grows with subjectivity"
    if not finding:
        return [statement, "not testable", "no generation setting among the sources", NA, NA]
    statistic = (f"Spearman ρ = {number(finding.get('spearman'), 2)}, permutation p = {p_value(finding.get('p'))} "
                 f"({finding.get('statistic', NA)} against level, chosen in params `compare.gap_statistic`; every "
                 "correlation computed is listed under 'Gap and unrecovered share against subjectivity')")
    if finding.get("note"):
        statistic += f"; {finding['note']}"
    if finding.get("why"):
        statistic += f"; {finding['why']}"
    return [statement, finding.get("status", NA), statistic, "none (a permutation test)",
            f"{finding.get('n', 0)} tasks"]


def agreement_row(finding: dict) -> list[str]:
    statement = "Accuracy rises with annotator agreement, more steeply for synthetic-trained models"
    if not finding or finding.get("status") == "not testable":
        return [statement, "not testable", (finding or {}).get("why", "no agreement analysis"), NA, NA]
    steeper = finding.get("steeper_than_real") or {}
    gains = "; ".join(f"{source_title(s)} {percent((b or {}).get('value'))}" for s, b in sorted(steeper.items()))
    statistic = (f"accuracy rises for {finding.get('sources_rising', 0)} of {finding.get('sources', 0)} sources; "
                 f"steeper than real (accuracy gain, synthetic − real, points): {gains or NA}")
    if finding.get("why"):
        statistic += f"; {finding['why']}"
    interval = "; ".join(f"{source_title(s)} {bracket(b)}" for s, b in sorted(steeper.items())) or NA
    n_tasks = max(((b or {}).get("n_tasks") or 0 for b in steeper.values()), default=0)
    return [statement, finding.get("status", NA), statistic, interval, f"{n_tasks} tasks with votes"]


def findings_section(summary: dict) -> Section:
    found = summary.get("findings", {})
    rows = [order_row(found.get("order") or {}), subjectivity_row(found.get("subjectivity") or {}),
            agreement_row(found.get("agreement") or {})]
    return Section("Does this run reproduce the study?", [
        "The three findings of Li et al. (EMNLP 2023), tested on this run. Differences are in Macro-F1 points "
        f"with {confidence_label(summary)} intervals; a finding is reproduced when its interval excludes zero "
        "(or its permutation p is below the matching level) in the study's direction. "
        "\"Not reproduced\" is an answer, not an error.",
        Table(["Finding", "Status", "Statistic", f"{confidence_label(summary)} interval", "n"], rows)])


# --- the evidence ---------------------------------------------------------------------------------

def scores_section(summary: dict, params: Params, tasks: list[str]) -> Section:
    level = confidence_label(summary)
    section = Section(f"Performance on the real test set (%, {level} intervals)", [
        "Each source at its headline point: all real data, a generation setting at its largest size, a mix. "
        "Intervals combine a bootstrap over test items with the spread between generation replicates and "
        "training seeds. Chance: the stronger of guessing by the real training data's label shares and the best "
        "constant predictor (Macro-F1)."])
    for metric in scoring.METRICS.values():
        chance = ["Chance"] if metric.name == scoring.HEADLINE else []   # the summary holds the headline's chance
        headers = ["Task", "Level", "Test items", *chance, *(source_title(s) for s in params.sources)]
        rows = [[task_title(t), str(summary["tasks"][t]["level"]), number(summary["tasks"][t].get("n_test")),
                 *([percent(summary["tasks"][t].get(scoring.chance_key()))] if chance else []),
                 *(score_cell(summary["tasks"][t].get(s), metric.name) for s in params.sources)] for t in tasks]
        section.blocks += [f"**{metric.title}**", Table(headers, rows)]
    section.blocks.append(Figure("figures/scores_by_task.png",
                                 f"Macro-F1 per task with {level} intervals, tasks ordered by subjectivity"))
    return section


def fair_section(summary: dict, params: Params, tasks: list[str]) -> Section:
    per_class = params.generate.per_class
    rows = [[task_title(t), str(summary["tasks"][t]["level"]), source_title(s),
             estimate_cell(summary["tasks"][t].get(gap_key(s)), mark_significant=True),
             estimate_cell(summary["tasks"][t].get(f"fair_gap_{s}"), mark_significant=True),
             estimate_cell(summary["tasks"][t].get(f"share_{s}"), places=0)]
            for t in tasks for s in settings_of(params)]
    section = Section("Fair comparison at equal size", [
        f"Gap to all real data: all real training data minus the synthetic setting at {per_class} per label. "
        f"Fair gap: real data of the same size and label balance ({per_class} per label, drawn from the real "
        "training split) minus the synthetic setting, so it measures where the data came from, not how much of "
        f"it there is. Macro-F1 points with {confidence_label(summary)} intervals; * marks an interval that "
        f"excludes zero. A fair gap of n/a: the real training split holds fewer than {per_class} examples of "
        "some label, so there is no real data of that size to compare with.",
        Table(["Task", "Level", "Setting", "Gap to all real", f"Fair gap at {per_class}/label",
               "Share of real recovered, %"], rows)])
    mixes = mixes_of(params)
    if mixes:
        metrics = list(scoring.METRICS.values())
        section.blocks += ["**Mixes** (synthetic + N real examples, against all real data and against the same "
                           f"N real examples trained alone; {metric_labels()} points)",
                           Table(["Task", "Level", "Mix", *(f"Gap to all real ({metric.label})" for metric in metrics),
                                  *(f"Mix − its real alone ({metric.label})" for metric in metrics)],
                                 [[task_title(t), str(summary["tasks"][t]["level"]), source_title(m),
                                   *(estimate_cell(summary["tasks"][t].get(key(m, metric.name)), mark_significant=True)
                                     for key in (gap_key, gain_key) for metric in metrics)]
                                  for t in tasks for m, _ in mixes])]
    return section


def curves_section(summary: dict, params: Params, tasks: list[str], curves: dict[str, list[dict]]) -> Section:
    rows = []
    for task in tasks:
        for setting in settings_of(params):
            block = summary["tasks"][task].get(f"exchange_{setting}")
            if not block:
                continue
            rows.append([task_title(task), source_title(setting), exchange_text(block),
                         number(block.get("synthetic_per_real"), 1),
                         f"{synthetic_needed_text(block)} to match {block.get('real_reference', NA)} real",
                         block.get("meaning", NA)])
    sizes = ", ".join(str(size) for size in params.curve_sizes())
    section = Section("Learning curves and the exchange rate", [
        f"Macro-F1 against training examples per label ({sizes}) for each synthetic setting and for real data "
        f"of the same size and label balance, with {confidence_label(summary)} interval bands; above them real "
        "data alone at `compare.real_sizes` (each label capped at what it has), and all real data at its largest "
        "label's count on the right. Synthetic per real: synthetic examples that one real example is worth "
        "(above 1: synthetic data is weaker). Read: where on the measured real curve the exchange rate lies and "
        "what its interval means.",
        Table(["Task", "Setting", "Exchange rate", "Synthetic per real", "Synthetic per label needed", "Read"],
              rows)])
    for task in tasks:
        if curves.get(task):
            section.blocks.append(Figure(f"figures/curves_{task}.png",
                                         f"Learning curves, {task}: synthetic settings vs size-matched real data"))
    return section


def correlation_rows(correlation: dict) -> list[list[str]]:
    def name(key: str) -> str:
        for prefix, title in (("fair_gap_", "Fair gap"), ("gap_", "Gap"), ("unrecovered_", "Unrecovered share")):
            if key.startswith(prefix):
                return f"{title} {source_title(key.removeprefix(prefix))}"
        return key

    return [[name(key), number(block.get("spearman"), 2), p_value(block.get("p")), str(block.get("n", 0)),
             block.get("method", NA)] for key, block in sorted(correlation.items())]


def subjectivity_section(summary: dict, params: Params, tasks: list[str]) -> Section:
    sources, settings = gap_sources(params.sources), settings_of(params)
    section = Section("Gap and unrecovered share against subjectivity")
    if not sources:
        section.blocks.append("No gap: `real` is not among the training sources.")
        return section
    section.blocks += [
        "Gap: all real data minus the source (Macro-F1 points); unrecovered share: 1 − share of real data's lift "
        "over chance recovered (%).",
        Table(["Task", "Level", *(f"Gap {source_title(s)}" for s in sources),
               *(f"Unrecovered {source_title(s)}" for s in settings)],
              [[task_title(t), str(summary["tasks"][t]["level"]),
                *(estimate_cell(summary["tasks"][t].get(gap_key(s))) for s in sources),
                *(unrecovered_cell(summary["tasks"][t].get(f"share_{s}")) for s in settings)] for t in tasks]),
        "**Per subjectivity level** (means over tasks, %)",
        Table(["Level", "Tasks", *(source_title(s) for s in params.sources),
               *(f"Gap {source_title(s)}" for s in sources), *(f"Unrecovered {source_title(s)}" for s in settings)],
              [[name.removeprefix("level_"), str(block["n_tasks"]),
                *(percent(block.get(f"{s}_{scoring.HEADLINE}")) for s in params.sources),
                *(percent(block.get(gap_key(s))) for s in sources),
                *(percent(None if block.get(f"share_{s}") is None else 1 - block[f"share_{s}"]) for s in settings)]
               for name, block in sorted(summary["by_level"].items(), key=lambda item: int(item[0].split("_")[1]))]),
        "**Correlation with subjectivity level** (task as the unit; permutation test). Every correlation "
        "computed is listed; the finding rests on the one chosen before the run (params `compare.gap_statistic`: "
        f"{params.compare.gap_statistic}). {critical_note(summary)}",
        Table(["Statistic", "Spearman ρ", "Permutation p", "n (tasks)", "Method"],
              correlation_rows(summary.get("correlation", {}))),
        Figure("figures/gap_vs_subjectivity.png",
               "Gap to real data and unrecovered share per task against its subjectivity level, with intervals"),
    ]
    return section


def critical_note(summary: dict) -> str:
    """How large a correlation must be to be significant with this many tasks."""
    finding = (summary.get("findings") or {}).get("subjectivity") or {}
    return f"Note: {finding['note']}." if finding.get("note") else ""


def unrecovered_cell(share: dict | None) -> str:
    if not share or share.get("value") is None:
        return NA
    low, high = share.get("low"), share.get("high")
    return with_interval(1 - share["value"], None if high is None else 1 - high, None if low is None else 1 - low, 0)


def diversity_section(params: Params, tasks: list[str]) -> Section:
    rows = []
    for task in tasks:
        for source in (paths.REAL, *params.generate.settings):
            metrics = read_optional(paths.metrics_file("validate", task, source), ValidateSummary) or {}
            diversity = metrics.get("diversity") or {}
            rows.append([task, source_title(source), *(number(diversity.get(key)) for key in DIVERSITY_KEYS)])
    return Section("Diversity of the training data", [
        "Remote-Clique: mean pairwise embedding distance; Chamfer: mean distance to the nearest neighbour; "
        "similarity to real: for each real text, the mean of its top-5 cosine similarities to the data; "
        "distinct-n: share of unique n-grams. n/a: the validate stage has not reported it.",
        Table(["Task", "Data", "Remote-Clique", "Chamfer", "Similarity to real", "Distinct-1", "Distinct-2"], rows)])


def instance_section(summary: dict, curves: dict[str, list[dict]]) -> Section:
    section = Section("Instance-level subjectivity")
    if not curves:
        section.blocks.append("No task in this run has per-item annotator votes, so there are no agreement curves.")
        return section
    section.blocks.append("Scores on the test items whose annotator agreement is at least γ (mean over replicates); "
                          "n is the number of items kept.")
    steeper = (summary.get("findings", {}).get("agreement") or {}).get("steeper_than_real") or {}
    per_task = (summary.get("findings", {}).get("agreement") or {}).get("per_task") or {}
    if steeper:
        rows = [[source_title(setting), "all tasks (mean)", NA, estimate_cell(block)]
                for setting, block in sorted(steeper.items()) if block]
        rows += [[source_title(setting), task, " → ".join(f"{g:g}" for g in block.get("gammas", [])),
                  estimate_cell(block, mark_significant=True)]
                 for setting, tasks in sorted(per_task.items()) for task, block in sorted(tasks.items())]
        section.blocks += [f"**Steeper than real?** Accuracy gain from the lowest to the highest usable γ, synthetic "
                           f"minus real, points with {confidence_label(summary)} intervals (* excludes zero)",
                           Table(["Setting", "Task", "γ", "Gain difference"], rows)]
    agreement, *rest = scoring.agreement_first()   # the study's finding's metric: the tables' and first panel's
    panels = and_list([agreement.title, *(metric.label for metric in rest)])
    for task, rows in curves.items():
        gammas = sorted({row["gamma"] for row in rows})
        sources = list(dict.fromkeys(row["source"] for row in rows))
        lookup = {(row["source"], row["gamma"]): row for row in rows}
        table_rows = [[f"{gamma:g}", str(lookup.get((sources[0], gamma), {}).get("n", NA)),
                       *(percent(lookup.get((s, gamma), {}).get(agreement.name)) for s in sources)]
                      for gamma in gammas]
        section.blocks += [f"**{task_title(task)}** ({agreement.label} %)",
                           Table(["γ", "n", *(source_title(s) for s in sources)], table_rows),
                           Figure(f"figures/instance_{task}.png",
                                  f"{panels} against agreement threshold γ, {task}")]
    return section


def bradley_terry_section(summary: dict) -> Section | None:
    bt = summary.get("bradley_terry")
    if not bt:
        return None
    agreement = bt.get("agreement_with_cards", {})
    rows = [[task, number(block["score"]), str(block["level"]), number(block["card_level"]), str(block["wins"])]
            for task, block in sorted(bt["tasks"].items(), key=lambda item: (-item[1]["score"], item[0]))]
    blocks: list = [
        f"{bt['n_comparisons']} comparisons by {bt['n_judges']} judge(s) from `{bt['file']}`; "
        "level 1 = most objective. "
        f"Agreement with the task cards' levels: Spearman ρ = {number(agreement.get('spearman'), 2)} "
        f"(permutation p = {p_value(agreement.get('p'))}) over {agreement.get('n', 0)} tasks."]
    from_panel = Path(bt["file"]) == paths.judgments_file()
    panel = read_optional(paths.judge_metrics_file(), JudgeStats) if from_panel else None
    if panel:
        blocks.append(f"LLM panel: {panel.get('questions')} questions, {panel.get('unparsed')} without a usable "
                      "answer; share of answers picking the first-listed task: "
                      f"{number(panel.get('share_first_position'), 2)} "
                      "(0.5 = no position bias; asking both orders cancels it).")
    blocks.append(Table(["Task", "BT score", "BT level", "Card level", "Wins"], rows))
    if bt.get("correlation"):
        blocks += ["**Against the Bradley-Terry levels**",
                   Table(["Statistic", "Spearman ρ", "Permutation p", "n (tasks)", "Method"],
                         correlation_rows(bt["correlation"]))]
    return Section("Task subjectivity from pairwise judgments (Bradley-Terry)", blocks)


def provenance_section(params: Params, tasks: list[str]) -> Section:
    generation_rows, models = [], set()
    totals = {name: 0.0 for name, _ in GENERATION_COLUMNS}
    for task in tasks:
        for setting in params.generate.settings:
            metrics = read_optional(paths.metrics_file("generate", task, setting), GenerateMetrics) or {}
            if metrics.get("model"):
                models.add(str(metrics["model"]))
            values = {name: nested(metrics, keys) for name, keys in GENERATION_COLUMNS}
            for name, value in values.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    totals[name] += value
            kept = metrics.get("kept_per_replicate")
            generation_rows.append([task, source_title(setting), str(metrics.get("model", NA)),
                                    number(metrics.get("replicates")),
                                    ", ".join(str(k) for k in kept) if isinstance(kept, list) and kept else NA,
                                    *(number(values[name], 4 if name == "Cost $" else 1)
                                      for name, _ in GENERATION_COLUMNS)])
    server = params.llm.base_url or "bundled local llama.cpp server"
    generator = ", ".join(sorted(models)) or f"{params.llm.model} (configured; no generation metrics found)"
    facts = [
        f"Generator: {generator} via {server}; "
        f"temperature {params.llm.temperature}, top-p {params.llm.top_p}.",
        f"Generation: {params.generate.per_class} examples per label in each of {params.generate.replicates} "
        f"replicate(s) (independent samples of the generator), few-shot k = {params.generate.few_shot_k}, "
        f"diversity prompt every {params.generate.diversity_every} generations.",
        f"Classifier: {params.train.backend} on `{params.train.encoder}`, {params.train.epochs} epochs, "
        f"seeds {', '.join(map(str, params.train.seeds))}; learning-curve sizes per label "
        f"{', '.join(map(str, params.curve_sizes()))}; intervals from {params.compare.bootstrap_resamples} "
        "bootstrap resamples of the test items combined with the replicates.",
        f"Totals: {number(totals['Calls'], 0)} LLM calls ({number(totals['Cache hits'], 0)} from cache), "
        f"{number(totals['Tokens in'], 0)} tokens in, {number(totals['Tokens out'], 0)} tokens out, "
        f"${totals['Cost $']:.4f}.",
    ]
    split_rows = [[task, str(params.split[task].train_size), str(params.split[task].test_size),
                   str(params.split[task].pool_size), "yes" if params.split[task].balance else "no"] for task in tasks]
    return Section("Provenance", [
        *facts,
        Table(["Task", "Train (real)", "Test (real)", "Few-shot pool", "Balanced"], split_rows),
        Table(["Task", "Setting", "Model", "Replicates", "Kept per replicate",
               *(name for name, _ in GENERATION_COLUMNS)],
              generation_rows)])


def build_sections(summary: dict, curves: dict[str, list[dict]], learning: dict[str, list[dict]],
                   params: Params) -> list[Section]:
    tasks = tasks_by_subjectivity(summary)
    sections = [verdict_section(summary, params, tasks), findings_section(summary),
                scores_section(summary, params, tasks), fair_section(summary, params, tasks),
                curves_section(summary, params, tasks, learning), subjectivity_section(summary, params, tasks),
                diversity_section(params, tasks), instance_section(summary, curves), bradley_terry_section(summary),
                provenance_section(params, tasks)]
    return [section for section in sections if section is not None]


# --- rendering ------------------------------------------------------------------------------------

TITLE = "synthclf report: synthetic vs real training data across task subjectivity"


def render_markdown(sections: Sequence[Section]) -> str:
    out = [f"# {TITLE}", ""]
    for section in sections:
        out += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Table):
                out += [_md_row(block.headers), _md_row(["---"] * len(block.headers)),
                        *(_md_row(row) for row in block.rows)]
            elif isinstance(block, Figure):
                out.append(f"![{block.caption}]({block.path})")
            else:
                out.append(block)
            out.append("")
    return "\n".join(out)


def _md_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


STYLE = """body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.2em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}figure{margin:1em 0}
img{max-width:100%}figcaption{color:#555;font-size:.9em}"""


def render_html(sections: Sequence[Section]) -> str:
    out = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
           f"<title>{html.escape(TITLE)}</title>", f"<style>{STYLE}</style></head><body>",
           f"<h1>{html.escape(TITLE)}</h1>"]
    for section in sections:
        out.append(f"<h2>{html.escape(section.title)}</h2>")
        for block in section.blocks:
            out.append(_html_block(block))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _html_block(block: str | Table | Figure) -> str:
    if isinstance(block, Table):
        head = "".join(f"<th>{html.escape(h)}</th>" for h in block.headers)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in block.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    if isinstance(block, Figure):
        return (f'<figure><img src="{html.escape(block.path)}" alt="{html.escape(block.caption)}">'
                f"<figcaption>{html.escape(block.caption)}</figcaption></figure>")
    return f"<p>{_inline_markup(html.escape(block))}</p>"


def _inline_markup(text: str) -> str:
    """The two Markdown spans the report uses: **bold** and `code`."""
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


# --- the stage ------------------------------------------------------------------------------------

def load_plot_rows(summary: dict, file_of) -> dict[str, list[dict]]:
    """Rows of one per-task plot file (analyze's plots/...) for every task that has one."""
    rows = {}
    for task in tasks_by_subjectivity(summary):
        data = read_optional(file_of(task))
        if data:
            rows[task] = data
    return rows


def run(params: Params) -> list[Path]:
    summary = load_summary()
    curves = load_plot_rows(summary, paths.instance_plot_file)
    learning = load_plot_rows(summary, lambda task: paths.curves_plots_dir() / f"{task}.json")
    sections = build_sections(summary, curves, learning, params)
    written = figures.draw_all(summary, curves, learning, params, paths.figures_dir())
    with atomic_write(paths.report_md()) as handle:
        handle.write(render_markdown(sections))
    with atomic_write(paths.report_html()) as handle:
        handle.write(render_html(sections))
    return [paths.report_md(), paths.report_html(), *written]
