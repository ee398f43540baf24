"""Property-based tests of every reader a user feeds: whatever the input, it loads or it is the
project's one-line error, and nothing is written.

Readers: params.yaml (`load_params`), task cards (`card_problems`, `load_card`), the user's data files
(CSV/TSV/JSONL/JSON/Parquet through the `fetch` stage, then `prepare` on what fetch accepted, and
through `task new`), and profiles (scripts/profile_overrides.py, which merges and validates one).
Inputs start from valid files and are mutated (random keys, types, values, nesting, YAML oddities,
encodings, bytes, quoting, columns, labels, votes), so most examples reach deep into validation
instead of stopping at the first syntax error.

The property, for each input: the reader returns, or raises SynthclfError whose message is one line;
no other exception; on error no file appears or changes in the project.

Examples per reader: QUICK in the quick loop (`-m "not slow"`), MANY in the slow run (10,000 across
the readers). Failures hypothesis found are kept as @example regression cases. To hunt without
minutes of shrinking: `pytest tests/test_fuzz_readers.py --hypothesis-profile=no-shrink`.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from synthclf.config import load_params
from synthclf.errors import SynthclfError

REPO = Path(__file__).resolve().parents[1]
QUICK = 75      # per reader in the quick loop: 300 inputs, a few seconds
# per reader in the slow run: 10,000 inputs, about 3 minutes of one core (about 18, 11, 24 and 22 ms an input)
MANY = {"params": 2500, "card": 3000, "data": 2500, "profile": 2000}
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))

CARD = {
    "name": "tickets", "title": "Support ticket urgency",
    "description": "Decide whether a support ticket needs action now.", "text_kind": "support ticket",
    "labels": {"urgent": "the customer cannot work until this is fixed",
               "routine": "a request that can wait for the normal queue"},
    "context_prompt": "You are a customer writing to an IT help desk.", "max_words": 40,
    "subjectivity": {"level": 2, "basis": "urgency is usually stated in clear words"},
    "offline": True,
    "source": {"kind": "file", "path": "data/external/tickets/tickets.csv", "text_column": "text",
               "label_column": "label"},
}
PACKAGE_CARD = yaml.safe_load((REPO / "src/synthclf/tasks/cards/sms_spam.yaml").read_text(encoding="utf-8"))


def fuzz(examples: int):
    """Hypothesis settings of a fuzz test: no deadline (a busy shared machine), no example database
    in the repository (a failure prints its reproduction blob instead)."""
    return settings(max_examples=examples, deadline=None, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


def quick_and_many(test, strategy, regressions=(), *, many: int):
    """Two tests from one body: QUICK examples in the quick loop, MANY in the slow run; both first
    run the `regressions`, inputs that once broke a reader (kept as hypothesis @example cases)."""
    def build(examples: int):
        wrapped = given(case=strategy)(test)
        for case in regressions:
            wrapped = example(case=case)(wrapped)
        return fuzz(examples)(wrapped)

    return build(QUICK), pytest.mark.slow(build(many))


# ---------------------------------------------------------------- the property


def snapshot(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


def assert_one_line(error: SynthclfError) -> None:
    message = str(error)
    assert message.strip(), "an empty error message"
    assert "\n" not in message and "\r" not in message, f"not one line: {message!r}"


@contextlib.contextmanager
def project_dir(cards: Path | None = None):
    """A throwaway project folder as the working directory (cards from `cards` when given)."""
    old_cwd = os.getcwd()
    old_cards = os.environ.get("SYNTHCLF_CARDS_DIR")
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        root = Path(folder)
        os.chdir(root)
        if cards is not None:
            os.environ["SYNTHCLF_CARDS_DIR"] = str(cards)
        try:
            yield root
        finally:
            os.chdir(old_cwd)
            if old_cards is None:
                os.environ.pop("SYNTHCLF_CARDS_DIR", None)
            else:
                os.environ["SYNTHCLF_CARDS_DIR"] = old_cards


# ---------------------------------------------------------------- values and mutations

# Text a user may type: any printable or control character, never a lone surrogate (no file holds one
# as text; JSON escapes that decode to one are generated separately, as raw JSON).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
KEY = st.one_of(st.sampled_from(["tasks", "train", "llm", "generate", "validate", "split", "seed", "labels",
                                 "source", "kind", "path", "name", "text", "label", "votes", "encoding",
                                 "epochs", "per_class", "settings", "sizes", "level", "basis", "model"]),
                TEXT)
SCALAR = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-3, 3),
                   st.floats(allow_nan=True, allow_infinity=True), TEXT,
                   st.sampled_from(["0", "1", "yes", "no", "null", "~", "NaN", ".inf", "-1", "1e309", "",
                                    " ", "TODO", "zero_shot", "few_shot", "real", "bundled:nope", "tickets",
                                    "sms_spam", "utf-8", "utf-16", "latin-1", "x" * 300]))
VALUE = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(KEY, inner, max_size=4)), max_leaves=12)


def paths_of(data, prefix=()):
    """Every key path in nested dicts/lists (lists by index)."""
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += paths_of(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            found += paths_of(value, (*prefix, index))
    return found


def apply_mutation(data, path, action, value):
    """Set, delete or wrap the value at `path` (or add `value` under a new key beside it)."""
    *parents, last = path
    node = data
    for key in parents:
        node = node[key]
    if action == "set":
        node[last] = value
    elif action == "delete":
        del node[last]
    elif action == "wrap":
        node[last] = [node[last]] if not isinstance(node[last], list) else {"x": node[last]}
    elif action == "add" and isinstance(node, dict):
        node[value if isinstance(value, str) else str(value)] = node[last]


@st.composite
def mutated(draw, base, max_mutations=3):
    data = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(0, max_mutations))):
        paths = paths_of(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["set", "set", "set", "delete", "wrap", "add"]))
        apply_mutation(data, path, action, draw(VALUE))
    return data


# YAML a user can type that parses into more than plain mappings: anchors, tags, odd scalars, layout.
YAML_SNIPPETS = [
    "&a x", "*a", "*nope", "!!binary aGVsbG8=", "!!set {a, b}", "!!timestamp 2024-01-01", "2024-01-01",
    "!!python/object:object {}", "!!float nan", "!!int 0x1F", "0o17", "1_000", ".NaN", "-.inf", "~",
    "? [a, b]\n: c", "{a: 1, a: 2}", "[[[[[[]]]]]]", "{", "]", "'unclosed", "\"bad \\q escape\"", "|\n  block",
    ">-\n  folded", "- a\n- b", "\t", "\x00", "\ufeff", "%YAML 1.1\n---", "--- \n...", "#", "key: value: more",
    "<<: {a: 1}", "!custom x", "\x85", "\u2028", "@x", "`x", "a\r\nb", "&a [*a]",
]


@st.composite
def yaml_text(draw, base):
    """A valid file with its values mutated, then (sometimes) its text edited with YAML oddities."""
    data = draw(mutated(base))
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=draw(st.booleans()))
    for _ in range(draw(st.integers(0, 2))):
        lines = text.split("\n")
        at = draw(st.integers(0, len(lines) - 1))
        snippet = draw(st.one_of(st.sampled_from(YAML_SNIPPETS), TEXT))
        how = draw(st.sampled_from(["append", "replace", "insert", "indent"]))
        if how == "append":
            lines[at] += " " + snippet
        elif how == "replace":
            key = lines[at].split(":", 1)[0]
            lines[at] = f"{key}: {snippet}" if ":" in lines[at] else snippet
        elif how == "insert":
            lines.insert(at, snippet)
        else:
            lines[at] = "   " + lines[at]
        text = "\n".join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]))
    raw = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 9)) == 0:
        raw = corrupt(draw, raw)
    return raw


def corrupt(draw, raw: bytes) -> bytes:
    """Flip, insert, delete or truncate a few bytes."""
    data = bytearray(raw)
    for _ in range(draw(st.integers(1, 3))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        how = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if how == "flip":
            data[at] = draw(st.integers(0, 255))
        elif how == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        elif how == "delete":
            del data[at]
        else:
            del data[at:]
    return bytes(data)


# ---------------------------------------------------------------- params.yaml


def check_params(case: bytes) -> None:
    with project_dir() as root:
        (root / "params.yaml").write_bytes(case)
        before = snapshot(root)
        try:
            params = load_params(root / "params.yaml")
        except SynthclfError as error:
            assert_one_line(error)
        else:
            assert params.tasks and set(params.tasks) <= set(params.split)
        assert snapshot(root) == before


PARAMS_REGRESSIONS = [
    "seed: 0\n".encode("utf-16"),            # UTF-16 with its BOM: a UnicodeDecodeError escaped load_params
    b"seed: 0\ntasks: [caf\xe9]\n",           # latin-1 bytes
    b"seed: !!timestamp 2024-01-01 &a x\n",    # PyYAML raised AttributeError on a bad explicit timestamp
    b"seed: !!timestamp 2024-13-45\n",          # ... and ValueError on an impossible date
    b'train:\n  epochs: 3\n  "2\\n": 1\n',          # a key with a line break: the error spanned two lines
    b"tasks: &a [*a]\n",                       # a list that contains itself
]
test_params_yaml_loads_or_is_one_error, test_params_yaml_loads_or_is_one_error_many = quick_and_many(
    check_params, yaml_text(PARAMS), PARAMS_REGRESSIONS, many=MANY["params"])


# ---------------------------------------------------------------- task cards


def check_card(case: tuple[bytes, str]) -> None:
    raw, name = case
    with tempfile.TemporaryDirectory() as cards_folder, project_dir(Path(cards_folder)) as root:
        cards = Path(cards_folder)
        (cards / f"{name}.yaml").write_bytes(raw)
        before = snapshot(root), snapshot(cards)
        from synthclf.tasks import card_problems, load_card

        card, problems = card_problems(cards / f"{name}.yaml", name)
        assert (card is None) == bool(problems)
        for problem in problems:
            assert_one_line(SynthclfError(problem))
        try:
            loaded = load_card(name)
        except SynthclfError as error:
            assert_one_line(error)
            assert problems, "load_card refused a card that card_problems passed"
        else:
            assert not problems and loaded.name == name and len(loaded.labels) >= 2
        assert (snapshot(root), snapshot(cards)) == before


CARD_REGRESSIONS = [(b"name: tickets\nmax_words: !!timestamp 2024-01-01 &a x\n", "tickets")]
test_task_card_loads_or_is_one_error, test_task_card_loads_or_is_one_error_many = quick_and_many(
    check_card,
    st.tuples(st.one_of(yaml_text(CARD), yaml_text(PACKAGE_CARD)), st.sampled_from(["tickets", "sms_spam"])),
    CARD_REGRESSIONS, many=MANY["card"])


# ---------------------------------------------------------------- the user's data files

LABELS = st.one_of(st.sampled_from(["urgent", "routine", " urgent", "Urgent", "0", "1", "", "yes"]), TEXT)
CELL = st.one_of(TEXT, st.sampled_from(["", " ", "NA", "null", "None", "\"", "'", ",", "\t", "\n", "\r\n",
                                        "a,b", "[\"urgent\", \"routine\"]", "[]", "[1, 2]", "{}", "x" * 5000]),
                 st.integers(), st.floats(), st.none(), st.booleans(),
                 st.lists(st.one_of(LABELS, st.integers(), st.none()), max_size=4),
                 st.dictionaries(TEXT, TEXT, max_size=2))
COLUMN = st.one_of(st.sampled_from(["text", "label", "votes", "Text", "text ", ""]), TEXT)


@st.composite
def table(draw):
    """Rows of a user's export: mostly text and label (and votes), with odd cells and columns."""
    columns = ["text", "label"]
    if draw(st.booleans()):
        columns.append("votes")
    columns += draw(st.lists(COLUMN, max_size=2))
    if draw(st.integers(0, 5)) == 0:
        columns = draw(st.permutations(columns))
    rows = []
    for index in range(draw(st.integers(0, 24))):
        row = {}
        for column in columns:
            if column == "text" and draw(st.integers(0, 3)):
                row[column] = f"Ticket {index}: " + draw(TEXT)
            elif column == "label" and draw(st.integers(0, 3)):
                row[column] = draw(st.sampled_from(["urgent", "routine"]))
            elif column == "votes" and draw(st.integers(0, 2)):
                row[column] = draw(st.lists(st.sampled_from(["urgent", "routine"]), min_size=1, max_size=5))
            else:
                row[column] = draw(CELL)
        if draw(st.integers(0, 15)) == 0 and row:
            row.pop(draw(st.sampled_from(sorted(row, key=str))))
        rows.append(row)
    return columns, rows


def as_cell(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


@st.composite
def delimited(draw, columns, rows, delimiter):
    buffer = io.StringIO()
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC, "naive"]))
    if quoting == "naive":   # joined by hand, as some exports do: delimiters and quotes left in texts
        lines = [delimiter.join(columns)] + [delimiter.join(as_cell(row.get(c, "")) for c in columns) for row in rows]
        return draw(st.sampled_from(["\n", "\r\n", "\r"])).join(lines)
    writer = csv.writer(buffer, delimiter=delimiter, quoting=quoting,
                        lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(columns)
    for row in rows:
        writer.writerow([as_cell(row.get(column, "")) for column in columns])
    return buffer.getvalue()


@st.composite
def parquet_bytes(draw, columns, rows):
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays, names = [], []
    for column in dict.fromkeys(columns):
        values = [row.get(column) for row in rows]
        kind = draw(st.sampled_from(["as_is", "string", "binary", "int", "float", "date", "dictionary", "null"]))
        try:
            if kind == "string":
                array = pa.array([None if v is None else as_cell(v) for v in values], pa.string())
            elif kind == "binary":
                array = pa.array([None if v is None else as_cell(v).encode() for v in values], pa.binary())
            elif kind == "int":
                array = pa.array([draw(st.integers(-2**63, 2**63 - 1)) for _ in values], pa.int64())
            elif kind == "float":
                array = pa.array([draw(st.floats()) for _ in values], pa.float64())
            elif kind == "date":
                array = pa.array([draw(st.dates()) for _ in values], pa.date32())
            elif kind == "dictionary":
                array = pa.array([None if v is None else as_cell(v) for v in values]).dictionary_encode()
            elif kind == "null":
                array = pa.nulls(len(values))
            else:
                array = pa.array(values)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            array = pa.array([None if v is None else as_cell(v) for v in values], pa.string())
        arrays.append(array)
        names.append(column)
    buffer = io.BytesIO()
    try:
        pq.write_table(pa.table(arrays, names=names), buffer)
    except pa.ArrowException:   # a type Parquet cannot store (an empty struct): the same cells as text
        buffer = io.BytesIO()
        pq.write_table(pa.table([pa.array([None if v is None else as_cell(v) for v in (row.get(c) for row in rows)],
                                          pa.string()) for c in names], names=names), buffer)
    return buffer.getvalue()


@st.composite
def data_file(draw):
    """(file name, bytes, card source fields): one of the five formats, in some encoding, maybe damaged."""
    columns, rows = draw(table())
    kind = draw(st.sampled_from(["csv", "tsv", "jsonl", "json", "parquet"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]))
    if kind in ("csv", "tsv"):
        raw = draw(delimited(columns, rows, "," if kind == "csv" else "\t")).encode(encoding, errors="replace")
    elif kind == "jsonl":
        lines = [json.dumps(row, ensure_ascii=draw(st.booleans())) for row in rows]
        if draw(st.integers(0, 7)) == 0:
            lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(
                ["[1, 2]", "\"text\"", "null", "{\"text\": \"\\ud800\", \"label\": \"urgent\"}", "", "{", "1e999"])))
        raw = "\n".join(lines).encode(encoding, errors="replace")
    elif kind == "json":
        data = rows if draw(st.integers(0, 7)) else draw(VALUE)
        raw = json.dumps(data, ensure_ascii=draw(st.booleans())).encode(encoding, errors="replace")
    else:
        raw = draw(parquet_bytes(columns, rows))
    if draw(st.integers(0, 7)) == 0:
        raw = corrupt(draw, raw)
    source = {"text_column": draw(st.one_of(st.just("text"), COLUMN)),
              "label_column": draw(st.one_of(st.just("label"), COLUMN))}
    if "votes" in columns and draw(st.booleans()):
        source["votes_column"] = "votes"
    declared = draw(st.sampled_from(["utf-8", "utf-8", encoding, "latin-1", "utf-16", "ascii"]))
    if declared != "utf-8":
        source["encoding"] = declared
    labels = draw(st.sampled_from([["urgent", "routine"], ["urgent", "routine", "later"], ["urgent", "0"]]))
    return f"tickets.{kind}", raw, source, labels


def write_project(root: Path, name: str, raw: bytes, source: dict, labels: list[str]) -> Path:
    cards = root / "cards"
    cards.mkdir()
    card = json.loads(json.dumps(CARD))
    card["labels"] = {label: f"a {label} ticket" for label in labels}
    card["source"] = {"kind": "file", "path": f"data/external/tickets/{name}", **source}
    (cards / "tickets.yaml").write_text(yaml.safe_dump(card, sort_keys=False), encoding="utf-8")
    (root / "data/external/tickets").mkdir(parents=True)
    (root / "data/external/tickets" / name).write_bytes(raw)
    # the sections prepare and `task new` read; every other one at its default (a small file parses fast)
    (root / "params.yaml").write_text("tasks: [tickets]\n"
                                      "split:\n  tickets: {train_size: 6, test_size: 4, pool_size: 2}\n"
                                      "sources: [real]\n", encoding="utf-8")
    return cards


def check_data_file(case) -> None:
    """fetch reads the file (and prepare what fetch accepted); `task new` reads it too."""
    from synthclf.tasks import fetch, prepare
    from synthclf.tasks.authoring import new_task

    name, raw, source, labels = case
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        cards = write_project(root, name, raw, source, labels)
        with project_dir(cards) as _, contextlib.redirect_stdout(io.StringIO()):
            os.chdir(root)
            before = snapshot(root)
            try:
                fetch.run("tickets")
            except SynthclfError as error:
                assert_one_line(error)
                assert snapshot(root) == before
                fetched = False
            else:
                items = [json.loads(line) for line in (root / "data/raw/tickets/items.jsonl").read_text("utf-8")
                         .splitlines()]
                assert items and all(isinstance(item["text"], str) and item["text"].strip() for item in items)
                assert {item["label"] for item in items} == set(labels)
                fetched = True
            if fetched:
                before = snapshot(root)
                try:
                    prepare.run(load_params(root / "params.yaml"), "tickets")
                except SynthclfError as error:
                    assert_one_line(error)
                    assert snapshot(root) == before
                else:
                    assert (root / "data/prepared/tickets/test.jsonl").is_file()
            before = snapshot(root)
            try:
                new_task("fresh", root / "data/external/tickets" / name, source["text_column"], source["label_column"],
                         source.get("votes_column"), source.get("encoding", "utf-8"), root / "params.yaml")
            except SynthclfError as error:
                assert_one_line(error)
                assert snapshot(root) == before
            else:
                assert (cards / "fresh.yaml").is_file() and "fresh" in (root / "params.yaml").read_text("utf-8")


def parquet_of(**columns) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(pa.table(columns), buffer)
    return buffer.getvalue()


DATA_REGRESSIONS = [
    # a binary Parquet column: json.dumps(bytes) raised TypeError; UTF-8 bytes are text, others one error
    ("tickets.parquet", parquet_of(text=[b"Server down", b"Update my address"], label=["urgent", "routine"]),
     {"text_column": "text", "label_column": "label"}, ["urgent", "routine"]),
    ("tickets.parquet", parquet_of(text=[b"\xff\xfe", b"ok"], label=["urgent", "routine"]),
     {"text_column": "text", "label_column": "label"}, ["urgent", "routine"]),
    # a string column whose bytes are not UTF-8 (found by the slow run): pyarrow's to_pylist raised
    ("tickets.parquet", (Path(__file__).parent / "fuzz_regressions" / "string_column_not_utf8.parquet").read_bytes(),
     {"text_column": "text", "label_column": "label"}, ["urgent", "routine"]),
]
test_data_file_loads_or_is_one_error, test_data_file_loads_or_is_one_error_many = quick_and_many(
    check_data_file, data_file(), DATA_REGRESSIONS, many=MANY["data"])


# ---------------------------------------------------------------- profiles


def check_profile(case: bytes) -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import profile_overrides
    finally:
        sys.path.remove(str(REPO / "scripts"))
    with project_dir() as root:
        (root / "profile.yaml").write_bytes(case)
        (root / "params.yaml").write_bytes((REPO / "params.yaml").read_bytes())
        before = snapshot(root)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = profile_overrides.main([str(root / "profile.yaml"), "--params", str(root / "params.yaml")])
        if code == 0:
            assert out.getvalue().startswith("-S ") and not err.getvalue()
        else:
            lines = err.getvalue().splitlines()
            assert code == 2 and len(lines) == 1 and lines[0].startswith("error: "), err.getvalue()
        assert snapshot(root) == before


PROFILES = [yaml.safe_load((REPO / "profiles" / name).read_text("utf-8")) for name in ("light.yaml", "paper.yaml")]
PROFILE_REGRESSIONS = [
    "tasks: [sms_spam]\n".encode("utf-16"),   # a UnicodeDecodeError escaped load_profile
    b"seed: !!timestamp 2024-01-01 &a x\n",    # PyYAML's AttributeError
    b"tasks: &a [*a]\n",                       # a list that contains itself: RecursionError in the overrides
    b"train: &a {x: *a}\n",                    # ... a mapping that does
    b"1: 2\n",                                 # a key that is not text
]
test_profile_loads_or_is_one_error, test_profile_loads_or_is_one_error_many = quick_and_many(
    check_profile, st.one_of(*(yaml_text(profile) for profile in PROFILES)), PROFILE_REGRESSIONS,
    many=MANY["profile"])


# ---------------------------------------------------------------- the property can fail


def test_the_property_fails_on_a_traceback_a_long_message_or_a_written_file(monkeypatch):
    """A reader that raises anything but SynthclfError, or a message of two lines, or writes a file,
    fails the property (checked with a stand-in for load_params)."""
    module = sys.modules[__name__]
    valid = (REPO / "params.yaml").read_bytes()
    check_params(valid)

    def crash(path):
        raise KeyError("tasks")

    def two_lines(path):
        raise SynthclfError("params.yaml: bad\nvery bad")

    def writes(path):
        Path(path).with_name("params.lock").write_text("x", encoding="utf-8")
        raise SynthclfError("params.yaml: bad")

    monkeypatch.setattr(module, "load_params", crash)
    with pytest.raises(KeyError):
        check_params(valid)
    for reader in (two_lines, writes):
        monkeypatch.setattr(module, "load_params", reader)
        with pytest.raises(AssertionError):
            check_params(valid)
