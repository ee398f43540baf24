"""Two queued experiments with one `dvc queue` worker, then with two side by side: wall time and ratio.

    python benchmarks/queue_workers.py                      # the light profile, seeds 1 and 2
    python benchmarks/queue_workers.py --profile profiles/light.yaml --json out.json

Each mode gets its own temporary project (a copy of this checkout's dvc.yaml, src/ and data like
benchmarks/pipeline_time.py makes, the profile merged into params.yaml, one git commit), its own
empty DVC cache and an empty LLM response cache, so both do the same work from scratch: two
experiments (`dvc exp run --queue -S seed=1`, `-S seed=2`: different splits, so nothing is shared),
then `dvc queue start -j N` with SYNTHCLF_WORKERS=N, which gives each worker its share of the cores
(resources.threads 0 = usable cores / workers) for torch, tokenizers and the llama.cpp server. Time
runs from `queue start` until no experiment is queued or running. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "scripts"))
from compare_experiment import merged  # noqa: E402
from pipeline_time import make_clone  # noqa: E402

SEEDS = (1, 2)
BUSY = re.compile(r"\b(Queued|Running)\b")


def sh(command: list[str], cwd: Path, env: dict | None = None) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(command)} failed (exit {done.returncode}):\n{done.stdout[-2000:]}\n"
                 f"{done.stderr[-2000:]}")
    return done.stdout


def project(root: Path, profile: Path, env: dict) -> None:
    """A committed copy of this checkout with the profile merged into params.yaml."""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        params = merged(yaml.safe_load((REPO / "params.yaml").read_text()), yaml.safe_load(profile.read_text()))
        yaml.safe_dump(params, handle, sort_keys=False)
    make_clone(root, Path(handle.name))
    os.unlink(handle.name)
    sh(["git", "add", "-A"], root, env)
    sh(["git", "commit", "-qm", "bench"], root, env)


def timed_queue(workers: int, profile: Path, keep: bool) -> float:
    root = Path(tempfile.mkdtemp(prefix=f"synthclf-queue-j{workers}-"))
    env = {**os.environ, "SYNTHCLF_WORKERS": str(workers), "SYNTHCLF_CACHE_DIR": str(root / "llm-cache"),
           **{f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER")
              for what, value in (("NAME", "bench"), ("EMAIL", "bench@localhost"))}}
    try:
        project(root, profile, env)
        for seed in SEEDS:
            sh(["dvc", "exp", "run", "--queue", "-n", f"seed{seed}", "-S", f"seed={seed}"], root, env)
        started = time.perf_counter()
        sh(["dvc", "queue", "start", "-j", str(workers)], root, env)
        while True:
            time.sleep(5)
            status = sh(["dvc", "queue", "status"], root, env)
            if not BUSY.search(status):
                break
        seconds = time.perf_counter() - started
        failed = [line for line in status.splitlines() if "Failed" in line]
        if failed or status.count("Success") != len(SEEDS):
            logs = sh(["dvc", "queue", "logs", f"seed{SEEDS[0]}"], root, env) if failed else ""
            sys.exit(f"error: the queue did not finish both experiments:\n{status}\n{logs[-3000:]}")
        print(f"{workers} worker(s): {len(SEEDS)} experiments in {seconds:.0f} s", flush=True)
        return seconds
    finally:
        subprocess.run(["dvc", "queue", "stop", "--kill"], cwd=root, env=env, capture_output=True)
        if keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", type=Path, default=REPO / "profiles" / "light.yaml")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the temporary projects")
    args = parser.parse_args()
    one = timed_queue(1, args.profile, args.keep)
    two = timed_queue(2, args.profile, args.keep)
    print(f"one worker {one:.0f} s, two workers {two:.0f} s: two side by side take {two / one:.2f}x the time "
          f"({one / two:.2f}x faster) on {len(os.sched_getaffinity(0))} cores")
    if args.json:
        args.json.write_text(json.dumps({"profile": str(args.profile), "one_worker_s": round(one, 1),
                                         "two_workers_s": round(two, 1), "cores": len(os.sched_getaffinity(0))},
                                        indent=2) + "\n")


if __name__ == "__main__":
    main()
