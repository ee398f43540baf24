"""`synthclf task new` and `synthclf task check`: a user's own task from a data file.

`task new` reads the file as text (tasks/files.py), copies it to data/external/<task>/ (the only
folder that task's `fetch` stage depends on), writes a card with the labels it found and TODO
placeholders the pipeline refuses until they are filled, and adds the task to params.yaml
(`tasks` and a `split` sized from the data) by inserting two lines, so comments stay as they are.

`task check` validates card, params and data together and shows what the pipeline will do with
the data: class counts, lengths, what prepare drops, what validation holds back, what training
cuts, and the split; every problem is listed with its fix and the command exits with code 2.
"""

from __future__ import annotations

import re
import shutil
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Add your own task from a data file, and check it before running the pipeline.")

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
EXTERNAL = Path("data/external")
MAX_LABELS = 50
SPLIT_CAPS = {"train_size": 1200, "test_size": 1000, "pool_size": 60}
TEST_SHARE = 0.3
WORDS_PER_TOKEN_ESTIMATE = 1.3


def external_dir(task: str) -> Path:
    """The task's own data folder; the fetch@<task> stage depends on it and nothing else under data/external."""
    return EXTERNAL / task


# ---------------------------------------------------------------- shared: clean items as prepare sees them


@dataclass
class Cleaned:
    """What prepare will do with the items: the records it keeps and what it drops."""

    records: list[dict]
    too_short: int
    duplicates: int
    conflicts: int


def clean_like_prepare(task: str, items: list[dict]) -> Cleaned:
    from synthclf.tasks.prepare import MIN_CHARS, clean_text, deduplicate, to_record

    cleaned = [dict(item, text=clean_text(item["text"])) for item in items]
    kept = [item for item in cleaned if len(item["text"]) >= MIN_CHARS]
    unique, duplicates, conflicts = deduplicate(kept)
    return Cleaned([to_record(task, item) for item in unique], len(cleaned) - len(kept), duplicates, conflicts)


def plan_split(clean: int, n_labels: int, per_class: int) -> dict[str, int]:
    """Sizes for params.yaml from the clean item count: about 30% test, the rest train, capped."""
    from synthclf.errors import SynthclfError

    test = min(SPLIT_CAPS["test_size"], int(clean * TEST_SHARE))
    train = min(SPLIT_CAPS["train_size"], clean - test)
    pool = min(SPLIT_CAPS["pool_size"], train // 2)
    if test < 2 * n_labels or train < max(per_class, 2 * n_labels) or pool < n_labels:
        needed = max(per_class, 2 * n_labels) + 2 * n_labels
        raise SynthclfError(f"only {clean} clean texts (after dropping duplicates and texts under 3 characters); "
                            f"a split needs at least about {int(needed / (1 - TEST_SHARE)) + 1}: add data, or lower "
                            f"generate.per_class ({per_class}) in params.yaml")
    return {"train_size": train, "test_size": test, "pool_size": pool}


# ---------------------------------------------------------------- task new


def yaml_scalar(value: Any) -> str:
    """One YAML scalar as it must be written (quoted where YAML would read it as something else)."""
    dumped = yaml.safe_dump(value, default_flow_style=True, width=10**9, allow_unicode=True)
    return dumped.strip().removesuffix("...").strip()


def word_limit(texts: list[str], generate_max_words: int) -> int:
    """The card's max_words: 90% of the file's texts are this short, within the generator's filter."""
    counts = sorted(len(text.split()) for text in texts)
    p90 = counts[min(len(counts) - 1, int(len(counts) * 0.9))]
    return max(5, min(p90, generate_max_words))


def card_text(name: str, counts: Counter, source: dict[str, str], max_words: int) -> str:
    # Block style, like every free-text field: a description may hold commas and colons unquoted.
    label_lines = "\n".join(f"  {yaml_scalar(label)}: >-   # {count} rows\n"
                            f"    TODO one line on what makes a text {label}"
                            for label, count in counts.most_common())
    source_lines = "\n".join(f"  {key}: {yaml_scalar(value)}" for key, value in source.items())
    return f"""# Task card for `{name}`, written by `synthclf task new`. Replace every TODO (the pipeline refuses
# a card that still has one), then run `synthclf task check {name}`. Free text can go on its own
# line after `>-`, as below, so that commas and colons in it need no quotes.
name: {name}
title: TODO a short title
description: >-
  TODO one sentence on what decides the label
text_kind: TODO what one text is, e.g. support ticket (the prompts use it)
labels:                      # label: one-line description (the prompts use it)
{label_lines}
context_prompt: >-
  TODO the writer's role and setting, e.g. You are a customer writing to an IT help desk.
max_words: {max_words}                 # generated texts' length limit (90% of the file's texts are this short)
subjectivity:
  level: TODO a whole number, 1 (the label follows from clear words) to 5 (it depends on the reader)
  basis: >-
    TODO why this level
offline: true
source:
{source_lines}
"""


def add_task_to_params(text: str, name: str, split: dict[str, int]) -> str:
    """params.yaml with `name` appended to `tasks` and a `split.<name>` line, comments untouched.

    Only two lines change; the result is parsed and compared with what was meant, so an unusual
    layout is refused (with the two lines to add by hand) rather than damaged."""
    from synthclf.errors import SynthclfError

    before = yaml.safe_load(text) or {}
    entry = "{" + ", ".join(f"{key}: {value}" for key, value in split.items()) + "}"
    lines = text.splitlines(keepends=True)
    if name not in (before.get("tasks") or []):
        lines = _append_to_tasks(lines, name)
    if name not in (before.get("split") or {}):
        lines = _append_to_split(lines, f"{name}: {entry}")
    after_text = "".join(lines)
    expected = dict(before)
    expected["tasks"] = [*(before.get("tasks") or []), *([] if name in (before.get("tasks") or []) else [name])]
    expected["split"] = {**(before.get("split") or {}), name: (before.get("split") or {}).get(name, split)}
    try:
        after = yaml.safe_load(after_text)
    except yaml.YAMLError:
        after = None
    if after != expected:
        raise SynthclfError(f"params.yaml has a layout this command cannot edit safely; add {name} to `tasks` and "
                            f"the line `{name}: {entry}` under `split` by hand, then rerun with the same arguments")
    return after_text


def _top_level(lines: list[str], key: str) -> int | None:
    return next((i for i, line in enumerate(lines) if re.match(rf"^{key}\s*:", line)), None)


def _block_end(lines: list[str], start: int) -> int:
    """Index after the last indented content line of the block that starts at `start`."""
    end = start + 1
    for i in range(start + 1, len(lines)):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not lines[i][0].isspace():
            break
        end = i + 1
    return end


def _append_to_tasks(lines: list[str], name: str) -> list[str]:
    at = _top_level(lines, "tasks")
    if at is None:
        return lines
    flow = re.match(r"^(tasks\s*:\s*\[)(.*?)(\])(.*)$", lines[at].rstrip("\n"))
    if flow:
        items = flow.group(2).strip()
        lines[at] = f"{flow.group(1)}{items + ', ' if items else ''}{name}{flow.group(3)}{flow.group(4)}\n"
        return lines
    end = _block_end(lines, at)
    items = [line for line in lines[at + 1:end] if line.lstrip().startswith("-")]
    indent = re.match(r"^(\s*)-", items[0]).group(1) if items else "  "
    return [*lines[:end], f"{indent}- {name}\n", *lines[end:]]


def _append_to_split(lines: list[str], entry: str) -> list[str]:
    at = _top_level(lines, "split")
    if at is None:
        return lines
    end = _block_end(lines, at)
    children = [line for line in lines[at + 1:end] if line.strip() and not line.lstrip().startswith("#")]
    indent = re.match(r"^(\s*)", children[0]).group(1) if children else "  "  # the entries' level, not a nested one
    return [*lines[:end], f"{indent}{entry}\n", *lines[end:]]


def new_task(name: str, file: Path, text_column: str, label_column: str, votes_column: str | None,
             encoding: str, params_path: Path) -> None:
    from synthclf.config import load_params
    from synthclf.errors import SynthclfError
    from synthclf.records import atomic_write
    from synthclf.tasks import card_path
    from synthclf.tasks.files import Columns, read_items

    if not NAME_PATTERN.match(name):
        raise SynthclfError(f"task name {name!r}: use lowercase letters, digits and _, starting with a letter "
                            "(e.g. support_tickets)")
    if card_path(name).exists():
        raise SynthclfError(f"task {name!r} already has a card at {card_path(name)}; choose another name, or edit "
                            f"that card and run `synthclf task check {name}`")
    params = load_params(params_path)
    columns = Columns(text_column, label_column, votes_column, text_field="--text-column",
                      label_field="--label-column", votes_field="--votes-column")
    items = read_items(file, columns, encoding)
    counts = Counter(item["label"] for item in items)
    if len(counts) < 2:
        raise SynthclfError(f"{file}: column {label_column!r} holds one label only ({next(iter(counts))!r}); a "
                            "classifier needs at least two: check --label-column, or add texts of the other labels")
    if len(counts) > MAX_LABELS:
        raise SynthclfError(f"{file}: column {label_column!r} holds {len(counts)} different labels (at most "
                            f"{MAX_LABELS}); is it the label column? check --label-column")
    cleaned = clean_like_prepare(name, items)
    split = plan_split(len(cleaned.records), len(counts), params.generate.per_class)
    target = external_dir(name) / Path(file).name
    source = {"kind": "file", "path": target.as_posix(), "text_column": text_column, "label_column": label_column}
    if votes_column:
        source["votes_column"] = votes_column
    if encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        source["encoding"] = encoding
    card = card_text(name, counts, source, word_limit([item["text"] for item in items], params.generate.max_words))
    new_params = add_task_to_params(params_path.read_text(encoding="utf-8"), name, split)
    # Everything checked: now write, each file atomically (data, card, then params).
    if Path(file).resolve() != target.resolve():
        with atomic_write(target, "wb") as handle, Path(file).open("rb") as original:
            shutil.copyfileobj(original, handle)
    with atomic_write(card_path(name)) as handle:
        handle.write(card)
    with atomic_write(params_path) as handle:
        handle.write(new_params)
    shown = ", ".join(f"{label} {count}" for label, count in counts.most_common())
    print(f"task {name}: {len(items)} rows read from {file}; labels: {shown}")
    print(f"  data   {target}  (the fetch@{name} stage depends on {external_dir(name)}/ only)")
    print(f"  card   {card_path(name)}  (fill in every TODO)")
    print(f"  params {params_path}: added to tasks; split.{name}: {split}")
    print(f"next: edit the card, then `synthclf task check {name}`, then `dvc repro`")


# ---------------------------------------------------------------- task check


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def show(self, label: str, value: str) -> None:
        self.lines.append(f"  {label:<15} {value}")


def _distribution(values: list[int]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"min {ordered[0]}, median {statistics.median(ordered):g}, p90 {p90}, max {ordered[-1]}"


SENTENCE_ENCODER_WINDOW = 256   # word pieces the bundled sentence encoders embed (all-MiniLM-L6-v2's max_seq_length)


def _token_counter(params: Any):
    """Tokens as the classifier counts them (the bundled encoder's tokenizer), else a word estimate."""
    if params is not None and params.train.backend != "tfidf_logreg" and params.train.encoder.startswith("bundled:"):
        try:
            from tokenizers import Tokenizer

            from synthclf.assets import minilm_dir

            tokenizer = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            return (lambda texts: [len(encoding.ids) for encoding in tokenizer.encode_batch(texts)]), "tokens"
        except Exception:  # noqa: BLE001 - fall back to the estimate below, and say so
            pass
    return (lambda texts: [int(len(text.split()) * WORDS_PER_TOKEN_ESTIMATE) for text in texts]), "tokens (estimated)"


def _raw_card(path: Path) -> dict:
    from synthclf.config import safe_yaml

    try:
        raw = safe_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return raw if isinstance(raw, dict) else {}


def _file_source(raw: dict):
    """The card's file source, validated on its own (so data can be checked while TODOs remain)."""
    from pydantic import ValidationError

    from synthclf.tasks import FileSource

    if not isinstance(raw.get("source"), dict) or raw["source"].get("kind") != "file":
        return None
    try:
        return FileSource.model_validate(raw["source"])
    except ValidationError:
        return None  # card_problems already names the field


def _load_params_or_problem(params_path: Path, report: Report):
    from synthclf.config import load_params
    from synthclf.errors import SynthclfError

    try:
        return load_params(params_path)
    except SynthclfError as exc:
        report.problems.append(str(exc))
        return None


def _check_params_entry(name: str, params: Any, params_path: Path, report: Report) -> None:
    if params is None:
        return
    if name not in params.tasks:
        report.problems.append(f"{params_path}: tasks does not list {name}; add it there, or dvc repro will not "
                               "run it")
    if name not in params.split:
        report.problems.append(f"{params_path}: no split.{name}; add `{name}: {{train_size: ..., test_size: ..., "
                               "pool_size: ...}` under split")


def _read_data(name: str, raw: dict, report: Report) -> list[dict] | None:
    from synthclf.errors import SynthclfError
    from synthclf.tasks.files import FORMATS, Columns, read_items

    source = _file_source(raw)
    if source is None:
        if isinstance(raw.get("source"), dict) and raw["source"].get("kind") in ("package", "huggingface"):
            report.show("data", f"{raw['source']['kind']} source: fetched by `synthclf fetch --task {name}` "
                                "(this check reads your own files only)")
        return None
    path = Path(source.path)
    report.show("data", f"{path} ({FORMATS.get(path.suffix.lower(), '?')}, {source.encoding})")
    if external_dir(name) not in path.parents:
        report.problems.append(f"source.path {path} is outside {external_dir(name)}/: the fetch@{name} stage "
                               f"depends on that folder only and would miss changes; move the file there "
                               "and update source.path")
    try:
        return read_items(path, Columns(source.text_column, source.label_column, source.votes_column),
                          source.encoding)
    except SynthclfError as exc:
        report.problems.append(str(exc))
        return None


def _check_labels(raw: dict, items: list[dict], report: Report) -> None:
    counts = Counter(item["label"] for item in items)
    total = sum(counts.values())
    report.show("rows", str(total))
    report.show("labels", ", ".join(f"{label} {count} ({count / total:.0%})" for label, count in counts.most_common()))
    if len(counts) < 2:
        report.problems.append(f"the data holds one label only ({next(iter(counts))!r}); add texts of the other "
                               "labels, or check source.label_column")
    card_labels = raw.get("labels")
    if isinstance(card_labels, dict):
        on_card = {str(label) for label in card_labels}
        if set(counts) - on_card:
            report.problems.append(f"labels in the data but not on the card: {sorted(set(counts) - on_card)}; "
                                   "add them under labels")
        if on_card - set(counts):
            report.problems.append(f"labels on the card without data: {sorted(on_card - set(counts))}; remove "
                                   "them, or fix their spelling to match the data")


def _check_lengths(items: list[dict], cleaned: Cleaned, params: Any, report: Report) -> None:
    from synthclf.tasks.prepare import MIN_CHARS

    texts = [record["text"] for record in cleaned.records]
    report.show("chars", _distribution([len(item["text"]) for item in items]))
    report.show("words", _distribution([len(item["text"].split()) for item in items]))
    report.show("prepare drops", f"{cleaned.too_short} under {MIN_CHARS} characters, {cleaned.duplicates} "
                                 f"duplicates, {cleaned.conflicts} rows of texts with conflicting labels")
    if not texts or params is None:
        return
    settings = params.validate_
    too_short = sum(len(text) < settings.min_chars for text in texts)
    long = sum(len(text) > settings.max_chars for text in texts)
    fate = ("kept and truncated for training" if settings.long_texts == "truncate"
            else "quarantined by validate (validate.long_texts: quarantine)")
    report.show("validate", f"{too_short} texts under validate.min_chars ({settings.min_chars}): quarantined where "
                            f"they land in train; {long} over validate.max_chars ({settings.max_chars}): {fate}")
    count_tokens, unit = _token_counter(params)
    # fine-tuning reads train.max_length tokens; a frozen sentence encoder its own window
    window, name = ((params.train.max_length, "train.max_length") if params.train.backend == "transformer"
                    else (SENTENCE_ENCODER_WINDOW, "the frozen encoder's window"))
    cut = [count for count in count_tokens(texts) if count > window]
    report.show("training", f"{len(cut)} of {len(texts)} texts ({len(cut) / len(texts):.0%}) are over "
                            f"{name} ({window} {unit}): the classifier reads their first {window}")
    if settings.long_texts == "quarantine" and long / len(texts) > 1 - settings.min_clean_share:
        report.problems.append(f"{long} of {len(texts)} texts are over validate.max_chars and would be quarantined, "
                               f"more than validate.min_clean_share allows; set validate.long_texts: truncate")


def _check_split(name: str, raw: dict, cleaned: Cleaned, params: Any, report: Report) -> None:
    from synthclf.errors import SynthclfError
    from synthclf.tasks.prepare import stratified_split

    if params is None or name not in params.split or not cleaned.records:
        return
    labels = [str(label) for label in raw["labels"]] if isinstance(raw.get("labels"), dict) else \
        sorted({record["label"] for record in cleaned.records})
    split = params.split[name]
    try:
        train, test, pool = stratified_split(cleaned.records, split, labels, params.seed)
    except SynthclfError as exc:
        report.problems.append(f"split.{name}: {exc}")
        return

    def by_label(rows: list[dict]) -> str:
        counts = Counter(row["label"] for row in rows)
        return f"{len(rows)} (" + ", ".join(f"{label} {counts[label]}" for label in labels) + ")"

    report.show("split", f"train {by_label(train)}, test {by_label(test)}, few-shot pool {by_label(pool)}")
    _show_prompt_cuts(raw, pool, params, report)
    settings = params.validate_
    shares = {label: count / len(train) for label, count in Counter(row["label"] for row in train).items()}
    odd = {label: share for label, share in shares.items()
           if not settings.min_label_share <= share <= settings.max_label_share}
    if odd and not split.balance:
        shown = ", ".join(f"{label} {share:.1%}" for label, share in odd.items())
        report.problems.append(f"label shares in train ({shown}) are outside validate.min_label_share.."
                               f"max_label_share, so validation would fail; set split.{name}.balance: true")
    if len(train) < params.generate.per_class:
        report.problems.append(f"split.{name}.train_size is below generate.per_class; raise it or lower per_class")
    short = [label for label in labels if not any(row["label"] == label for row in pool)]
    if short:
        report.problems.append(f"the few-shot pool has no {short} examples; raise split.{name}.pool_size")
    _check_near_copies(name, train, test, params, report)


def _show_prompt_cuts(raw: dict, pool: list[dict], params: Any, report: Report) -> None:
    """How many few-shot pool texts the prompts will show cut, and to what length (generation cuts a
    shown example to the card's max_words at a word boundary, and further where the context is small)."""
    card_words = raw.get("max_words") if isinstance(raw.get("max_words"), int) else params.generate.max_words
    limit = min(card_words, params.generate.max_words)
    longer = [len(row["text"].split()) for row in pool if len(row["text"].split()) > limit]
    if longer:
        report.show("prompts", f"{len(longer)} of {len(pool)} few-shot pool texts are longer than {limit} words "
                               f"(up to {max(longer)}): prompts show their first {limit} words (cut at a word "
                               "boundary; shorter still where the model's context needs it)")
    else:
        report.show("prompts", f"every few-shot pool text fits the {limit}-word limit: shown whole")


def _check_near_copies(name: str, train: list[dict], test: list[dict], params: Any, report: Report) -> None:
    """Train texts that are near-copies of test texts: validation quarantines them as contamination
    (by shared word n-grams, counted here; its embedding check may hold back a few more)."""
    from synthclf.text.normalize import ngram_index, ngram_share

    settings = params.validate_
    index = ngram_index((row["text"] for row in test), settings.contamination_ngram)
    copies = sum(ngram_share(row["text"], index, settings.contamination_ngram) >= settings.contamination_ngram_share
                 for row in train)
    too_short = sum(len(row["text"]) < settings.min_chars for row in train)
    report.show("near-copies", f"{copies} of {len(train)} train texts share {settings.contamination_ngram_share:.0%} "
                               f"or more of their {settings.contamination_ngram}-word sequences with test texts: "
                               "validation quarantines them")
    clean_share = (len(train) - copies - too_short) / len(train) if train else 0.0
    if clean_share < settings.min_clean_share:
        report.problems.append(f"validation would keep about {clean_share:.0%} of the real train set, below "
                               f"validate.min_clean_share ({settings.min_clean_share:.0%}), and fail: the file holds "
                               "many near-copies (texts that differ only in a number or a name); remove them, or "
                               "raise validate.contamination_ngram_share")


def check_task(name: str, params_path: Path) -> None:
    from synthclf.errors import SynthclfError
    from synthclf.tasks import card_path, card_problems

    report = Report()
    path = card_path(name)
    if not path.exists():
        raise SynthclfError(f"task {name!r}: no card at {path}; create one with "
                            f"`synthclf task new {name} --file PATH --text-column C --label-column L`")
    report.lines.append(f"task {name}: card {path}")
    _card, card_issues = card_problems(path, name)
    report.problems += card_issues
    raw = _raw_card(path)
    params = _load_params_or_problem(params_path, report)
    _check_params_entry(name, params, params_path, report)
    if not external_dir(name).is_dir():
        report.problems.append(f"{external_dir(name)}/ does not exist; create it (the fetch@{name} stage depends "
                               "on it, even when it is empty)")
    items = _read_data(name, raw, report)
    if items:
        cleaned = clean_like_prepare(name, items)
        _check_labels(raw, items, report)
        _check_lengths(items, cleaned, params, report)
        _check_split(name, raw, cleaned, params, report)
    print("\n".join(report.lines))
    if report.problems:
        print(f"problems ({len(report.problems)}):")
        print("\n".join(f"  - {problem}" for problem in report.problems))
        raise SynthclfError(f"task {name}: {len(report.problems)} problem(s), listed above with their fixes; "
                            f"fix them and rerun `synthclf task check {name}`")
    print(f"task {name}: ready; run `dvc repro` (or `synthclf fetch --task {name}` and the other stages)")


# ---------------------------------------------------------------- commands


ParamsOption = Annotated[Path, typer.Option("--params", help="the params file to read and edit")]


@app.command("new")
def new_command(
    name: Annotated[str, typer.Argument(help="the task's name: lowercase letters, digits and _")],
    file: Annotated[Path, typer.Option("--file", help="the labelled data: .csv, .tsv, .jsonl, .json or .parquet")],
    text_column: Annotated[str, typer.Option("--text-column", help="the column holding the texts")],
    label_column: Annotated[str, typer.Option("--label-column", help="the column holding the labels")],
    votes_column: Annotated[str | None, typer.Option("--votes-column",
                                                     help="optional: every annotator's label, as a JSON list")] = None,
    encoding: Annotated[str, typer.Option("--encoding", help="the file's text encoding")] = "utf-8",
    params: ParamsOption = Path("params.yaml"),
) -> None:
    """Write a card (with TODOs to fill) and a params.yaml entry for a task read from a data file."""
    from synthclf.interrupts import guarded

    guarded(lambda: new_task(name, file, text_column, label_column, votes_column, encoding, params))


@app.command("check")
def check_command(name: Annotated[str, typer.Argument(help="the task's name")],
                  params: ParamsOption = Path("params.yaml")) -> None:
    """Check a task's card, params and data together; list every problem with its fix (exit 2)."""
    from synthclf.interrupts import guarded

    guarded(lambda: check_task(name, params))
