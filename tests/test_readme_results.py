"""README's verdict table and findings are the committed run's, rendered by scripts/readme_results.py
(the report's own functions on metrics/summary.json): an edit by hand, or a new run without
regenerating the block, fails here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_readme_results_block_matches_the_committed_run():
    done = subprocess.run([sys.executable, "scripts/readme_results.py", "--check"], cwd=REPO, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr


def test_the_check_catches_a_hand_edit(tmp_path):
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import readme_results
    finally:
        sys.path.pop(0)
    block = readme_results.results_block()
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    edited = readme.replace(block, block.replace("%", " %", 1))
    assert edited != readme and readme_results.with_block(edited, block) == readme
