"""params.yaml section `validate`: Great Expectations thresholds and the failure policy."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ValidationParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: Literal["fail", "quarantine"] = "quarantine"
    min_chars: int = Field(5, ge=1)
    max_chars: int = Field(1000, ge=1)
    min_label_share: float = Field(0.05, ge=0, le=1)
    max_label_share: float = Field(0.95, ge=0, le=1)
    max_duplicate_rate: float = Field(0.05, ge=0, le=1)
    max_artifact_rate: float = Field(0.10, ge=0, le=1)
    contamination_ngram: int = Field(8, ge=2)
    contamination_cosine: float = Field(0.95, gt=0, le=1)
    min_remote_clique_ratio: float = Field(0.5, ge=0, description="synthetic / real Remote-Clique, lower bound")
    min_chamfer_ratio: float = Field(0.3, ge=0, description="synthetic / real Chamfer distance, lower bound")
