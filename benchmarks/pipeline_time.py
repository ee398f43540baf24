"""Per-stage wall time of the pipeline, and each stage's fixed cost, in a temporary copy of the repo.

    python benchmarks/pipeline_time.py                       # the default params.yaml (long: the full run)
    python benchmarks/pipeline_time.py --params tiny.yaml    # any params file
    python benchmarks/pipeline_time.py --json out.json       # also write the figures
    python benchmarks/pipeline_time.py --in-place            # `dvc repro` in this checkout: the run's
                                                             #   outputs stay, to commit with the table

What it does: copies dvc.yaml, src/, data/external/ and data/judgments/ of this checkout (its
working tree, uncommitted edits included) and the params file into a temporary directory, runs
`dvc init` and one `dvc repro`, reading its output as it comes: a stage's wall time runs from its
`Running stage` line to the next stage's (or the end), so it includes what DVC does around the stage
(hashing, dvc.lock). Stages run in DVC's (topological) order. Generation starts with an empty
response cache unless --cache-dir names one (e.g. the repository's .synthclf_cache).

Fixed cost, per command: a fresh `python -c` that imports the CLI, the stage's module and the
libraries its first real work loads (Great Expectations and sentence-transformers for validate,
torch and transformers for a transformer train, ...), against a bare `python -c "import synthclf"`;
the median of --repeats runs. `dvc overhead` is a no-op `dvc repro --single-item` of the last stage:
what DVC itself adds to every stage (hashing deps and outs, reading dvc.lock).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from synthclf.settings.train import DEFAULT_BACKEND
from synthclf.training.backends import backend as training_backend

REPO = Path(__file__).resolve().parents[1]
COPIED = ("dvc.yaml", "src", "data/external", "data/judgments")
RUNNING = re.compile(r"Running stage '([^']+)'")

# What each command imports before its first real work (its module, then the heavy libraries it loads).
STAGE_IMPORTS = {
    "fetch": ["synthclf.tasks.fetch"],
    "prepare": ["synthclf.tasks.prepare"],
    "generate": ["synthclf.generation.generate", "openai"],
    "validate": ["synthclf.validation.validate", "great_expectations", "sentence_transformers"],
    "mix": ["synthclf.training.mix"],
    "train": ["synthclf.training.train"],
    "evaluate": ["synthclf.training.evaluate", "sklearn.metrics", "dvclive"],
    "analyze": ["synthclf.analysis.analyze"],
    "report": ["synthclf.analysis.report"],
}


def run(command: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(command)} failed (exit {done.returncode}):\n{done.stdout[-3000:]}\n"
                 f"{done.stderr[-3000:]}")
    return seconds, done


def make_clone(root: Path, params_file: Path) -> None:
    for item in COPIED:
        source, target = REPO / item, root / item
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif source.exists():
            shutil.copy(source, target)
    shutil.copy(params_file, root / "params.yaml")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    run(["dvc", "init", "-q"], root)


def timed_repro(root: Path) -> tuple[list[tuple[str, float]], float]:
    """Run `dvc repro`; (stage, seconds) in the order it ran them, and the total seconds."""
    started = time.perf_counter()
    process = subprocess.Popen(["dvc", "repro"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, bufsize=1)
    marks: list[tuple[str, float]] = []
    tail: list[str] = []
    for line in process.stdout:
        tail = [*tail, line][-60:]
        found = RUNNING.search(line)
        if found:
            marks.append((found.group(1), time.perf_counter()))
            print(f"[{len(marks)}] {found.group(1)} at {marks[-1][1] - started:.0f} s", flush=True)
    if process.wait() != 0:
        sys.exit("error: dvc repro failed:\n" + "".join(tail))
    ended = time.perf_counter()
    ends = [mark for _, mark in marks[1:]] + [ended]
    return [(stage, end - mark) for (stage, mark), end in zip(marks, ends, strict=True)], ended - started


def command_of(stage: str) -> str:
    return stage.split("@", 1)[0]


def import_seconds(modules: list[str], repeats: int, cwd: Path) -> float:
    code = "import synthclf.cli" + "".join(f"; import {module}" for module in modules)
    return statistics.median(run([sys.executable, "-c", code], cwd)[0] for _ in range(repeats))


def fixed_costs(commands: set[str], backend: str, repeats: int, cwd: Path) -> dict[str, float]:
    costs = {}
    for command in sorted(commands):
        modules = STAGE_IMPORTS.get(command, [])
        if command == "train":
            modules = modules + list(training_backend(backend).libraries)
        costs[command] = import_seconds(modules, repeats, cwd)
    return costs


def llm_counts(root: Path) -> dict[str, int]:
    """The run's LLM calls and response-cache hits, summed over the generate stages' metrics
    (0 hits for a run from scratch)."""
    totals = {"calls": 0, "cache_hits": 0, "kept_texts": 0}
    for path in sorted((root / "metrics" / "generate").glob("*/*.json")):
        metrics = json.loads(path.read_text())
        totals["calls"] += int(metrics.get("calls", 0))
        totals["cache_hits"] += int(metrics.get("cache_hits", 0))
        totals["kept_texts"] += int(metrics.get("kept", 0))
    return totals


def host() -> dict:
    return {"cores": os.cpu_count(), "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(), "load_average_at_end": [round(x, 2) for x in os.getloadavg()]}


def generator_speed(params: Path) -> float | None:
    """Completion tokens a second the bundled generator writes on this host, after the run (best
    of 3 calls of 64 tokens, its own server): generation is most of the run and bound by this
    speed, so it tells a slower host from a slower pipeline. None for an endpoint (llm.base_url)."""
    from openai import OpenAI
    from server_attention import timed_writes

    from synthclf.config import load_params
    from synthclf.generation.server import start_server

    llm = load_params(params).llm
    if llm.base_url:
        return None
    with start_server(llm) as (base_url, _process):
        client = OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=300)
        writes = timed_writes(client, llm.model, ['Short text messages:\n1. "'] * 3)
    best = max(tokens / seconds for tokens, seconds in writes)
    return round(best, 1)


def print_table(stages: list[dict], bare: float, overhead: float, total: float) -> None:
    print(f"{'stage':44} {'wall s':>8} {'fixed s':>8} {'fixed %':>8}")
    for row in stages:
        share = 100 * row["fixed_s"] / row["wall_s"] if row["wall_s"] else 0.0
        print(f"{row['stage']:44} {row['wall_s']:8.1f} {row['fixed_s']:8.2f} {share:7.0f}%")
    by_command: dict[str, list[dict]] = {}
    for row in stages:
        by_command.setdefault(row["command"], []).append(row)
    print()
    print(f"{'command':16} {'stages':>6} {'wall s':>8} {'fixed s each':>13} {'fixed s all':>12}")
    for command, rows in by_command.items():
        print(f"{command:16} {len(rows):6d} {sum(r['wall_s'] for r in rows):8.1f} {rows[0]['fixed_s']:13.2f} "
              f"{sum(r['fixed_s'] for r in rows):12.1f}")
    fixed_total = sum(row["fixed_s"] for row in stages)
    print()
    print(f"bare `python -c \"import synthclf\"`: {bare:.2f} s")
    print(f"dvc overhead per stage (no-op dvc repro -s): {overhead:.2f} s, x {len(stages)} stages = "
          f"{overhead * len(stages):.0f} s")
    print(f"total wall: {total:.0f} s ({total / 60:.1f} min) over {len(stages)} stages; fixed costs "
          f"{fixed_total:.0f} s ({100 * fixed_total / total:.0f}%)" if total else "no stages ran")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--params", type=Path, default=REPO / "params.yaml", help="params file to run")
    parser.add_argument("--cache-dir", type=Path, help="$SYNTHCLF_CACHE_DIR for the run (default: empty)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per import timing (median)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project and print its path")
    parser.add_argument("--in-place", action="store_true",
                        help="run in this checkout with its params.yaml and caches (stages already up to date "
                             "do not run, so time a run from scratch or read it as the rest of one)")
    args = parser.parse_args()
    if args.in_place:
        args.params, args.keep = REPO / "params.yaml", True
    if not args.params.exists():
        sys.exit(f"error: --params {args.params}: not found; pass an existing params file")
    if args.cache_dir:
        os.environ["SYNTHCLF_CACHE_DIR"] = str(args.cache_dir.resolve())
    backend = (yaml.safe_load(args.params.read_text()) or {}).get("train", {}).get("backend", DEFAULT_BACKEND)
    root = REPO if args.in_place else Path(tempfile.mkdtemp(prefix="synthclf-pipeline-time-"))
    try:
        if not args.in_place:
            make_clone(root, args.params.resolve())
        print(f"project in {root}", flush=True)
        timings, total = timed_repro(root)
        bare = statistics.median(run([sys.executable, "-c", "import synthclf"], root)[0] for _ in range(args.repeats))
        costs = fixed_costs({command_of(stage) for stage, _ in timings}, backend, args.repeats, root)
        stages = [{"stage": stage, "command": command_of(stage), "wall_s": round(seconds, 2),
                   "fixed_s": round(costs[command_of(stage)], 3)} for stage, seconds in timings]
        overhead = run(["dvc", "repro", "--single-item", timings[-1][0]], root)[0] if timings else 0.0
        print()
        print_table(stages, bare, overhead, total)
        calls = llm_counts(root)
        machine = {**host(), "generator_tokens_per_s": generator_speed(args.params)}
        print(f"LLM: {calls['calls']} calls, {calls['cache_hits']} response-cache hits, "
              f"{calls['kept_texts']} texts kept; host: {machine}")
        if args.json:
            args.json.write_text(json.dumps({"params": str(args.params), "host": machine, "llm": calls,
                                             "bare_import_s": round(bare, 3), "dvc_overhead_s": round(overhead, 2),
                                             "total_s": round(total, 1), "stages": stages}, indent=2) + "\n")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        elif not args.in_place:                      # (in place: the checkout itself, kept)
            print(f"kept {root}")


if __name__ == "__main__":
    main()
