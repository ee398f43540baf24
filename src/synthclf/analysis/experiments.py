"""What changed between runs, in a page: the verdicts, the headline scores and the findings.

Both views read analyze's summary (metrics/summary.json; its schema in synthclf/metrics.py):

- `comparison_summary(base, head)`: what a comparison of two runs leads with
  (scripts/compare_experiment.py): the verdicts that changed, each task's and source's headline
  score base -> head with its interval and whether the move is beyond the intervals, and the
  findings whose status changed. The full `dvc params/metrics diff` follows it, folded.
- `experiments_report(rows)`: any set of DVC experiments, from `dvc exp show --json`
  (`synthclf experiments`): per experiment the params it changed against its baseline commit and,
  per task, the verdict, the share of real data's lift recovered and the headline scores with their
  intervals. `dvc exp show` itself gives one column per key (hundreds on a two-task run).

"Beyond the intervals" means the two runs' 95% intervals do not overlap. That is a conservative
reading of a difference (overlapping intervals can still hide a real one; a paired test needs the
predictions, which two runs' metrics files do not carry): it flags the moves nobody has to argue about.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthclf import scoring
from synthclf.errors import SynthclfError

SUMMARY = "metrics/summary.json"
PARAMS = "params.yaml"


# --- reading a summary ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Interval:
    value: float | None
    low: float | None = None
    high: float | None = None

    def text(self, percent: bool = False) -> str:
        """0.809 [0.760, 0.857], or 42% [31, 52] for a share; n/a when undefined."""
        if self.value is None:
            return "n/a"
        number = (lambda x: f"{round(100 * x)}") if percent else (lambda x: f"{x:.3f}")   # round(): no "-0"
        bounds = f" [{number(self.low)}, {number(self.high)}]" if None not in (self.low, self.high) else ""
        return number(self.value) + ("%" if percent else "") + bounds

    def apart_from(self, other: Interval) -> bool:
        """True when both intervals are known and do not overlap."""
        if None in (self.low, self.high, other.low, other.high):
            return False
        return self.low > other.high or self.high < other.low


@dataclass(frozen=True)
class TaskView:
    """One task of a summary: the verdict and the numbers it stands on."""
    decision: str | None
    text: str
    scores: dict[str, Interval]          # per training source, the headline metric
    shares: dict[str, Interval] = field(default_factory=dict)   # per generation setting


def headline_metric(summary: dict) -> str:
    """The metric the run's gaps and verdicts use (compare.gap_metric), the registry's headline by default."""
    return summary.get("gap_metric") or scoring.HEADLINE


def metric_name(summary: dict) -> str:
    """As a heading writes it ("Macro-F1"); a metric the registry does not know, by its key."""
    metric = headline_metric(summary)
    return scoring.METRICS[metric].title if metric in scoring.METRICS else metric


def task_views(summary: dict) -> dict[str, TaskView]:
    """Per task: verdict, headline score per source (blocks that carry the metric), share per setting."""
    metric = headline_metric(summary)
    views = {}
    for task, block in (summary.get("tasks") or {}).items():
        verdict = block.get("verdict") or {}
        scores = {source: Interval(value.get(metric), value.get(f"{metric}_low"), value.get(f"{metric}_high"))
                  for source, value in block.items() if isinstance(value, dict) and metric in value}
        shares = {key.removeprefix("share_"): Interval(value.get("value"), value.get("low"), value.get("high"))
                  for key, value in block.items() if key.startswith("share_") and isinstance(value, dict)}
        decision = verdict.get("decision") or (summary.get("verdicts") or {}).get(task)
        views[task] = TaskView(decision, verdict.get("text", ""), scores, shares)
    return views


def finding_statuses(summary: dict) -> dict[str, str]:
    return {name: (finding or {}).get("status") or "n/a" for name, finding in (summary.get("findings") or {}).items()}


# --- two runs: what the comparison leads with -----------------------------------------------------

def comparison_summary(base: dict | None, head: dict | None) -> list[str]:
    """Markdown lines: verdicts that changed, headline scores base -> head, findings that changed."""
    if not base or not head:
        missing = " and ".join(side for side, summary in (("base", base), ("head", head)) if not summary)
        return [f"No {SUMMARY} on the {missing} side: nothing to summarise; see the full diff below.", ""]
    before, after = task_views(base), task_views(head)
    return [*verdict_lines(before, after), *score_lines(before, after, metric_name(head)),
            *finding_lines(finding_statuses(base), finding_statuses(head))]


def verdict_lines(before: dict[str, TaskView], after: dict[str, TaskView]) -> list[str]:
    tasks = list(dict.fromkeys([*before, *after]))
    changed = [task for task in tasks if _decision(before, task) != _decision(after, task)]
    if not changed:
        listed = ", ".join(f"{task} {_decision(after, task)}" for task in tasks)
        return [f"**Verdicts:** none changed ({listed}).", ""]
    lines = ["**Verdicts that changed**", "", "| task | base | head |", "|---|---|---|"]
    lines += [f"| {task} | {_decision(before, task)} | **{_decision(after, task)}** |" for task in changed]
    lines.append("")
    # the head's verdict in full: it says why (a table cell would cut it)
    lines += [f"- {task} (head): {after[task].text}" for task in changed if task in after and after[task].text]
    return [*lines, ""]


def _decision(views: dict[str, TaskView], task: str) -> str:
    return (views[task].decision or "n/a") if task in views else "(no such task)"


def score_lines(before: dict[str, TaskView], after: dict[str, TaskView], metric: str) -> list[str]:
    """A row per task and source whose score or interval moved; the unmoved ones are counted."""
    rows, unmoved = [], 0
    for task in dict.fromkeys([*before, *after]):
        old = before[task].scores if task in before else {}
        new = after[task].scores if task in after else {}
        for source in _sources(old, new):
            was, now = old.get(source, Interval(None)), new.get(source, Interval(None))
            if was == now:
                unmoved += 1
                continue
            change = f"{now.value - was.value:+.3f}" if None not in (was.value, now.value) else ""
            beyond = "**yes**" if now.apart_from(was) else "no"
            rows.append(f"| {task} | {source} | {was.text()} | {now.text()} | {change} | {beyond} |")
    if not rows:
        return [f"**Headline {metric}:** unchanged for every task and source ({unmoved}).", ""]
    lines = [f"**Headline {metric}** (95% intervals; *beyond*: the two intervals do not overlap)", "",
             "| task | source | base | head | change | beyond the intervals |", "|---|---|---|---|---|---|", *rows]
    if unmoved:
        lines.append(f"\n{unmoved} other task/source score(s) and intervals unchanged.")
    return [*lines, ""]


def _sources(*score_maps: dict[str, Interval]) -> list[str]:
    """Sources in reading order: real first (the reference), the rest as the summary lists them."""
    names = list(dict.fromkeys(name for scores in score_maps for name in scores))
    return sorted(names, key=lambda name: name != "real")


def finding_lines(before: dict[str, str], after: dict[str, str]) -> list[str]:
    names = list(dict.fromkeys([*before, *after]))
    changed = [name for name in names if before.get(name) != after.get(name)]
    if not changed:
        listed = ", ".join(f"{name} {after.get(name)}" for name in names) or "none in either run"
        return [f"**Findings:** no status changed ({listed}).", ""]
    rows = [f"- {name}: {before.get(name, '(absent)')} → **{after.get(name, '(absent)')}**" for name in changed]
    return ["**Findings whose status changed**", "", *rows, ""]


# --- any set of experiments (`dvc exp show --json`) -----------------------------------------------

@dataclass(frozen=True)
class Experiment:
    name: str
    rev: str
    params: dict[str, Any]         # flattened: "llm.temperature" -> 0.6
    summary: dict | None
    error: str | None = None
    state: str | None = None       # dvc's executor state of a queued or running experiment


@dataclass(frozen=True)
class Baseline:
    experiment: Experiment
    experiments: list[Experiment]


def exp_show(repo: Path) -> list[dict]:
    """`dvc exp show --json` in `repo`, parsed; a failure is one SynthclfError line."""
    done = subprocess.run([sys.executable, "-m", "dvc", "exp", "show", "--json"], cwd=repo,
                          capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
        raise SynthclfError(f"dvc exp show failed in {repo}: {lines[-1] if lines else f'exit {done.returncode}'}")
    return parse_exp_show(done.stdout, f"dvc exp show --json in {repo}")


def parse_exp_show(text: str, where: str) -> list[dict]:
    try:
        rows = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SynthclfError(f"{where}: not JSON ({exc.msg} at line {exc.lineno}); "
                            "give the output of `dvc exp show --json`") from None
    if not isinstance(rows, list) or not all(isinstance(row, dict) and "rev" in row for row in rows):
        raise SynthclfError(f"{where}: not the output of `dvc exp show --json` (a list of revisions)")
    return rows


def baselines(rows: list[dict]) -> list[Baseline]:
    """The commits that have experiments (or, with none anywhere, the first commit), each with its
    experiments; the workspace row is left out (it is whatever is checked out now)."""
    commits = [row for row in rows if row.get("rev") != "workspace"]
    with_experiments = [row for row in commits if row.get("experiments")]
    return [Baseline(_experiment(row, row.get("name") or row["rev"][:7]),
                     [_experiment(run, group.get("name") or run["rev"][:7], (group.get("executor") or {}).get("state"))
                      for group in row.get("experiments") or [] for run in (group.get("revs") or [])[:1]])
            for row in (with_experiments or commits[:1])]


def _experiment(row: dict, name: str, state: str | None = None) -> Experiment:
    data = row.get("data") or {}
    files = data.get("params") or {}
    params: dict[str, Any] = {}
    for path, content in files.items():
        prefix = "" if path == PARAMS else f"{path}:"
        params.update(flatten((content or {}).get("data") or {}, prefix))
    summary = ((data.get("metrics") or {}).get(SUMMARY) or {}).get("data")
    return Experiment(name, row.get("rev", ""), params, summary, _error(row), state)


def _error(row: dict) -> str | None:
    error = row.get("error") or (row.get("data") or {}).get("error")
    if isinstance(error, dict):
        return error.get("msg") or error.get("type") or "failed"
    return str(error) if error else None


def flatten(tree: dict, prefix: str = "") -> dict[str, Any]:
    """{"llm": {"temperature": 0.6}} -> {"llm.temperature": 0.6}; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def changed_params(experiment: Experiment, baseline: Experiment) -> list[str]:
    """`key old → new` for every param the experiment set differently from its baseline commit."""
    keys = dict.fromkeys([*baseline.params, *experiment.params])
    return [f"{key} {_value(baseline.params.get(key))} → {_value(experiment.params.get(key))}"
            for key in keys if baseline.params.get(key) != experiment.params.get(key)]


def _value(value: Any) -> str:
    return "(unset)" if value is None else json.dumps(value) if isinstance(value, (list, dict, str)) else str(value)


def experiment_table(summary: dict) -> list[str]:
    """Per task: verdict, share recovered per setting, headline score per source."""
    views = task_views(summary)
    sources = _sources(*(view.scores for view in views.values()))
    lines = [f"| task | verdict | share recovered | {' | '.join(f'{metric_name(summary)} {s}' for s in sources)} |",
             "|---|---|---|" + "---|" * len(sources)]
    for task, view in views.items():
        shares = ", ".join(f"{setting} {share.text(percent=True)}" for setting, share in view.shares.items()) or "n/a"
        scores = " | ".join(view.scores.get(source, Interval(None)).text() for source in sources)
        lines.append(f"| {task} | {view.decision or 'n/a'} | {shares} | {scores} |")
    return lines


def experiments_report(rows: list[dict]) -> str:
    """Markdown: per baseline commit, its own numbers, then each experiment's changes and numbers."""
    sections = []
    for group in baselines(rows):
        base = group.experiment
        sections += [f"## baseline {base.name} ({base.rev[:7]})", "", *_numbers(base), ""]
        if not group.experiments:
            sections += ["No experiments on this commit (`dvc exp run -S key=value` makes one).", ""]
        for experiment in group.experiments:
            changes = "; ".join(f"`{change}`" for change in changed_params(experiment, base)) or "none"
            if not experiment.params:      # a failed run may record none: say so, not "every key unset"
                changes = "not recorded"
            sections += [f"### {experiment.name} ({experiment.rev[:7]})", "", f"changed params: {changes}", "",
                         *_numbers(experiment), ""]
    return "\n".join(sections).rstrip() + "\n"


def _numbers(experiment: Experiment) -> list[str]:
    if experiment.error:
        return [f"failed: {experiment.error}"]
    if not experiment.summary:
        why = experiment.state or "queued, running, or its run did not reach analyze"
        return [f"no {SUMMARY} yet ({why})"]
    return experiment_table(experiment.summary)


def run(repo: Path, exp_show_json: Path | None = None) -> str:
    """`synthclf experiments`: the compact view of `repo`'s experiments (or of a saved exp show)."""
    if exp_show_json is None:
        if not (Path(repo) / "dvc.yaml").exists() and not (Path(repo) / ".dvc").is_dir():
            raise SynthclfError(f"{repo} is not a DVC project (no .dvc/ or dvc.yaml); pass --repo PATH")
        return experiments_report(exp_show(Path(repo)))
    if not exp_show_json.is_file():
        raise SynthclfError(f"{exp_show_json}: file not found; save it with `dvc exp show --json > FILE`")
    return experiments_report(parse_exp_show(exp_show_json.read_text(encoding="utf-8"), str(exp_show_json)))
