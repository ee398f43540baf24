"""Every bad input is one clear error and nothing written.

A table of bad params, cards, data files, command lines and LLM endpoints. Each case runs the real
`synthclf` CLI as a subprocess in a throwaway copy of a small project (its own src/, so cards are
read from the copy) and asserts: the exit code, exactly one `error:` line on stderr that names the
problem and the fix, and that no file under data/, models/, metrics/ or reports/ changed.

The LLM cases use real loopback servers: a closed port, and the fault proxy answering 401.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from synthclf.settings.train import BACKENDS

REPO = Path(__file__).resolve().parents[1]
WATCHED = ("data", "models", "metrics", "reports")
SECRET = "sk-bad-inputs-9f3a1c77e2"

CARD = """\
name: tickets
title: Support ticket urgency
description: Decide whether a support ticket needs action now.
text_kind: support ticket
labels:
  urgent: the customer cannot work until this is fixed
  routine: a request that can wait for the normal queue
context_prompt: You are a customer writing to an IT help desk.
max_words: 40
subjectivity:
  level: 2
  basis: urgency is usually stated in clear words
offline: true
source:
  kind: file
  path: data/external/tickets/tickets.csv
  text_column: text
  label_column: label
"""


def tickets_csv(rows: int = 120) -> str:
    lines = ["text,label"]
    for i in range(rows):
        if i % 3 == 0:
            lines.append(f"Server {i} is down and nobody on floor {i % 7} can log in,urgent")
        else:
            lines.append(f"Please update the shipping address on account {i} when you have time,routine")
    return "\n".join(lines) + "\n"


def run_cli(project: Path, *args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("SYNTHCLF_")}
    environment.update(PYTHONPATH=str(project / "src"), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
                       SYNTHCLF_CACHE_DIR=str(project / ".synthclf_cache"))
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "synthclf.cli", *args], cwd=project, env=environment,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """A project with the user task `tickets` fetched and prepared, an sms_spam pool, and files in
    models/, metrics/ and reports/, so that any write under them would show."""
    root = tmp_path_factory.mktemp("template")
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    shutil.copytree(REPO / "data/external", root / "data/external")
    (root / "src/synthclf/tasks/cards/tickets.yaml").write_text(CARD, encoding="utf-8")
    (root / "data/external/tickets").mkdir(exist_ok=True)
    (root / "data/external/tickets/tickets.csv").write_text(tickets_csv(), encoding="utf-8")
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["tasks"] = ["sms_spam", "tickets"]
    params["split"] = {"sms_spam": params["split"]["sms_spam"],
                       "tickets": {"train_size": 60, "test_size": 30, "pool_size": 10}}
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    for stage in ("fetch", "prepare"):
        result = run_cli(root, stage, "--task", "tickets")
        assert result.returncode == 0, result.stderr
    from conftest_generation import write_pool

    write_pool(root, "sms_spam")
    for name in ("models/tickets/real/keep.txt", "metrics/keep.json", "reports/keep.md"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("before\n", encoding="utf-8")
    return root


@pytest.fixture
def project(template, tmp_path) -> Path:
    target = tmp_path / "project"
    shutil.copytree(template, target)
    return target


def snapshot(project: Path) -> dict[str, str]:
    return {str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in WATCHED for path in sorted((project / folder).rglob("*")) if path.is_file()}


# ---------------------------------------------------------------- how cases change the project


def params(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def setup(project: Path) -> None:
        path = project / "params.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(data)
        path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return setup


def params_text(text: str) -> Callable[[Path], None]:
    return lambda project: (project / "params.yaml").write_text(text, encoding="utf-8")


def card(old: str, new: str) -> Callable[[Path], None]:
    def setup(project: Path) -> None:
        path = project / "src/synthclf/tasks/cards/tickets.yaml"
        text = path.read_text(encoding="utf-8")
        assert old in text, old
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return setup


def data(content: bytes | str, name: str = "tickets.csv") -> Callable[[Path], None]:
    def setup(project: Path) -> None:
        path = project / "data/external/tickets" / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        if name != "tickets.csv":
            card("path: data/external/tickets/tickets.csv", f"path: data/external/tickets/{name}")(project)
    return setup


def new_file(name: str, content: bytes | str) -> Callable[[Path], None]:
    def setup(project: Path) -> None:
        path = project / "incoming" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return setup


def both(*setups: Callable[[Path], None]) -> Callable[[Path], None]:
    def setup(project: Path) -> None:
        for step in setups:
            step(project)
    return setup


def delete(relative: str) -> Callable[[Path], None]:
    return lambda project: (project / relative).unlink()


def no_change(project: Path) -> None:
    pass


def set_in(section: str, **values) -> Callable[[dict], None]:
    return lambda p: p[section].update(values)


def append(key: str, value) -> Callable[[dict], None]:
    return lambda p: p[key].append(value)


FETCH = ("fetch", "--task", "tickets")
PREPARE = ("prepare", "--task", "tickets")
NEW = ("task", "new", "fresh", "--file", "incoming/data.csv", "--text-column", "text", "--label-column", "label")
NON_UTF8 = (("text,label\n" + "Caf\u00e9 is out of coffee again,routine\n").encode("cp1252")
            + tickets_csv().split("\n", 1)[1].encode())


@dataclass
class Case:
    id: str
    setup: Callable[[Path], None]
    args: tuple[str, ...]
    expect: list[str]  # fragments of the one error line: the problem, the fix
    code: int = 2
    env: dict = field(default_factory=dict)


CASES = [
    # -- params.yaml ------------------------------------------------------------------------------
    Case("params-unknown-section", params(lambda p: p.update(trian={"epochs": 1})), PREPARE,
         ["unknown key 'trian'", "remove it or fix its spelling"]),
    Case("params-unknown-key", params(set_in("train", epochz=3)), PREPARE, ["unknown key 'train.epochz'"]),
    Case("params-wrong-type", params(set_in("train", epochs="three")), PREPARE,
         ["train.epochs: got 'three'", "expected a number"]),
    Case("params-list-expected", params(set_in("train", seeds="0, 1")), PREPARE,
         ["train.seeds: got '0, 1'", "expected a list"]),
    Case("params-out-of-range", params(set_in("llm", temperature=9)), PREPARE,
         ["llm.temperature: got 9", "must be at most 2"]),
    Case("params-negative-size", params(lambda p: p["split"]["tickets"].update(test_size=-1)), PREPARE,
         ["split.tickets.test_size: got -1", "must be greater than 0"]),
    Case("params-bad-choice", params(set_in("validate", policy="ignore")), PREPARE,
         ["validate.policy: got 'ignore'", "allowed: 'fail' or 'quarantine'"]),
    Case("params-long-text-policy", params(set_in("validate", long_texts="cut")), PREPARE,
         ["validate.long_texts: got 'cut'", "'truncate' or 'quarantine'"]),
    Case("params-inverted-lengths", params(set_in("validate", min_chars=50, max_chars=10)), PREPARE,
         ["validate.max_chars: got 10", "below validate.min_chars (50)"]),
    Case("params-inverted-shares", params(set_in("validate", min_label_share=0.9, max_label_share=0.1)), PREPARE,
         ["validate.max_label_share: got 0.1", "below validate.min_label_share"]),
    Case("params-bad-regex", params(set_in("validate", artifact_patterns=["(unclosed"])), PREPARE,
         ["validate.artifact_patterns", "not a valid regex"]),
    Case("params-unknown-task", params(append("tasks", "no_such_task")), PREPARE,
         ["tasks: got 'no_such_task'; allowed:", "add a task card"]),
    Case("params-task-without-split", params(lambda p: p["split"].pop("tickets")), PREPARE,
         ["split has no entry for task(s) ['tickets']", "add split.tickets"]),
    Case("params-task-twice", params(append("tasks", "tickets")), PREPARE,
         ["lists a task twice", "list each task once"]),
    Case("params-mix-of-ungenerated-setting",
         params(lambda p: (p["generate"].update(settings=["zero_shot"]),
                           p.update(mixes=[{"setting": "few_shot", "real": 10}], sources=["real", "zero_shot"]))),
         PREPARE, ["mixes: setting 'few_shot' is not in generate.settings", "add it there or drop the mix"]),
    Case("params-unknown-source", params(append("sources", "few_shot+real7")), PREPARE,
         ["sources: 'few_shot+real7' is not one of", "add it to generate.settings or mixes"]),
    Case("params-unknown-backend", params(set_in("train", backend="gpu")), PREPARE,
         ["train.backend: got 'gpu'", f"allowed: {', '.join(BACKENDS)}"]),
    Case("params-unknown-bundled-encoder", params(set_in("train", encoder="bundled:nope")), PREPARE,
         ["train.encoder: got 'bundled:nope'", "the bundled encoders installed are bundled:all-MiniLM-L6-v2",
          "or name a hub id"]),
    Case("params-cache-path-is-a-folder",
         both(lambda project: (project / "responses").mkdir(),
              params(lambda p: (p["generate"].update(cache_path="responses"),
                                p["llm"].update(base_url=f"http://127.0.0.1:{closed_port()}/v1", model="gpt-4o-mini",
                                                api_key_env="SYNTHCLF_TEST_KEY")))),
         ("generate", "--task", "sms_spam", "--setting", "zero_shot"),
         ["generate.cache_path:", "responses is a folder, not a file", "point generate.cache_path at a file such as"],
         env={"SYNTHCLF_CACHE_DIR": "", "SYNTHCLF_TEST_KEY": SECRET}),
    Case("params-not-yaml", params_text("tasks: [tickets\nsplit: {"), PREPARE, ["not valid YAML", "fix the syntax"]),
    Case("params-not-a-mapping", params_text("- tickets\n"), PREPARE, ["expected a mapping of sections"]),
    Case("params-missing", delete("params.yaml"), PREPARE, ["params.yaml: not found", "run from the repository root"]),
    # -- command line -----------------------------------------------------------------------------
    Case("cli-task-not-in-params", no_change, ("fetch", "--task", "imdb"), ["--task: got 'imdb'", "tasks are"]),
    Case("cli-unknown-training-source", no_change, ("train", "--task", "tickets", "--source", "bogus"),
         ["--source: got 'bogus'; allowed: real"]),
    Case("cli-unknown-setting", no_change, ("generate", "--task", "tickets", "--setting", "three_shot"),
         ["--setting: got 'three_shot'; allowed: zero_shot, few_shot"]),
    Case("cli-unknown-validation-source", no_change, ("validate", "--task", "tickets", "--source", "few_shot+real100"),
         ["--source: got 'few_shot+real100'; allowed: real"]),
    Case("cli-unknown-mix", no_change, ("mix", "--task", "tickets", "--source", "zero_shot+real5"),
         ["--source: got 'zero_shot+real5'", "mixes are"]),
    # -- task cards -------------------------------------------------------------------------------
    Case("card-missing-field", card("text_kind: support ticket\n", ""), FETCH,
         ["tickets.yaml: text_kind is missing; add it", "what one text is"]),
    Case("card-unknown-field", card("labels:", "labelz:\n  a: b\nlabels:"), FETCH,
         ["tickets.yaml: unknown field 'labelz'", "remove it or fix its spelling"]),
    Case("card-inline-basis-with-comma",
         card("subjectivity:\n  level: 2\n  basis: urgency is usually stated in clear words\n",
              "subjectivity: {level: 2, basis: urgency is usually stated, in clear words}\n"), FETCH,
         ["unknown field 'subjectivity.in clear words'", "contains a comma", "own line"]),
    Case("card-inline-basis-with-colon",
         card("subjectivity:\n  level: 2\n  basis: urgency is usually stated in clear words\n",
              "subjectivity: {level: 2, basis: urgency: stated in clear words}\n"), FETCH,
         ["tickets.yaml: line 10", "not valid YAML", "in quotes"]),
    Case("card-level-out-of-range", card("level: 2", "level: 7"), FETCH,
         ["subjectivity.level: got 7", "must be at most 5", "a whole number from 1"]),
    Case("card-level-not-a-number", card("level: 2", "level: two"), FETCH,
         ["subjectivity.level: got 'two'", "expected a whole number"]),
    Case("card-one-label", card("  routine: a request that can wait for the normal queue\n", ""), FETCH,
         ["tickets.yaml: labels:", "at least 2", "at least two"]),
    Case("card-name-mismatch", card("name: tickets", "name: ticket"), FETCH,
         ["name is 'ticket' but the file is tickets.yaml", "make them match"]),
    Case("card-todo-left", card("text_kind: support ticket", "text_kind: TODO what one text is"), FETCH,
         ["text_kind is still a TODO placeholder", "replace it with"]),
    Case("card-unknown-source-kind", card("kind: file", "kind: csv"), FETCH,
         ["source.kind: got 'csv'", "allowed: 'package', 'huggingface', 'file'"]),
    Case("card-unsupported-format", card("tickets.csv", "tickets.xlsx"), FETCH,
         ["unsupported file type '.xlsx'", ".csv, .tsv, .jsonl, .json"]),
    Case("card-votes-column-absent", card("label_column: label\n", "label_column: label\n  votes_column: votes\n"),
         FETCH, ["no column 'votes' (named by source.votes_column)", "remove it (votes are optional)"]),
    Case("card-text-column-absent", card("text_column: text", "text_column: body"), FETCH,
         ["no column 'body' (named by source.text_column)", "set source.text_column to one of them"]),
    Case("card-unknown-encoding", card("label_column: label\n", "label_column: label\n  encoding: klingon\n"),
         FETCH, ["unknown encoding 'klingon'", "utf-8, latin-1 or cp1252"]),
    Case("card-yes-no-labels", card("  urgent:", "  yes:"), FETCH, ["read by YAML as true", "put the label in quotes"]),
    Case("card-label-not-in-data", card("  urgent:", "  critical:"), FETCH,
         ["data has labels ['urgent'] not on the card", "add them to the card's labels"]),
    # -- data files -------------------------------------------------------------------------------
    Case("data-missing-file", delete("data/external/tickets/tickets.csv"), FETCH,
         ["tickets.csv: no such file", "put the data file there or fix source.path"]),
    Case("data-empty-file", data(b""), FETCH, ["tickets.csv: the file is empty"]),
    Case("data-header-only", data("text,label\n"), FETCH, ["no data rows, only a header"]),
    Case("data-one-label-only", data("text,label\n" + "".join(f"All quiet on ticket {i},routine\n" for i in range(40))),
         FETCH, ["label(s) ['urgent'] have no items in the data", "add data for them or remove them"]),
    Case("data-10mb-text",
         data("text,label\n\"" + "word " * 2_097_152 + "\",urgent\n" + tickets_csv().split("\n", 1)[1]),
         FETCH, ["a text of 10,485,760 characters at line 2", "split the document"]),
    Case("data-not-utf8", data(NON_UTF8), FETCH,
         ["byte 14 (line 2, value 0xe9) is not valid utf-8", "source.encoding: cp1252"]),
    Case("data-blank-label", data(tickets_csv().replace(",routine\n", ",\n", 2)), FETCH,
         ["blank label ('label') at line 3, line 4", "fill in the label or delete those rows"]),
    Case("data-blank-text", data(tickets_csv().replace("Server 3 is down and nobody on floor 3 can log in", "   ")),
         FETCH, ["blank text ('text') at line 5"]),
    Case("data-ragged-csv", data("text,label\nhello, world,routine\n"), FETCH,
         ["line 2 has 3 fields, the header has 2", "quote texts that contain the delimiter"]),
    Case("data-semicolon-csv", data("text;label\nServer down;urgent\n"), FETCH,
         ["the header 'text;label' is one column", "separates columns with ';'", "save it as CSV with commas"]),
    Case("data-broken-jsonl", data('{"text": "fine", "label": "urgent"}\n{"text": "broken\n', "tickets.jsonl"), FETCH,
         ["line 2 is not valid JSON", "one object"]),
    Case("data-json-not-array", data('{"text": "a", "label": "urgent"}', "tickets.json"), FETCH,
         ["not an array of records", "use .jsonl"]),
    Case("prepare-before-fetch", lambda project: shutil.rmtree(project / "data/raw/tickets"), PREPARE,
         ["data/raw/tickets: missing", "run `synthclf fetch --task tickets` first"]),
    # -- task new / task check --------------------------------------------------------------------
    Case("new-one-label",
         new_file("data.csv", "text,label\n" + "".join(f"Quiet day number {i},ok\n" for i in range(60))),
         NEW, ["holds one label only ('ok')", "check --label-column"]),
    Case("new-bad-name", new_file("data.csv", tickets_csv()), ("task", "new", "My Task", *NEW[3:]),
         ["task name 'My Task'", "lowercase letters"]),
    Case("new-existing-task", new_file("data.csv", tickets_csv()), ("task", "new", "sms_spam", *NEW[3:]),
         ["already has a card", "choose another name"]),
    Case("new-wrong-label-column", new_file("data.csv", tickets_csv()), (*NEW[:-1], "category"),
         ["no column 'category' (named by --label-column)", "set --label-column to one of them"]),
    Case("new-too-few-rows", new_file("data.csv", tickets_csv(12)), NEW, ["only 12 clean texts", "add data"]),
    Case("new-not-utf8", new_file("data.csv", NON_UTF8), NEW, ["byte 14", "not valid utf-8"]),
    Case("new-missing-file", no_change, NEW, ["incoming/data.csv: no such file"]),
    Case("check-todo-card", card("title: Support ticket urgency", "title: TODO a title"), ("task", "check", "tickets"),
         ["task tickets: 1 problem(s), listed above with their fixes"]),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_clear_error_and_nothing_written(project, case):
    case.setup(project)
    before = snapshot(project)
    params_before = (project / "params.yaml").read_bytes() if (project / "params.yaml").exists() else None
    result = run_cli(project, *case.args, env=case.env)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == case.code, result.stderr[-2000:]
    assert len(errors) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    for fragment in case.expect:
        assert fragment in errors[0], f"{fragment!r} not in {errors[0]!r}"
    assert snapshot(project) == before
    if params_before is not None:
        assert (project / "params.yaml").read_bytes() == params_before


# Every command validates params.yaml before it does anything (README): one bad value, every command.
COMMAND_ARGS = {
    "fetch": ("--task", "tickets"), "prepare": ("--task", "tickets"),
    "generate": ("--task", "tickets", "--setting", "zero_shot"), "serve": ("--port", "0"),
    "validate": ("--task", "tickets", "--source", "real"), "mix": ("--task", "tickets", "--source", "few_shot+real100"),
    "train": ("--task", "tickets", "--source", "real"), "evaluate": ("--task", "tickets", "--source", "real"),
    "judge": (), "analyze": (), "report": (), "experiments": (),
}
# Commands that never read params.yaml, with the one error line they give instead in the bad-params
# case: `experiments` reads DVC's experiments of --repo (here: not a DVC project), not the params.
READS_NO_PARAMS = {"experiments": "is not a DVC project"}


def test_the_command_table_covers_every_command():
    from synthclf.cli import app

    commands = {command.name or command.callback.__name__ for command in app.registered_commands}
    assert commands == set(COMMAND_ARGS), f"add {sorted(commands - set(COMMAND_ARGS))} to COMMAND_ARGS"


@pytest.mark.parametrize("command", sorted(COMMAND_ARGS))
def test_every_command_validates_params_first(project, command):
    params(set_in("train", encoder="bundled:nope"))(project)
    before = snapshot(project)
    result = run_cli(project, command, *COMMAND_ARGS[command], timeout=60)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2, result.stderr[-2000:]
    expected = READS_NO_PARAMS.get(command, "train.encoder: got 'bundled:nope'")
    assert len(errors) == 1 and expected in errors[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert snapshot(project) == before


def test_the_table_is_large_enough():
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)


# ---------------------------------------------------------------- the LLM endpoint, for real on loopback


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def endpoint_params(base_url: str) -> Callable[[Path], None]:
    return params(lambda p: p["llm"].update(base_url=base_url, model="gpt-4o-mini", api_key_env="SYNTHCLF_TEST_KEY",
                                            timeout_s=20, max_retries=2, retry_base_s=0.1, retry_max_s=0.2))


def test_unreachable_base_url_fails_within_the_timeout_naming_url_and_fix(project, monkeypatch):
    url = f"http://127.0.0.1:{closed_port()}/v1"
    endpoint_params(url)(project)
    before = snapshot(project)
    # the command: one line naming the URL and the fix (and, via run_cli's timeout, no hang)
    result = run_cli(project, "generate", "--task", "sms_spam", "--setting", "zero_shot",
                     env={"SYNTHCLF_TEST_KEY": SECRET})
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(errors) == 1 and url in errors[0] and "not reachable" in errors[0], result.stderr[-2000:]
    assert "fix llm.base_url" in errors[0]
    assert snapshot(project) == before
    # how long the stage takes to give up, timed in this process: a fresh interpreter's start-up on
    # busy cores is not the endpoint's doing and stays out of the measurement
    from synthclf.config import load_params
    from synthclf.errors import SynthclfError
    from synthclf.generation import generate

    monkeypatch.chdir(project)
    monkeypatch.setenv("SYNTHCLF_TEST_KEY", SECRET)
    monkeypatch.setenv("SYNTHCLF_CACHE_DIR", str(project / ".synthclf_cache"))
    monkeypatch.setenv("SYNTHCLF_CARDS_DIR", str(project / "src/synthclf/tasks/cards"))   # the project's own cards
    params = load_params(project / "params.yaml")
    started = time.monotonic()
    with pytest.raises(SynthclfError, match="not reachable"):
        generate.run(params, "sms_spam", "zero_shot")
    elapsed = time.monotonic() - started
    assert elapsed < params.llm.timeout_s, f"took {elapsed:.1f}s, llm.timeout_s is {params.llm.timeout_s}"
    assert snapshot(project) == before


def test_rejected_api_key_names_the_variable_never_the_key(project):
    from fault_proxy import FaultProxy

    with FaultProxy(upstream=f"http://127.0.0.1:{closed_port()}/v1") as proxy:
        proxy.faults.extend(["401"] * 100)
        endpoint_params(proxy.url)(project)
        before = snapshot(project)
        result = run_cli(project, "generate", "--task", "sms_spam", "--setting", "zero_shot",
                         env={"SYNTHCLF_TEST_KEY": SECRET})
        assert proxy.injected["401"] >= 1  # the request really reached the server and was refused
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2, result.stderr[-2000:]
    assert len(errors) == 1 and "refused the API key from $SYNTHCLF_TEST_KEY" in errors[0], result.stderr[-2000:]
    assert "HTTP 401" in errors[0] and "set a valid key in that environment variable" in errors[0]
    assert SECRET not in result.stderr + result.stdout
    assert snapshot(project) == before
    written = [path for path in project.rglob("*") if path.is_file() and SECRET.encode() in path.read_bytes()]
    assert not written, f"the key reached {written}"

