"""A copy of this project under real git and DVC, built the same way for every end-to-end test that
runs `dvc repro` on a tiny configuration (tests/test_pipeline.py, tests/test_rerun_table.py).

The copy holds what the stages read (dvc.yaml, the source, the bundled inputs), never the
repository's outputs: the first `dvc repro` builds everything from scratch. Each test module says
only what it varies: its tiny params.yaml and whether it needs a DVC remote.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
COPIED = ("dvc.yaml", "src", "data/external", "data/judgments")   # the stages' code and bundled inputs
# Every dvc call carries this key, so a test can check that no file the pipeline wrote contains it.
API_KEY = "sk-test-pipeline-6b1f2e0c9d"


def dvc(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`dvc ARGS` in the project, offline; a failure raises with the tail of dvc's output."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", OPENAI_API_KEY=API_KEY, DVC_NO_ANALYTICS="1")
    result = subprocess.run(["dvc", *args], cwd=project, env=env, capture_output=True, text=True, timeout=1500)
    if check and result.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed (exit {result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def copy_project(root: Path, params: dict, items: tuple[str, ...] = COPIED) -> Path:
    """The stages' code and inputs (`items`) copied into `root`, with `params` as its params.yaml."""
    for item in items:
        source, target = REPO / item, root / item
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(source, target)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return root


def reproduced_project(root: Path, params: dict, *, remote: bool = False) -> Path:
    """copy_project, then git init, dvc init (with a local remote beside `root` if asked) and one
    full `dvc repro`: the up-to-date project the tests start from."""
    copy_project(root, params)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    dvc(root, "init", "-q")
    if remote:
        dvc(root, "remote", "add", "-d", "storage", str(root.parent / f"{root.name}-remote"))
    dvc(root, "repro")
    return root
