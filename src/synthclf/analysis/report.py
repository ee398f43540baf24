"""Stage `report`: reports/report.md and reports/report.html, figures in reports/figures/.

The report is built once as a list of sections (paragraphs, tables, figures) and rendered twice,
to Markdown and to a self-contained HTML page, so the two never disagree. It reads what `analyze`
wrote (metrics/summary.json and plots/instance/*.json) plus the optional diversity metrics from
`validate` and generation metrics from `generate`; an optional input that is absent shows as n/a.
Nothing in it depends on the clock, so the same inputs give the same files.
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from synthclf import paths
from synthclf.analysis import figures
from synthclf.analysis.analyze import gap_key, gap_sources, instance_plot_file
from synthclf.analysis.judge import judge_metrics_file, judgments_file
from synthclf.config import Params, parse_mix
from synthclf.errors import SynthclfError
from synthclf.records import atomic_write, read_json
from synthclf.tasks import load_card

NA = "n/a"
DIVERSITY_KEYS = ("remote_clique", "chamfer", "similarity_to_real", "distinct_1", "distinct_2")
GENERATION_KEYS = ("kept", "calls", "cache_hits", "tokens_in", "tokens_out", "cost_usd", "wall_s")


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


def report_md() -> Path:
    return paths.report_dir() / "report.md"


def report_html() -> Path:
    return paths.report_dir() / "report.html"


def figures_dir() -> Path:
    return paths.report_dir() / "figures"


# --- formatting -----------------------------------------------------------------------------------

def percent(value: float | None) -> str:
    return NA if value is None else f"{100 * value:.1f}"


def mean_std(scores: dict | None, metric: str) -> str:
    """'91.2 ± 1.0' in percent, as the study's tables; n/a when the source was not evaluated."""
    if not scores or scores.get(metric) is None:
        return NA
    std = scores.get(f"{metric}_std")
    return percent(scores[metric]) if std is None else f"{percent(scores[metric])} ± {percent(std)}"


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


def source_title(source: str) -> str:
    names = {"real": "Real", "zero_shot": "Zero-shot", "few_shot": "Few-shot"}
    mix = parse_mix(source)
    return f"{names[mix[0]]} + {mix[1]} real" if mix else names.get(source, source)


def task_title(task: str) -> str:
    return f"{load_card(task).title} ({task})"


# --- inputs ---------------------------------------------------------------------------------------

def load_summary() -> dict:
    path = paths.summary_metrics()
    if not path.exists():
        raise SynthclfError(f"{path}: not found; run `synthclf analyze` (dvc repro analyze) before the report")
    summary = read_json(path)
    if not summary.get("tasks"):
        raise SynthclfError(f"{path}: no evaluated tasks; run `dvc repro evaluate` and `synthclf analyze` first")
    return summary


def read_optional(path: Path) -> dict | None:
    """A metrics file another stage may not have written (yet); unreadable counts as absent."""
    try:
        return read_json(path) if path.exists() else None
    except ValueError:
        print(f"report: {path} is not valid JSON; shown as n/a", file=sys.stderr)
        return None


# where the generate stage may keep a figure under another name ("tokens": {"prompt": ..} etc.)
GENERATION_ALIASES = {"tokens_in": ("tokens", "prompt"), "tokens_out": ("tokens", "completion"),
                      "wall_s": ("wall_time_s",)}


def generation_value(metrics: dict, key: str):
    """A generation figure by its flat name, or by its nested/alternative name; None when absent."""
    if key in metrics:
        return metrics[key]
    value = metrics
    for part in GENERATION_ALIASES.get(key, (key,)):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def tasks_by_subjectivity(summary: dict) -> list[str]:
    return sorted(summary["tasks"], key=lambda task: (summary["tasks"][task]["level"], task))


# --- sections -------------------------------------------------------------------------------------

def overview_section(summary: dict, params: Params) -> Section:
    correlations = summary.get("correlation", {})
    lines = [f"{summary['n_tasks']} task(s), training sources: {', '.join(source_title(s) for s in params.sources)}. "
             "Every classifier is scored on the same real test set; gaps are real minus synthetic, "
             "in Macro-F1 points. Subjectivity level 1 = most objective, 5 = most subjective."]
    for source in gap_sources(params.sources):
        block = correlations.get(gap_key(source), {})
        if block.get("spearman") is not None:
            lines.append(f"Gap {source_title(source)} vs subjectivity: Spearman ρ = {block['spearman']:.2f} "
                         f"(p = {block['spearman_p']:.3f}), Kendall τ = {block['kendall']:.2f} over {block['n']} tasks.")
    if summary.get("missing"):
        lines.append(f"Not evaluated (left out): {summary['missing']}.")
    return Section("Overview", lines)


def scores_section(summary: dict, params: Params, tasks: list[str]) -> Section:
    headers = ["Task", "Level", *(source_title(s) for s in params.sources)]
    section = Section("Performance on the real test set (mean ± std over seeds, %)")
    for metric, name in (("macro_f1", "Macro-F1"), ("accuracy", "Accuracy")):
        rows = [[task_title(t), str(summary["tasks"][t]["level"]),
                 *(mean_std(summary["tasks"][t].get(s), metric) for s in params.sources)] for t in tasks]
        section.blocks += [f"**{name}**", Table(headers, rows)]
    section.blocks.append(Figure("figures/scores_by_task.png", "Macro-F1 per task, tasks ordered by subjectivity"))
    return section


def gap_section(summary: dict, params: Params, tasks: list[str]) -> Section:
    sources = gap_sources(params.sources)
    section = Section("Gap to real data against subjectivity")
    if not sources:
        section.blocks.append("No gap: `real` is not among the training sources.")
        return section
    section.blocks.append(Table(["Task", "Level", *(f"Gap {source_title(s)}" for s in sources)],
                                [[task_title(t), str(summary["tasks"][t]["level"]),
                                  *(percent(summary["tasks"][t].get(gap_key(s))) for s in sources)] for t in tasks]))
    section.blocks += ["**Per subjectivity level** (means over tasks, Macro-F1 %)",
                       Table(["Level", "Tasks", *(source_title(s) for s in params.sources),
                              *(f"Gap {source_title(s)}" for s in sources)],
                             [[level.removeprefix("level_"), str(block["n_tasks"]),
                               *(percent(block.get(f"{s}_macro_f1")) for s in params.sources),
                               *(percent(block.get(gap_key(s))) for s in sources)]
                              for level, block in sorted(summary["by_level"].items())])]
    correlations = summary.get("correlation", {})
    section.blocks += ["**Correlation of the gap with subjectivity level**",
                       Table(["Gap", "n", "Spearman ρ", "p", "Kendall τ", "p"],
                             [[name, str(block["n"]), number(block["spearman"]), number(block["spearman_p"]),
                               number(block["kendall"]), number(block["kendall_p"])]
                              for name, block in sorted(correlations.items())]),
                       Figure("figures/gap_vs_subjectivity.png", "Macro-F1 gap (real − synthetic) per task against its subjectivity level")]
    return section


def diversity_section(params: Params, tasks: list[str]) -> Section:
    rows = []
    for task in tasks:
        for source in (paths.REAL, *params.generate.settings):
            metrics = read_optional(paths.metrics_file("validate", task, source)) or {}
            diversity = metrics.get("diversity") or {}
            rows.append([task, source_title(source), *(number(diversity.get(key)) for key in DIVERSITY_KEYS)])
    return Section("Diversity of the training data", [
        "Remote-Clique: mean pairwise embedding distance; Chamfer: mean distance to the nearest neighbour; "
        "similarity to real: for each real text, the mean of its top-5 cosine similarities to the data; "
        "distinct-n: share of unique n-grams. n/a: the validate stage has not reported it.",
        Table(["Task", "Data", "Remote-Clique", "Chamfer", "Similarity to real", "Distinct-1", "Distinct-2"], rows)])


def instance_section(curves: dict[str, list[dict]], params: Params) -> Section:
    section = Section("Instance-level subjectivity")
    if not curves:
        section.blocks.append("No task in this run has per-item annotator votes, so there are no agreement curves.")
        return section
    section.blocks.append("Scores on the test items whose annotator agreement is at least γ (mean over seeds); "
                          "n is the number of items kept.")
    for task, rows in curves.items():
        gammas = sorted({row["gamma"] for row in rows})
        sources = list(dict.fromkeys(row["source"] for row in rows))
        lookup = {(row["source"], row["gamma"]): row for row in rows}
        table_rows = [[f"{gamma:g}", str(lookup.get((sources[0], gamma), {}).get("n", NA)),
                       *(percent(lookup.get((s, gamma), {}).get("accuracy")) for s in sources)] for gamma in gammas]
        section.blocks += [f"**{task_title(task)}** (accuracy %)",
                           Table(["γ", "n", *(source_title(s) for s in sources)], table_rows),
                           Figure(f"figures/instance_{task}.png", f"Accuracy and Macro-F1 against agreement threshold γ, {task}")]
    return section


def bradley_terry_section(summary: dict) -> Section | None:
    bt = summary.get("bradley_terry")
    if not bt:
        return None
    agreement = bt.get("agreement_with_cards", {})
    rows = [[task, number(block["score"]), str(block["level"]), number(block["card_level"]), str(block["wins"])]
            for task, block in sorted(bt["tasks"].items(), key=lambda item: -item[1]["score"])]
    blocks: list = [
        f"{bt['n_comparisons']} comparisons by {bt['n_judges']} judge(s) from `{bt['file']}`; level 1 = most objective. "
        f"Agreement with the task cards' levels: Spearman ρ = {number(agreement.get('spearman'), 2)} "
        f"over {agreement.get('n', 0)} tasks."]
    panel = read_optional(judge_metrics_file()) if Path(bt["file"]) == judgments_file() else None
    if panel:
        blocks.append(f"LLM panel: {panel.get('questions')} questions, {panel.get('unparsed')} without a usable "
                      f"answer; share of answers picking the first-listed task: {number(panel.get('share_first_position'), 2)} "
                      "(0.5 = no position bias; asking both orders cancels it).")
    blocks.append(Table(["Task", "BT score", "BT level", "Card level", "Wins"], rows))
    return Section("Task subjectivity from pairwise judgments (Bradley-Terry)", blocks)


def provenance_section(params: Params, tasks: list[str]) -> Section:
    generation_rows, models, totals = [], set(), dict.fromkeys(GENERATION_KEYS, 0.0)
    for task in tasks:
        for setting in params.generate.settings:
            metrics = read_optional(paths.metrics_file("generate", task, setting)) or {}
            if metrics.get("model"):
                models.add(str(metrics["model"]))
            values = {key: generation_value(metrics, key) for key in GENERATION_KEYS}
            for key, value in values.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    totals[key] += value
            generation_rows.append([task, source_title(setting), str(metrics.get("model", NA)),
                                    *(number(values[key], 4 if key == "cost_usd" else 1) for key in GENERATION_KEYS)])
    server = params.llm.base_url or "bundled local llama.cpp server"
    facts = [
        f"Generator: {', '.join(sorted(models)) or params.llm.model + ' (configured; no generation metrics found)'} via {server}; "
        f"temperature {params.llm.temperature}, top-p {params.llm.top_p}.",
        f"Generation: {params.generate.per_class} examples per label, few-shot k = {params.generate.few_shot_k}, "
        f"diversity prompt every {params.generate.diversity_every} generations.",
        f"Classifier: {params.train.backend} on `{params.train.encoder}`, {params.train.epochs} epochs, "
        f"seeds {', '.join(map(str, params.train.seeds))}.",
        f"Totals: {number(totals['calls'], 0)} LLM calls ({number(totals['cache_hits'], 0)} from cache), "
        f"{number(totals['tokens_in'], 0)} tokens in, {number(totals['tokens_out'], 0)} tokens out, "
        f"${totals['cost_usd']:.4f}.",
    ]
    split_rows = [[task, str(params.split[task].train_size), str(params.split[task].test_size),
                   str(params.split[task].pool_size), "yes" if params.split[task].balance else "no"] for task in tasks]
    return Section("Provenance", [
        *facts,
        Table(["Task", "Train (real)", "Test (real)", "Few-shot pool", "Balanced"], split_rows),
        Table(["Task", "Setting", "Model", "Kept", "Calls", "Cache hits", "Tokens in", "Tokens out", "Cost $", "Wall s"],
              generation_rows)])


def build_sections(summary: dict, curves: dict[str, list[dict]], params: Params) -> list[Section]:
    tasks = tasks_by_subjectivity(summary)
    sections = [overview_section(summary, params), scores_section(summary, params, tasks),
                gap_section(summary, params, tasks), diversity_section(params, tasks),
                instance_section(curves, params), bradley_terry_section(summary),
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


STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
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

def load_curves(summary: dict) -> dict[str, list[dict]]:
    curves = {}
    for task in tasks_by_subjectivity(summary):
        data = read_optional(instance_plot_file(task))
        if data:
            curves[task] = data
    return curves


def run(params: Params) -> list[Path]:
    summary = load_summary()
    curves = load_curves(summary)
    sections = build_sections(summary, curves, params)
    written = figures.draw_all(summary, curves, params, figures_dir())
    with atomic_write(report_md()) as handle:
        handle.write(render_markdown(sections))
    with atomic_write(report_html()) as handle:
        handle.write(render_html(sections))
    return [report_md(), report_html(), *written]
