"""params.yaml validation: every mistake is one line naming the key, exit code 2, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from synthclf.config import load_params
from synthclf.errors import SynthclfError

REPO = Path(__file__).resolve().parents[1]


def repo_params() -> dict:
    return yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run([sys.executable, "-m", "synthclf.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def write_params(tmp_path: Path, mutate) -> Path:
    params = repo_params()
    mutate(params)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


def test_repository_params_are_valid():
    params = load_params(REPO / "params.yaml")
    assert params.tasks and all(task in params.split for task in params.tasks)
    assert params.sources[0] == "real"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda p: p["train"].update(epochs="three"), "train.epochs: got 'three'"),
        (lambda p: p["train"].update(learning_rate=5), "train.learning_rate: got 5"),
        (lambda p: p["train"].update(epochz=3), "unknown key 'train.epochz'"),
        (lambda p: p["split"]["sms_spam"].update(test_size=-1), "split.sms_spam.test_size: got -1"),
        (lambda p: p["split"].pop("trec"), "split has no entry for task(s) ['trec']"),
        (lambda p: p["tasks"].append("no_such_task"), "tasks: got 'no_such_task'; allowed:"),
        (lambda p: p["validate"].update(policy="ignore"), "validate.policy: got 'ignore'"),
        (lambda p: p["sources"].append("few_shot+real7"), "sources: 'few_shot+real7' is not one of"),
        (lambda p: p["llm"].update(temperature=9), "llm.temperature: got 9; must be at most 2"),
        (lambda p: p["train"].update(seeds="0"), "train.seeds: got '0'; expected a list"),
        (lambda p: p["train"].update(batch_size=2.5), "train.batch_size: got 2.5; expected a whole number"),
        (lambda p: p["validate"].update(long_texts="cut"), "validate.long_texts: got 'cut'; allowed: 'truncate' or"),
        (lambda p: p["validate"].update(min_chars=50, max_chars=10), "below validate.min_chars (50)"),
    ],
)
def test_bad_value_names_key_given_and_allowed(tmp_path, mutate, expected):
    path = write_params(tmp_path, mutate)
    with pytest.raises(SynthclfError) as error:
        load_params(path)
    message = str(error.value)
    assert expected in message
    assert "\n" not in message
    assert "Input should" not in message and "pydantic" not in message  # plain words, not the library's


def test_cli_exits_2_with_one_line_and_writes_nothing(tmp_path):
    write_params(tmp_path, lambda p: p["train"].update(batch_size=0))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    result = run_cli(["prepare", "--task", "sms_spam"], tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "train.batch_size: got 0" in lines[0]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_cli_rejects_a_task_outside_params(tmp_path):
    write_params(tmp_path, lambda p: None)
    result = run_cli(["fetch", "--task", "imdb"], tmp_path)
    assert result.returncode == 2
    assert "--task: got 'imdb'" in result.stderr


def test_missing_params_file_is_a_clear_error(tmp_path):
    result = run_cli(["prepare", "--task", "sms_spam"], tmp_path)
    assert result.returncode == 2
    assert "params.yaml: not found" in result.stderr


def test_a_yaml_syntax_error_is_one_line_with_its_place(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("tasks: [trec\nsplit: {\n", encoding="utf-8")
    with pytest.raises(SynthclfError) as error:
        load_params(path)
    message = str(error.value)
    assert "\n" not in message and "line 2, column" in message and "not valid YAML" in message
