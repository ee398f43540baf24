"""params.yaml section `compare`: equal-size learning curves, intervals, and the verdict's thresholds."""

from __future__ import annotations

from pydantic import Field, model_validator

from synthclf.schema import Strict


class VerdictParams(Strict):
    """Thresholds of the one-line verdict per task (report, metrics/summary.json)."""

    replace_share: float = Field(0.9, gt=0, le=1.5,
                                 description="replace: the recovered share's lower bound reaches this")
    within_points: float = Field(1.0, gt=0, le=50,
                                 description="augment: a mix within this many Macro-F1 points of real")
    min_real_lift: float = Field(0.05, ge=0, lt=1, description="no verdict, and no recovered share, when real data "
                                 "beats chance (the stronger of guessing by the training label shares and the best "
                                 "constant predictor) by less Macro-F1 than this")


class CompareParams(Strict):
    """How sources are compared: equal-size learning curves, intervals, the verdict."""

    sizes: list[int] = Field(default_factory=lambda: [5, 10], description="smaller sizes per label on the learning "
                             "curves; generate.per_class is always the largest point")
    confidence: float = Field(0.95, gt=0.5, lt=1)
    bootstrap_resamples: int = Field(1000, ge=100, le=100_000)
    real_sizes: list[int] = Field(default_factory=lambda: [20, 50, 100, 200, 400], description="real-data-only "
                                  "points of the real learning curve above generate.per_class (per label, each label "
                                  "capped at what it has), measured where an exchange rate can land")
    max_interpolation_fold: float = Field(3.0, gt=1, description="an exchange rate read between two measured real "
                                          "sizes more than this many times apart is flagged as interpolated")
    min_tasks: int = Field(3, ge=2, description="a mean over tasks gets an interval (and a finding a status) "
                           "only from this many tasks")
    gap_statistic: str = Field("unrecovered_zero_shot", pattern=r"^(gap|fair_gap|unrecovered)_[a-z_+0-9]+$",
                               description="the statistic the subjectivity finding tests, chosen before the run: "
                               "gap_<source>, fair_gap_<setting> or unrecovered_<setting>")
    verdict: VerdictParams = VerdictParams()

    @model_validator(mode="after")
    def _sizes_ascending(self) -> CompareParams:
        if any(size <= 0 for size in self.sizes) or sorted(set(self.sizes)) != self.sizes:
            raise ValueError(f"compare.sizes: got {self.sizes}; list distinct positive sizes per label, ascending")
        if any(size <= 0 for size in self.real_sizes) or sorted(set(self.real_sizes)) != self.real_sizes:
            raise ValueError(f"compare.real_sizes: got {self.real_sizes}; list distinct positive sizes per label, "
                             "ascending")
        return self
