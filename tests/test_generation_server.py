"""End-to-end generation against the real bundled model: the real `openai` client, the real
llama.cpp server (one per session), a real fault-injecting proxy in front of it, real SQLite.

Sizes are tiny (a few examples per label): SmolLM2-135M answers in well under a second per call
on two cores, so the whole module stays within a few minutes.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from synthclf import paths
from synthclf.config import load_params
from synthclf.errors import SynthclfError
from synthclf.generation import generate
from synthclf.records import read_json, read_jsonl
from synthclf.settings.generate import GenerationParams

pytestmark = pytest.mark.slow

SYNTHCLF = str(Path(sys.executable).with_name("synthclf"))  # the console script of this environment
PROVENANCE = {"id", "task", "text", "label", "source", "model", "prompt_id", "sample_index", "seed",
              "temperature", "tokens", "replicate"}
if "texts_per_call" in GenerationParams.model_fields:   # where one call may write several texts
    PROVENANCE |= {"texts_in_call", "examples_cut"}


def run_generate(setting: str = "zero_shot") -> tuple[list[dict], dict]:
    generate.run(load_params("params.yaml"), "sms_spam", setting)
    metrics = read_json(paths.metrics_file("generate", "sms_spam", setting))
    return read_jsonl(paths.synthetic_file("sms_spam", setting)), metrics


def cache_rows(root: Path) -> list[dict]:
    with sqlite3.connect(root / ".synthclf_cache" / "responses.sqlite") as db:
        return [json.loads(row[0]) for row in db.execute("SELECT request FROM responses")]


def check_records(records: list[dict], setting: str, per_class: int) -> None:
    assert records, "no records"
    assert len({record["id"] for record in records}) == len(records)
    counts = Counter(record["label"] for record in records)
    assert set(counts) == {"ham", "spam"} and all(0 < count <= per_class for count in counts.values())
    for record in records:
        assert set(record) == PROVENANCE
        assert record["source"] == setting and record["task"] == "sms_spam" and record["text"].strip()
        assert record["id"] == f"sms_spam-{setting}-r{record['replicate']}-{record['label']}-{record['sample_index']}"
        assert record["tokens"]["prompt"] > 0 and record["tokens"]["completion"] > 0
        assert record["prompt_id"].startswith(f"{setting}.completion.")


@pytest.mark.parametrize("setting", ["zero_shot", "few_shot"])
def test_generates_records_and_a_rerun_makes_zero_calls(gen_project, fault_proxy, setting) -> None:
    root = gen_project(llm={"base_url": fault_proxy.url, "backend": "llama_cpp"}, generate={"per_class": 3})
    records, metrics = run_generate(setting)
    check_records(records, setting, per_class=3)
    assert metrics["calls"] == len(fault_proxy.forwarded) == len(cache_rows(root)) > 0
    assert metrics["attempts"] == metrics["calls"] + metrics["cache_hits"]
    assert metrics["kept"] == len(records) and metrics["status"] in ("ok", "short")
    assert all(body.get("repeat_penalty") == 1.15 and "seed" in body for body in fault_proxy.forwarded)
    first = Path(paths.synthetic_file("sms_spam", setting)).read_bytes()

    fault_proxy.reset()
    _records, again = run_generate(setting)
    assert again["calls"] == 0 and fault_proxy.seen == [] and again["cache_hits"] == metrics["attempts"]
    assert Path(paths.synthetic_file("sms_spam", setting)).read_bytes() == first  # exact rerun


def test_chat_style_against_the_real_server(gen_project, fault_proxy) -> None:
    # max_tokens 120: SmolLM2 ends a chat answer well within it (at 40 most spam answers were cut off
    # and rejected as truncated), and 12 attempts a label leave room for the odd reject; timeout_s 120
    # because 120 tokens can take over 30 s on a busy two-core machine
    gen_project(llm={"base_url": fault_proxy.url, "backend": "openai", "prompt_style": "chat", "max_tokens": 120,
                     "timeout_s": 120},
                generate={"per_class": 1, "max_attempts_factor": 12})
    records, metrics = run_generate("zero_shot")
    assert metrics["prompt_style"] == "chat" and metrics["status"] == "ok" and metrics["calls"] > 0
    assert all("messages" in body and "prompt" not in body and "repeat_penalty" not in body
               for body in fault_proxy.forwarded)
    # a call that timed out on a busy machine finished upstream unreceived (abandoned), then was retried
    assert 0 < metrics["calls"] == len(fault_proxy.forwarded)
    assert len(fault_proxy.abandoned) <= metrics["errors"].get("timeout", 0)
    assert sorted(record["label"] for record in records) == ["ham", "spam"]
    for record in records:
        assert set(record) == PROVENANCE and record["text"].strip()
        assert record["prompt_id"].startswith("zero_shot.chat.")


def test_faults_lose_duplicate_or_corrupt_nothing(gen_project, fault_proxy) -> None:
    # timeout_s below the proxy's 6 s stall, yet long enough for a real call on a busy machine
    root = gen_project(llm={"base_url": fault_proxy.url, "backend": "llama_cpp", "timeout_s": 5,
                            "max_retries": 12, "concurrency": 2},  # more retries than faults: none may fail
                       generate={"per_class": 3})
    faults = ["429", "500", "stall", "malformed", "drop", "429", "500", "malformed", "drop"]
    fault_proxy.faults.extend(faults)
    records, metrics = run_generate("zero_shot")
    check_records(records, "zero_shot", per_class=3)
    assert sum(fault_proxy.injected.values()) == len(faults)
    # at least the injected faults were retried (a genuinely slow call on a busy machine may add a timeout)
    assert metrics["retries"] >= len(faults)
    expected = {"connection": 2, "malformed": 2, "rate_limited": 2, "server_error": 2, "timeout": 1}
    assert all(metrics["errors"].get(kind, 0) >= count for kind, count in expected.items()), metrics["errors"]
    # every completion the client received became exactly one cache row; nothing received was asked
    # twice. On busy cores a real call can outlast timeout_s: the upstream finishes it for a client that
    # has hung up (abandoned, counted as a timeout) and the retry resends the same seed.
    rows = cache_rows(root)
    assert metrics["calls"] == len(fault_proxy.forwarded) == len(rows)
    seeds = [body["seed"] for body in fault_proxy.forwarded]
    assert len(seeds) == len(set(seeds))
    abandoned = [body["seed"] for body in fault_proxy.abandoned]
    assert len(abandoned) <= metrics["errors"]["timeout"] - 1   # the injected stall is one timeout
    assert set(abandoned) <= set(seeds), "an abandoned call was never retried to completion"
    # Retry-After was honoured: the request after a 429 came at least 1 s later
    seen = fault_proxy.seen
    for number, item in enumerate(seen):
        if item.action == "429":
            later = [other.at for other in seen[number + 1:] if other.body.get("seed") == item.body.get("seed")]
            assert later and later[0] - item.at >= 0.95
    # the file is complete, valid JSON lines (nothing half-written)
    text = Path(paths.synthetic_file("sms_spam", "zero_shot")).read_text(encoding="utf-8")
    assert text.endswith("\n") and len(text.splitlines()) == len(records)


def test_api_key_is_never_written(gen_project, fault_proxy, monkeypatch) -> None:
    secret = "sk-synthclf-TEST-3f9a1c7e55d04b2a"
    monkeypatch.setenv("SYNTHCLF_TEST_KEY", secret)
    root = gen_project(llm={"base_url": fault_proxy.url, "backend": "llama_cpp", "api_key_env": "SYNTHCLF_TEST_KEY"},
                       generate={"per_class": 2})
    fault_proxy.faults.extend(["429", "500"])
    run_generate("few_shot")
    assert f"Bearer {secret}" in fault_proxy.authorization  # the key was really used
    with sqlite3.connect(root / ".synthclf_cache" / "responses.sqlite") as db:
        db.execute("PRAGMA wal_checkpoint(FULL)")
    written = [path for path in root.rglob("*") if path.is_file()]
    assert any(path.suffix == ".sqlite" for path in written) and len(written) >= 4
    for path in written:
        assert secret.encode() not in path.read_bytes(), f"API key found in {path}"


def test_a_refused_key_fails_clearly_without_echoing_it(gen_project, fault_proxy, monkeypatch) -> None:
    secret = "sk-synthclf-TEST-refused-9d2e"
    monkeypatch.setenv("SYNTHCLF_TEST_KEY", secret)
    root = gen_project(llm={"base_url": fault_proxy.url, "api_key_env": "SYNTHCLF_TEST_KEY"})
    fault_proxy.faults.extend(["401"] * 10)
    with pytest.raises(SynthclfError) as error:
        run_generate("zero_shot")
    assert "SYNTHCLF_TEST_KEY" in str(error.value) and secret not in str(error.value)
    assert "401" in str(error.value)
    for path in root.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes()


def test_a_dead_endpoint_stops_after_the_retries_with_a_clear_message(gen_project, fault_proxy) -> None:
    gen_project(llm={"base_url": fault_proxy.url, "max_retries": 2})
    fault_proxy.faults.extend(["500"] * 50)
    with pytest.raises(SynthclfError, match="persisted through 2 retries"):
        run_generate("zero_shot")
    assert read_json(paths.metrics_file("generate", "sms_spam", "zero_shot"))["status"] == "failed"
    assert fault_proxy.forwarded == []


def test_calls_that_keep_timing_out_name_the_timeout_as_the_fix(gen_project, fault_proxy) -> None:
    gen_project(llm={"base_url": fault_proxy.url, "timeout_s": 0.5, "max_retries": 1})
    fault_proxy.stall_s = 2.0
    fault_proxy.faults.extend(["stall"] * 50)
    with pytest.raises(SynthclfError, match=r"timeout errors .* persisted through 1 retries; .* raise llm.timeout_s "
                                            r"\(now 0.5 s\)"):
        run_generate("zero_shot")


PRICED = {"SmolLM2-135M-Instruct": {"input_per_1m": 1000, "output_per_1m": 1000}}


def test_budget_cap_stops_cleanly_and_writes_what_was_kept(gen_project, fault_proxy) -> None:
    llm = {"base_url": fault_proxy.url, "backend": "llama_cpp", "concurrency": 1}
    # first, unpriced, the first texts of both labels: cached, so the capped run keeps them for free
    gen_project(llm=llm, generate={"per_class": 2})
    cached, first = run_generate("zero_shot")
    assert {record["label"] for record in cached} == {"ham", "spam"}
    # ~100 prompt tokens a call at 1000 USD per million: about 0.1 USD a fresh call, a 0.35 USD cap
    gen_project(llm=llm, generate={"per_class": 10, "budget_usd": 0.35, "prices": PRICED})
    fault_proxy.reset()
    records, metrics = run_generate("zero_shot")
    assert metrics["budget_exhausted"] is True and metrics["status"] == "budget_exhausted"
    assert metrics["cost_usd"] >= 0.35 and 0 < metrics["calls"] <= 5
    assert metrics["cache_hits"] == first["calls"]   # every text of the first run came from the cache
    # what was kept before the cap is written: the cached texts and any the paid calls added
    assert all(record in records for record in cached) and len(cached) <= len(records) < 20
    assert metrics["kept"] == len(records)
    assert len(read_jsonl(paths.synthetic_file("sms_spam", "zero_shot"))) == len(records)


def test_a_budget_stop_that_leaves_a_label_empty_is_an_error(gen_project, fault_proxy) -> None:
    # min_words 59: every text is rejected, so the cap ends the run with no usable text at all
    gen_project(llm={"base_url": fault_proxy.url, "backend": "llama_cpp", "concurrency": 1},
                generate={"per_class": 10, "budget_usd": 0.35, "prices": PRICED, "min_words": 59})
    with pytest.raises(SynthclfError, match=r"no usable text for label\(s\) \['ham \(replicate 0\)', "
                                            r"'spam \(replicate 0\)'\]"):
        run_generate("zero_shot")
    metrics = read_json(paths.metrics_file("generate", "sms_spam", "zero_shot"))
    assert metrics["status"] == "failed" and metrics["budget_exhausted"] is True
    assert metrics["cost_usd"] >= 0.35 and 0 < metrics["calls"] <= 5 and metrics["kept"] == 0
    assert metrics["rejected"] == {"too_short": metrics["attempts"]}
    assert not paths.synthetic_file("sms_spam", "zero_shot").exists()


def test_a_label_with_zero_examples_is_an_error(gen_project, fault_proxy) -> None:
    gen_project(llm={"base_url": fault_proxy.url, "backend": "llama_cpp"},
                generate={"per_class": 1, "max_attempts_factor": 2, "min_words": 59})
    with pytest.raises(SynthclfError, match="no usable text for label"):
        run_generate("zero_shot")
    metrics = read_json(paths.metrics_file("generate", "sms_spam", "zero_shot"))
    assert metrics["status"] == "failed" and metrics["rejected"]
    assert not paths.synthetic_file("sms_spam", "zero_shot").exists()


def test_the_bundled_server_is_started_only_when_a_call_is_needed(gen_project, monkeypatch) -> None:
    from synthclf.generation import server

    started = []
    real_spawn = server.spawned_server

    def counted(*args, **kwargs):
        started.append(args)
        return real_spawn(*args, **kwargs)

    monkeypatch.setattr(server, "spawned_server", counted)
    gen_project(llm={"base_url": None}, generate={"per_class": 1})
    records, metrics = run_generate("zero_shot")
    assert metrics["backend"] == "llama_cpp" and metrics["calls"] > 0 and records
    assert len(started) == 1   # the calls needed it: started once for all of them

    def no_server(*args, **kwargs):
        raise AssertionError("a fully cached run must not start the bundled server")

    monkeypatch.setattr(server, "spawned_server", no_server)
    again_records, again = run_generate("zero_shot")
    assert again["calls"] == 0 and again["cache_hits"] == metrics["attempts"] and again_records == records


def test_replicate_r_is_generated_with_seed_generate_seed_plus_r(gen_project, fault_proxy) -> None:
    """README: replicate r uses seed generate.seed + r. So replicate 1 of a run with seed 5 is, call for
    call, replicate 0 of a run with seed 6: the second run is answered wholly from the response cache."""
    llm = {"base_url": fault_proxy.url, "backend": "llama_cpp"}
    gen_project(llm=llm, generate={"per_class": 2, "replicates": 2, "seed": 5})
    records, metrics = run_generate("zero_shot")
    second = sorted((r["label"], r["sample_index"], r["seed"], r["text"]) for r in records if r["replicate"] == 1)
    first = sorted((r["label"], r["sample_index"], r["seed"], r["text"]) for r in records if r["replicate"] == 0)
    assert second and first and metrics["calls"] > 0 and {s[2] for s in second}.isdisjoint(s[2] for s in first)
    fault_proxy.reset()
    gen_project(llm=llm, generate={"per_class": 2, "replicates": 1, "seed": 6})
    alone, again = run_generate("zero_shot")
    assert again["calls"] == 0 and fault_proxy.seen == [] and again["cache_hits"] > 0
    assert sorted((r["label"], r["sample_index"], r["seed"], r["text"]) for r in alone) == second


def test_requests_per_minute_from_params_paces_the_calls(gen_project, fault_proxy) -> None:
    """llm.requests_per_minute reaches the client: at 30 a minute (one every 2 s after a burst of 10 s'
    worth, 5 calls), request k (from 0) cannot leave before (k - 4) * 2 s. Lower bounds only: a slow
    machine can only make the calls later."""
    gen_project(llm={"base_url": fault_proxy.url, "backend": "llama_cpp", "requests_per_minute": 30,
                     "concurrency": 2}, generate={"per_class": 4, "max_attempts_factor": 2.0})
    started = time.monotonic()
    _records, metrics = run_generate("zero_shot")
    times = sorted(item.at for item in fault_proxy.seen)
    assert len(times) == metrics["http_requests"] >= 7, metrics
    for k, at in enumerate(times):
        if k >= 5:
            assert at - started >= (k - 4) * 2.0 - 0.05, f"request {k} left after {at - started:.2f}s"


def test_tokens_per_minute_from_params_paces_the_calls(gen_project, fault_proxy) -> None:
    """llm.tokens_per_minute holds calls back by the tokens the server reports: at 1,800 a minute
    (30 a second, a bucket of 10 s' worth: 300) and one call at a time, request k cannot leave before
    the tokens of requests 0..k-1, less the bucket, have been earned back at 30 a second. The time
    held back is reported in the metrics. Lower bounds only: a slow machine can only be later."""
    per_minute, bucket = 1800, 300
    gen_project(llm={"base_url": fault_proxy.url, "backend": "llama_cpp", "tokens_per_minute": per_minute,
                     "concurrency": 1}, generate={"per_class": 3, "max_attempts_factor": 2.0})
    started = time.monotonic()
    _records, metrics = run_generate("zero_shot")
    seen = sorted(fault_proxy.seen, key=lambda item: item.at)
    # a call that timed out (abandoned) and was sent again costs the bucket only once, as it does here
    assert len(seen) == metrics["http_requests"] >= 6, metrics
    assert all(item.tokens > 0 for item in seen if item.action == "forwarded"), [item.action for item in seen]
    used = 0
    for k, item in enumerate(seen):
        earliest = (used - bucket) / (per_minute / 60)
        assert item.at - started >= earliest - 0.05, \
            f"request {k} left at {item.at - started:.2f}s, before {earliest:.2f}s"
        used += item.tokens
    assert used > 2 * bucket, "too few tokens to test the pacing: raise per_class"
    # the calls themselves refill the bucket, so the wait is less than that bound but never nothing
    assert 0 < metrics["rate_limit_wait_s"] <= metrics["wall_time_s"], metrics


def wait_for_rows(db_path: Path, count: int, process: subprocess.Popen, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "generation finished before it could be killed; raise per_class"
        if db_path.exists():
            try:
                with sqlite3.connect(db_path, timeout=5) as db:
                    if db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] >= count:
                        return
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} cached calls after {timeout_s}s")


def test_a_killed_run_resumes_without_repeating_a_finished_call(gen_project, fault_proxy) -> None:
    root = gen_project(llm={"base_url": fault_proxy.url, "backend": "llama_cpp", "concurrency": 2},
                       generate={"per_class": 6})
    db_path = root / ".synthclf_cache" / "responses.sqlite"
    command = [SYNTHCLF, "generate", "--task", "sms_spam", "--setting", "zero_shot"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_rows(db_path, 4, process)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    finished = {row["sampling"]["seed"] for row in cache_rows(root)}
    assert len(finished) >= 4
    assert not paths.synthetic_file("sms_spam", "zero_shot").exists()

    fault_proxy.reset()
    resumed = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    asked_again = {body["seed"] for body in fault_proxy.forwarded} & finished
    assert not asked_again, f"{len(asked_again)} finished call(s) were repeated"
    metrics = read_json(root / paths.metrics_file("generate", "sms_spam", "zero_shot"))
    assert metrics["cache_hits"] >= len(finished) and metrics["calls"] == len(fault_proxy.forwarded)
    assert len(cache_rows(root)) == len(finished) + metrics["calls"]
    check_records(read_jsonl(root / paths.synthetic_file("sms_spam", "zero_shot")), "zero_shot", per_class=6)


def test_synthclf_serve_prints_its_url_and_stops_on_ctrl_c(gen_project) -> None:
    root = gen_project()
    process = subprocess.Popen([SYNTHCLF, "serve", "--port", "0"], cwd=root,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "serving SmolLM2-135M-Instruct at http://127.0.0.1:" in line, line or process.stderr.read()
        base_url = line.split(" at ")[1].split()[0]
        assert httpx.get(f"{base_url}/models", timeout=10).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(30)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{base_url}/models", timeout=2)
