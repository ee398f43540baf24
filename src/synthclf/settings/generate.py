"""params.yaml section `generate`: what to produce (settings, sizes, replicates), what to reject, what it may cost."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from synthclf.schema import Strict


class Price(Strict):
    input_per_1m: float = Field(ge=0, description="USD per million prompt tokens")
    output_per_1m: float = Field(ge=0, description="USD per million completion tokens")


class GenerationParams(Strict):
    settings: list[Literal["zero_shot", "few_shot"]] = Field(default_factory=lambda: ["zero_shot", "few_shot"])
    per_class: int = Field(20, gt=0, description="valid examples wanted per label, per replicate")
    replicates: int = Field(2, ge=1, le=20, description="independent samples of the generator (seed generate.seed + r)")
    few_shot_k: int = Field(4, gt=0)
    texts_per_call: int = Field(5, ge=1, le=20, description="completion style: texts the model writes per call, "
                                "continuing one numbered list (chat style: always 1)")
    diversity_every: int = Field(5, ge=0, description="a diversity prompt every n generations; 0 = never")
    max_attempts_factor: float = Field(4.0, ge=1, description="attempt budget = factor * per_class per label")
    min_words: int = Field(2, ge=1)
    max_words: int = Field(60, ge=1)
    shingle_words: int = Field(2, ge=1, description="word n-gram size for near-duplicate Jaccard")
    copy_ngram: int = Field(6, ge=2, description="n-gram length that counts as copying a few-shot example")
    stop_at_copy: bool = Field(True, description="few-shot: an answer ends at its first copying text (streamed "
                               "calls stop there); false: every text of a list is judged")
    near_duplicate_jaccard: float = Field(0.8, gt=0, le=1)
    seed: int = 0
    cache_path: str = Field(".synthclf_cache/responses.sqlite",
                            description="relative to the original repo root, also from queued dvc exp copies; "
                                        "$SYNTHCLF_CACHE_DIR overrides the directory")
    budget_usd: float = Field(0, ge=0, description="stop cleanly once spent; 0 = no cap")
    prices: dict[str, Price] = Field(default_factory=dict)
