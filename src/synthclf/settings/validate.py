"""params.yaml section `validate`: Great Expectations thresholds and the failure policy.

Policy:
- `fail`: every expectation is a gate; any failure stops the stage (exit code 2).
- `quarantine`: row-level expectations become filters (failing rows go to the quarantine file
  with their reasons); dataset-level expectations (schema, every label present, label shares,
  enough clean rows, diversity) are still gates.
In both policies the validated file holds only rows that no row-level expectation flagged.

Long texts (`long_texts`): real documents longer than `max_chars` are real data, so by default
(`truncate`) they are kept, counted in the metrics, and the classifier reads their first
`train.max_length` tokens, as evaluation does; `quarantine` holds them back instead.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from synthclf.schema import Strict

DEFAULT_ARTIFACT_PATTERNS = [
    r"(?i)^\W*(?:sure|certainly|of course|absolutely)\b[\s!,.:]*(?:here|i'd|i would|i can|i will|below|this is)\b",
    r"(?i)^\W*here(?:'s| is| are) (?:a|an|the|your|some|another|one|my)\b",
    r"(?i)\bas an ai\b|\bas a(?:n ai)? language model\b",
    r"(?i)\bI (?:cannot|can't|can not|won't|am unable to|'m unable to) (?:help|assist|create|generate|write|"
    r"provide|produce|fulfil|fulfill|comply)",
    r"(?i)^\W*(?:example|sample|generated|output)\s*(?:text|message|review|sentence|tweet)?\s*\d*\s*:",
]


class ValidationParams(Strict):

    policy: Literal["fail", "quarantine"] = "quarantine"
    min_chars: int = Field(5, ge=1)
    max_chars: int = Field(1000, ge=1)
    long_texts: Literal["truncate", "quarantine"] = Field(
        "truncate", description="real texts over max_chars: truncate = kept (training and evaluation read the "
                                "first train.max_length tokens), quarantine = held back; synthetic texts over "
                                "max_chars are always quarantined")
    min_label_share: float = Field(0.05, ge=0, le=1)
    max_label_share: float = Field(0.95, ge=0, le=1)
    max_duplicate_rate: float = Field(0.05, ge=0, le=1, description="later copies of a text, share of rows")
    max_artifact_rate: float = Field(0.10, ge=0, le=1, description="assistant artifacts and refusals, share of rows")
    artifact_patterns: list[str] = Field(default_factory=lambda: list(DEFAULT_ARTIFACT_PATTERNS),
                                         description="regexes for assistant artifacts; synthetic sources only")
    contamination_ngram: int = Field(8, ge=2, description="word n-gram length for test-set overlap")
    contamination_ngram_share: float = Field(0.5, gt=0, le=1, description="share of a text's n-grams found in "
                                             "the test set at or above which it is contamination")
    contamination_cosine: float = Field(0.95, gt=0, le=1, description="embedding cosine to a test item at or above")
    min_clean_share: float = Field(0.5, ge=0, le=1, description="the dataset fails when fewer rows survive")
    distance: Literal["cosine", "euclidean"] = Field("cosine", description="distance for Remote-Clique and Chamfer")
    min_remote_clique_ratio: float = Field(0.5, ge=0, description="synthetic / real Remote-Clique, lower bound")
    min_chamfer_ratio: float = Field(0.3, ge=0, description="synthetic / real Chamfer distance, lower bound")
    similarity_top_k: int = Field(5, ge=1, description="k in similarity to real (mean of top-k cosines)")
    reference_seed: int = Field(0, description="seed for the size-matched subsets of real data")
    example_rows: int = Field(3, ge=0, description="failing example rows printed per expectation")

    @field_validator("artifact_patterns")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"artifact pattern {pattern!r} is not a valid regex ({exc})") from exc
        return patterns

    @field_validator("max_chars", "max_label_share")
    @classmethod
    def _upper_bound_not_below_lower(cls, value: float, info: ValidationInfo) -> float:
        # a field validator (not a model validator) so the error names the key and its value
        lower_key = {"max_chars": "min_chars", "max_label_share": "min_label_share"}[info.field_name]
        lower = info.data.get(lower_key)
        if lower is not None and value < lower:
            raise ValueError(f"below validate.{lower_key} ({lower}); raise it or lower {lower_key}")
        return value
