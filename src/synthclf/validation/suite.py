"""The two Great Expectations suites of one validation run, and running them.

- rows suite, on the dataset as read (plus the derived columns of features.py): the schema, and
  every row-level check. A row-level check names the rows it flags (GX `unexpected_index_list`);
  those rows are quarantined under either policy.
- dataset suite, on the clean rows that remain: enough rows survived, every label present, each
  label's share within bounds, and (synthetic sources) diversity relative to the real data.

Each expectation carries `meta.check` (the stable name used in metrics and quarantine reasons) and
`meta.level` (row | dataset). Runs use an ephemeral GX context with progress bars and analytics
off; Data Docs go to a directory the caller chooses.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from synthclf.settings.validate import ValidationParams

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")  # never phone home, before GX is imported

import great_expectations as gx
from great_expectations import expectations as gxe
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

from synthclf.validation import expectations as custom
from synthclf.validation.features import RECORD_COLUMNS

Level = Literal["row", "dataset"]
DOCS_SITE = "synthclf"


@dataclass(frozen=True)
class Check:
    """One expectation with the name and level the rest of the stage knows it by."""

    name: str
    level: Level
    expectation: Any

    def with_meta(self) -> Any:
        self.expectation.meta = {**(self.expectation.meta or {}), "check": self.name, "level": self.level}
        return self.expectation


@dataclass
class Outcome:
    """What one check found."""

    name: str
    level: Level
    success: bool
    observed: Any = None
    unexpected_count: int | None = None
    unexpected_rate: float | None = None
    unexpected_rows: list[int] = field(default_factory=list)
    examples: list[Any] = field(default_factory=list)
    error: str | None = None


def _row(name: str, expectation: Any) -> Check:
    return Check(name, "row", expectation)


def _dataset(name: str, expectation: Any) -> Check:
    return Check(name, "dataset", expectation)


def text_length_check(settings: ValidationParams, synthetic: bool) -> Check:
    """Real texts over max_chars are kept under long_texts: truncate (training reads their start)."""
    if not synthetic and settings.long_texts == "truncate":
        return _row("text_length", gxe.ExpectColumnValueLengthsToBeBetween(
            column="text", min_value=settings.min_chars,
            description=f"text has at least {settings.min_chars} characters (longer than {settings.max_chars} "
                        "is kept and truncated for training)"))
    return _row("text_length", gxe.ExpectColumnValueLengthsToBeBetween(
        column="text", min_value=settings.min_chars, max_value=settings.max_chars,
        description=f"text has {settings.min_chars}-{settings.max_chars} characters"))


def row_checks(settings: ValidationParams, labels: Sequence[str], task: str, source: str,
               synthetic: bool) -> list[Check]:
    """Schema plus every per-row check; duplicates and artifacts tolerate their configured rate."""
    checks = [
        _dataset("schema", gxe.ExpectTableColumnsToMatchSet(
            column_set=list(RECORD_COLUMNS), exact_match=False,
            description=f"Records carry the contract fields {', '.join(RECORD_COLUMNS)}")),
        _row("id_not_null", gxe.ExpectColumnValuesToNotBeNull(column="id", description="Every record has an id")),
        _row("text_not_null", gxe.ExpectColumnValuesToNotBeNull(
            column="_text_type", description="Every record has a text (_text_type is null only where text is)")),
        _row("text_is_string", gxe.ExpectColumnValuesToBeInSet(
            column="_text_type", value_set=["str"], description="text is a string")),
        _row("text_not_blank", gxe.ExpectColumnValuesToNotMatchRegex(
            column="text", regex=r"^\s*$", description="text is not empty or only whitespace")),
        text_length_check(settings, synthetic),
        _row("label_not_null",
             gxe.ExpectColumnValuesToNotBeNull(column="label", description="Every record has a label")),
        _row("label_in_set", gxe.ExpectColumnValuesToBeInSet(
            column="label", value_set=list(labels), description=f"label is one of the task's labels {list(labels)}")),
        _row("task_matches", gxe.ExpectColumnValuesToBeInSet(
            column="task", value_set=[task], description=f"task is {task!r}")),
        _row("source_matches", gxe.ExpectColumnValuesToBeInSet(
            column="source", value_set=[source], description=f"source is {source!r}")),
        _row("duplicate_id", gxe.ExpectColumnValuesToBeInSet(
            column="_repeats_earlier_id", value_set=[False], description="no id repeats an earlier row's id")),
        _row("duplicate_text", gxe.ExpectColumnValuesToBeInSet(
            column="_repeats_earlier_text", value_set=[False], mostly=1 - settings.max_duplicate_rate,
            description=f"at most {settings.max_duplicate_rate:.0%} of rows repeat an earlier text "
                        "(case, spacing and punctuation ignored)")),
    ]
    if synthetic:
        checks.append(_row("assistant_artifact", gxe.ExpectColumnValuesToNotMatchRegexList(
            column="text", regex_list=list(settings.artifact_patterns),
            mostly=1 - settings.max_artifact_rate,
            description=f"at most {settings.max_artifact_rate:.0%} of texts carry assistant artifacts or refusals")))
    checks += [
        _row("contamination_ngram", gxe.ExpectColumnValuesToBeBetween(
            column="_test_ngram_share", max_value=settings.contamination_ngram_share, strict_max=True,
            description=f"no text has {settings.contamination_ngram_share:.0%} or more of its "
                        f"{settings.contamination_ngram}-word sequences in the real test set")),
        _row("contamination_embedding", gxe.ExpectColumnValuesToBeBetween(
            column="_nearest_test_cosine", max_value=settings.contamination_cosine, strict_max=True,
            description=f"no text has embedding cosine >= {settings.contamination_cosine} to a real test item")),
    ]
    return checks


def dataset_checks(settings: ValidationParams, labels: Sequence[str], rows_in: int,
                   diversity_reference: dict[str, float] | None) -> list[Check]:
    """Checks on the clean rows as a whole; these fail the stage under either policy."""
    min_rows = max(1, math.ceil(settings.min_clean_share * rows_in))
    checks = [
        _dataset("enough_clean_rows", gxe.ExpectTableRowCountToBeBetween(
            min_value=min_rows, description=f"at least {settings.min_clean_share:.0%} of the "
                                            f"{rows_in} rows survive ({min_rows})")),
        _dataset("every_label_present", gxe.ExpectColumnDistinctValuesToContainSet(
            column="label", value_set=list(labels), description="every label of the task occurs")),
        _dataset("label_shares", custom.ExpectColumnValueSharesToBeBetween(
            column="label", min_share=settings.min_label_share, max_share=settings.max_label_share,
            description=f"each label's share is within [{settings.min_label_share}, {settings.max_label_share}]")),
    ]
    if diversity_reference is not None:
        checks += [
            _dataset("remote_clique_ratio", custom.ExpectColumnRemoteCliqueRatioToBeAtLeast(
                column="text", reference=diversity_reference["remote_clique"],
                min_ratio=settings.min_remote_clique_ratio, distance=settings.distance,
                description=f"Remote-Clique (mean pairwise distance) is at least {settings.min_remote_clique_ratio} "
                            "x the real data's")),
            _dataset("chamfer_ratio", custom.ExpectColumnChamferRatioToBeAtLeast(
                column="text", reference=diversity_reference["chamfer"],
                min_ratio=settings.min_chamfer_ratio, distance=settings.distance,
                description=f"Chamfer distance (mean nearest-neighbour distance) is at least "
                            f"{settings.min_chamfer_ratio} x the real data's (same number of texts)")),
        ]
    return checks


def _ephemeral_context(docs_dir: Path):
    config = DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(),
                               progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
                               analytics_enabled=False)
    context = gx.get_context(mode="ephemeral", project_config=config)
    context.add_data_docs_site(DOCS_SITE, {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir.resolve())},
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
    })
    return context


def _plain(value: Any) -> Any:
    """GX results hold numpy scalars and NaN; metrics need plain JSON."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(item) for item in value]
    if hasattr(value, "item") and not isinstance(value, str):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _observed(payload: dict) -> Any:
    """GX's observed value; for set checks that report none, the values that were missing."""
    if payload.get("observed_value") is not None:
        return _plain(payload["observed_value"])
    if "partial_missing_list" in payload:
        return {"missing": _plain(payload["partial_missing_list"])}
    return _plain(payload.get("details"))


def _outcome(check: Check, result: Any) -> Outcome:
    payload = result.result or {}
    error = None
    if result.exception_info:
        infos = result.exception_info.values() if "raised_exception" not in result.exception_info \
            else [result.exception_info]
        messages = [info.get("exception_message") for info in infos if info.get("raised_exception")]
        error = messages[0] if messages else None
    rate = payload.get("unexpected_percent")
    return Outcome(name=check.name, level=check.level, success=bool(result.success), observed=_observed(payload),
                   unexpected_count=payload.get("unexpected_count"),
                   unexpected_rate=None if rate is None else round(float(rate) / 100, 6),
                   unexpected_rows=[int(index) for index in payload.get("unexpected_index_list") or []],
                   examples=_plain(list(payload.get("partial_unexpected_list") or [])[:5]), error=error)


class SuiteRunner:
    """One ephemeral GX context per validation run; suites run against pandas frames."""

    def __init__(self, docs_dir: Path, name: str) -> None:
        self.docs_dir = docs_dir
        self.context = _ephemeral_context(docs_dir)
        self.name = name
        self.asset = self.context.data_sources.add_pandas(f"{name}-data").add_dataframe_asset("records")

    def validate(self, suite_name: str, checks: Sequence[Check], frame: pd.DataFrame) -> list[Outcome]:
        batch = self.asset.add_batch_definition_whole_dataframe(suite_name)
        suite = self.context.suites.add(gx.ExpectationSuite(name=f"{self.name}-{suite_name}"))
        for check in checks:
            suite.add_expectation(check.with_meta())
        definition = self.context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{self.name}-{suite_name}", data=batch, suite=suite))
        result = definition.run(batch_parameters={"dataframe": frame},
                                result_format={"result_format": "COMPLETE"})
        by_name = {check.name: check for check in checks}
        outcomes = [_outcome(by_name[item.expectation_config.meta["check"]], item) for item in result.results]
        order = {check.name: position for position, check in enumerate(checks)}
        return sorted(outcomes, key=lambda outcome: order[outcome.name])  # GX does not keep suite order

    def build_docs(self) -> None:
        self.context.build_data_docs(site_names=[DOCS_SITE])
        prune_unreferenced_images(self.docs_dir)


def prune_unreferenced_images(docs_dir: Path) -> None:
    """GX copies its whole static kit (3 MB of tutorial GIFs) into every site; each run's docs are
    a DVC output, so keep only the images some page or stylesheet actually uses."""
    pages = " ".join(path.read_text(encoding="utf-8", errors="ignore")
                     for pattern in ("*.html", "*.css") for path in docs_dir.rglob(pattern))
    for image in (docs_dir / "static" / "images").glob("*"):
        if image.is_file() and image.name not in pages:
            image.unlink()
