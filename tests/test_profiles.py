"""Params profiles (profiles/*.yaml) as `dvc exp run -S` overrides, and what the paper profile's
scale needs from the training units: sizes the real split cannot match get no real@n point."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from synthclf import paths
from synthclf.config import Params
from synthclf.records import write_jsonl
from synthclf.training.units import units_for

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "profile_overrides.py"
PROFILES = sorted((REPO / "profiles").glob("*.yaml"))


def compare_experiment():
    spec = importlib.util.spec_from_file_location("compare_experiment", REPO / "scripts" / "compare_experiment.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_script(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.parametrize("profile", PROFILES, ids=[p.stem for p in PROFILES])
def test_overrides_set_what_the_profile_says(profile, tmp_path):
    """Applied by DVC's own `-S` code, the printed overrides give the params the profile merged in gives."""
    from dvc.utils.hydra import apply_overrides

    done = run_script(str(profile))
    assert done.returncode == 0, done.stderr
    words = done.stdout.split()
    assert words[0::2] == ["-S"] * (len(words) // 2)
    copy = tmp_path / "params.yaml"
    copy.write_text((REPO / "params.yaml").read_text())
    apply_overrides(str(copy), words[1::2])
    base = yaml.safe_load((REPO / "params.yaml").read_text())
    expected = compare_experiment().merged(base, yaml.safe_load(profile.read_text()))
    assert Params.model_validate(yaml.safe_load(copy.read_text())) == Params.model_validate(expected)
    assert "# Every knob of the pipeline." in copy.read_text()      # params.yaml keeps its comments


def test_the_paper_profile_is_the_studys_scale():
    merged = compare_experiment().merged(yaml.safe_load((REPO / "params.yaml").read_text()),
                                         yaml.safe_load((REPO / "profiles/paper.yaml").read_text()))
    params = Params.model_validate(merged)
    assert params.generate.per_class >= 3000 and params.train.encoder == "bundled:all-mpnet-base-v2"
    assert params.resources.device == "cuda" and params.llm.base_url.startswith("http")
    assert all(params.split[task].train_size > 1200 for task in params.tasks)


@pytest.mark.parametrize(("profile", "message"), [
    ("train:\n  lerning_rate: 0.1\n", "Could not override 'train.lerning_rate'"),
    ("train:\n  learning_rate: -1\n", "train.learning_rate: got -1; must be greater than 0"),
    ("- just a list\n", "must be a mapping"),
])
def test_a_bad_profile_is_one_line_and_exit_2(profile, message, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(profile)
    done = run_script(str(path))
    assert done.returncode == 2 and done.stdout == ""
    assert message in done.stderr and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def record(i: int, label: str, source: str, replicate: int | None = None) -> dict:
    row = {"id": f"{source}-{i}", "task": "sms_spam", "source": source, "text": f"text {i}", "label": label}
    return row if replicate is None else {**row, "replicate": replicate}


def test_sizes_real_data_cannot_match_get_no_real_point(tmp_path, monkeypatch, capsys):
    """3 real spam: real@2 is drawn for both replicates, real@5 for neither (one replicate alone has
    5 spam), and the stage says which sizes compare with all real data only."""
    monkeypatch.chdir(tmp_path)
    real = [record(i, "ham", "real") for i in range(20)] + [record(20 + i, "spam", "real") for i in range(3)]
    synthetic = [record(r * 100 + i, label, "zero_shot", r) for r in (0, 1) for label in ("ham", "spam")
                 for i in range(5 if (r, label) != (1, "spam") else 3)]
    write_jsonl(paths.validated_file("sms_spam", "real"), real)
    write_jsonl(paths.validated_file("sms_spam", "zero_shot"), synthetic)
    params = Params.model_validate({**yaml.safe_load((REPO / "params.yaml").read_text()),
                                    "generate": {"per_class": 5, "replicates": 2}, "compare": {"sizes": [2]}})
    names = [unit.name for unit in units_for(params, "sms_spam", "zero_shot")]
    assert names == ["zero_shot@2/r0", "real@2/r0", "zero_shot@5/r0", "zero_shot@2/r1", "real@2/r1", "zero_shot@5/r1"]
    assert "real data cannot match 5 per label" in capsys.readouterr().err
