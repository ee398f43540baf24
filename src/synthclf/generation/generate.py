"""`synthclf generate --task T --setting S`: synthetic training data for one task and setting.

Reads the task card and (few-shot) the pool, generates `generate.per_class` valid texts per label
with the configured LLM, once per replicate (`generate.replicates`: independent samples of the
generator, each with its own seed, so downstream intervals include the variance of generation),
writes data/synthetic/<task>/<setting>.jsonl (every record carries its `replicate`) and
metrics/generate/<task>/<setting>.json (both atomically).

Falling short is not an error: when a label's attempt budget (max_attempts_factor * per_class) or
the money budget (budget_usd) is spent first, what was kept is written and the summary says how
many were kept per label and why the rest were rejected. A label with zero examples is an error
(exit code 2, metrics written, no data file): no classifier can be trained on it.

With llm.base_url null the bundled SmolLM2 server is started, but only when the first call is
not in the cache, so a fully cached rerun starts nothing and makes zero calls.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from tqdm import tqdm

from synthclf import paths
from synthclf.config import Params
from synthclf.errors import SynthclfError
from synthclf.generation.access import LLMSession, backend_name, call_counts, open_session, prompt_style
from synthclf.generation.accounting import Accounting
from synthclf.generation.cleaning import CopyDetector, TextFilter
from synthclf.generation.client import CallStats
from synthclf.generation.engine import Engine, Outcome, drop_cross_label_duplicates
from synthclf.generation.prompts import PromptBuilder, tokens_per_text
from synthclf.interrupts import Interrupted, run_async
from synthclf.metrics import GenerateMetrics, write_metrics
from synthclf.records import read_jsonl, write_jsonl
from synthclf.settings.generate import GenerationParams
from synthclf.settings.llm import LLMParams
from synthclf.tasks import TaskCard, load_card


def pool_by_label(task: str, card: TaskCard, gen: GenerationParams, setting: str) -> dict[str, list[str]]:
    if setting != "few_shot":
        return {}
    grouped: dict[str, list[str]] = {label: [] for label in card.labels}
    for record in read_jsonl(paths.prepared_split(task, "pool")):
        if record.get("label") in grouped:
            grouped[record["label"]].append(record["text"])
    empty = [label for label, texts in grouped.items() if not texts]
    if empty:
        raise SynthclfError(f"{paths.prepared_split(task, 'pool')}: no examples of label(s) {empty} for few-shot "
                            f"prompts; raise split.{task}.pool_size in params.yaml and rerun prepare")
    return {label: within_length(texts, card.max_words, gen.few_shot_k) for label, texts in grouped.items()}


def pool_texts(task: str) -> list[str]:
    """The few-shot pool's texts (both settings depend on the pool): what tokens per word is estimated on."""
    pool = read_jsonl(paths.prepared_split(task, "pool"))
    return [record["text"] for record in pool if isinstance(record.get("text"), str)]


def context_window(llm: LLMParams) -> int | None:
    """The endpoint's context in tokens: llm.context_tokens, else the bundled server's llm.server_context;
    None for another endpoint whose window nobody named."""
    return llm.context_tokens or (llm.server_context if llm.base_url is None else None)


def within_length(texts: list[str], max_words: int, k: int) -> list[str]:
    """Show only examples the output may resemble: no longer than the card's limit (when enough are).
    Long examples invite long, rejected answers and make every prompt slower to read."""
    short = [text for text in texts if len(text.split()) <= max_words]
    return short if len(short) >= k else texts


class Progress:
    """One tqdm bar per task and setting: kept records, rate, ETA; calls and cache hits as postfix."""

    def __init__(self, what: str, total: int, stats: CallStats) -> None:
        self.bar = tqdm(total=total, desc=f"generate {what}", unit="text", file=sys.stderr,
                        dynamic_ncols=True, mininterval=0.5)
        self.stats = stats
        self.postfix_at = 0.0

    def __call__(self, engine: Engine, kept: bool) -> None:
        if kept:
            self.bar.update(1)
        now = time.monotonic()
        if now - self.postfix_at < 0.5:  # formatting the postfix per text would cost more than a cache hit
            return
        self.postfix_at = now
        self.bar.set_postfix(calls=self.stats.calls, cache_hits=engine.accounting.cache_hits,
                             rejected=sum(engine.accounting.rejected_total().values()), refresh=False)

    def close(self) -> None:
        self.bar.close()


def copy_detector(gen: GenerationParams, pool: dict[str, list[str]]) -> CopyDetector | None:
    """Few-shot texts must not copy any pool text the generator may have been shown."""
    return CopyDetector([text for texts in pool.values() for text in texts], gen.copy_ngram) if pool else None


def build_filters(card: TaskCard, gen: GenerationParams, detector: CopyDetector | None) -> dict[str, TextFilter]:
    return {label: TextFilter(min_words=gen.min_words, max_words=min(card.max_words, gen.max_words),
                              shingle_words=gen.shingle_words, near_duplicate_jaccard=gen.near_duplicate_jaccard,
                              copy_detector=detector)
            for label in card.labels}


async def _generate(params: Params, task: str, setting: str, card: TaskCard,
                    session: LLMSession) -> tuple[list[Outcome], str]:
    """Every replicate of one task and setting, one after the other, through one session (one server start)."""
    gen = params.generate
    pool = pool_by_label(task, card, gen, setting)
    text_budget = params.llm.max_tokens or tokens_per_text(min(card.max_words, gen.max_words), pool_texts(task))
    outcomes, prompt_id = [], ""
    try:
        for replicate in range(gen.replicates):
            # A replicate is a fresh sample of the generator: its own seed, so its own cache keys.
            builder = PromptBuilder(task=task, setting=setting, style=session.style,
                                    context_prompt=card.context_prompt, text_kind=card.text_kind,
                                    labels=card.labels, max_words=card.max_words, pool_by_label=pool,
                                    few_shot_k=gen.few_shot_k, diversity_every=gen.diversity_every,
                                    seed=replicate_seed(gen, replicate), texts_per_call=gen.texts_per_call,
                                    tokens_per_text=text_budget, context_tokens=context_window(params.llm))
            progress = Progress(f"{task}/{setting} r{replicate}", gen.per_class * len(card.labels), session.stats)
            detector = copy_detector(gen, pool)
            engine = Engine(builder=builder, session=session, filters=build_filters(card, gen, detector),
                            per_class=gen.per_class, max_attempts=int(gen.max_attempts_factor * gen.per_class),
                            on_progress=progress, stop_at_copy=detector if gen.stop_at_copy else None)
            try:
                outcomes.append(await engine.run())
            finally:
                progress.close()
            prompt_id = builder.prompt_id
            if outcomes[-1].stop_reason:  # the money budget is spent: no further replicate
                break
    finally:
        await session.close()
    return outcomes, prompt_id


def replicate_seed(gen: GenerationParams, replicate: int) -> int:
    """Replicate 0 keeps generate.seed (and so every response cached before replicates existed)."""
    return gen.seed + replicate


def to_record(task: str, setting: str, llm: LLMParams, replicate: int, sample: Any) -> dict[str, Any]:
    return {
        "id": f"{task}-{setting}-r{replicate}-{sample.label}-{sample.sample_index}",
        "task": task, "text": sample.text, "label": sample.label, "source": setting, "replicate": replicate,
        "model": llm.model, "prompt_id": sample.prompt.prompt_id, "sample_index": sample.sample_index,
        "seed": sample.seed, "temperature": llm.temperature,
        # the call's tokens, shared by the texts_in_call texts of its list
        "tokens": {"prompt": sample.response.prompt_tokens, "completion": sample.response.completion_tokens},
        "texts_in_call": sample.prompt.items,
        "examples_cut": sample.prompt.examples_cut,   # shown examples cut to the length limit or the context
    }


def metrics(params: Params, task: str, setting: str, outcomes: list[Outcome] | None, prompt_id: str,
            stats: CallStats, accounting: Accounting, wall_s: float, status: str) -> dict[str, Any]:
    llm, gen = params.llm, params.generate
    kept_total = sum(tally.kept for tally in accounting.labels.values())
    attempts = sum(tally.attempts for tally in accounting.labels.values())
    looked_up = accounting.cache_hits + stats.calls
    return {
        "task": task, "setting": setting, "status": status, "model": llm.model,
        "backend": backend_name(llm), "prompt_style": prompt_style(llm),
        "prompt_id": prompt_id, "per_class": gen.per_class, "replicates": len(outcomes or []),
        "kept_per_replicate": [sum(len(samples) for samples in outcome.kept.values()) for outcome in outcomes or []],
        "labels": {label: {"kept": tally.kept, "attempts": tally.attempts,
                           "rejected": dict(sorted(tally.rejected.items()))}
                   for label, tally in accounting.labels.items()},
        "kept": kept_total, "attempts": attempts,
        "complete": bool(outcomes) and all(len(samples) >= gen.per_class
                                           for outcome in outcomes for samples in outcome.kept.values()),
        "rejected": dict(sorted(accounting.rejected_total().items())),
        **call_counts(stats, accounting),
        "errors": dict(sorted(stats.errors.items())),
        "rate_limit_wait_s": round(stats.rate_limit_wait_s, 3),
        "copy_stops": stats.copy_stops,
        "cache_hit_rate": round(accounting.cache_hits / looked_up, 4) if looked_up else 0.0,
        "tokens": {"prompt": accounting.fresh_prompt_tokens, "completion": accounting.fresh_completion_tokens,
                   "cached_prompt": accounting.cached_prompt_tokens,
                   "cached_completion": accounting.cached_completion_tokens},
        "budget_usd": gen.budget_usd,
        "budget_exhausted": any(outcome.stop_reason == "budget" for outcome in outcomes or []),
        "wall_time_s": round(wall_s, 3), "kept_per_s": round(kept_total / wall_s, 3) if wall_s > 0 else 0.0,
    }


def summary(task: str, setting: str, per_class: int, result: dict[str, Any]) -> str:
    kept = ", ".join(f"{label} {info['kept']}/{per_class}" for label, info in result["labels"].items())
    rejected = ", ".join(f"{reason} {count}" for reason, count in result["rejected"].items()) or "none"
    why = ""
    if result["budget_exhausted"]:
        why = f" (stopped: budget ${result['budget_usd']} spent)"
    elif not result["complete"]:
        why = " (attempt budget spent; raise generate.max_attempts_factor or relax the filters)"
    return (f"generate {task}/{setting}: kept {kept}{why}; rejected: {rejected}; {result['calls']} calls, "
            f"{result['cache_hits']} cache hits, {result['retries']} retries, "
            f"{result['tokens']['prompt']}+{result['tokens']['completion']} tokens, ${result['cost_usd']:.4f}, "
            f"{result['wall_time_s']:.1f}s")


def run(params: Params, task: str, setting: str) -> None:
    card = load_card(task)
    llm, gen = params.llm, params.generate
    started = time.monotonic()
    outcomes: list[Outcome] = []
    prompt_id = ""
    # The one LLM path (access.py): endpoint, client, cache, limits and budget; jitter seeded by generate.seed.
    with open_session(llm, gen, jitter_seed=gen.seed) as session:
        stats, accounting = session.stats, session.accounting
        try:
            outcomes, prompt_id = run_async(_generate(params, task, setting, card, session))
        except BaseException as error:
            if isinstance(error, Interrupted):  # every finished call was committed before it was counted
                error.detail = f"{stats.calls + accounting.cache_hits} finished calls are cached; rerun to resume"
            # A refused key or an unreachable URL fails before any completion, retry or cache hit:
            # a user error, so nothing is written; any other failure is accounted.
            if stats.calls or stats.errors or accounting.cache_hits:
                write_metrics(paths.metrics_file("generate", task, setting),
                              metrics(params, task, setting, None, prompt_id, stats, accounting,
                                      time.monotonic() - started, status="failed"), GenerateMetrics)
            raise
    for outcome in outcomes:
        drop_cross_label_duplicates(outcome.kept, accounting)
    empty = sorted({f"{label} (replicate {r})" for r, outcome in enumerate(outcomes)
                    for label, samples in outcome.kept.items() if not samples})
    budget_stop = any(outcome.stop_reason for outcome in outcomes)
    status = "failed" if empty else ("budget_exhausted" if budget_stop else
                                     "ok" if all(len(s) >= gen.per_class for o in outcomes for s in o.kept.values())
                                     else "short")
    result = metrics(params, task, setting, outcomes, prompt_id, stats, accounting, time.monotonic() - started, status)
    write_metrics(paths.metrics_file("generate", task, setting), result, GenerateMetrics)
    print(summary(task, setting, gen.per_class * gen.replicates, result), flush=True)
    if empty:
        raise SynthclfError(f"generate {task}/{setting}: no usable text for label(s) {empty} "
                            f"(rejected: {result['rejected']}); check the model and prompt_style, or raise "
                            "generate.max_attempts_factor / generate.budget_usd")
    records = [to_record(task, setting, llm, replicate, sample)
               for replicate, outcome in enumerate(outcomes) for label in card.labels for sample in outcome.kept[label]]
    write_jsonl(paths.synthetic_file(task, setting), records)
