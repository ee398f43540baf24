"""params.yaml section `train`: the classifier backend, its encoder and head, fine-tuning's schedule.

The backends' registry lives here too, as data: a backend is named once, with the module:class
that implements it (training/backends/base.py says what it must offer). Params validation reads
the names, and `training.backends.backend(name)` imports the class only when a stage needs it, so
reading the registry imports no backend. Adding a backend: write its module, add one line to BACKENDS.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from synthclf.assets import BUNDLED_PREFIX, bundled_encoders, unknown_encoder_fix
from synthclf.schema import Strict

BACKENDS: dict[str, str] = {
    "frozen_logreg": "synthclf.training.backends.frozen:FrozenLogreg",   # frozen encoder + logistic regression
    "transformer": "synthclf.training.backends.transformer:FineTuned",   # the encoder fine-tuned with torch
    "tfidf_logreg": "synthclf.training.backends.tfidf:TfidfLogreg",      # TF-IDF 1-2 grams + logistic regression
}
DEFAULT_BACKEND = "frozen_logreg"


class HeadParams(Strict):
    """The linear head of the frozen-encoder backend: scikit-learn's LogisticRegression (lbfgs)."""

    C: float = Field(10.0, gt=0, description="inverse regularisation strength")
    class_weight: Literal["balanced", "none"] = Field("balanced", description="balanced: labels weigh equally")
    max_iter: int = Field(2000, ge=10, le=100_000)


class TrainParams(Strict):
    backend: str = Field(DEFAULT_BACKEND, description="a name in BACKENDS above")
    head: HeadParams = HeadParams()
    encoder: str = Field("bundled:all-MiniLM-L6-v2", description="bundled:<name> or a hub id such as roberta-base")
    epochs: float = Field(3, gt=0)
    min_steps: int = Field(60, ge=0, description="small synthetic sets still get this many optimiser steps")
    min_epochs: float = Field(0, ge=0, description="mid-sized sets (a mix, ~100-300 examples) get at least this "
                              "many epochs, up to max_floor_steps steps")
    max_floor_steps: int = Field(100, ge=0, description="min_epochs never asks for more steps than this")
    batch_size: int = Field(32, gt=0)
    learning_rate: float = Field(5e-5, gt=0, lt=1)
    weight_decay: float = Field(0.01, ge=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    max_length: int = Field(64, ge=8, le=512)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    eval_batch_size: int = Field(128, gt=0, description="texts per prediction batch (a runtime knob: "
                                 "no stage depends on it)")

    @field_validator("backend")
    @classmethod
    def _registered_backend(cls, name: str) -> str:
        if name not in BACKENDS:
            raise ValueError(f"allowed: {', '.join(BACKENDS)}")
        return name

    @field_validator("encoder")
    @classmethod
    def _known_bundled_encoder(cls, encoder: str) -> str:
        """An unknown `bundled:` name fails at params load, before any stage runs (not at train)."""
        if encoder.startswith(BUNDLED_PREFIX) and encoder.removeprefix(BUNDLED_PREFIX) not in bundled_encoders():
            raise PydanticCustomError("bundled_encoder", "{fix}", {"fix": unknown_encoder_fix()})
        return encoder
