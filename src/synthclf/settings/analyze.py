"""params.yaml section `analyze`: instance-level sweep and subjectivity estimation."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from synthclf.schema import Strict


class AnalysisParams(Strict):

    gammas: list[Annotated[float, Field(ge=0, le=1)]] = Field(
        default_factory=lambda: [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], min_length=1,
        description="agreement thresholds of the instance-level curves")
    judgments_file: str | None = Field(None, description="CSV of task_a,task_b,winner,judge for Bradley-Terry")
    levels: int = Field(5, ge=2, le=10, description="ordinal levels for Bradley-Terry scores; 1 = most objective")
    # `synthclf judge`: the configured LLM as a panel of judges of task objectivity
    judge_tasks: list[str] = Field(default_factory=list, description="tasks to compare; empty = tasks")
    judge_panel: int = Field(3, ge=1, le=24, description="judges (persona + seed) asked about every pair")
    judge_both_orders: bool = Field(True, description="ask each pair as A/B and B/A to cancel position bias")
    judge_examples: int = Field(2, ge=0, le=10, description="real examples per task from its few-shot pool")
    judge_attempts: int = Field(2, ge=1, le=5, description="asks per question until the answer names A or B")
