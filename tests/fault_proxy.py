"""A fault-injecting HTTP proxy on loopback, in front of a real OpenAI-compatible server.

Runs an aiohttp server in its own thread and event loop so that both in-process runs and
`synthclf` subprocesses can talk to it. Each POST takes the next fault from `faults` (or passes
through when none is left); every fault is answered by the proxy itself, without calling the
upstream server, so `forwarded` counts exactly the completions the upstream really produced and the
client received; `abandoned` those it produced after the client had given up on them (timed out).

Faults: "429" (with Retry-After), "500", "stall" (no answer for `stall_s`, then the connection is
dropped), "malformed" (200 with broken JSON), "drop" (connection closed without an answer),
"401" (an auth error whose body echoes the Authorization header, as careless servers do).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

HOP_HEADERS = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


@dataclass
class Seen:
    """One request the proxy received: when, its parsed body and what the proxy did with it."""

    at: float
    body: dict
    action: str  # "forwarded" or a fault name
    tokens: int = 0  # prompt + completion tokens the upstream reported for a forwarded request


@dataclass
class FaultProxy:
    upstream: str  # base URL of the real server, e.g. http://127.0.0.1:1234/v1
    retry_after_s: int = 1
    stall_s: float = 3.0
    faults: deque = field(default_factory=deque)
    seen: list[Seen] = field(default_factory=list)
    injected: Counter = field(default_factory=Counter)
    authorization: set = field(default_factory=set)

    def __post_init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> FaultProxy:
        self.thread.start()
        if not self.started.wait(10):
            raise RuntimeError("fault proxy did not start")
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def forwarded(self) -> list[dict]:
        """Bodies of requests the upstream server answered to a client still waiting (each one a real,
        finished call the client received)."""
        return [item.body for item in self.seen if item.action == "forwarded"]

    @property
    def abandoned(self) -> list[dict]:
        """Bodies of requests the upstream answered after the client had hung up (it timed out)."""
        return [item.body for item in self.seen if item.action == "abandoned"]

    def reset(self) -> None:
        self.seen.clear()
        self.injected.clear()
        self.faults.clear()

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self._start())
        self.started.set()
        self.loop.run_forever()

    async def _start(self) -> None:
        # A fresh upstream connection per request: a reused one the server already closed would
        # surface as an error the proxy did not mean to inject.
        self.session = ClientSession(timeout=ClientTimeout(total=300), connector=TCPConnector(force_close=True))
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        await self.runner.cleanup()
        await self.session.close()

    # -- requests --------------------------------------------------------------------------
    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = json.loads(raw) if raw else {}
        if "authorization" in request.headers:
            self.authorization.add(request.headers["authorization"])
        fault = self.faults.popleft() if request.method == "POST" and self.faults else None
        entry = Seen(time.monotonic(), body, fault or "sent_upstream")
        self.seen.append(entry)
        if fault:
            self.injected[fault] += 1
            return await self._inject(fault, request)
        return await self._forward(request, raw, entry)

    async def _inject(self, fault: str, request: web.Request) -> web.StreamResponse:
        error = {"error": {"message": f"injected {fault}", "type": "injected"}}
        if fault == "429":
            return web.json_response(error, status=429, headers={"Retry-After": str(self.retry_after_s)})
        if fault == "500":
            return web.json_response(error, status=500)
        if fault == "401":
            echoed = {"error": {"message": f"bad key: {request.headers.get('authorization', '')}"}}
            return web.json_response(echoed, status=401)
        if fault == "malformed":
            return web.Response(status=200, body=b'{"id": "cmpl-1", "choices": [{"text": "half',
                                content_type="application/json")
        if fault == "stall":
            await asyncio.sleep(self.stall_s)
        # "drop" and the end of a stall: close the connection without any answer
        if request.transport is not None:
            request.transport.abort()
        raise ConnectionResetError(f"injected {fault}")

    async def _forward(self, request: web.Request, raw: bytes, entry: Seen) -> web.Response:
        headers = {name: value for name, value in request.headers.items() if name.lower() not in HOP_HEADERS}
        target = self.upstream.rstrip("/").removesuffix("/v1") + request.path_qs
        async with self.session.request(request.method, target, data=raw or None, headers=headers) as upstream:
            payload = await upstream.read()
        if upstream.status != 200:
            entry.action = f"upstream_{upstream.status}"
        elif request.transport is None or request.transport.is_closing():
            # the client gave up (its timeout) while the upstream was still working: a finished
            # completion that nobody received, so the client's retry of the same request is no repeat
            entry.action = "abandoned"
        else:
            entry.action = "forwarded"
            entry.tokens = reported_tokens(payload)
        return web.Response(status=upstream.status, body=payload,
                            content_type=upstream.content_type or "application/json")


def reported_tokens(payload: bytes) -> int:
    """prompt + completion tokens from an OpenAI-style answer's usage; 0 when it has none."""
    try:
        usage = json.loads(payload).get("usage") or {}
        return int(usage.get("prompt_tokens", 0)) + int(usage.get("completion_tokens", 0))
    except (ValueError, AttributeError, TypeError):
        return 0
