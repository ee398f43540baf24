"""Throughput of the generation engine against an endpoint with a fixed service time.

Starts, in a separate process, a loopback OpenAI-compatible endpoint that answers every
/v1/completions request after exactly SERVICE_MS milliseconds with a varied text (a benchmark
target with a known ideal, not a model). Then measures, through the real `synthclf generate` code
path (openai client, limiter, SQLite cache, cleaning and filters, atomic output):

1. fresh generation at concurrency 32, against the ideal rate concurrency / service time;
2. a plain sequential loop of `openai` calls (what a naive script does), for comparison;
3. the cache-hit path: the same run again, every response from the cache, in records per second.

Usage: python benchmarks/generation_throughput.py [--service-ms 100] [--concurrency 32] [--per-class 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")
VOCABULARY = [f"w{number:04d}" for number in range(5000)]


def serve_fake_endpoint(port: int, service_ms: float, ready: multiprocessing.Event) -> None:
    """A minimal /v1/completions endpoint: sleep service_ms, answer 10-20 seeded random words."""
    from aiohttp import web

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a terminal's Ctrl-C reaches us too: the parent stops us

    window = {"first": None, "last": None, "count": 0}

    async def completions(request: web.Request) -> web.Response:
        body = await request.json()
        window["first"] = window["first"] or time.monotonic()
        await asyncio.sleep(service_ms / 1000)
        rng = random.Random(body.get("seed", 0))
        text = " ".join(rng.choice(VOCABULARY) for _ in range(rng.randint(10, 20)))
        window["last"] = time.monotonic()
        window["count"] += 1
        return web.json_response({
            "id": "cmpl-bench", "object": "text_completion", "created": 0, "model": body.get("model", "bench"),
            "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70},
        })

    async def models(_request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": "bench", "object": "model"}]})

    async def stats(_request: web.Request) -> web.Response:
        """First request in to last answer out, then reset: the engine's time at the endpoint."""
        answer = dict(window)
        window.update(first=None, last=None, count=0)
        return web.json_response(answer)

    app = web.Application()
    app.router.add_post("/v1/completions", completions)
    app.router.add_get("/stats", stats)
    app.router.add_get("/v1/models", models)

    async def main() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_project(root: Path, base_url: str, concurrency: int, per_class: int) -> None:
    """A one-task project (sms_spam, 2 labels) pointed at the fake endpoint."""
    params = {
        "seed": 0, "tasks": ["sms_spam"], "sources": ["real", "zero_shot"],
        # train_size only bounds per_class (a size-matched real draw must be possible); nothing is trained here
        "split": {"sms_spam": {"train_size": max(100, per_class), "test_size": 100, "pool_size": 10}},
        "llm": {"base_url": base_url, "model": "bench", "backend": "openai", "prompt_style": "completion",
                "concurrency": concurrency, "timeout_s": 30, "max_retries": 3},
        "compare": {"sizes": []},
        "generate": {"settings": ["zero_shot"], "per_class": per_class, "replicates": 1, "max_attempts_factor": 1.5,
                     "diversity_every": 0, "min_words": 2, "max_words": 60},
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")


def run_stage(root: Path) -> dict:
    from synthclf.config import load_params
    from synthclf.generation import generate

    previous = Path.cwd()
    os.chdir(root)
    try:
        with contextlib.redirect_stderr(open(os.devnull, "w")):  # no progress bar in the figures
            generate.run(load_params("params.yaml"), "sms_spam", "zero_shot")
        return json.loads((root / "metrics/generate/sms_spam/zero_shot.json").read_text())
    finally:
        os.chdir(previous)


def sequential_rate(base_url: str, calls: int) -> float:
    """Calls per second of a plain loop of synchronous openai calls."""
    import openai

    client = openai.OpenAI(base_url=base_url, api_key="bench", max_retries=0)
    started = time.perf_counter()
    for seed in range(calls):
        client.completions.create(model="bench", prompt="Write one SMS message.", max_tokens=60, seed=seed)
    return calls / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--service-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--per-class", type=int, default=2000, help="valid texts per label (2 labels)")
    parser.add_argument("--sequential-calls", type=int, default=30)
    args = parser.parse_args()

    port = free_port()
    base_url = f"http://127.0.0.1:{port}/v1"
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=serve_fake_endpoint, args=(port, args.service_ms, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(30):
            sys.exit("the fake endpoint did not start")
        ideal = args.concurrency / (args.service_ms / 1000)
        with tempfile.TemporaryDirectory(prefix="synthclf-bench-") as tmp:
            root = Path(tmp)
            os.environ["SYNTHCLF_CACHE_DIR"] = str(root / "cache")
            write_project(root, base_url, args.concurrency, args.per_class)

            cpu_before = time.process_time()
            fresh = run_stage(root)
            cpu_per_call_ms = (time.process_time() - cpu_before) / fresh["calls"] * 1000
            fresh_rate = fresh["calls"] / fresh["wall_time_s"]
            served = httpx.get(f"http://127.0.0.1:{port}/stats").json()
            busy_rate = served["count"] / (served["last"] - served["first"] + args.service_ms / 1000)
            cached = run_stage(root)
            cached_rate = cached["cache_hits"] / cached["wall_time_s"]
        sequential = sequential_rate(base_url, args.sequential_calls)
    finally:
        server.terminate()
        server.join(5)

    print(f"fake endpoint: {args.service_ms:.0f} ms per request; engine concurrency {args.concurrency}")
    print(f"fresh run:      {fresh['calls']} calls in {fresh['wall_time_s']:.2f} s = {fresh_rate:.1f} calls/s; "
          f"ideal {ideal:.1f} calls/s; ratio {fresh_rate / ideal:.3f} of ideal "
          f"(kept {fresh['kept']}, retries {fresh['retries']})")
    print(f"                between the first request and the last answer: {busy_rate:.1f} calls/s = "
          f"{busy_rate / ideal:.3f} of ideal (the rest is start-up: imports, client, cache, output)")
    print(f"                client CPU {cpu_per_call_ms:.2f} ms per call (openai + httpx + engine), so one free core "
          f"caps the engine at {1000 / cpu_per_call_ms:.0f} calls/s; load average now {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    print(f"sequential:     plain openai loop {sequential:.1f} calls/s (ideal {1000 / args.service_ms:.1f}); "
          f"engine is {fresh_rate / sequential:.1f}x faster")
    print(f"cache-hit path: {cached['cache_hits']} records in {cached['wall_time_s']:.2f} s = "
          f"{cached_rate:,.0f} records/s; calls made: {cached['calls']}")
    ok = fresh_rate / ideal >= 0.9 and cached_rate >= 5000
    print("targets (>= 0.9 of ideal, >= 5,000 cached records/s):", "met" if ok else "NOT met")


if __name__ == "__main__":
    from synthclf.interrupts import run_script

    run_script(main)  # SIGINT/SIGTERM: one line, exit 130/143, temporary files cleaned up
