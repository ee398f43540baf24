"""params.yaml section `analyze`: instance-level sweep and subjectivity estimation."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class AnalysisParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gammas: list[float] = Field(default_factory=lambda: [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], min_length=1)
    judgments_file: str | None = Field(None, description="CSV of task_a,task_b,winner,judge for Bradley-Terry")
    levels: int = Field(5, ge=2, le=10)
