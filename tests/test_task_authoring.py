"""A user's own task: `synthclf task new`, `synthclf task check`, then the stages, as README says.

The in-process tests point SYNTHCLF_CARDS_DIR at a temporary card folder; the end-to-end tests run
the real CLI (and real DVC) in a throwaway copy of the project whose own src/ is on PYTHONPATH,
so no card or data file is ever written into the repository.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from synthclf.config import load_params
from synthclf.errors import SynthclfError
from synthclf.tasks import authoring, load_card

REPO = Path(__file__).resolve().parents[1]
SENTENCES = [f"{who} {what} since {when}." for who in ("Accounting", "The warehouse", "Our sales desk", "Payroll",
                                                       "The Berlin office", "Every laptop on floor two")
             for what in ("cannot reach the ledger server", "gets a certificate error on login",
                          "lost the shared drive", "sees the VPN drop every minute", "cannot print invoices")
             for when in ("this morning", "the update last night")]


def long_email(seed: int) -> str:
    """A long e-mail (over 1,000 characters) of its own: sentences drawn and ordered by `seed`."""
    return "Dear support, " + " ".join(random.Random(seed).sample(SENTENCES, 24)) + " Please escalate."


def tickets_csv(rows: int = 150, long_every: int = 0) -> str:
    """Urgent and routine tickets; every `long_every`-th urgent one is a long e-mail (over 1,000 characters)."""
    lines = ["text,label"]
    for i in range(rows):
        if i % 3 == 0:
            text = long_email(i) if long_every and i % long_every == 0 else \
                f"Server {i} is down and nobody on floor {i % 7} can log in"
            lines.append(f"\"{text}\",urgent")
        else:
            lines.append(f"Please update the shipping address on account {i} when you have time,routine")
    return "\n".join(lines) + "\n"


def fill_card(text: str) -> str:
    """What a user does after `task new`: replace every TODO (free text with commas and colons)."""
    replacements = [
        (r"title: TODO.*", "title: Support ticket urgency"),
        (r"\n  TODO one sentence.*", "\n  Decide whether a ticket needs action now, today: or can wait."),
        (r"text_kind: TODO.*", "text_kind: support ticket"),
        (r"\n    TODO one line on what makes a text (\S+)", r"\n    a ticket that is \1: so says the desk, usually"),
        (r"\n  TODO the writer's role.*", "\n  You are a customer writing to an IT help desk: short, plain messages."),
        (r"level: TODO.*", "level: 2"),
        (r"\n    TODO why this level", "\n    urgency is usually stated in clear words, such as: down, cannot work"),
    ]
    for pattern, replacement in replacements:
        text = re.sub(pattern, replacement, text)
    assert not re.search(r"^[^#]*TODO", text, re.MULTILINE), text
    return text


@pytest.fixture
def project(tmp_path, monkeypatch):
    """The repository's params.yaml and cards in a temporary folder that is the working directory."""
    cards = tmp_path / "cards"
    shutil.copytree(REPO / "src/synthclf/tasks/cards", cards)
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.setenv("SYNTHCLF_CARDS_DIR", str(cards))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "incoming").mkdir()
    (tmp_path / "incoming/tickets.csv").write_text(tickets_csv(), encoding="utf-8")
    return tmp_path


def new_tickets(**options) -> None:
    arguments = {"name": "tickets", "file": Path("incoming/tickets.csv"), "text_column": "text",
                 "label_column": "label", "votes_column": None, "encoding": "utf-8", "params_path": Path("params.yaml")}
    authoring.new_task(**{**arguments, **options})


# ---------------------------------------------------------------- task new


def test_task_new_writes_data_card_and_two_params_lines(project, capsys):
    original = (project / "params.yaml").read_text(encoding="utf-8")
    new_tickets()
    assert (project / "data/external/tickets/tickets.csv").read_text() == tickets_csv()
    card = (project / "cards/tickets.yaml").read_text()
    assert "routine: >-   # 100 rows\n    TODO one line" in card and "urgent: >-   # 50 rows" in card
    assert "path: data/external/tickets/tickets.csv" in card
    # params.yaml: exactly one line changed (tasks) and one added (split), every comment kept
    before, after = original.splitlines(), (project / "params.yaml").read_text().splitlines()
    assert len(after) == len(before) + 1
    changed = [line for line in after if line not in before]
    assert len(changed) == 2 and changed[0].startswith("tasks: [") and changed[0].endswith(", tickets]")
    assert changed[1].strip().startswith("tickets: {train_size:")
    assert [line for line in before if line not in after] == [next(row for row in before if row.startswith("tasks:"))]
    params = load_params()
    assert params.tasks[-1] == "tickets"
    split = params.split["tickets"]
    assert split.test_size == 45 and split.train_size == 105 and 0 < split.pool_size <= split.train_size
    assert "routine 100, urgent 50" in capsys.readouterr().out
    # the placeholders are refused by every stage until filled
    with pytest.raises(SynthclfError, match=r"tickets.yaml: title is still a TODO placeholder; replace it.*"
                                            r"\(7 more: run `synthclf task check tickets`\)"):
        load_card("tickets")


def test_task_new_keeps_the_original_file_encoding_on_the_card(project):
    text = "text,label\n" + "".join(f"Caf\u00e9 {i} needs more coffee soon,{'urgent' if i % 2 else 'routine'}\n"
                                    for i in range(120))
    (project / "incoming/tickets.csv").write_bytes(text.encode("cp1252"))
    new_tickets(encoding="cp1252")
    card = yaml.safe_load((project / "cards/tickets.yaml").read_text())
    assert card["source"]["encoding"] == "cp1252"


def test_block_style_tasks_list_and_comments_survive():
    text = ("# header comment\ntasks:\n  - trec      # objective\n  - sms_spam\n\n# the split\nsplit:\n"
            "  trec: {train_size: 10, test_size: 5, pool_size: 2}   # small\n  sms_spam:\n    train_size: 10\n"
            "    test_size: 5\n    pool_size: 2\n\nsources: [real]  # only real\n")
    edited = authoring.add_task_to_params(text, "tickets", {"train_size": 7, "test_size": 3, "pool_size": 2})
    assert yaml.safe_load(edited)["tasks"] == ["trec", "sms_spam", "tickets"]
    assert yaml.safe_load(edited)["split"]["tickets"] == {"train_size": 7, "test_size": 3, "pool_size": 2}
    assert [line for line in text.splitlines() if line not in edited.splitlines()] == []
    assert len(edited.splitlines()) == len(text.splitlines()) + 2


def test_a_layout_it_cannot_edit_is_refused_not_damaged():
    text = "tasks: [trec]\nsplit: {trec: {train_size: 10, test_size: 5, pool_size: 2}}\n"
    with pytest.raises(SynthclfError, match="cannot edit safely; add tickets to `tasks` and the line"):
        authoring.add_task_to_params(text, "tickets", {"train_size": 7, "test_size": 3, "pool_size": 2})


# ---------------------------------------------------------------- task check


def test_task_check_lists_every_problem_then_passes(project, capsys):
    new_tickets()
    capsys.readouterr()
    with pytest.raises(SynthclfError, match=r"task tickets: 8 problem\(s\), listed above with their fixes"):
        authoring.check_task("tickets", Path("params.yaml"))
    shown = capsys.readouterr().out
    for field in ("title", "description", "text_kind", "labels.urgent", "labels.routine", "context_prompt",
                  "subjectivity.level", "subjectivity.basis"):
        assert f"{field} is still a TODO placeholder; replace it with" in shown
    assert "labels          routine 100 (67%), urgent 50 (33%)" in shown  # data are checked while TODOs remain
    card = project / "cards/tickets.yaml"
    card.write_text(fill_card(card.read_text()))
    authoring.check_task("tickets", Path("params.yaml"))
    shown = capsys.readouterr().out
    assert "problems" not in shown and "task tickets: ready" in shown
    assert re.search(r"split +train 105 \(routine 70, urgent 35\), test 45 \(routine 30, urgent 15\)", shown), shown
    assert load_card("tickets").subjectivity.basis.endswith("such as: down, cannot work")
    assert load_card("tickets").labels["urgent"] == "a ticket that is urgent: so says the desk, usually"


def test_task_check_reports_what_prepare_validation_and_training_do(project, capsys):
    rows = tickets_csv(long_every=6).splitlines()
    rows += [rows[2], "ok,routine", rows[5].replace(",routine", ",urgent")]  # a duplicate, a too-short text, a conflict
    (project / "incoming/tickets.csv").write_text("\n".join(rows) + "\n")
    new_tickets()
    card = project / "cards/tickets.yaml"
    card.write_text(fill_card(card.read_text()))
    capsys.readouterr()
    authoring.check_task("tickets", Path("params.yaml"))
    shown = capsys.readouterr().out
    assert "prepare drops   1 under 3 characters, 1 duplicates, 2 rows of texts with conflicting labels" in shown
    assert "25 over validate.max_chars (1000): kept and truncated for training" in shown
    # the default backend embeds with the frozen MiniLM, which reads 256 word pieces of a text
    assert re.search(r"training +\d+ of \d+ texts \(\d+%\) are over the frozen encoder's window \(256 tokens\)",
                     shown), shown
    assert re.search(r"near-copies +\d+ of 105 train texts share 50% or more of their 8-word sequences", shown)
    # the long tickets in the few-shot pool: how prompts will show them
    assert re.search(r"prompts +\d+ of \d+ few-shot pool texts are longer than \d+ words \(up to \d+\): prompts "
                     r"show their first \d+ words", shown), shown


def test_task_check_foresees_validation_failing_on_near_copies(project, capsys):
    """Templated texts that differ only in a number are near-copies of the test set: validation would
    quarantine most of them and fail; task check says so before any stage runs."""
    crash = "The desktop sync tool closes without a word when I switch accounts (build {}),crash"
    slow = "The web dashboard takes almost a minute to respond when I sort (build {}),slow"
    rows = ["text,label"] + [(crash if i % 2 else slow).format(i) for i in range(200)]
    (project / "incoming/tickets.csv").write_text("\n".join(rows) + "\n")
    new_tickets()
    card = project / "cards/tickets.yaml"
    card.write_text(fill_card(card.read_text()))
    with pytest.raises(SynthclfError, match="1 problem"):
        authoring.check_task("tickets", Path("params.yaml"))
    shown = capsys.readouterr().out
    assert "near-copies     140 of 140 train texts" in shown
    assert "validation would keep about 0% of the real train set, below validate.min_clean_share" in shown


def test_task_check_flags_a_file_outside_the_tasks_folder_and_a_lopsided_split(project, capsys):
    rows = ["text,label"] + [f"Routine request number {i} about a password,routine" for i in range(297)] + \
        [f"Outage {i}: nothing works,urgent" for i in range(3)]
    (project / "incoming/tickets.csv").write_text("\n".join(rows) + "\n")
    new_tickets()
    card = project / "cards/tickets.yaml"
    card.write_text(fill_card(card.read_text()).replace("data/external/tickets/tickets.csv", "incoming/tickets.csv"))
    with pytest.raises(SynthclfError, match="2 problem"):
        authoring.check_task("tickets", Path("params.yaml"))
    shown = capsys.readouterr().out
    assert "source.path incoming/tickets.csv is outside data/external/tickets/" in shown
    assert "set split.tickets.balance: true" in shown


# ---------------------------------------------------------------- the whole path, as a user runs it


def run_cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("SYNTHCLF_")}
    env.update(PYTHONPATH=str(root / "src"), HF_HUB_OFFLINE="1", DVC_NO_ANALYTICS="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
               SYNTHCLF_CACHE_DIR=str(root / ".synthclf_cache"), OMP_NUM_THREADS="1")
    command = ["dvc", *args[1:]] if args[0] == "dvc" else [sys.executable, "-m", "synthclf.cli", *args]
    return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture
def copy(tmp_path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    for item in ("src", "data/external", "dvc.yaml", "params.yaml"):
        source, target = REPO / item, root / item
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy(source, target)
    (root / "incoming").mkdir()
    return root


def test_new_check_fetch_prepare_validate_with_long_documents_kept(copy):
    (copy / "incoming/tickets.csv").write_text(tickets_csv(long_every=6), encoding="utf-8")
    result = run_cli(copy, "task", "new", "tickets", "--file", "incoming/tickets.csv",
                     "--text-column", "text", "--label-column", "label")
    assert result.returncode == 0, result.stderr
    assert run_cli(copy, "task", "check", "tickets").returncode == 2
    card = copy / "src/synthclf/tasks/cards/tickets.yaml"
    card.write_text(fill_card(card.read_text()))
    check = run_cli(copy, "task", "check", "tickets")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "25 over validate.max_chars (1000): kept and truncated for training" in check.stdout
    # The e-mails are drawn from one small pool of sentences, so the contamination checks would
    # (rightly) flag their overlap with the test set; they are not what this test is about.
    params = yaml.safe_load((copy / "params.yaml").read_text())
    params["validate"].update(contamination_ngram_share=1.0, contamination_cosine=1.0)
    (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in ("fetch", "prepare"):
        result = run_cli(copy, stage, "--task", "tickets")
        assert result.returncode == 0, result.stderr
    result = run_cli(copy, "validate", "--task", "tickets", "--source", "real")
    assert result.returncode == 0, result.stderr
    assert "longer than 1000 characters kept (truncated for training)" in result.stdout
    metrics = json.loads((copy / "metrics/validate/tickets/real.json").read_text())
    validated = [json.loads(line) for line in (copy / "data/validated/tickets/real.jsonl").open()]
    long_kept = [record for record in validated if len(record["text"]) > 1000]
    assert long_kept and metrics["long_texts"]["over_max_chars"] == len(long_kept)
    assert metrics["long_texts"]["action"] == "kept, truncated for training"
    assert metrics["counts"]["by_reason"]["text_length"] == 0 and metrics["counts"]["quarantined"] == 0


def test_a_new_file_reruns_only_its_own_tasks_fetch(copy):
    """fetch@<task> depends on data/external/<task>/ only: a file added for one task leaves the others alone."""
    for name in ("tickets", "alerts"):
        (copy / f"incoming/{name}.csv").write_text(tickets_csv(), encoding="utf-8")
        assert run_cli(copy, "task", "new", name, "--file", f"incoming/{name}.csv", "--text-column", "text",
                       "--label-column", "label").returncode == 0
        card = copy / f"src/synthclf/tasks/cards/{name}.yaml"
        card.write_text(fill_card(card.read_text()))
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True)
    assert run_cli(copy, "dvc", "init", "-q").returncode == 0
    result = run_cli(copy, "dvc", "repro", "--single-item", "fetch@tickets", "fetch@alerts")
    assert result.returncode == 0, result.stdout + result.stderr
    (copy / "data/external/alerts/more.csv").write_text("text,label\n", encoding="utf-8")
    status = json.loads(run_cli(copy, "dvc", "status", "--json", "fetch@tickets", "fetch@alerts").stdout or "{}")
    assert "fetch@alerts" in status and "fetch@tickets" not in status
