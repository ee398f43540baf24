"""One client for every backend: the `openai` package's AsyncOpenAI against `llm.base_url`.

OpenAI, vLLM, llama.cpp and any OpenAI-compatible endpoint are spoken to the same way. This module
adds what a long generation run needs around a single call:
- bounded concurrency (a semaphore), requests- and tokens-per-minute limits;
- retries with exponential backoff and full jitter on 429, 5xx, timeouts, dropped connections and
  malformed responses, honouring Retry-After; the openai client's own retries are off
  (max_retries=0) so every retry is ours and is counted;
- a per-request timeout;
- answers streamed where the caller watches them (few-shot answers stop at their first copied text,
  generation/copies.py): the stream is closed at once, which stops a llama.cpp server's generation.
Errors that no retry can fix (bad key, unknown model, bad request) stop the run with one clear
line. The API key lives only in the AsyncOpenAI object: it is never logged, cached or written.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import openai

from synthclf.errors import SynthclfError
from synthclf.generation.cache import CachedResponse
from synthclf.generation.copies import COPY_STOP
from synthclf.generation.limits import RateLimiter
from synthclf.generation.prompts import Prompt
from synthclf.settings.llm import LLMParams

RETRY_AFTER_CAP_S = 120.0
Watch = Callable[[str], "str | None"]  # the text streamed so far -> the text to keep when the answer stops now


class MalformedResponse(Exception):
    """The server answered 200 but not with a usable completion."""


class CallFailed(SynthclfError):
    """Retries exhausted on a transient error; the run stops, the cache keeps what was done."""


@dataclass
class CallStats:
    attempts: int = 0  # HTTP requests sent, retries included
    calls: int = 0  # requests that returned a usable completion
    retries: int = 0
    errors: dict[str, int] = field(default_factory=dict)  # transient error kind -> count
    rate_limit_wait_s: float = 0.0  # held back by the requests- and tokens-per-minute limits
    copy_stops: int = 0  # streamed answers stopped at their first copied text

    def count_error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int
    base_s: float
    max_s: float

    def delay(self, retry_number: int, retry_after: float | None, rng: random.Random) -> float:
        """Full jitter on an exponential ceiling; a server's Retry-After is a floor we respect."""
        backoff = rng.uniform(0, min(self.max_s, self.base_s * 2 ** retry_number))
        if retry_after is not None:
            return min(RETRY_AFTER_CAP_S, retry_after) + rng.uniform(0, self.base_s)
        return backoff


def retry_after_seconds(headers: Any) -> float | None:
    """Retry-After as seconds or an HTTP date, or OpenAI's retry-after-ms; None when absent."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def transient_kind(exc: BaseException) -> str | None:
    """A short name for errors worth retrying; None for errors that a retry cannot fix."""
    if isinstance(exc, openai.RateLimitError):
        return "rate_limited"
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIConnectionError):
        return "connection"
    # a stream that breaks after its first bytes raises httpx's own errors, or an in-stream error event
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.TransportError):
        return "connection"
    if isinstance(exc, openai.InternalServerError) or (
            isinstance(exc, openai.APIStatusError) and exc.status_code >= 500):
        return "server_error"
    if isinstance(exc, openai.APIStatusError) and exc.status_code in (408, 409):
        return "server_error"
    if isinstance(exc, (MalformedResponse, openai.APIResponseValidationError, json.JSONDecodeError)):
        return "malformed"
    if type(exc) is openai.APIError:  # an error event inside a stream: the server's, not the request's
        return "server_error"
    return None


def fatal_message(exc: BaseException, llm: LLMParams, base_url: str) -> str:
    """One line for an error no retry fixes. Never echoes the server's text for auth errors:
    some servers repeat (part of) the key in it."""
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return (f"the endpoint {base_url} refused the API key from ${llm.api_key_env} "
                f"(HTTP {exc.status_code}); set a valid key in that environment variable")
    if isinstance(exc, openai.NotFoundError):
        return (f"the endpoint {base_url} has no model {llm.model!r} or no such API route (HTTP 404); "
                "check llm.model, llm.base_url and llm.prompt_style")
    if isinstance(exc, openai.APIStatusError):
        detail = str(getattr(exc, "message", "") or exc)[:200]
        return f"the endpoint {base_url} rejected the request (HTTP {exc.status_code}: {detail}); check llm settings"
    return f"calling {base_url} failed: {type(exc).__name__}: {str(exc)[:200]}"


def ensure_reachable(base_url: str, timeout_s: float) -> None:
    """Fail at once, naming the URL and the fix, when nothing listens at base_url: retrying a
    closed port or an unknown host only delays the same answer by every backoff."""
    url = urllib.parse.urlsplit(base_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise SynthclfError(f"llm.base_url: got {base_url!r}; use an http(s) URL such as http://localhost:8000/v1")
    if urllib.request.getproxies().get(url.scheme) and not urllib.request.proxy_bypass(url.hostname):
        return  # reached through a proxy: only the request itself can tell
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        with socket.create_connection((url.hostname, port), timeout=timeout_s):
            pass
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__)
        raise SynthclfError(f"llm.base_url {base_url} is not reachable ({reason}); start the server there, fix "
                            "llm.base_url, or set it to null for the bundled model") from None


def sampling_params(llm: LLMParams, prompt: Prompt, seed: int, *, llama_cpp: bool) -> dict[str, Any]:
    """Sampling parameters exactly as sent (and as keyed in the cache)."""
    params: dict[str, Any] = {"temperature": llm.temperature, "top_p": llm.top_p,
                              "max_tokens": prompt.max_tokens or llm.max_tokens, "seed": seed}
    if prompt.stop:
        params["stop"] = list(prompt.stop)
    if llama_cpp:  # OpenAI rejects unknown fields; llama.cpp's server knows this one
        params["extra_body"] = {"repeat_penalty": llm.repeat_penalty}
    return params


def prompt_tokens_estimate(prompt: Prompt) -> int:
    """~4 characters a token: for rate limits before a call, and where a streaming server reports no usage."""
    body = prompt.text or " ".join(content for _role, content in prompt.messages)
    return len(body) // 4


class LLMClient:
    """Sends one prompt, returns one completion; concurrency, limits and retries included."""

    def __init__(self, llm: LLMParams, base_url: str, api_key: str, *, llama_cpp: bool,
                 stats: CallStats | None = None, rng_seed: int = 0) -> None:
        self.llm = llm
        self.base_url = base_url
        self.llama_cpp = llama_cpp
        self.stats = stats or CallStats()
        self.policy = RetryPolicy(llm.max_retries, llm.retry_base_s, llm.retry_max_s)
        self.semaphore = asyncio.Semaphore(llm.concurrency)
        self.requests_limiter = RateLimiter(llm.requests_per_minute)
        self.tokens_limiter = RateLimiter(llm.tokens_per_minute)
        self.rng = random.Random(rng_seed)  # jitter only; never affects what is generated
        ensure_reachable(base_url, llm.timeout_s)
        self.openai = openai.AsyncOpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=llm.timeout_s)

    def sampling(self, prompt: Prompt, seed: int) -> dict[str, Any]:
        return sampling_params(self.llm, prompt, seed, llama_cpp=self.llama_cpp)

    async def complete(self, prompt: Prompt, seed: int, go_ahead: Callable[[], bool] = lambda: True,
                       watch: Watch | None = None) -> CachedResponse | None:
        """One completion. `go_ahead` is asked once a concurrency slot is free (a budget cap may have
        been reached while this call waited); None means it was not sent. With `watch`, the answer is
        streamed and stopped where the watch says (copies.CopyWatch)."""
        async with self.semaphore:
            if not go_ahead():
                return None
            estimate = self._estimate_tokens(prompt)
            reserved = await self.tokens_limiter.acquire(estimate)
            self._record_waits()
            response = await self._with_retries(prompt, seed, watch)
            self.tokens_limiter.settle(reserved, response.prompt_tokens + response.completion_tokens)
            return response

    def _record_waits(self) -> None:
        """The time calls were held back by llm.requests_per_minute and llm.tokens_per_minute."""
        self.stats.rate_limit_wait_s = self.requests_limiter.waited_s + self.tokens_limiter.waited_s

    def _estimate_tokens(self, prompt: Prompt) -> int:
        return prompt_tokens_estimate(prompt) + (prompt.max_tokens or self.llm.max_tokens)  # plus the longest answer

    async def _with_retries(self, prompt: Prompt, seed: int, watch: Watch | None) -> CachedResponse:
        retry_number = 0
        while True:
            await self.requests_limiter.acquire(1)
            self._record_waits()
            self.stats.attempts += 1
            try:
                response = await (self._send_streamed(prompt, seed, watch) if watch else self._send(prompt, seed))
                self.stats.calls += 1
                self.stats.copy_stops += response.finish_reason == COPY_STOP
                return response
            except Exception as exc:  # noqa: BLE001 - sorted into transient and fatal below
                kind = transient_kind(exc)
                if kind is None:
                    raise SynthclfError(fatal_message(exc, self.llm, self.base_url)) from None
                self.stats.count_error(kind)
                if retry_number >= self.policy.max_retries:
                    fix = (f"raise llm.timeout_s (now {self.llm.timeout_s:g} s): a busy machine serves the bundled "
                           "model slowly, and it answers llm.concurrency calls one after another"
                           if kind == "timeout" else "rerun once the endpoint is healthy (or raise llm.max_retries)")
                    raise CallFailed(f"{kind} errors from {self.base_url} persisted through "
                                     f"{self.policy.max_retries} retries; finished calls are cached, so "
                                     f"{fix}") from None
                headers = getattr(getattr(exc, "response", None), "headers", None)
                delay = self.policy.delay(retry_number, retry_after_seconds(headers), self.rng)
                retry_number += 1
                self.stats.retries += 1
                await asyncio.sleep(delay)

    async def _send(self, prompt: Prompt, seed: int) -> CachedResponse:
        params = self.sampling(prompt, seed)
        if prompt.style == "chat":
            result = await self.openai.chat.completions.create(
                model=self.llm.model, messages=prompt.body()["messages"], **params)
            return _parse(result, chat=True)
        result = await self.openai.completions.create(model=self.llm.model, prompt=prompt.text, **params)
        return _parse(result, chat=False)

    async def _send_streamed(self, prompt: Prompt, seed: int, watch: Watch) -> CachedResponse:
        params = self.sampling(prompt, seed)
        chat = prompt.style == "chat"
        if chat:
            stream = await self.openai.chat.completions.create(
                model=self.llm.model, messages=prompt.body()["messages"], stream=True, **params)
        else:
            stream = await self.openai.completions.create(model=self.llm.model, prompt=prompt.text, stream=True,
                                                          **params)
        return await read_stream(stream, chat=chat, watch=watch, prompt_tokens=prompt_tokens_estimate(prompt))

    async def close(self) -> None:
        await self.openai.close()


async def read_stream(stream: Any, *, chat: bool, watch: Watch, prompt_tokens: int) -> CachedResponse:
    """The streamed answer, closed (and so stopped at the server) as soon as `watch` keeps a cut.
    Token counts are the server's where it reports usage; else the text chunks (one per token on
    llama.cpp) and the prompt estimated at 4 characters a token."""
    text, chunks, finish, usage = "", 0, None, None
    async with stream:
        async for chunk in stream:
            usage = getattr(chunk, "usage", None) or usage
            if not chunk.choices:
                continue
            choice = chunk.choices[0]
            piece = choice.delta.content if chat else choice.text
            finish = choice.finish_reason or finish
            if not piece:
                continue
            text += piece
            chunks += 1
            kept = watch(text)
            if kept is not None:
                return CachedResponse(text=kept, finish_reason=COPY_STOP, prompt_tokens=prompt_tokens,
                                      completion_tokens=chunks)
    if finish is None:
        raise MalformedResponse("the stream ended without a finish reason")
    if usage is not None:
        return CachedResponse(text=text, finish_reason=finish, prompt_tokens=int(usage.prompt_tokens),
                              completion_tokens=int(usage.completion_tokens))
    return CachedResponse(text=text, finish_reason=finish, prompt_tokens=prompt_tokens, completion_tokens=chunks)


def _parse(result: Any, *, chat: bool) -> CachedResponse:
    """Pull text, finish reason and usage out of a completion; anything missing is malformed."""
    try:
        choice = result.choices[0]
        text = choice.message.content if chat else choice.text
        usage = result.usage
        if not isinstance(text, str):
            raise TypeError("no text")
        prompt_tokens = int(usage.prompt_tokens) if usage is not None else 0
        completion_tokens = int(usage.completion_tokens) if usage is not None else 0
    except (AttributeError, IndexError, TypeError, ValueError) as exc:
        raise MalformedResponse(f"unusable completion: {exc}") from exc
    return CachedResponse(text=text, finish_reason=getattr(choice, "finish_reason", None),
                          prompt_tokens=prompt_tokens, completion_tokens=completion_tokens)
