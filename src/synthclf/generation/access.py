"""The one way to the configured LLM, for every stage that asks it something (generate, judge).

`open_session(llm, gen)` yields an `LLMSession` that holds, for the length of the block:
- the endpoint: llm.base_url, or the bundled llama.cpp server, started only on the first cache
  miss (so a fully cached run starts nothing) and stopped when the block ends;
- the client (client.LLMClient): concurrency, requests/tokens-per-minute limits, retries;
- the response cache (generate.cache_path, cache.ResponseCache) and its key scheme;
- the accounting: tokens, cache hits, cost from generate.prices and the generate.budget_usd cap;
- the prompt style (llm.prompt_style, auto by backend) and the backend's extra options
  (repeat_penalty for llama.cpp servers only), in the sampling parameters sent and keyed.

`await session.complete(prompt, seed, **key_extra)` is one answer: from the cache, else one call
that is committed to the cache before it is counted; None once the budget is spent (nothing is
sent then). Callers await `session.close()` inside their event loop before the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Coroutine, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from synthclf.errors import SynthclfError
from synthclf.generation.accounting import Accounting
from synthclf.generation.cache import CachedResponse, ResponseCache, cache_key, resolve_cache_path
from synthclf.generation.client import CallStats, LLMClient, Watch, sampling_params
from synthclf.generation.copies import COPY_STOP
from synthclf.generation.prompts import Prompt, Style
from synthclf.settings.generate import GenerationParams
from synthclf.settings.llm import LLMParams

LOCAL_PLACEHOLDER_KEY = "sk-local-no-key-needed"
T = TypeVar("T")


def uses_llama_cpp(llm: LLMParams) -> bool:
    return llm.backend == "llama_cpp" or (llm.backend == "auto" and llm.base_url is None)


def backend_name(llm: LLMParams) -> str:
    return "llama_cpp" if uses_llama_cpp(llm) else "openai"


def prompt_style(llm: LLMParams) -> Style:
    """auto: completion style for llama.cpp (the bundled small model follows patterns better than
    instructions), chat style for instruction-tuned API models."""
    if llm.prompt_style != "auto":
        return llm.prompt_style
    return "completion" if uses_llama_cpp(llm) else "chat"


def call_counts(stats: CallStats, accounting: Accounting) -> dict[str, int | float]:
    """What a run sent and paid for (metrics.CallCounts): generate's and judge's metrics alike."""
    return {"calls": stats.calls, "http_requests": stats.attempts, "retries": stats.retries,
            "cache_hits": accounting.cache_hits, "cost_usd": round(accounting.cost_usd, 6)}


def api_key(llm: LLMParams) -> str:
    """From the environment only. A local server needs none; a placeholder keeps the client happy."""
    if llm.base_url is None:
        return LOCAL_PLACEHOLDER_KEY
    return os.environ.get(llm.api_key_env) or LOCAL_PLACEHOLDER_KEY


@dataclass(frozen=True)
class Reply:
    response: CachedResponse
    from_cache: bool


class LLMSession:
    """Endpoint, client, cache, limits, budget, prompt style and backend options of one stage run."""

    def __init__(self, llm: LLMParams, *, cache: ResponseCache, accounting: Accounting,
                 stack: contextlib.ExitStack, stats: CallStats | None = None, jitter_seed: int = 0) -> None:
        self.llm = llm
        self.cache = cache
        self.accounting = accounting
        self.stack = stack
        self.stats = stats or CallStats()
        self.jitter_seed = jitter_seed
        self.style: Style = prompt_style(llm)
        self.llama_cpp = uses_llama_cpp(llm)
        self.base_url: str | None = llm.base_url
        self._client: LLMClient | None = None
        self._lock = asyncio.Lock()

    # --- what is sent, and what the cache keys ---

    def sampling(self, prompt: Prompt, seed: int) -> dict[str, Any]:
        """The sampling parameters exactly as the client sends them (backend options included)."""
        return sampling_params(self.llm, prompt, seed, llama_cpp=self.llama_cpp)

    def request(self, prompt: Prompt, seed: int, **key_extra: Any) -> dict[str, Any]:
        """What is sent, minus credentials and endpoint: the cache key's input and the cache's record.
        `key_extra` names what else sets a call apart (generate: the sample index)."""
        return {"model": self.llm.model, "style": prompt.style, **prompt.body(),
                "sampling": self.sampling(prompt, seed), **key_extra}

    @property
    def budget_exhausted(self) -> bool:
        return self.accounting.budget_exhausted

    # --- asking ---

    async def client(self) -> LLMClient:
        """The client, created on the first cache miss; starts the bundled server if needed."""
        async with self._lock:
            if self._client is None:
                if self.base_url is None:
                    self.base_url = await self._start_local_server()
                self._client = LLMClient(self.llm, self.base_url, api_key(self.llm), llama_cpp=self.llama_cpp,
                                         stats=self.stats, rng_seed=self.jitter_seed)
            return self._client

    async def _start_local_server(self) -> str:
        from synthclf.generation.server import spawned_server

        # Spawned on this thread on purpose: the server child is tied to the thread that spawned it
        # (PR_SET_PDEATHSIG). Its start-up is awaited, so an interrupt during a model load acts at once.
        server = self.stack.enter_context(spawned_server(self.llm))
        await server.until_ready()
        return server.base_url

    async def complete(self, prompt: Prompt, seed: int, watch: Watch | None = None, **key_extra: Any) -> Reply | None:
        """One answer: a cache hit (free, needs no concurrency slot), else one call, committed to the
        cache before it is counted. None when the budget is spent before it could be sent.
        With `watch` the call is streamed and may stop early (copies.py). The key stays the same
        either way: a whole answer serves a watching caller (it cuts it the same way), but an answer
        stopped at a copy does not serve a caller without the watch: that one is asked again, whole."""
        request = self.request(prompt, seed, **key_extra)
        key = cache_key(request)
        cached = self.cache.get(key)
        if cached is not None and (watch is not None or cached.finish_reason != COPY_STOP):
            self.accounting.record_hit(cached)
            return Reply(cached, from_cache=True)
        if self.budget_exhausted:
            return None
        client = await self.client()
        # Asked again once a slot is free: the budget may have been spent while this call waited.
        response = await client.complete(prompt, seed, go_ahead=lambda: not self.budget_exhausted, watch=watch)
        if response is None:
            return None
        self.cache.put(key, request, response, replace=cached is not None)
        self.accounting.record_fresh(response)
        return Reply(response, from_cache=False)

    async def close(self) -> None:
        """Close the HTTP client (in the event loop); the server, if any, stops with the block."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()


@contextlib.contextmanager
def open_session(llm: LLMParams, gen: GenerationParams, *, jitter_seed: int = 0) -> Iterator[LLMSession]:
    """A session over generate.cache_path, priced by generate.prices and capped by generate.budget_usd.
    The bundled server it may start, and the cache, are closed when the block ends."""
    with contextlib.ExitStack() as stack:
        cache = stack.enter_context(ResponseCache(resolve_cache_path(gen.cache_path)))
        accounting = Accounting(price=gen.prices.get(llm.model), budget_usd=gen.budget_usd)
        yield LLMSession(llm, cache=cache, accounting=accounting, stack=stack, jitter_seed=jitter_seed)


async def gather_all(coroutines: Iterable[Coroutine[Any, Any, T]]) -> list[T]:
    """Run all at once (the client's semaphore bounds the calls); the first error cancels the rest
    and is raised as itself, a user-facing one first."""
    tasks: list[asyncio.Task[T]] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(coroutine) for coroutine in coroutines]
    except BaseExceptionGroup as group_error:
        raise first_user_error(group_error) from None
    return [task.result() for task in tasks]


def first_user_error(group_error: BaseExceptionGroup) -> BaseException:
    """Unwrap a TaskGroup's exception group: an interrupt first, then a user-facing error, then anything else."""
    leaves: list[BaseException] = []

    def collect(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                collect(inner)
        else:
            leaves.append(error)

    collect(group_error)
    for leaf in leaves:
        if isinstance(leaf, (KeyboardInterrupt, SystemExit)):
            return leaf
    for leaf in leaves:
        if isinstance(leaf, SynthclfError):
            return leaf
    return leaves[0]
