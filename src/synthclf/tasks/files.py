"""A user's own data file (CSV, TSV, JSONL, JSON or Parquet), read as text.

Every value is read as the string written in the file: no NA guessing ("NA", "None" and "null"
are texts like any other), no number parsing (a label column of 0/1 stays "0"/"1", and one blank
label cannot turn the others into "1.0"). Problems are reported with the row where they are, so
the user can fix the file: blank texts or labels, bytes that are not in the declared encoding
(with the byte offset), a missing column (naming the card field that points at it), a text too
long to be one document.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from synthclf.errors import SynthclfError

FORMATS = {".csv": "CSV", ".tsv": "TSV", ".jsonl": "JSONL", ".json": "JSON", ".parquet": "Parquet"}
FORMAT_LIST = ".csv, .tsv, .jsonl, .json (an array of objects) or .parquet"
# The classifier reads at most 512 tokens (a few thousand characters); a single "text" of more
# than this is a broken quote or the wrong column, not a document.
MAX_TEXT_CHARS = 200_000
MAX_SHOWN_ROWS = 5


@dataclass(frozen=True)
class Columns:
    """Which columns hold what, and the card field that names each (for error messages)."""

    text: str
    label: str
    votes: str | None = None
    text_field: str = "source.text_column"
    label_field: str = "source.label_column"
    votes_field: str = "source.votes_column"


@dataclass
class Row:
    where: str  # "line 7", "record 3", "row 12": how the user finds it in the file
    values: dict[str, Any]


def check_format(path: str | Path) -> None:
    if Path(path).suffix.lower() not in FORMATS:
        raise SynthclfError(f"{path}: unsupported file type {Path(path).suffix or '(none)'!r}; "
                            f"use {FORMAT_LIST}")


def check_encoding(encoding: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise SynthclfError(f"unknown encoding {encoding!r}; name a Python codec such as utf-8, latin-1 or "
                            "cp1252") from None


def read_items(path: str | Path, columns: Columns, encoding: str = "utf-8") -> list[dict]:
    """Items {"text", "label", "votes"} from the file, every value a string; SynthclfError on any problem."""
    path = Path(path)
    check_format(path)
    check_encoding(encoding)
    if not path.is_file():
        raise SynthclfError(f"{path}: no such file; put the data file there or fix source.path")
    if path.stat().st_size == 0:
        raise SynthclfError(f"{path}: the file is empty; export the data again")
    rows, found = _read_rows(path, encoding)
    _require_columns(path, found, columns)
    if not rows:
        raise SynthclfError(f"{path}: no data rows, only a header; export the data again")
    _reject_blank(path, rows, columns.text, "text", columns.text_field)
    _reject_blank(path, rows, columns.label, "label", columns.label_field)
    _reject_huge(path, rows, columns.text)
    return [{"text": row.values[columns.text], "label": row.values[columns.label].strip(),
             "votes": _votes(path, row, columns) if columns.votes else None} for row in rows]


# ---------------------------------------------------------------- formats


def _read_rows(path: Path, encoding: str) -> tuple[list[Row], list[str]]:
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return _parquet_rows(path)
    text = _decode(path, encoding)
    if suffix in (".csv", ".tsv"):
        return _delimited_rows(path, text, "\t" if suffix == ".tsv" else ",")
    if suffix == ".jsonl":
        return _jsonl_rows(path, text)
    return _json_rows(path, text)


def _decode(path: Path, encoding: str) -> str:
    data = path.read_bytes()
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SynthclfError(
            f"{path}: byte {exc.start} (line {line}, value 0x{data[exc.start]:02x}) is not valid {encoding}; "
            "save the file as UTF-8, or name its encoding on the card (source.encoding: cp1252, latin-1, ...)"
        ) from None
    return text.removeprefix("\ufeff")  # a byte-order mark (Excel) is not part of the first column's name


def _delimited_rows(path: Path, text: str, delimiter: str) -> tuple[list[Row], list[str]]:
    csv.field_size_limit(sys.maxsize)  # long documents are fine; MAX_TEXT_CHARS judges them afterwards
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader, None)
        if not header:
            raise SynthclfError(f"{path}: no header row; the first line must name the columns")
        rows, previous_line = [], reader.line_num
        for record in reader:
            start, previous_line = previous_line + 1, reader.line_num
            if not any(field.strip() for field in record):
                continue  # a blank line between rows
            if len(record) != len(header):
                raise SynthclfError(f"{path}: line {start} has {len(record)} fields, the header has {len(header)}; "
                                    "quote texts that contain the delimiter or a line break")
            rows.append(Row(f"line {start}", dict(zip(header, record, strict=True))))
    except csv.Error as exc:
        raise SynthclfError(f"{path}: line {reader.line_num}: {exc}; check the quoting there") from None
    return rows, header


def _jsonl_rows(path: Path, text: str) -> tuple[list[Row], list[str]]:
    rows, found = [], {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SynthclfError(f"{path}: line {number} is not valid JSON ({exc.msg}); "
                                "each line must be one object {\"text\": ..., \"label\": ...}") from None
        rows.append(_object_row(path, f"line {number}", record))
        found.update(dict.fromkeys(record))
    return rows, list(found)


def _json_rows(path: Path, text: str) -> tuple[list[Row], list[str]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SynthclfError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg}); "
                            "write an array of objects, or one object per line as .jsonl") from None
    if not isinstance(data, list):
        raise SynthclfError(f"{path}: the JSON is a {type(data).__name__}, not an array of records; "
                            "write [{\"text\": ..., \"label\": ...}, ...] or use .jsonl")
    rows = [_object_row(path, f"record {number}", record) for number, record in enumerate(data, start=1)]
    found: dict[str, None] = {}
    for row in rows:
        found.update(dict.fromkeys(row.values))
    return rows, list(found)


def _object_row(path: Path, where: str, record: Any) -> Row:
    if not isinstance(record, dict):
        raise SynthclfError(f"{path}: {where} is a JSON {type(record).__name__}, not an object; "
                            "write one object per record with the text and label as fields")
    return Row(where, {key: _as_text(value) for key, value in record.items()})


def _as_text(value: Any) -> Any:
    """A JSON or Parquet value as the text it stands for: strings as they are, numbers as written,
    lists kept; Parquet's bytes as UTF-8 text, dates and decimals as printed."""
    if value is None or isinstance(value, (str, list)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8")   # UnicodeDecodeError: the caller names the row
    return json.dumps(value, default=str)  # 1 -> "1", 1.5 -> "1.5", true -> "true", a date -> "2024-01-01"


def _column_values(path: Path, table, name: str) -> list[Any]:
    """One Parquet column as Python values; a string column whose bytes are not UTF-8 is one error."""
    try:
        return table.column(name).to_pylist()
    except UnicodeDecodeError:
        raise SynthclfError(f"{path}: column {name!r} is a string column whose bytes are not UTF-8 text; "
                            "export the file again with its texts as UTF-8 strings") from None
    except Exception as exc:  # noqa: BLE001 - damaged column data: pyarrow raises ArrowInvalid, ValueError, ...
        raise SynthclfError(f"{path}: column {name!r} cannot be read ({' '.join(str(exc).split())[:120]}); "
                            "export the file again") from None


def _parquet_rows(path: Path) -> tuple[list[Row], list[str]]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a broken file
        raise SynthclfError(f"{path}: not a readable Parquet file ({' '.join(str(exc).split())[:120]}); "
                            "export it again") from None
    columns = table.column_names
    values = {name: _column_values(path, table, name) for name in columns}
    rows = []
    for index in range(table.num_rows):
        row = {}
        for name in columns:
            try:
                row[name] = _as_text(values[name][index])
            except UnicodeDecodeError:
                raise SynthclfError(f"{path}: row {index + 1}: column {name!r} holds bytes that are not UTF-8 "
                                    "text; store the texts as strings (UTF-8) and export again") from None
        rows.append(Row(f"row {index + 1}", row))
    return rows, columns


# ---------------------------------------------------------------- checks


def _require_columns(path: Path, found: list[str], columns: Columns) -> None:
    wanted = [(columns.text, columns.text_field), (columns.label, columns.label_field)]
    if columns.votes:
        wanted.append((columns.votes, columns.votes_field))
    for column, field in wanted:
        if column not in found:
            if len(found) == 1 and any(mark in found[0] for mark in ";|\t"):
                mark = next(mark for mark in ";|\t" if mark in found[0])
                raise SynthclfError(f"{path}: the header {found[0]!r} is one column: the file separates columns "
                                    f"with {mark!r}, not commas; save it as CSV with commas (or tabs, as .tsv)")
            extra = " or remove it (votes are optional)" if field == columns.votes_field else ""
            raise SynthclfError(f"{path}: no column {column!r} (named by {field}); the columns are {found}; "
                                f"set {field} to one of them{extra}")


def _rows_text(rows: list[Row]) -> str:
    shown = ", ".join(row.where for row in rows[:MAX_SHOWN_ROWS])
    return shown + (f" and {len(rows) - MAX_SHOWN_ROWS} more" if len(rows) > MAX_SHOWN_ROWS else "")


def _reject_blank(path: Path, rows: list[Row], column: str, what: str, field: str) -> None:
    blank = [row for row in rows if not isinstance(row.values.get(column), str) or not row.values[column].strip()]
    if blank:
        raise SynthclfError(f"{path}: blank {what} ({column!r}) at {_rows_text(blank)}; "
                            f"fill in the {what} or delete those rows")


def _reject_huge(path: Path, rows: list[Row], column: str) -> None:
    huge = [row for row in rows if len(row.values[column]) > MAX_TEXT_CHARS]
    if huge:
        size = len(huge[0].values[column])
        raise SynthclfError(f"{path}: a text of {size:,} characters at {_rows_text(huge)} (the limit is "
                            f"{MAX_TEXT_CHARS:,}); check the quoting there, or split the document into parts")


def _votes(path: Path, row: Row, columns: Columns) -> list[str] | None:
    """Every annotator's label, written as a JSON list (a list already in JSONL/Parquet); blank = none."""
    value = row.values.get(columns.votes)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = None
    if not isinstance(value, list) or not value:
        raise SynthclfError(f"{path}: {row.where}: {columns.votes!r} is not a JSON list of labels such as "
                            "[\"urgent\", \"routine\"]; fix it there, or remove source.votes_column from the card")
    return [str(vote) if not isinstance(vote, str) else vote for vote in value]
