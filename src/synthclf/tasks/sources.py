"""Turn a task's raw files into uniform items: {"text", "label", "votes" (every rater's label or None)}.

One reader per bundled source, plus generic readers for a user's file and a Hugging Face dataset.
Readers see only files under data/raw/<task>/ (what `fetch` extracted), never the network.
"""

from __future__ import annotations

import ast
import bz2
import csv
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

from synthclf.errors import SynthclfError
from synthclf.tasks import TaskCard

Item = dict  # {"text": str, "label": str, "votes": list[str] | None}
Reader = Callable[[Path, TaskCard], Iterator[Item]]

TREC_COARSE = {"ABBR": "abbreviation", "DESC": "description", "ENTY": "entity",
               "HUM": "human", "LOC": "location", "NUM": "numeric"}


def read_items(card: TaskCard, raw_dir: Path) -> list[Item]:
    """All labelled items of a task, read from its extracted raw files."""
    if not raw_dir.exists():
        raise SynthclfError(f"{raw_dir}: missing; run `synthclf fetch --task {card.name}` first")
    kind = card.source.kind
    if kind == "package":
        reader = READERS.get(card.source.reader)
        if reader is None:
            raise SynthclfError(f"task {card.name}: unknown reader {card.source.reader!r}; "
                                f"allowed: {', '.join(sorted(READERS))}")
        items = list(reader(raw_dir, card))
    else:  # huggingface and file sources are stored by fetch as one uniform JSONL
        items = [json.loads(line) for line in (raw_dir / "items.jsonl").open(encoding="utf-8")]
    check_labels(card, items)
    return items


def check_labels(card: TaskCard, items: list[Item]) -> None:
    """The data's labels and the card's labels are the same set (compared as text)."""
    found = {item["label"] for item in items}
    unknown = found - set(card.labels)
    if unknown:
        raise SynthclfError(f"task {card.name}: data has labels {sorted(unknown)} not on the card; "
                            f"add them to the card's labels or map them in the source")
    absent = [label for label in card.labels if label not in found]
    if absent:
        raise SynthclfError(f"task {card.name}: the card's label(s) {absent} have no items in the data; "
                            "add data for them or remove them from the card's labels")


def _member(raw_dir: Path, relative: str) -> Path:
    """A file fetch extracted: data/raw/<task>/<basename of the archive member>."""
    path = raw_dir / Path(relative).name
    if not path.exists():
        raise SynthclfError(f"{path}: missing; rerun `synthclf fetch`")
    return path


def read_trec(raw_dir: Path, card: TaskCard) -> Iterator[Item]:
    # Lines look like "DESC:manner How did serfdom develop in and then leave Russia ?"
    for line in _member(raw_dir, "question_labels.txt").read_text(encoding="latin-1").splitlines():
        tag, _, text = line.partition(" ")
        coarse = tag.split(":", 1)[0]
        if coarse in TREC_COARSE and text.strip():
            yield {"text": text.strip(), "label": TREC_COARSE[coarse], "votes": None}


def read_sms_spam(raw_dir: Path, card: TaskCard) -> Iterator[Item]:
    with _member(raw_dir, "sms-spam.csv").open(encoding="utf-8", errors="replace", newline="") as handle:
        for row in csv.DictReader(handle):
            yield {"text": row["text"], "label": "spam" if row["spam"] == "1" else "ham", "votes": None}


def read_rotten_tomatoes(raw_dir: Path, card: TaskCard) -> Iterator[Item]:
    path = _member(raw_dir, "rotten_tomatoes_corpus.csv.bz2")
    with bz2.open(path, "rt", encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["category"] in ("fresh", "rotten"):  # "plot" rows are synopses, not reviews
                label = "positive" if row["category"] == "fresh" else "negative"
                yield {"text": row["text"], "label": label, "votes": None}


def _sentiment_of(score: float) -> str:
    return "negative" if score < 0 else "positive" if score > 0 else "neutral"


def _read_vader(raw_dir: Path, stem: str) -> Iterator[Item]:
    """VADER ground truth: text from *_GroundTruth.txt, every rater's score from *_anonDataRatings.txt.

    Each rater's score (-4..4) becomes that rater's label by its sign; the item's label is the
    majority label. Ids whose mean score differs between the two files are dropped, because in the
    tweets set about 5% of ids do not line up and their text would get another item's ratings.
    """
    texts: dict[str, tuple[float, str]] = {}
    for line in _member(raw_dir, f"{stem}_GroundTruth.txt").read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) >= 3 and parts[0] != "id":
            texts[parts[0]] = (float(parts[1]), "\t".join(parts[2:]))
    ratings = _member(raw_dir, f"{stem}_anonDataRatings.txt").read_text(encoding="utf-8", errors="replace")
    for line in ratings.splitlines():
        parts = line.split("\t")
        if len(parts) < 4 or parts[0] not in texts:
            continue
        mean, text = texts[parts[0]]
        if abs(mean - float(parts[1])) > 1e-3:
            continue
        votes = [_sentiment_of(score) for score in ast.literal_eval(parts[3])]
        label = max(sorted(set(votes)), key=votes.count)
        yield {"text": text, "label": label, "votes": votes}


def read_vader_tweets(raw_dir: Path, card: TaskCard) -> Iterator[Item]:
    yield from _read_vader(raw_dir, "tweets")


def read_vader_nyt(raw_dir: Path, card: TaskCard) -> Iterator[Item]:
    yield from _read_vader(raw_dir, "nytEditorialSnippets")


def read_seinfeld(raw_dir: Path, card: TaskCard) -> Iterator[Item]:
    """A subtitle line is funny when the next entry of the episode is a **LOL** laugh marker.

    Episode files alternate: "# SPEAKER", then blocks of start time, 1-3 text lines, end time;
    a laugh is a start time, "**LOL**" and an end time.
    """
    corpus = raw_dir / "the_corpus"
    if not corpus.is_dir():
        raise SynthclfError(f"{corpus}: missing; rerun `synthclf fetch --task {card.name}`")
    for episode in sorted(corpus.iterdir()):
        entries = _seinfeld_entries(episode.read_text(encoding="utf-8", errors="ignore").splitlines())
        for index, entry in enumerate(entries):
            if entry is None:
                continue
            funny = index + 1 < len(entries) and entries[index + 1] is None
            yield {"text": entry, "label": "funny" if funny else "not_funny", "votes": None}


_TIME = re.compile(r"^\d+(\.\d+)?$")


def _seinfeld_entries(lines: list[str]) -> list[str | None]:
    """The episode as a list of dialogue texts, with None where the audience laughs."""
    entries: list[str | None] = []
    current: list[str] = []
    for line in lines:
        line = line.strip()
        if line.startswith("#") or _TIME.match(line):
            if current:
                text = " ".join(current)
                entries.append(None if "**LOL**" in text else text)
                current = []
            continue
        if line:
            current.append(line)
    if current:
        text = " ".join(current)
        entries.append(None if "**LOL**" in text else text)
    return entries


READERS: dict[str, Reader] = {
    "trec": read_trec,
    "sms_spam": read_sms_spam,
    "rotten_tomatoes": read_rotten_tomatoes,
    "vader_tweets": read_vader_tweets,
    "vader_nyt": read_vader_nyt,
    "seinfeld": read_seinfeld,
}
