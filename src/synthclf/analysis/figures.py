"""The report's PNG figures, drawn with matplotlib's Agg backend (no display needed).

Every score and gap is drawn with its interval from metrics/summary.json or plots/curves/*.json
(error bars or bands), never with a seed standard deviation. Figures are written atomically and
without the matplotlib version in their metadata, so the same inputs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # the backend must be chosen before pyplot is imported
import matplotlib.pyplot as plt

from synthclf import scoring
from synthclf.analysis.analyze import gap_key, gap_sources
from synthclf.config import Params
from synthclf.records import atomic_write

PNG_METADATA = {"Software": None}
DPI = 110
ALL_REAL = "real (all)"
MATCHED_PREFIX = "real (matched to "


def save(figure, path: Path) -> Path:
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=DPI, metadata=PNG_METADATA, bbox_inches="tight")
    plt.close(figure)
    return path


def ordered_tasks(summary: dict) -> list[str]:
    return sorted(summary["tasks"], key=lambda task: (summary["tasks"][task]["level"], task))


def error_bars(values: Sequence[float | None], lows: Sequence[float | None],
               highs: Sequence[float | None]) -> list[list[float]]:
    """matplotlib's asymmetric yerr (distances below and above); 0 where an interval is undefined."""
    below = [v - lo if v is not None and lo is not None else 0.0 for v, lo in zip(values, lows, strict=True)]
    above = [hi - v if v is not None and hi is not None else 0.0 for v, hi in zip(values, highs, strict=True)]
    return [below, above]


def scores_by_task(summary: dict, sources: Sequence[str], path: Path) -> Path:
    """Grouped bars: Macro-F1 per task and source with its interval; chance as a short black line."""
    score, low, high, _std = scoring.score_keys(scoring.HEADLINE)
    tasks = ordered_tasks(summary)
    figure, axes = plt.subplots(figsize=(max(6, 1.5 * len(tasks) + 2), 4))
    width = 0.8 / max(1, len(sources))
    for index, source in enumerate(sources):
        blocks = [summary["tasks"][task].get(source) or {} for task in tasks]
        heights = [block.get(score) for block in blocks]
        errors = error_bars(heights, [b.get(low) for b in blocks], [b.get(high) for b in blocks])
        positions = [t + (index - (len(sources) - 1) / 2) * width for t in range(len(tasks))]
        axes.bar(positions, [h or 0.0 for h in heights], width, yerr=errors, capsize=2, label=source)
    for position, task in enumerate(tasks):
        chance = summary["tasks"][task].get(scoring.chance_key())
        if chance is not None:
            axes.hlines(chance, position - 0.45, position + 0.45, color="black", linewidth=1,
                        label="chance" if position == 0 else None)
    axes.set_xticks(range(len(tasks)), [f"{t}\n(level {summary['tasks'][t]['level']})" for t in tasks], fontsize=8)
    axes.set_ylabel(f"{scoring.headline().label} on the real test set")
    axes.set_ylim(0, 1)
    axes.legend(fontsize=7, ncol=len(sources) + 1, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return save(figure, path)


def _per_task_points(summary: dict, key: str, transform=None) -> list[tuple[int, float, float, float, str]]:
    """(level, value, low, high, task) of one estimate block per task; transform maps v -> f(v)."""
    points = []
    for task, block in summary["tasks"].items():
        estimate = block.get(key) or {}
        if estimate.get("value") is None:
            continue
        value, low, high = estimate["value"], estimate.get("low"), estimate.get("high")
        if transform:
            value, low, high = transform(value), transform(high), transform(low)    # decreasing: swap bounds
        points.append((block["level"], value, low, high, task))
    return sorted(points, key=lambda point: (point[0], point[4]))


def _draw_against_level(axes, summary: dict, keys: Sequence[tuple[str, str, dict]], transform=None) -> None:
    """Each key's per-task estimates at their level (offset per key), with error bars and task labels."""
    for index, (key, label, test) in enumerate(keys):
        offset = (index - (len(keys) - 1) / 2) * 0.1
        points = _per_task_points(summary, key, transform)
        if not points:
            continue
        values = [p[1] for p in points]
        if test.get("spearman") is not None:
            label = f"{label} (ρ {test['spearman']:.2f}, p {test['p']:.3f}, n {test['n']})"
        axes.errorbar([p[0] + offset for p in points], values, yerr=error_bars(values, [p[2] for p in points],
                                                                               [p[3] for p in points]),
                      fmt="o", capsize=2, alpha=0.85, label=label)
        stacked: dict[tuple, int] = {}
        for level, value, _, _, task in points:
            stack = stacked[(level, round(value, 4))] = stacked.get((level, round(value, 4)), -1) + 1  # tied points
            axes.annotate(task, (level + offset, value), fontsize=6, xytext=(4, 2 + 7 * stack),
                          textcoords="offset points")
    axes.axhline(0, color="grey", linewidth=0.6)
    axes.set_xticks(range(1, 6))
    axes.set_xlabel("subjectivity level (1 = most objective)")
    axes.grid(alpha=0.3)


def gap_vs_subjectivity(summary: dict, params: Params, path: Path) -> Path:
    """Left: gap to all real data per task; right: unrecovered share; both against level, with intervals."""
    correlation = summary.get("correlation", {})
    settings = [s for s in params.sources if s in params.generate.settings]
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    compared = gap_sources(params.sources)
    _draw_against_level(left, summary, [(gap_key(s), s, correlation.get(gap_key(s), {})) for s in compared])
    left.set_ylabel("Macro-F1 gap: real − source")
    _draw_against_level(right, summary, [(f"share_{s}", s, correlation.get(f"unrecovered_{s}", {})) for s in settings],
                        transform=lambda v: None if v is None else 1 - v)
    right.set_ylabel("unrecovered share: 1 − (syn − chance) / (real − chance)")
    for axes, drawn in ((left, compared), (right, settings)):
        if drawn and axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=7)
        else:
            axes.text(0.5, 0.5, "nothing to compare: real is not a training source", ha="center",
                      transform=axes.transAxes)
    return save(figure, path)


def learning_curves(task: str, rows: Sequence[dict], path: Path) -> Path:
    """Macro-F1 against examples per label: each setting (solid) and its size-matched real data (dashed),
    interval bands around both; all real data as one point with its interval."""
    figure, axes = plt.subplots(figsize=(6.5, 4))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    settings = sorted({row["source"] for row in rows
                       if row["source"] != ALL_REAL and not row["source"].startswith(MATCHED_PREFIX)})
    for index, setting in enumerate(settings):
        colour = colours[index % len(colours)]
        for source, style in ((setting, "-"), (f"{MATCHED_PREFIX}{setting})", "--")):
            points = sorted((row for row in rows if row["source"] == source), key=lambda row: row["size"])
            if not points:
                continue
            sizes = [row["size"] for row in points]
            axes.plot(sizes, [row[scoring.HEADLINE] for row in points], style, marker="o", color=colour, label=source)
            if all(row.get("low") is not None and row.get("high") is not None for row in points):
                axes.fill_between(sizes, [row["low"] for row in points], [row["high"] for row in points],
                                  color=colour, alpha=0.12 if style == "-" else 0.06)
    for row in rows:
        if row["source"] == ALL_REAL:
            errors = error_bars([row[scoring.HEADLINE]], [row.get("low")], [row.get("high")])
            axes.errorbar([row["size"]], [row[scoring.HEADLINE]], yerr=errors, fmt="s", color="black", capsize=3,
                          label=f"all real data ({row['size']:g} per label)")
    axes.set_xscale("log")
    axes.set_xlabel("training examples per label (log scale)")
    axes.set_ylabel(f"{scoring.headline().label} on the real test set")
    axes.set_title(f"{task}: learning curves", fontsize=10)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    return save(figure, path)


def instance_curves(task: str, rows: Sequence[dict], path: Path) -> Path:
    """Every registered metric against the agreement threshold, one panel each (the study's finding's
    metric first, then the rest in registry order), one line per training source."""
    metrics = [metric.name for metric in scoring.agreement_first()]
    figure, panels = plt.subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.5), sharex=True, squeeze=False)
    panels = panels[0]
    for panel, metric in zip(panels, metrics, strict=True):
        for source in dict.fromkeys(row["source"] for row in rows):
            points = [(row["gamma"], row[metric]) for row in rows
                      if row["source"] == source and row[metric] is not None]
            panel.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=source)
        panel.set_xlabel("agreement threshold γ")
        panel.set_ylabel(metric.replace("_", "-"))
        panel.grid(alpha=0.3)
    panels[0].legend(fontsize=8)
    figure.suptitle(f"{task}: scores on items with agreement ≥ γ", fontsize=10)
    return save(figure, path)


def draw_all(summary: dict, curves: dict[str, list[dict]], learning: dict[str, list[dict]], params: Params,
             directory: Path) -> list[Path]:
    """Every figure the report references; PNGs of earlier runs that are no longer drawn are removed."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [scores_by_task(summary, params.sources, directory / "scores_by_task.png"),
               gap_vs_subjectivity(summary, params, directory / "gap_vs_subjectivity.png")]
    written += [learning_curves(task, rows, directory / f"curves_{task}.png") for task, rows in learning.items()]
    written += [instance_curves(task, rows, directory / f"instance_{task}.png") for task, rows in curves.items()]
    for stale in directory.glob("*.png"):
        if stale not in written:
            stale.unlink()
    return written
