"""params.yaml section `mixes`: real+synthetic training sources, and how a mix's name reads.

A mix is named `<setting>+real<N>` (few_shot+real100) wherever it appears: under `sources`, in
metrics keys and in the report; `parse_mix` is the one reader of that name.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from synthclf.schema import Strict


def parse_mix(source: str) -> tuple[str, int] | None:
    """'few_shot+real100' -> ('few_shot', 100); None for a source that is not a mix."""
    setting, plus, real = source.partition("+real")
    return (setting, int(real)) if plus and setting in ("zero_shot", "few_shot") and real.isdigit() else None


def real_alone_point(real: int) -> str:
    """'real100': the curve point of a mix's N real examples trained alone, beside 'few_shot+real100'."""
    return f"real{real}"


class MixParams(Strict):
    """A training mix: every validated `setting` record plus `real` real training examples."""

    setting: Literal["zero_shot", "few_shot"]
    real: int = Field(gt=0, description="real training examples added to the synthetic data")

    @property
    def source(self) -> str:
        """The mix's name as a training source, e.g. few_shot+real100 (list it under `sources`)."""
        return f"{self.setting}+real{self.real}"
