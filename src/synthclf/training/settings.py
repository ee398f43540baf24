"""The classifier backends' registry and the frozen-encoder head's settings (params.yaml `train:`).

A backend is named here once, with the module:class that implements it
(training/backends/base.py says what it must offer); params validation reads the names from
here, and `training.backends.backend(name)` imports the class only when a stage needs it.
Adding a backend: write its module, add one line below.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

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
