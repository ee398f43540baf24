"""Typed schemas of every metrics file a stage writes: prepare, generate, validate, train, evaluate,
analyze (the summary) and judge. Written through `write_metrics` (train and evaluate: DVCLive's
summary, checked against the schema first) and read only through `read_metrics`, so a key that one
side renames fails at once, naming the file and the key, instead of reading as a silent None in the
stage (or the report) that reads it. Their paths come from paths.py.

Where a block's keys are data (labels, sources, expectation names) it is a dict; the summary keeps
flat per-source keys (`gap_zero_shot`, ...) because `dvc exp show` and `dvc metrics diff` show one
column per key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import ValidationError, create_model, field_validator

from synthclf import scoring
from synthclf.errors import SynthclfError
from synthclf.records import read_json, write_json
from synthclf.schema import Strict

Model = TypeVar("Model", bound=Strict)


# --- train: dvclive/train/<task>/<source>/metrics.json (DVCLive's summary) -----------------------

class UnitTraining(Strict):
    """One training unit: what it was trained on and how (the fine-tuning fields are absent for linear heads)."""
    n_train: int
    seed: int
    label_counts: dict[str, int]
    train_seconds: float = 0.0
    steps: int | None = None
    examples_seen: int | None = None
    final_loss: float | None = None
    examples_per_second: float | None = None
    device: str | None = None
    iterations: int | None = None  # a linear head's solver iterations
    cached: bool = False          # predictions from the unit cache (an identical unit fitted earlier)


class TrainMetrics(Strict):
    backend: str
    encoder: str
    device: str
    threads: int
    units: dict[str, UnitTraining]
    train_seconds: float
    # DVCLive: last loss / learning rate per checkpoint (a pydantic field: each instance gets its own copy)
    curves: dict[str, dict[str, float]] = {}  # noqa: RUF012
    step: int | None = None                      # DVCLive: the last step logged


# --- evaluate: dvclive/evaluate/<task>/<source>/metrics.json (DVCLive's summary) ----------------

# The score keys come from the metric registry (scoring.METRICS), so a registered metric is required
# in every file that scores and a metric dropped there is an unknown key here: one edit, both sides.

def score_fields() -> dict[str, Any]:
    """Per registered metric: the mean over replicates, its interval's bounds (None when undefined)
    and the replicates' standard deviation (macro_f1, macro_f1_low, macro_f1_high, macro_f1_std)."""
    fields: dict[str, Any] = {}
    for name in scoring.METRICS:
        score, low, high, spread = scoring.score_keys(name)
        fields.update({score: (float, ...), low: (float | None, ...), high: (float | None, ...), spread: (float, ...)})
    return fields


Scores = create_model("Scores", __base__=Strict, **score_fields(), replicates=(int, ...))


class PointScores(Scores):  # type: ignore[misc,valid-type]
    size: int | None             # examples per label; None for all real data or a mix


UnitScores = create_model("UnitScores", __base__=Strict, **{name: (float, ...) for name in scoring.METRICS})


class ClassScores(Strict):
    precision: float
    recall: float
    f1: float
    support: int


EvaluateMetrics = create_model(
    "EvaluateMetrics", __base__=Scores,
    headline=(str, ...),            # the point the source is reported by (e.g. zero_shot@10)
    n_test=(int, ...),
    **{scoring.chance_key(): (float, ...)},   # the headline metric of the stronger chance predictor
    points=(dict[str, PointScores], ...),
    units=(dict[str, UnitScores], ...),
    per_class=(dict[str, ClassScores], ...))


# --- prepare: metrics/prepare/<task>/stats.json --------------------------------------------------

class PrepareStats(Strict):
    read: int
    too_short: int
    duplicates: int
    label_conflicts: int
    clean: int
    train: int
    test: int
    pool: int
    train_labels: dict[str, int]
    test_labels: dict[str, int]
    test_mean_agreement: float | None = None   # tasks with per-item annotator votes


# --- generate: metrics/generate/<task>/<setting>.json ---------------------------------------------

class CallCounts(Strict):
    """What a run sent to the LLM and paid for (generation.access.call_counts): generate and judge."""
    calls: int
    http_requests: int
    retries: int
    cache_hits: int
    cost_usd: float


class LabelTally(Strict):
    kept: int
    attempts: int
    rejected: dict[str, int]


class TokenCounts(Strict):
    prompt: int
    completion: int
    cached_prompt: int
    cached_completion: int


class GenerateMetrics(CallCounts):
    task: str
    setting: str
    status: Literal["ok", "short", "budget_exhausted", "failed"]
    model: str
    backend: str
    prompt_style: str
    prompt_id: str
    per_class: int
    replicates: int
    kept_per_replicate: list[int]
    labels: dict[str, LabelTally]
    kept: int
    attempts: int
    complete: bool
    rejected: dict[str, int]
    errors: dict[str, int]
    rate_limit_wait_s: float = 0.0   # held back by llm.requests_per_minute / tokens_per_minute
    copy_stops: int = 0   # calls stopped while streaming at their first copied text (generate.stop_at_copy)
    cache_hit_rate: float
    tokens: TokenCounts
    budget_usd: float
    budget_exhausted: bool
    wall_time_s: float
    kept_per_s: float


# --- validate: metrics/validate/<task>/<source>.json ----------------------------------------------

class ExpectationResult(Strict):
    success: bool
    level: Literal["row", "dataset"]
    gating: bool                  # False: a row check under the quarantine policy (filters, never fails)
    observed: Any                 # a share, a count, a {label: share} map, the column list, ...
    unexpected_count: int | None = None
    error: str | None = None


class RowCounts(Strict):
    rows_in: int
    clean: int
    quarantined: int
    by_reason: dict[str, int]


class DiversityMeasures(Strict):
    n_texts: int
    remote_clique: float | None
    chamfer: float | None
    similarity_to_real: float | None
    distinct_1: float | None
    distinct_2: float | None


DIVERSITY_KEYS = tuple(key for key in DiversityMeasures.model_fields if key != "n_texts")


class Diversity(DiversityMeasures):
    real: DiversityMeasures                  # the real reference (the real data itself for `real`)
    ratio: dict[str, float | None]           # this data / the reference, per measure


class LongTexts(Strict):
    max_chars: int
    policy: str
    over_max_chars: int
    share: float
    longest_chars: int
    action: str


class ValidateSummary(Strict):
    success: bool
    failed: list[str]
    expectations: dict[str, ExpectationResult]
    counts: RowCounts
    diversity: Diversity
    long_texts: LongTexts


# --- analyze: metrics/summary.json ----------------------------------------------------------------

ESTIMATE_PREFIXES = ("gap_", "fair_gap_", "share_", "exchange_", "gain_")


class Correlation(Strict):
    spearman: float | None
    p: float | None
    n: int
    method: str


class Findings(Strict):
    order: dict[str, Any]          # {} when a source it needs is not in the run
    subjectivity: dict[str, Any]
    agreement: dict[str, Any]


class Summary(Strict):
    gap_metric: str
    confidence: float
    n_tasks: int
    tasks: dict[str, dict[str, Any]]                     # per task: scores per source, estimates, verdict
    by_level: dict[str, dict[str, float | int | None]]   # flat keys: one `dvc exp show` column each
    overall: dict[str, float | int | None]
    correlation: dict[str, Correlation]
    instance: dict[str, Any]
    findings: Findings
    verdicts: dict[str, str]
    missing: str | None = None                           # sources without evaluation metrics
    bradley_terry: dict[str, Any] | None = None

    @field_validator("tasks")
    @classmethod
    def estimates_have_intervals(cls, tasks: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """A gap, share or exchange rate is an estimate with its interval (older versions wrote a number)."""
        for task, block in tasks.items():
            for key, value in block.items():
                if key.startswith(ESTIMATE_PREFIXES) and not (isinstance(value, dict) and "value" in value):
                    raise ValueError(f"{task}.{key} is {value!r}, not an estimate with an interval")
        return tasks


# --- judge: data/judgments/llm_panel.stats.json ---------------------------------------------------

class JudgeStats(CallCounts):
    questions: int
    judgments: int
    unparsed: int
    asks: int
    tokens_in: int
    tokens_out: int
    tasks: int
    judges: int
    share_first_position: float | None
    spearman_with_cards: float | None


def write_metrics(path: str | Path, metrics: Strict | dict, schema: type[Model]) -> Model:
    """Validate against `schema`, then write atomically; returns the validated model."""
    model = metrics if isinstance(metrics, schema) else schema.model_validate(metrics)
    # exclude_unset: the file holds exactly the keys the stage wrote (no nulls for optional keys it left out)
    write_json(path, model.model_dump(mode="json", exclude_unset=True))
    return model


def read_metrics(path: str | Path, schema: type[Model], writer: str = "the stage that writes it") -> Model:
    """Read a metrics file through its schema; a missing or drifted file is one clear error that
    names the file, the key and what to rerun (`writer`)."""
    try:
        return schema.model_validate(read_json(path))      # read_json: a missing file is a clear error
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise SynthclfError(f"{path}: {where}: {first['msg']} (written by another version of synthclf? "
                            f"rerun {writer})") from None
