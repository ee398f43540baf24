"""params.yaml section `split`: per task, how many real examples go to training, test and the few-shot pool."""

from __future__ import annotations

from pydantic import Field

from synthclf.schema import Strict


class SplitParams(Strict):
    train_size: int = Field(gt=0, description="real training examples kept after the split")
    test_size: int = Field(gt=0, description="real test examples every model is scored on")
    pool_size: int = Field(ge=0, description="few-shot pool drawn from the training split")
    balance: bool = Field(False, description="equal label counts in train and test (for skewed sources)")
