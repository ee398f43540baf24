"""The one strict base model of every params section and task card: unknown keys are errors."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """Base for every params section and card: a misspelt key fails loudly instead of being ignored."""

    model_config = ConfigDict(extra="forbid")
