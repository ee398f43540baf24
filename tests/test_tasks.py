"""Task cards, fetch (pinned archives, sha256) and prepare (clean, dedupe, stratified split, agreement)."""

from __future__ import annotations

import json
import shutil
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from synthclf import paths
from synthclf.config import load_params
from synthclf.errors import SynthclfError
from synthclf.records import read_jsonl
from synthclf.tasks import available_tasks, fetch, load_card, prepare

REPO = Path(__file__).resolve().parents[1]
OFFLINE_TASKS = ["trec", "sms_spam", "rt_sentiment", "vader_tweets", "vader_nyt", "seinfeld_humor"]
STUDY_TASKS = ["ag_news", "fewrel_relation", "imdb", "sms_spam_hub", "financial_phrasebank", "reddit_emotions",
               "tweet_irony", "tweet_emotions", "sarcasm_headlines", "humor_speech"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    """An empty project folder with the repository's params.yaml, as the working directory."""
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_card_loads_and_the_offline_suite_spans_subjectivity():
    names = available_tasks()
    assert set(OFFLINE_TASKS + STUDY_TASKS) <= set(names)
    offline = [load_card(name) for name in OFFLINE_TASKS]
    assert all(card.offline and card.source.kind == "package" for card in offline)
    assert {card.subjectivity.level for card in offline} >= {1, 2, 3, 4, 5}
    for name in STUDY_TASKS:
        card = load_card(name)
        assert card.source.kind == "huggingface" and not card.offline
        assert all(description.strip() for description in card.labels.values())


def test_hub_task_fails_fast_with_the_fix_when_offline(project, monkeypatch):
    """Fast by construction, not by a stopwatch: with HF_HUB_OFFLINE=1 nothing touches the network
    or loads `datasets`; without it, one connection attempt with a 5 s timeout decides."""
    def no_network(*args, **kwargs):
        raise AssertionError("HF_HUB_OFFLINE=1, yet fetch tried the network")

    monkeypatch.setattr(fetch.socket, "create_connection", no_network)
    monkeypatch.setitem(sys.modules, "datasets", None)     # importing it would raise ImportError, not the line
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(SynthclfError, match=r"not reachable.*offline task.*source\.kind: file"):
        fetch.run("ag_news")
    assert not paths.raw_dir("ag_news").exists()

    attempts = []

    def unreachable(address, timeout=None, *args, **kwargs):
        attempts.append((address, timeout))
        raise OSError("network is unreachable")

    monkeypatch.setattr(fetch.socket, "create_connection", unreachable)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    with pytest.raises(SynthclfError, match=r"not reachable.*offline task.*source\.kind: file"):
        fetch.run("ag_news")
    assert attempts == [(("huggingface.co", 443), 5.0)]
    assert not paths.raw_dir("ag_news").exists()


@pytest.mark.parametrize("task", OFFLINE_TASKS)
def test_fetch_and_prepare_every_offline_task(project, task):
    params = load_params()
    fetch.run(task)
    prepare.run(params, task)
    card = load_card(task)
    split = params.split[task]
    train, test, pool = (read_jsonl(paths.prepared_split(task, name)) for name in ("train", "test", "pool"))
    assert (len(train), len(test)) == (split.train_size, split.test_size)
    assert len(pool) == split.pool_size and {r["id"] for r in pool} <= {r["id"] for r in train}
    assert not {r["text"] for r in train} & {r["text"] for r in test}, "train and test overlap"
    assert {r["label"] for r in train} == set(card.labels) == {r["label"] for r in test}
    assert all(r["source"] == "real" and r["task"] == task and r["text"] for r in train + test)
    if task.startswith("vader"):
        assert all(r["n_annotators"] >= 5 and 1 / 3 <= r["agreement"] <= 1 for r in test)
    stats = json.loads(paths.metrics_file("prepare", task, "stats").read_text())
    assert stats["train"] == split.train_size and stats["clean"] <= stats["read"]


def test_split_is_stratified_and_reproducible(project):
    params = load_params()
    fetch.run("sms_spam")
    prepare.run(params, "sms_spam")
    first = paths.prepared_split("sms_spam", "test").read_bytes()
    test = read_jsonl(paths.prepared_split("sms_spam", "test"))
    train = read_jsonl(paths.prepared_split("sms_spam", "train"))
    share = lambda rows: Counter(r["label"] for r in rows)["spam"] / len(rows)  # noqa: E731
    assert abs(share(test) - share(train)) < 0.01
    prepare.run(params, "sms_spam")
    assert paths.prepared_split("sms_spam", "test").read_bytes() == first


def test_balance_equalises_a_skewed_task(project):
    params = load_params()
    fetch.run("seinfeld_humor")
    prepare.run(params, "seinfeld_humor")
    counts = Counter(r["label"] for r in read_jsonl(paths.prepared_split("seinfeld_humor", "train")))
    assert counts["funny"] == counts["not_funny"]


def test_tampered_archive_is_refused(tmp_path, monkeypatch):
    card = load_card("sms_spam")
    cache = tmp_path / "archives"
    cache.mkdir()
    original = fetch.archive_cache() / card.source.filename
    tampered = bytearray(original.read_bytes())
    tampered[-100] ^= 0xFF
    (cache / card.source.filename).write_bytes(bytes(tampered))
    monkeypatch.setenv("SYNTHCLF_ARCHIVES", str(cache))
    with pytest.raises(SynthclfError, match=r"sha256 is .* the card pins"):
        fetch.fetch_archive(card.source)


def test_a_users_own_csv_task(project, tmp_path, monkeypatch):
    """One new card pointing at a local CSV, with every annotator's label, runs fetch and prepare."""
    cards = tmp_path / "cards"
    cards.mkdir()
    for name in OFFLINE_TASKS:
        shutil.copy(REPO / "src/synthclf/tasks/cards" / f"{name}.yaml", cards)
    monkeypatch.setenv("SYNTHCLF_CARDS_DIR", str(cards))
    rows = ["text,label,votes"]
    for i in range(60):
        label = "urgent" if i % 3 == 0 else "routine"
        votes = json.dumps([label, label, "routine" if i % 2 else label]).replace('"', '""')
        text = "server down now" if label == "urgent" else "please update my address"
        rows.append(f'"ticket {i}: {text} #{i}",{label},"{votes}"')
    (tmp_path / "data/external").mkdir(parents=True)
    (tmp_path / "data/external/tickets.csv").write_text("\n".join(rows) + "\n")
    (cards / "tickets.yaml").write_text(yaml.safe_dump({
        "name": "tickets", "title": "Support tickets", "description": "Is a ticket urgent?",
        "text_kind": "support ticket", "labels": {"urgent": "needs action now", "routine": "can wait"},
        "context_prompt": "You write support tickets.", "offline": True,
        "subjectivity": {"level": 2, "basis": "urgency words are explicit in most tickets"},
        "source": {"kind": "file", "path": "data/external/tickets.csv", "votes_column": "votes"}}))
    params_yaml = yaml.safe_load((project / "params.yaml").read_text())
    params_yaml["tasks"] = ["tickets"]
    params_yaml["split"] = {"tickets": {"train_size": 30, "test_size": 15, "pool_size": 6}}
    (project / "params.yaml").write_text(yaml.safe_dump(params_yaml))
    params = load_params()
    fetch.run("tickets")
    prepare.run(params, "tickets")
    test = read_jsonl(paths.prepared_split("tickets", "test"))
    assert len(test) == 15 and all(r["n_annotators"] == 3 for r in test)
    assert {r["agreement"] for r in test} <= {round(2 / 3, 4), 1.0}


def test_oversized_split_is_a_clear_error(project):
    params_yaml = yaml.safe_load((project / "params.yaml").read_text())
    params_yaml["split"]["sms_spam"]["train_size"] = 100_000
    (project / "params.yaml").write_text(yaml.safe_dump(params_yaml))
    fetch.run("sms_spam")
    with pytest.raises(SynthclfError, match=r"only .* clean items exist; lower the sizes"):
        prepare.run(load_params(), "sms_spam")
    assert not paths.prepared_split("sms_spam", "train").exists()


# ---------------------------------------------------------------- a user's own files and cards

CARD_PAGE = REPO / "docs" / "your-own-task.md"


def readme_card() -> str:
    """The card example of the docs' "Your own task" page (its section "The task card"), verbatim."""
    section = CARD_PAGE.read_text(encoding="utf-8").split("## The task card", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


@pytest.fixture
def own_cards(project, monkeypatch):
    cards = project / "cards"
    shutil.copytree(REPO / "src/synthclf/tasks/cards", cards)
    monkeypatch.setenv("SYNTHCLF_CARDS_DIR", str(cards))
    return cards


def use_only(project: Path, task: str, **split) -> None:
    params_yaml = yaml.safe_load((project / "params.yaml").read_text())
    params_yaml["tasks"] = [task]
    params_yaml["split"] = {task: {"train_size": 30, "test_size": 15, "pool_size": 6, **split}}
    (project / "params.yaml").write_text(yaml.safe_dump(params_yaml))


def test_readme_example_card_works_verbatim(project, own_cards):
    (own_cards / "tickets.yaml").write_text(readme_card(), encoding="utf-8")
    rows = ["text,label"] + [f"Ticket {i}: server down and nobody can work,urgent" if i % 3 == 0
                             else f"Ticket {i}: please change my address,routine" for i in range(60)]
    (project / "data/external/tickets").mkdir(parents=True)
    (project / "data/external/tickets/tickets.csv").write_text("\n".join(rows) + "\n")
    use_only(project, "tickets")
    card = load_card("tickets")
    assert card.subjectivity.basis == "urgency is usually stated in clear words, such as: down, cannot work"
    assert card.context_prompt.endswith("short, plain messages.")
    fetch.run("tickets")
    prepare.run(load_params(), "tickets")
    assert len(read_jsonl(paths.prepared_split("tickets", "test"))) == 15


def write_frame(path: Path, rows: list[dict]) -> None:
    suffix = path.suffix
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    elif suffix == ".json":
        path.write_text(json.dumps(rows))
    else:
        import csv

        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]), delimiter="\t" if suffix == ".tsv" else ",")
            writer.writeheader()
            writer.writerows(rows)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".json", ".parquet"])
def test_files_are_read_as_text_with_numeric_labels(project, own_cards, suffix):
    """NA-like texts stay texts, 0/1 labels stay "0"/"1" (numbers in JSON and Parquet too), and the card
    may write the labels unquoted."""
    rows = [{"text": text, "label": i % 2} for i, text in
            enumerate(["NA", "None", "null", "N/A", "nan", "#N/A"] + [f"message number {i} here" for i in range(54)])]
    path = project / "data/external/numbers" / f"numbers{suffix}"
    path.parent.mkdir(parents=True)
    write_frame(path, rows)
    card = yaml.safe_load(readme_card())
    card.update(name="numbers", labels={0: "not it", 1: "it"})
    card["source"]["path"] = str(path.relative_to(project))
    (own_cards / "numbers.yaml").write_text(yaml.safe_dump(card))
    use_only(project, "numbers")
    assert load_card("numbers").label_names == ["0", "1"]
    fetch.run("numbers")
    items = read_jsonl(paths.raw_dir("numbers") / "items.jsonl")
    assert [item["text"] for item in items[:6]] == ["NA", "None", "null", "N/A", "nan", "#N/A"]
    assert {item["label"] for item in items} == {"0", "1"}
    prepare.run(load_params(), "numbers")
    kept = {r["text"] for r in read_jsonl(paths.prepared_split("numbers", "train")) +
            read_jsonl(paths.prepared_split("numbers", "test"))}
    assert {r["label"] for r in read_jsonl(paths.prepared_split("numbers", "train"))} == {"0", "1"}
    assert kept <= {row["text"] for row in rows}


def test_declared_encoding_is_decoded_and_a_bom_ignored(project, own_cards):
    text = "text,label\n" + "".join(f"Caf\u00e9 {i} r\u00e9ponse,{'urgent' if i % 3 == 0 else 'routine'}\n"
                                    for i in range(60))
    (project / "data/external/tickets").mkdir(parents=True)
    (project / "data/external/tickets/latin.csv").write_bytes(text.encode("cp1252"))
    (project / "data/external/tickets/bom.csv").write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    card = readme_card().replace("tickets.csv", "latin.csv").replace("  # encoding: cp1252 ", "  encoding: cp1252   ")
    (own_cards / "tickets.yaml").write_text(card)
    use_only(project, "tickets")
    fetch.run("tickets")
    assert read_jsonl(paths.raw_dir("tickets") / "items.jsonl")[0]["text"] == "Caf\u00e9 0 r\u00e9ponse"
    (own_cards / "tickets.yaml").write_text(readme_card().replace("tickets.csv", "bom.csv"))
    fetch.run("tickets")
    assert read_jsonl(paths.raw_dir("tickets") / "items.jsonl")[0]["text"] == "Caf\u00e9 0 r\u00e9ponse"


@pytest.mark.parametrize("field", ["name", "title", "description", "text_kind", "labels", "context_prompt",
                                   "subjectivity", "offline", "source"])
def test_a_missing_card_field_names_the_file_the_field_and_what_to_write(own_cards, field):
    card = yaml.safe_load(readme_card())
    card.pop(field)
    (own_cards / "tickets.yaml").write_text(yaml.safe_dump(card))
    with pytest.raises(SynthclfError) as error:
        load_card("tickets")
    message = str(error.value)
    assert message.startswith(f"cards/tickets.yaml: {field} is missing; add it: ")  # relative to the project
    assert "\n" not in message and "pydantic" not in message and "Field required" not in message
