"""What a generation run used and produced: tokens, calls, cache hits, retries, rejects, cost.

Cost comes from generate.prices (USD per million tokens per model); a model without a price (the
bundled local model) costs 0. Only fresh calls cost money: a cache hit was paid for earlier.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from synthclf.generation.cache import CachedResponse
from synthclf.settings.generate import Price


@dataclass
class LabelTally:
    kept: int = 0
    attempts: int = 0
    rejected: Counter = field(default_factory=Counter)


@dataclass
class Accounting:
    price: Price | None
    budget_usd: float
    fresh_prompt_tokens: int = 0
    fresh_completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cached_completion_tokens: int = 0
    cache_hits: int = 0
    labels: dict[str, LabelTally] = field(default_factory=dict)

    def tally(self, label: str) -> LabelTally:
        return self.labels.setdefault(label, LabelTally())

    def record_fresh(self, response: CachedResponse) -> None:
        self.fresh_prompt_tokens += response.prompt_tokens
        self.fresh_completion_tokens += response.completion_tokens

    def record_hit(self, response: CachedResponse) -> None:
        self.cache_hits += 1
        self.cached_prompt_tokens += response.prompt_tokens
        self.cached_completion_tokens += response.completion_tokens

    @property
    def cost_usd(self) -> float:
        if self.price is None:
            return 0.0
        return (self.fresh_prompt_tokens * self.price.input_per_1m
                + self.fresh_completion_tokens * self.price.output_per_1m) / 1e6

    @property
    def budget_exhausted(self) -> bool:
        return self.budget_usd > 0 and self.cost_usd >= self.budget_usd

    def rejected_total(self) -> Counter:
        total: Counter = Counter()
        for tally in self.labels.values():
            total.update(tally.rejected)
        return total
