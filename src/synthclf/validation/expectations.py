"""Custom Great Expectations (1.x) for synthetic text datasets, each with its own pandas metric.

GX has no built-in for "every label's share within bounds", and nothing for embedding diversity;
`UnexpectedRowsExpectation` would do it in SQL but is SQL-only. So, as GX intends, each is a
`ColumnAggregateExpectation` backed by a `ColumnAggregateMetricProvider`:

- `ExpectColumnValueSharesToBeBetween`  metric `column.value_shares` (value -> share of non-null rows)
- `ExpectColumnRemoteCliqueRatioToBeAtLeast`  metric `column.remote_clique`
- `ExpectColumnChamferRatioToBeAtLeast`  metric `column.chamfer_distance`

The diversity metrics embed the column's texts with the bundled MiniLM (cached, see
text/embeddings.py) and compare the result with a reference value measured on the task's real
data; the observed value is the ratio, so Data Docs show exactly what the threshold bounds.
Importing this module registers the metrics and expectations with GX.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from functools import lru_cache
from typing import Any, ClassVar

from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnAggregateExpectation
from great_expectations.expectations.metrics.column_aggregate_metric_provider import (
    ColumnAggregateMetricProvider,
    column_aggregate_value,
)

from synthclf.text.diversity import PairwiseSummary, pairwise_summary
from synthclf.text.embeddings import embed_texts


@lru_cache(maxsize=8)
def text_set_diversity(texts: tuple[str, ...], distance: str) -> PairwiseSummary:
    """Remote-Clique and Chamfer of a set of texts; memoised so the two metrics share one pass."""
    return pairwise_summary(embed_texts(list(texts)), distance=distance)


def _texts(column) -> tuple[str, ...]:
    return tuple(value for value in column.tolist() if isinstance(value, str))


def _finite_or_none(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


class ColumnValueShares(ColumnAggregateMetricProvider):
    metric_name = "column.value_shares"
    filter_column_isnull = True

    @column_aggregate_value(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs) -> dict[str, float]:
        counts = column.astype(str).value_counts()
        total = int(counts.sum())
        return {str(value): round(int(count) / total, 6) for value, count in counts.items()} if total else {}


class _ColumnDiversity(ColumnAggregateMetricProvider):
    """One embedding-diversity statistic of a text column (a `PairwiseSummary` field, named by
    `statistic`). No `metric_name` here, so GX registers only the subclasses below."""

    statistic: ClassVar[str]
    value_keys = ("distance",)
    filter_column_isnull = True

    @column_aggregate_value(engine=PandasExecutionEngine)
    def _pandas(cls, column, distance: str = "cosine", **kwargs) -> float | None:
        return _finite_or_none(getattr(text_set_diversity(_texts(column), distance), cls.statistic))


class ColumnRemoteClique(_ColumnDiversity):
    metric_name = "column.remote_clique"
    statistic = "remote_clique"


class ColumnChamferDistance(_ColumnDiversity):
    metric_name = "column.chamfer_distance"
    statistic = "chamfer"


class ExpectColumnValueSharesToBeBetween(ColumnAggregateExpectation):
    """Every distinct value's share of the non-null rows lies in [min_share, max_share]."""

    min_share: float = 0.0
    max_share: float = 1.0

    metric_dependencies: ClassVar[tuple[str, ...]] = ("column.value_shares",)
    success_keys: ClassVar[tuple[str, ...]] = ("min_share", "max_share")
    args_keys: ClassVar[tuple[str, ...]] = ("column", "min_share", "max_share")

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine: Any = None) -> dict:
        shares: dict[str, float] = metrics.get("column.value_shares") or {}
        outside = sorted(value for value, share in shares.items()
                         if not self.min_share <= share <= self.max_share)
        return {"success": bool(shares) and not outside,
                "result": {"observed_value": shares, "details": {"out_of_bounds": outside}}}


class _DiversityRatioToBeAtLeast(ColumnAggregateExpectation):
    """The column's diversity metric (`metric_dependencies`, one metric), divided by the real data's
    value (`reference`), is at least `min_ratio`; a value that cannot be measured fails.

    Abstract (GX registers only concrete expectations): a subclass names its metric in `metric`.
    """

    reference: float
    min_ratio: float
    distance: str = "cosine"

    success_keys: ClassVar[tuple[str, ...]] = ("reference", "min_ratio", "distance")
    args_keys: ClassVar[tuple[str, ...]] = ("column", "reference", "min_ratio", "distance")

    @property
    @abstractmethod
    def metric(self) -> str:
        """The GX metric whose value is compared with `reference`."""

    def _validate(self, metrics: dict, runtime_configuration: dict | None = None,
                  execution_engine: Any = None) -> dict:
        value, reference = metrics.get(self.metric), self.reference
        if value is None or not reference or math.isnan(reference):
            return {"success": False, "result": {"observed_value": None,
                                                 "details": {"value": value, "reference": reference,
                                                             "why": "needs at least two texts on both sides"}}}
        ratio = round(value / reference, 6)
        return {"success": ratio >= self.min_ratio,
                "result": {"observed_value": ratio, "details": {"value": value, "reference": reference}}}


class ExpectColumnRemoteCliqueRatioToBeAtLeast(_DiversityRatioToBeAtLeast):
    """Remote-Clique (mean pairwise embedding distance) of the texts, divided by the real data's
    value (`reference`), is at least `min_ratio`: the set has not collapsed onto a few themes."""

    metric: ClassVar[str] = ColumnRemoteClique.metric_name
    metric_dependencies: ClassVar[tuple[str, ...]] = (metric,)


class ExpectColumnChamferRatioToBeAtLeast(_DiversityRatioToBeAtLeast):
    """Chamfer distance (mean distance to the nearest other text) of the texts, divided by the real
    data's value (`reference`), is at least `min_ratio`: texts are not near-copies of each other."""

    metric: ClassVar[str] = ColumnChamferDistance.metric_name
    metric_dependencies: ClassVar[tuple[str, ...]] = (metric,)
