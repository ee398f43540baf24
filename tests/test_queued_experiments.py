"""README, Experiments: queued `dvc exp run`s share one response cache, and
`SYNTHCLF_WORKERS=2 dvc queue start -j 2` gives each worker its share of the cores.

Real DVC queue, real workers, on a one-stage project whose stage does what every generate stage does
with the cache (resolve generate.cache_path, commit a response) and with the threads (resources.threads
0), and records where it ran. Both experiments run in DVC's temporary copies; their responses must land
in the one cache of the original repository, and each must have seen half the cores.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

STAGE = """\
import json, os
from pathlib import Path

import yaml

from synthclf.generation.cache import CachedResponse, ResponseCache, resolve_cache_path
from synthclf.resources import resolve_threads

value = yaml.safe_load(Path("params.yaml").read_text())["value"]
with ResponseCache(resolve_cache_path(".synthclf_cache/responses.sqlite")) as cache:
    cache.put(f"exp-{value}", {"model": "m", "value": value}, CachedResponse(str(value), "stop", 1, 1))
Path("out.json").write_text(json.dumps({"threads": resolve_threads(0), "value": value,
                                        "in_copy": int(os.sep + os.path.join(".dvc", "tmp", "exps") in os.getcwd())}))
"""
BUSY = re.compile(r"\b(Queued|Running)\b")


def run(command: list[str], cwd: Path, env: dict, timeout: float = 300) -> str:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    return done.stdout


def test_queued_experiments_share_the_response_cache_and_split_the_cores(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("SYNTHCLF_")}
    # the queue's workers are `dvc` processes found on PATH: this environment's
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(DVC_NO_ANALYTICS="1", HF_HUB_OFFLINE="1", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@localhost",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@localhost")
    dvc = [sys.executable, "-m", "dvc"]
    root = tmp_path / "project"
    root.mkdir()
    (root / "stage.py").write_text(STAGE, encoding="utf-8")
    (root / "params.yaml").write_text("value: 0\n", encoding="utf-8")
    (root / "dvc.yaml").write_text(
        f"stages:\n  s:\n    cmd: {sys.executable} stage.py\n    deps: [stage.py]\n    params: [value]\n"
        "    metrics:\n      - out.json:\n          cache: false\n", encoding="utf-8")
    (root / ".gitignore").write_text(".synthclf_cache/\n", encoding="utf-8")
    run(["git", "init", "-q"], root, env)
    run([*dvc, "init", "-q"], root, env)
    run(["git", "add", "-A"], root, env)
    run(["git", "commit", "-q", "-m", "init"], root, env)
    for value in (1, 2):
        run([*dvc, "exp", "run", "--queue", "-S", f"value={value}"], root, env)

    run([*dvc, "queue", "start", "-j", "2"], root, {**env, "SYNTHCLF_WORKERS": "2"})
    started = time.monotonic()
    while BUSY.search(status := run([*dvc, "queue", "status"], root, env)):
        waited = time.monotonic() - started
        assert waited < 300, f"the queue did not finish in 300 s:\n{status}"
        assert waited < 60 or "0 active, 0 idle" not in status, f"no worker started:\n{status}"
        time.sleep(2)
    assert status.count("Success") == 2, status

    # one cache, in the original repository, holding both experiments' responses
    with sqlite3.connect(root / ".synthclf_cache" / "responses.sqlite") as db:
        keys = sorted(row[0] for row in db.execute("SELECT key FROM responses"))
    assert keys == ["exp-1", "exp-2"]
    shown = json.loads(run([*dvc, "exp", "show", "--json"], root, env))
    outs = [exp["data"]["metrics"]["out.json"]["data"]
            for baseline in shown for experiment in baseline.get("experiments") or []
            for exp in experiment.get("revs", [])
            if exp.get("data", {}).get("metrics", {}).get("out.json")]
    cores = len(os.sched_getaffinity(0))
    assert sorted(out["value"] for out in outs) == [1, 2], shown
    assert all(out["in_copy"] == 1 for out in outs), outs              # each ran in DVC's temporary copy
    assert all(out["threads"] == max(1, cores // 2) for out in outs), outs
