"""The report's PNG figures, drawn with matplotlib's Agg backend (no display needed).

Figures are written atomically and without the matplotlib version in their metadata, so the same
inputs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from synthclf.analysis.analyze import gap_key, gap_sources  # noqa: E402
from synthclf.config import Params  # noqa: E402
from synthclf.records import atomic_write  # noqa: E402

PNG_METADATA = {"Software": None}
DPI = 110


def save(figure, path: Path) -> Path:
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=DPI, metadata=PNG_METADATA, bbox_inches="tight")
    plt.close(figure)
    return path


def ordered_tasks(summary: dict) -> list[str]:
    return sorted(summary["tasks"], key=lambda task: (summary["tasks"][task]["level"], task))


def scores_by_task(summary: dict, sources: Sequence[str], path: Path) -> Path:
    """Grouped bars: Macro-F1 per task and source, with the seed std as error bars."""
    tasks = ordered_tasks(summary)
    figure, axes = plt.subplots(figsize=(max(6, 1.3 * len(tasks) + 2), 4))
    width = 0.8 / max(1, len(sources))
    for index, source in enumerate(sources):
        blocks = [summary["tasks"][task].get(source) or {} for task in tasks]
        heights = [block.get("macro_f1") or 0.0 for block in blocks]
        errors = [block.get("macro_f1_std") or 0.0 for block in blocks]
        positions = [t + (index - (len(sources) - 1) / 2) * width for t in range(len(tasks))]
        axes.bar(positions, heights, width, yerr=errors, capsize=2, label=source)
    axes.set_xticks(range(len(tasks)), [f"{t}\n(level {summary['tasks'][t]['level']})" for t in tasks], fontsize=8)
    axes.set_ylabel("Macro-F1 on the real test set")
    axes.set_ylim(0, 1)
    axes.legend(fontsize=8)
    return save(figure, path)


def gap_vs_subjectivity(summary: dict, sources: Sequence[str], path: Path) -> Path:
    """Each task's gap at its level (slightly offset per source), plus the mean gap per level."""
    figure, axes = plt.subplots(figsize=(6.5, 4))
    compared = gap_sources(sources)
    for index, source in enumerate(compared):
        offset = (index - (len(compared) - 1) / 2) * 0.08
        points = [(block["level"], block.get(gap_key(source)), task) for task, block in summary["tasks"].items()
                  if block.get(gap_key(source)) is not None]
        if not points:
            continue
        line = axes.scatter([p[0] + offset for p in points], [p[1] for p in points], label=source, alpha=0.8)
        seen_at: dict[tuple, int] = {}
        for level, gap, task in sorted(points):
            stack = seen_at[(level, gap)] = seen_at.get((level, gap), -1) + 1    # tied points: stack labels
            axes.annotate(task, (level + offset, gap), fontsize=6, xytext=(3, 2 + 7 * stack), textcoords="offset points")
        means = sorted((int(name.removeprefix("level_")), block.get(gap_key(source)))
                       for name, block in summary["by_level"].items() if block.get(gap_key(source)) is not None)
        axes.plot([m[0] for m in means], [m[1] for m in means], color=line.get_facecolor()[0], linewidth=1)
    if not compared:
        axes.text(0.5, 0.5, "no gap: real is not a training source", ha="center", transform=axes.transAxes)
    axes.axhline(0, color="grey", linewidth=0.6)
    axes.set_xticks(range(1, 6))
    axes.set_xlabel("subjectivity level (1 = most objective)")
    axes.set_ylabel("Macro-F1 gap: real − synthetic")
    if compared:
        axes.legend(fontsize=8)
    return save(figure, path)


def instance_curves(task: str, rows: Sequence[dict], path: Path) -> Path:
    """Accuracy and Macro-F1 against the agreement threshold, one line per training source."""
    figure, panels = plt.subplots(1, 2, figsize=(9, 3.5), sharex=True)
    for panel, metric in zip(panels, ("accuracy", "macro_f1"), strict=True):
        for source in dict.fromkeys(row["source"] for row in rows):
            points = [(row["gamma"], row[metric]) for row in rows if row["source"] == source and row[metric] is not None]
            panel.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=source)
        panel.set_xlabel("agreement threshold γ")
        panel.set_ylabel(metric.replace("_", "-"))
        panel.grid(alpha=0.3)
    panels[0].legend(fontsize=8)
    figure.suptitle(f"{task}: scores on items with agreement ≥ γ", fontsize=10)
    return save(figure, path)


def draw_all(summary: dict, curves: dict[str, list[dict]], params: Params, directory: Path) -> list[Path]:
    """Every figure the report references; PNGs of earlier runs that are no longer drawn are removed."""
    directory.mkdir(parents=True, exist_ok=True)
    written = [scores_by_task(summary, params.sources, directory / "scores_by_task.png"),
               gap_vs_subjectivity(summary, params.sources, directory / "gap_vs_subjectivity.png")]
    written += [instance_curves(task, rows, directory / f"instance_{task}.png") for task, rows in curves.items()]
    for stale in directory.glob("*.png"):
        if stale not in written:
            stale.unlink()
    return written
