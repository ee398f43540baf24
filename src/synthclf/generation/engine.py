"""The asynchronous generation loop: many calls in flight, results judged in sample order.

Per label, calls 0, 1, 2, ... are launched in order, at most as many outstanding as examples are
still needed (so a finished label costs no extra calls), and their texts judged strictly in call
and list order (a completion-style call returns `texts_per_call` texts, sample indices
call * texts_per_call + position). Which texts are kept therefore never depends on which call
happened to finish first: a rerun over the cache gives byte-identical output. All labels run at once over one shared
concurrency limit; the semaphore is first-come-first-served, so the calls of one label mostly run
together, which lets llama.cpp reuse the shared prompt prefix.

For each sample: build the prompt and ask the session (access.LLMSession): a cache hit needs no
concurrency slot; a call is committed to the cache before it is counted. With `stop_at_copy` (a
few-shot run's copy detector), an answer is read only up to its first copying text (copies.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from synthclf.generation.access import LLMSession, first_user_error
from synthclf.generation.accounting import Accounting
from synthclf.generation.cache import CachedResponse
from synthclf.generation.cleaning import CopyDetector, TextFilter, clean_text
from synthclf.generation.copies import CopyWatch, through_first_copy
from synthclf.generation.prompts import Prompt, PromptBuilder, split_items
from synthclf.text.normalize import normalized


@dataclass
class Sample:
    label: str
    sample_index: int
    seed: int
    prompt: Prompt
    response: CachedResponse
    text: str
    from_cache: bool
    finish_reason: str | None = None  # the call's, for the list's last text; "stop" for the others


@dataclass
class Outcome:
    kept: dict[str, list[Sample]]
    stop_reason: str | None  # "budget" when the budget cap ended the run early


class Engine:
    def __init__(self, *, builder: PromptBuilder, session: LLMSession, filters: dict[str, TextFilter],
                 per_class: int, max_attempts: int, on_progress: Callable[[Engine, bool], None] | None = None,
                 stop_at_copy: CopyDetector | None = None) -> None:
        self.builder = builder
        self.stop_at_copy = stop_at_copy
        self.session = session
        self.accounting: Accounting = session.accounting
        self.filters = filters
        self.per_class = per_class
        self.max_attempts = max_attempts
        self.on_progress = on_progress
        self.window = 2 * session.llm.concurrency
        self.per_call = builder.texts_per_call
        self.futures: dict[str, dict[int, asyncio.Future]] = {label: {} for label in filters}
        self.stop_reason: str | None = None

    async def run(self) -> Outcome:
        kept: dict[str, list[Sample]] = {}
        try:
            async with asyncio.TaskGroup() as group:
                for label in self.filters:
                    kept[label] = []
                    group.create_task(self._run_label(label, kept[label], group))
        except BaseExceptionGroup as group_error:
            raise first_user_error(group_error) from None
        return Outcome(kept=kept, stop_reason=self.stop_reason)

    async def _run_label(self, label: str, kept: list[Sample], group: asyncio.TaskGroup) -> None:
        futures = self.futures[label]
        tally = self.accounting.tally(label)
        # A call judges per_call texts, or, stopped at a copy, as few as one: the attempt budget is
        # counted in texts judged, so it is not spent by calls that judged fewer texts than asked.
        max_calls = self.max_attempts if self.stop_at_copy else -(-self.max_attempts // self.per_call)
        launched = judged_calls = judged = 0
        while len(kept) < self.per_class and judged < self.max_attempts:
            # Never more outstanding than still needed (no call wasted on a finished label), and a
            # short queue, so a diversity prompt (which waits for earlier calls) is not starved.
            window = min(-(-(self.per_class - len(kept)) // self.per_call), self.window)
            while launched < max_calls and launched - judged_calls < window and not self.stop_reason:
                futures[launched] = group.create_task(self._call(label, launched))
                launched += 1
            if judged_calls >= launched:
                break  # stopped (budget) with nothing left in flight
            samples = await futures[judged_calls]
            judged_calls += 1
            for sample in samples or ():  # None: skipped after the budget ran out, not an attempt
                if len(kept) >= self.per_class or judged >= self.max_attempts:
                    break  # a list's surplus texts are not needed
                judged += 1
                tally.attempts += 1
                reason = self.filters[label].check(sample.text, sample.finish_reason)
                if reason:
                    tally.rejected[reason] += 1
                else:
                    kept.append(sample)
                    tally.kept += 1
                if self.on_progress:
                    self.on_progress(self, reason is None)
        # Calls still in flight after a budget stop are paid for: let them land in the cache.
        for index in range(judged_calls, launched):
            await futures[index]

    async def _call(self, label: str, call_index: int) -> list[Sample] | None:
        history = await self._history(label, call_index)
        prompt = self.builder.build(label, call_index, history)
        seed = self.builder.sample_seed(label, call_index)
        labels = list(self.filters)

        def clean(raw: str) -> str:
            return clean_text(raw, labels, opened_quote=prompt.opens_quote)

        watch = CopyWatch(self.stop_at_copy, prompt.items, clean) if self.stop_at_copy else None
        # The call's first sample index is part of the cache key (generation requests have always been keyed so).
        reply = await self.session.complete(prompt, seed, watch=watch, sample_index=call_index * self.per_call)
        if self.session.budget_exhausted:  # set by the call that spent it; no new call is sent
            self.stop_reason = "budget"
        if reply is None:
            return None
        answer = split_items(reply.response.text, prompt.items)
        raw_items = through_first_copy(answer, self.stop_at_copy, clean) if self.stop_at_copy else answer
        samples = []
        for position, raw in enumerate(raw_items):
            # only the answer's last text can have been cut by the token cap
            finish = reply.response.finish_reason if position == len(answer) - 1 else "stop"
            text = clean(raw)
            samples.append(Sample(label, call_index * self.per_call + position, seed, prompt, reply.response, text,
                                  reply.from_cache, finish))
        return samples

    async def _history(self, label: str, call_index: int) -> list[str]:
        """The texts of earlier calls a diversity prompt shows (they were launched before this one)."""
        texts = []
        for index in self.builder.history_indices(call_index):
            for earlier in await self.futures[label][index] or ():
                if earlier.text:
                    texts.append(earlier.text)
        return texts


def drop_cross_label_duplicates(kept: dict[str, list[Sample]], accounting: Accounting) -> None:
    """A text kept under two labels teaches nothing but contradiction: drop every copy.
    Done after generation, in a fixed order, so it stays deterministic."""
    owners: dict[str, set[str]] = {}
    for label, samples in kept.items():
        for sample in samples:
            owners.setdefault(normalized(sample.text), set()).add(label)
    conflicting = {text for text, labels in owners.items() if len(labels) > 1}
    if not conflicting:
        return
    for label, samples in kept.items():
        remaining = [sample for sample in samples if normalized(sample.text) not in conflicting]
        dropped = len(samples) - len(remaining)
        if dropped:
            tally = accounting.tally(label)
            tally.kept -= dropped
            tally.rejected["conflicting_label"] += dropped
            samples[:] = remaining
