"""Stage `validate`: check a task's datasets (real, zero_shot, few_shot) with Great Expectations.

The stage runs per task (`synthclf validate --task T`: real data, then every generation setting;
`--source S` checks one). For each dataset it reads the dataset (`paths.dataset_to_validate`), the
real test set (contamination) and the real train set (the diversity reference), runs the rows suite
and the dataset suite (see suite.py), and writes:

- `paths.quarantine_file`: every flagged row with its `reasons` and `row_index` (plus, for
  contamination, the nearest test item's id, cosine and n-gram share); always written, maybe empty;
- `paths.validation_docs_dir`: Great Expectations Data Docs for this run (always written);
- `paths.metrics_file("validate", task, source)`: the summary (always written) — `success`,
  per-expectation results, row counts by reason, the `diversity` block and the `long_texts` block
  (texts over validate.max_chars: kept and truncated for training, or quarantined; see settings/validate.py);
- `paths.validated_file`: the clean rows — written **only when validation succeeds**.

Policy (params `validate.policy`): under `fail` any failed expectation fails the stage; under
`quarantine` only dataset-level expectations do, and flagged rows are simply held back. A failed
run still writes the report outputs above, so the user can inspect what went wrong (as GX
checkpoints and dbt tests do), but it removes any validated file left from an earlier run, so
`train` can never read data that the current rules reject; the stage then exits with code 2.
Every file is written atomically; the docs directory is built in a temporary sibling and renamed
(records.atomic_directory).
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from synthclf import paths
from synthclf.config import Params
from synthclf.errors import SynthclfError
from synthclf.metrics import DIVERSITY_KEYS, ValidateSummary, write_metrics
from synthclf.records import atomic_directory, read_jsonl, write_jsonl
from synthclf.settings.validate import ValidationParams
from synthclf.tasks import load_card
from synthclf.text.diversity import diversity_measures, size_matched_reference
from synthclf.text.embeddings import embed_texts
from synthclf.validation.datacard import write_data_card
from synthclf.validation.features import RECORD_COLUMNS, validation_frame
from synthclf.validation.suite import Outcome, SuiteRunner, dataset_checks, row_checks

REFERENCE_DRAWS = 3


@dataclass
class Inputs:
    records: list[dict]
    test: list[dict]
    real_train: list[dict]


@dataclass
class RowSplit:
    clean: list[dict]
    quarantined: list[dict]
    reasons: dict[int, list[str]]


def _objects_only(records: list[Any], path: Path) -> list[dict]:
    for number, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise SynthclfError(f"{path}: record {number} is a JSON {type(record).__name__}, not an object; "
                                "each line must be one record {\"id\": ..., \"text\": ..., \"label\": ...}")
    return records


def load_inputs(task: str, source: str) -> Inputs:
    dataset_path = paths.dataset_to_validate(task, source)
    records = _objects_only(read_jsonl(dataset_path), dataset_path)
    test = read_jsonl(paths.prepared_split(task, "test"))
    real_train = records if source == paths.REAL else read_jsonl(paths.prepared_split(task, "train"))
    return Inputs(records=records, test=test, real_train=real_train)


def texts_of(records: Sequence[dict]) -> list[str]:
    return [record["text"] for record in records if isinstance(record.get("text"), str)]


def contamination_evidence(frame: pd.DataFrame, index: int) -> dict[str, Any]:
    """Which real test item a contaminated row resembles, so a reviewer can compare the two."""
    evidence = {"nearest_test_id": frame.at[index, "_nearest_test_id"],
                "nearest_test_cosine": _finite(float(frame.at[index, "_nearest_test_cosine"])),
                "test_ngram_share": _finite(float(frame.at[index, "_test_ngram_share"]))}
    return {"contamination": evidence}


def split_rows(records: Sequence[dict], outcomes: Sequence[Outcome], frame: pd.DataFrame) -> RowSplit:
    """Rows flagged by any row-level check go to quarantine with every reason that flagged them."""
    reasons: dict[int, list[str]] = {}
    for outcome in outcomes:
        if outcome.level == "row":
            for index in outcome.unexpected_rows:
                reasons.setdefault(index, []).append(outcome.name)
    clean = [record for index, record in enumerate(records) if index not in reasons]
    quarantined = []
    for index in sorted(reasons):
        row = {**records[index], "reasons": reasons[index], "row_index": index}
        if any(reason.startswith("contamination") for reason in reasons[index]):
            row.update(contamination_evidence(frame, index))
        quarantined.append(row)
    return RowSplit(clean=clean, quarantined=quarantined, reasons=reasons)


def contract_frame(records: Sequence[dict]) -> pd.DataFrame:
    """The clean rows' contract columns, the table the dataset suite checks."""
    frame = pd.DataFrame.from_records(list(records)) if records else pd.DataFrame(columns=list(RECORD_COLUMNS))
    return frame[[column for column in RECORD_COLUMNS if column in frame.columns]].reset_index(drop=True)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    return value


def _ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or reference == 0:
        return None
    return round(value / reference, 6)


def real_reference(real_texts: list[str], size: int, settings: ValidationParams) -> dict[str, Any]:
    """The real train set's measures on random subsets of `size` texts (the clean set's size):
    Chamfer, distinct-n and top-k similarity depend on set size, so only like-sized sets compare."""
    if len(real_texts) < 2:
        raise SynthclfError("the real training set has fewer than two texts; the diversity reference needs it "
                            "(run `synthclf prepare` first)")
    measured = size_matched_reference(real_texts, embed_texts(real_texts), max(size, 2), draws=REFERENCE_DRAWS,
                                      seed=settings.reference_seed, distance=settings.distance,
                                      k=settings.similarity_top_k)
    return {key: _finite(value) for key, value in measured.items()}


def diversity_block(clean_texts: list[str], real_texts: list[str], reference: dict[str, Any] | None,
                    settings: ValidationParams) -> dict[str, Any]:
    """The study's measures for the clean rows, the real reference and their ratios.

    reference=None means the dataset is the real one: it is its own reference (similarity to real
    leaves each text's own match out) and every ratio is 1 by definition.
    """
    options = {"distance": settings.distance, "k": settings.similarity_top_k}
    embeddings = embed_texts(clean_texts)
    real_embeddings = None if reference is None else embed_texts(real_texts)
    measured = {key: _finite(value) for key, value in
                diversity_measures(clean_texts, embeddings, real_embeddings, **options).items()}
    if reference is None:
        return {**measured, "real": dict(measured),
                "ratio": {key: None if measured[key] is None else 1.0 for key in DIVERSITY_KEYS}}
    return {**measured, "real": reference,
            "ratio": {key: _ratio(measured[key], reference[key]) for key in DIVERSITY_KEYS}}


def expectation_entry(outcome: Outcome, gating: bool) -> dict[str, Any]:
    entry = {"success": outcome.success, "level": outcome.level, "gating": gating,
             "observed": outcome.observed if outcome.observed is not None else outcome.unexpected_rate,
             "unexpected_count": outcome.unexpected_count, "error": outcome.error}
    return {key: value for key, value in entry.items() if value is not None or key == "observed"}


def is_gating(outcome: Outcome, policy: str) -> bool:
    """Under quarantine, row-level checks filter rows instead of failing the stage."""
    return policy == "fail" or outcome.level == "dataset"


def build_summary(outcomes: Sequence[Outcome], rows_in: int, split: RowSplit, diversity: dict[str, Any],
                  policy: str) -> dict[str, Any]:
    failed = [outcome.name for outcome in outcomes if not outcome.success and is_gating(outcome, policy)]
    by_reason = Counter(reason for reasons in split.reasons.values() for reason in reasons)
    row_names = [outcome.name for outcome in outcomes if outcome.level == "row"]
    return {
        "success": not failed,
        "failed": failed,
        "expectations": {outcome.name: expectation_entry(outcome, is_gating(outcome, policy)) for outcome in outcomes},
        "counts": {"rows_in": rows_in, "clean": len(split.clean), "quarantined": len(split.quarantined),
                   "by_reason": {name: by_reason.get(name, 0) for name in row_names}},
        "diversity": diversity,
    }


def long_text_block(records: Sequence[dict], settings: ValidationParams, synthetic: bool) -> dict[str, Any]:
    """How many texts are longer than validate.max_chars and what happened to them."""
    lengths = [len(text) for text in texts_of(records)]
    over = sum(length > settings.max_chars for length in lengths)
    action = "quarantined" if synthetic or settings.long_texts == "quarantine" else "kept, truncated for training"
    return {"max_chars": settings.max_chars, "policy": "quarantine" if synthetic else settings.long_texts,
            "over_max_chars": over, "share": round(over / len(lengths), 6) if lengths else 0.0,
            "longest_chars": max(lengths, default=0), "action": action}


def _shorten(text: Any, limit: int = 80) -> str:
    text = repr(text) if not isinstance(text, str) else text
    return text if len(text) <= limit else text[:limit - 1] + "…"


def failure_lines(outcomes: Sequence[Outcome], records: Sequence[dict], policy: str, examples: int) -> list[str]:
    """Each failing gate with its observed value and a few example rows."""
    lines = []
    for outcome in outcomes:
        if outcome.success or not is_gating(outcome, policy):
            continue
        if outcome.error:
            lines.append(f"  FAILED {outcome.name} [{outcome.level}]: could not be evaluated: {outcome.error}")
            continue
        if outcome.unexpected_count is not None:
            observed = f"{outcome.unexpected_count} rows ({(outcome.unexpected_rate or 0):.1%})"
        else:
            observed = f"observed {outcome.observed}"
        lines.append(f"  FAILED {outcome.name} [{outcome.level}]: {observed}")
        for index in outcome.unexpected_rows[:examples]:
            record = records[index]
            lines.append(f"    row {index} id={record.get('id')!r} label={record.get('label')!r}: "
                         f"{_shorten(record.get('text'))}")
    return lines


@dataclass
class SuiteResults:
    outcomes: list[Outcome]
    split: RowSplit
    reference: dict[str, Any] | None


def run_suites(inputs: Inputs, settings: ValidationParams, task: str, source: str, docs_build: Path) -> SuiteResults:
    """Rows suite on the dataset as read, then dataset suite on the rows that survive; Data Docs."""
    card = load_card(task)
    synthetic = source != paths.REAL
    frame = validation_frame(inputs.records, inputs.test, settings.contamination_ngram)
    runner = SuiteRunner(docs_build, f"{task}-{source}")  # GX turns dots in suite names into directories
    row_outcomes = runner.validate("rows", row_checks(settings, card.label_names, task, source, synthetic), frame)
    split = split_rows(inputs.records, row_outcomes, frame)
    reference = real_reference(texts_of(inputs.real_train), len(texts_of(split.clean)), settings) \
        if synthetic else None
    dataset_outcomes = runner.validate(
        "dataset", dataset_checks(settings, card.label_names, len(inputs.records), reference),
        contract_frame(split.clean))
    runner.build_docs()
    return SuiteResults(outcomes=[*row_outcomes, *dataset_outcomes], split=split, reference=reference)


def report_failure(summary: dict, results: SuiteResults, inputs: Inputs, settings: ValidationParams,
                   task: str, source: str) -> SynthclfError:
    """Print every failing gate with examples; return the one-line error the CLI shows."""
    lines = failure_lines(results.outcomes, inputs.records, settings.policy, settings.example_rows)
    print(f"validation of {task}/{source} failed (policy {settings.policy}):", *lines, sep="\n", file=sys.stderr)
    return SynthclfError(f"validation of {task}/{source} failed: {', '.join(summary['failed'])}; "
                         f"see {paths.validation_docs_dir(task, source) / 'index.html'} and "
                         f"{paths.metrics_file('validate', task, source)}")


def run(params: Params, task: str, source: str | None = None) -> None:
    """One source, or (source None: the dvc stage) the real data and every generation setting, in one
    process (Great Expectations and the encoder load once per task). Every source is validated and
    reported before a failure stops the stage."""
    failures = []
    for name in [source] if source else [paths.REAL, *params.generate.settings]:
        try:
            validate_source(params, task, name)
        except SynthclfError as failure:
            failures.append(failure)
    if failures:
        others = f" (and {len(failures) - 1} more source(s) failed: see above)" if len(failures) > 1 else ""
        raise SynthclfError(f"{failures[0]}{others}")


def validate_source(params: Params, task: str, source: str) -> None:
    settings = params.validate_
    inputs = load_inputs(task, source)
    with atomic_directory(paths.validation_docs_dir(task, source)) as docs_build:
        results = run_suites(inputs, settings, task, source, docs_build)
    split = results.split
    diversity = diversity_block(texts_of(split.clean), texts_of(inputs.real_train), results.reference, settings)
    summary = build_summary(results.outcomes, len(inputs.records), split, diversity, settings.policy)
    summary["long_texts"] = long_text_block(inputs.records, settings, source != paths.REAL)
    write_jsonl(paths.quarantine_file(task, source), split.quarantined)
    write_metrics(paths.metrics_file("validate", task, source), summary, ValidateSummary)
    if not summary["success"]:
        paths.validated_file(task, source).unlink(missing_ok=True)  # never leave an older run's rows to train on
        raise report_failure(summary, results, inputs, settings, task, source)
    write_jsonl(paths.validated_file(task, source), split.clean)
    if source != paths.REAL:  # the data card travels with a published synthetic dataset (dvc import / get)
        write_data_card(task, source, split.clean, summary)
    reasons = ", ".join(f"{reason} {count}" for reason, count in summary["counts"]["by_reason"].items() if count)
    print(f"validated {task}/{source}: {len(inputs.records)} rows, {len(split.clean)} clean, "
          f"{len(split.quarantined)} quarantined{f' ({reasons})' if reasons else ''}"
          f"{_long_text_note(summary['long_texts'])}; "
          f"report: {paths.validation_docs_dir(task, source) / 'index.html'}")


def _long_text_note(block: dict[str, Any]) -> str:
    if not block["over_max_chars"] or block["policy"] != "truncate":
        return ""
    return f", {block['over_max_chars']} longer than {block['max_chars']} characters kept (truncated for training)"
