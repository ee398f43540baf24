"""Exact reruns: for each edit, the exact set of stages `dvc status` lists, then a second
`dvc repro` that runs nothing.

A tiny real DVC pipeline in a temporary directory (tests/dvc_project.py, as tests/test_pipeline.py's):
two tasks, one generation setting (the bundled SmolLM2 through llama.cpp, cached after the first
run), the TF-IDF backend. The edits run in order on the same project; each one is reproduced
before the next, so each row starts from an up-to-date pipeline.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from dvc_project import REPO, dvc, reproduced_project

pytestmark = pytest.mark.slow

TASKS = ["sms_spam", "trec"]
SETTING = "zero_shot"
ALL_OF = {  # every stage of one task (validate, mix, train and evaluate run per task, all sources in one)
    task: {f"fetch@{task}", f"prepare@{task}", f"generate@{task}-{SETTING}", f"validate@{task}", f"mix@{task}",
           f"train@{task}", f"evaluate@{task}"}
    for task in TASKS
}


def tiny_params() -> dict:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["tasks"] = TASKS
    params["split"] = {"sms_spam": {"train_size": 40, "test_size": 30, "pool_size": 8},
                       "trec": {"train_size": 150, "test_size": 40, "pool_size": 12}}
    params["mixes"] = []
    params["sources"] = ["real", SETTING]
    params["train"].update(backend="tfidf_logreg", seeds=[0])
    params["generate"].update(settings=[SETTING], per_class=2, replicates=1, max_attempts_factor=6.0,
                              cache_path=".synthclf_cache/responses.sqlite")
    params["compare"].update(sizes=[1], bootstrap_resamples=200)
    params["llm"].update(model="SmolLM2-135M-Instruct", base_url=None, server_threads=1, max_tokens=40)
    params["validate"].update(policy="quarantine")
    params["resources"] = {"threads": 1, "device": "cpu"}
    return params


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return reproduced_project(tmp_path_factory.mktemp("rerun"), tiny_params())


def set_param(dotted: str, value) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        params = yaml.safe_load((root / "params.yaml").read_text())
        *parents, leaf = dotted.split(".")
        section = params
        for key in parents:
            section = section[key]
        section[leaf] = value
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return edit


def append(relative: str, text: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(text)
    return edit


def edit_docstring(relative: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / relative
        source = path.read_text(encoding="utf-8")
        assert source.startswith('"""'), relative
        path.write_text('"""(edited) ' + source[3:], encoding="utf-8")
    return edit


# (edit, the stages `dvc status` must list). Order matters only for speed.
EDITS = [
    ("llm.concurrency (runtime knob)", set_param("llm.concurrency", 2), set()),
    ("llm.max_retries (runtime knob)", set_param("llm.max_retries", 3), set()),
    ("resources.threads (runtime knob)", set_param("resources.threads", 2), set()),
    ("train.eval_batch_size (runtime knob)", set_param("train.eval_batch_size", 64), set()),
    ("validate.example_rows (printing only)", set_param("validate.example_rows", 5), set()),
    # no stage command imports the judge (`synthclf judge` is not a stage), and generation/limits.py
    # (rate limits: runtime) is exempt by design (tests/test_stage_deps.py), so neither reruns anything
    ("docstring of analysis/judge.py (not a dep)", edit_docstring("src/synthclf/analysis/judge.py"), set()),
    ("docstring of generation/limits.py (runtime only)", edit_docstring("src/synthclf/generation/limits.py"), set()),
    # every stage whose command imports it, however indirectly (tests/test_stage_deps.py)
    ("docstring of tasks/sources.py (fetch, prepare, mix)", edit_docstring("src/synthclf/tasks/sources.py"),
     {f"{stage}@{task}" for stage in ("fetch", "prepare", "mix") for task in TASKS}),
    ("a new user file in data/external/trec", append("data/external/trec/notes.txt", "my notes\n"),
     {"fetch@trec"}),
    # the report shows the split sizes (provenance), so it depends on `split` too
    ("one task's split", set_param("split.trec.test_size", 35), {"prepare@trec", "report"}),
    ("a prompt template", append(f"src/synthclf/generation/templates/{SETTING}.completion.yaml", "# edited\n"),
     {f"generate@{task}-{SETTING}" for task in TASKS}),
    ("few_shot template (setting not run)", append("src/synthclf/generation/templates/few_shot.chat.yaml",
                                                   "# edited\n"), set()),
    ("train.learning_rate", set_param("train.learning_rate", 2.0e-4), {f"train@{t}" for t in TASKS}),
    ("a validation threshold", set_param("validate.max_duplicate_rate", 0.06), {f"validate@{t}" for t in TASKS}),
    ("one task card", append("src/synthclf/tasks/cards/sms_spam.yaml", "# edited\n"),
     (ALL_OF["sms_spam"] - {"mix@sms_spam"}) | {"analyze", "report"}),   # a mix reads no card
]


def listed_stages(root: Path) -> set[str]:
    """Stages whose own dependencies changed (dvc status --json lists one key per stage)."""
    return set(json.loads(dvc(root, "status", "--json").stdout or "{}"))


@pytest.mark.parametrize(("what", "edit", "expected"), EDITS, ids=[row[0] for row in EDITS])
def test_edit_reruns_exactly(project, what, edit, expected):
    assert listed_stages(project) == set(), "the project is not up to date before the edit"
    edit(project)
    assert listed_stages(project) == expected, what
    dvc(project, "repro")
    second = dvc(project, "repro")
    assert "Running stage" not in second.stdout, f"{what}: a second repro ran\n{second.stdout[-2000:]}"
    assert listed_stages(project) == set()
