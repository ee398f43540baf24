"""Unit tests of the generation pieces that need no server: cleaning and filters, prompts,
cache keys and the cache file, the rate limiter, retry timing."""

from __future__ import annotations

import asyncio
import multiprocessing
import random
from pathlib import Path

import httpx
import openai
import pytest

from synthclf.generation.cache import CachedResponse, ResponseCache, cache_key, resolve_cache_path
from synthclf.generation.cleaning import CopyDetector, NearDuplicateIndex, TextFilter, clean_text
from synthclf.generation.client import MalformedResponse, RetryPolicy, retry_after_seconds, transient_kind
from synthclf.generation.limits import RateLimiter
from synthclf.generation.prompts import PromptBuilder, load_template
from synthclf.paths import original_repo_root
from synthclf.text import embeddings
from synthclf.text.normalize import words
from synthclf.training import train

LABELS = ["ham", "spam"]


# -- cleaning ------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, expected", [
    ("Sure! Here's an SMS message:\n\n\"Hey, are you coming tonight?\"", "Hey, are you coming tonight?"),
    ("Here is a spam text message: WIN a free iPhone now!", "WIN a free iPhone now!"),
    ("Certainly. \"Call me later\"", "Call me later"),
    ("Label: spam\nText: You have won a prize, call 0800 123", "You have won a prize, call 0800 123"),
    ("1. Meet you at the pub at 8", "Meet you at the pub at 8"),
    ("- Meet you at the pub at 8", "Meet you at the pub at 8"),
    ("“Running late, sorry”", "Running late, sorry"),
    ("SMS: Running late\nsorry x", "Running late sorry x"),
    ("Meet you at 8.\nI hope this helps!", "Meet you at 8."),
    ("ham", ""),
    ("   ", ""),
])
def test_clean_text_strips_assistant_artifacts(raw: str, expected: str) -> None:
    assert clean_text(raw, LABELS) == expected


def test_clean_text_closes_a_quote_the_prompt_opened() -> None:
    assert clean_text('I\'m gonna be late tonight" (Jerry, Kramer)', opened_quote=True) == "I'm gonna be late tonight"
    # balanced quotes inside the text are part of it
    assert clean_text('She said "no" to me', opened_quote=True) == 'She said "no" to me'


@pytest.mark.parametrize("text, finish, reason", [
    ("", "stop", "empty"),
    ("I'm sorry, but I cannot write spam messages.", "stop", "refusal"),
    ("As an AI language model I do not send texts", "stop", "refusal"),
    ("Hi", "stop", "too_short"),
    (" ".join(["word"] * 11), "stop", "too_long"),
    ("Are we still on for tonight", "length", "truncated"),
    ("Are we still on for tonight", "stop", None),
])
def test_basic_rejections(text: str, finish: str, reason: str | None) -> None:
    text_filter = TextFilter(min_words=2, max_words=10, shingle_words=2, near_duplicate_jaccard=0.8, copy_detector=None)
    assert text_filter.check(text, finish) == reason


def test_duplicates_near_duplicates_and_copies_are_rejected_in_order() -> None:
    detector = CopyDetector(["Urgent! Your mobile number has been awarded a bonus. Call now"], n=6)
    text_filter = TextFilter(min_words=2, max_words=40, shingle_words=2, near_duplicate_jaccard=0.8,
                             copy_detector=detector)
    first = "are you coming to the party at james house on saturday night or not"
    assert text_filter.check(first) is None
    # case, the apostrophe and punctuation drop out of the "same text" key: an exact duplicate
    assert text_filter.check("Are you coming to the party at James' house on Saturday night, or not?") == "duplicate"
    assert text_filter.check(first.upper()) == "duplicate"
    near = "are you coming to the party at james house on saturday night or not mate"
    assert text_filter.check(near) == "near_duplicate"
    assert text_filter.check("URGENT your mobile number has been awarded a bonus call 0800") == "copies_example"
    assert text_filter.check("see you at the station at ten tomorrow") is None


def test_a_near_duplicate_that_copies_an_example_is_rejected_as_a_copy() -> None:
    """TextFilter.check asks copies_example before near_duplicate: a text that is both gets one reason."""
    example = "Urgent! Your mobile number has been awarded a bonus. Call now"
    kept = "hi tom your mobile number has now been awarded a prize so please call the shop before it closes at six"
    both = kept.replace(" now been", " been")   # Jaccard 18/21 = 0.86, and the example's 6 words
    reasons = []
    for detector in (CopyDetector([example], n=6), None):
        text_filter = TextFilter(min_words=2, max_words=40, shingle_words=2, near_duplicate_jaccard=0.8,
                                 copy_detector=detector)
        assert text_filter.check(kept) is None
        reasons.append(text_filter.check(both))
    assert reasons == ["copies_example", "near_duplicate"]


def test_near_duplicate_index_is_exact_jaccard() -> None:
    index = NearDuplicateIndex(shingle_words=1, threshold=0.5)
    index.add(words("a b c d"))
    assert index.is_near_duplicate(words("a b c x"))  # 3 / 5 = 0.6
    assert not index.is_near_duplicate(words("a b x y"))  # 2 / 6
    assert not index.is_near_duplicate(words("p q r s"))


# -- prompts -------------------------------------------------------------------------------------
def builder(setting: str, style: str, **overrides) -> PromptBuilder:
    options = dict(task="sms_spam", setting=setting, style=style, context_prompt="You write UK text messages.",
                   text_kind="SMS message", labels={"ham": "a personal message", "spam": "an advert or scam"},
                   max_words=35, pool_by_label={"ham": [f"ham example {i}" for i in range(10)],
                                                "spam": [f"spam example {i}\nwith a line break" for i in range(10)]},
                   few_shot_k=4, diversity_every=5, seed=0)
    options.update(overrides)
    return PromptBuilder(**options)


@pytest.mark.parametrize("setting", ["zero_shot", "few_shot"])
@pytest.mark.parametrize("style", ["chat", "completion"])
def test_every_template_loads_with_a_stable_prompt_id(setting: str, style: str) -> None:
    template = load_template(setting, style)
    assert template.prompt_id.startswith(f"{setting}.{style}.v")
    assert template.prompt_id == load_template(setting, style).prompt_id
    prompt = builder(setting, style).build("spam", 0)
    assert prompt.prompt_id == template.prompt_id
    body = prompt.body()
    assert ("messages" in body) == (style == "chat") and ("prompt" in body) == (style == "completion")


def test_few_shot_draws_k_examples_of_the_label_afresh_per_sample_deterministically() -> None:
    few = builder("few_shot", "completion")
    first = few.build("spam", 0)
    assert len(first.examples) == 4 and all(text.startswith("spam example") for text in first.examples)
    assert few.build("spam", 0) == first  # same sample index, same prompt
    assert any(few.build("spam", index).examples != first.examples for index in range(1, 5))
    # examples are listed one per line, so the model's item ends at the line end
    assert "spam example" in first.text and "\nwith a line break" not in first.text
    assert first.text.rstrip().endswith('5. "') and first.opens_quote and first.stop


def test_chat_prompts_carry_context_label_description_and_length_limit() -> None:
    chat = builder("zero_shot", "chat").build("spam", 1)
    roles = [message["role"] for message in chat.body()["messages"]]
    assert roles == ["system", "user"]
    assert "UK text messages" in chat.messages[0][1]
    assert "an advert or scam" in chat.messages[1][1] and "35 words" in chat.messages[1][1]


def test_diversity_prompt_every_n_shows_what_was_written_before() -> None:
    zero = builder("zero_shot", "chat")
    assert list(zero.history_indices(5)) == [0, 1, 2, 3, 4]
    assert not zero.history_indices(4) and not zero.history_indices(0)
    assert not builder("few_shot", "chat").history_indices(5)
    prompt = zero.build("ham", 5, history=["first text", "second text"])
    contents = [content for _role, content in prompt.messages]
    assert "first text" in contents and "second text" in contents
    assert "different from what you wrote before" in contents[-1]
    listed = builder("zero_shot", "completion").build("ham", 5, history=["first text"]).text
    assert '1. "first text"' in listed and listed.endswith('2. "')


def test_sample_seeds_are_stable_and_distinct() -> None:
    zero = builder("zero_shot", "completion")
    seeds = {zero.sample_seed(label, index) for label in ("ham", "spam") for index in range(200)}
    assert len(seeds) == 400
    assert zero.sample_seed("ham", 3) == builder("zero_shot", "completion").sample_seed("ham", 3)
    assert zero.sample_seed("ham", 3) != builder("zero_shot", "completion", seed=1).sample_seed("ham", 3)


# -- cache ---------------------------------------------------------------------------------------
def request(**changes) -> dict:
    base = {"model": "m", "style": "completion", "prompt": "p", "sample_index": 3,
            "sampling": {"temperature": 0.8, "top_p": 0.95, "max_tokens": 60, "seed": 7}}
    base.update(changes)
    return base


def test_cache_key_covers_model_prompt_sampling_and_sample_index_only() -> None:
    key = cache_key(request())
    assert key == cache_key(dict(reversed(list(request().items()))))  # order-independent
    for change in ({"model": "other"}, {"prompt": "q"}, {"sample_index": 4}, {"style": "chat"},
                   {"sampling": {"temperature": 0.7, "top_p": 0.95, "max_tokens": 60, "seed": 7}},
                   {"sampling": {"temperature": 0.8, "top_p": 0.95, "max_tokens": 60, "seed": 8}}):
        assert cache_key(request(**change)) != key


def test_cache_persists_and_ignores_a_second_writer_of_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "c" / "responses.sqlite"
    answer = CachedResponse("hello there", "stop", 10, 3)
    with ResponseCache(path) as cache:
        cache.put("k", request(), answer)
        cache.put("k", request(), CachedResponse("other", "stop", 1, 1))
        assert len(cache) == 1
    with ResponseCache(path) as cache:
        assert cache.get("k") == answer and cache.get("missing") is None
        assert cache.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _write_many(path: str, offset: int) -> None:
    with ResponseCache(Path(path)) as cache:
        for number in range(200):
            cache.put(f"{offset}-{number}", request(), CachedResponse("t", "stop", 1, 1))


def test_cache_is_safe_for_several_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "shared.sqlite")
    ResponseCache(Path(path)).close()
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_write_many, args=(path, offset)) for offset in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    with ResponseCache(Path(path)) as cache:
        assert len(cache) == 600


def test_a_cache_path_that_cannot_be_the_cache_is_one_error_naming_the_key(tmp_path: Path) -> None:
    from synthclf.errors import SynthclfError

    folder = tmp_path / "responses"
    folder.mkdir()
    with pytest.raises(SynthclfError, match=r"generate.cache_path: .*responses is a folder, not a file; point "
                                            r"generate.cache_path at a file such as .*responses.sqlite"):
        ResponseCache(folder)
    not_sqlite = tmp_path / "notes.sqlite"
    not_sqlite.write_text("these are my notes, not a database\n" * 100, encoding="utf-8")
    with pytest.raises(SynthclfError, match=r"generate.cache_path: .*notes.sqlite is not a usable response cache"):
        ResponseCache(not_sqlite)
    assert not_sqlite.read_text(encoding="utf-8").startswith("these are my notes")   # left as it was
    under_a_file = not_sqlite / "responses.sqlite"
    with pytest.raises(SynthclfError, match=r"generate.cache_path: cannot open .*; point generate.cache_path"):
        ResponseCache(under_a_file)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["notes.sqlite", "responses"]


def test_cache_path_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYNTHCLF_CACHE_DIR", raising=False)
    assert resolve_cache_path(".c/r.sqlite", cwd=tmp_path) == tmp_path / ".c/r.sqlite"
    assert resolve_cache_path(str(tmp_path / "abs.sqlite")) == tmp_path / "abs.sqlite"
    queued = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpab12cd"
    queued.mkdir(parents=True)
    assert original_repo_root(queued) == tmp_path / "repo"
    assert resolve_cache_path(".c/r.sqlite", cwd=queued) == tmp_path / "repo" / ".c/r.sqlite"
    monkeypatch.setenv("SYNTHCLF_CACHE_DIR", str(tmp_path / "shared"))
    assert resolve_cache_path(".c/r.sqlite", cwd=queued) == tmp_path / "shared" / "r.sqlite"


def test_embeddings_and_fitted_units_share_the_cache_root_of_the_original_repo(tmp_path, monkeypatch) -> None:
    """A queued experiment's copy finds the workspace's embeddings and fitted units, as it finds
    its responses: a sweep does not embed or refit what the workspace already has."""
    monkeypatch.delenv("SYNTHCLF_CACHE_DIR", raising=False)
    queued = tmp_path / "repo" / ".dvc" / "tmp" / "exps" / "tmpab12cd"
    queued.mkdir(parents=True)
    monkeypatch.chdir(queued)
    assert embeddings.cache_dir() == tmp_path / "repo" / ".synthclf_cache" / "embeddings"
    assert train.unit_cache_dir() == tmp_path / "repo" / ".synthclf_cache" / "units"
    monkeypatch.setenv("SYNTHCLF_CACHE_DIR", str(tmp_path / "shared"))
    assert embeddings.cache_dir() == tmp_path / "shared" / "embeddings"
    assert train.unit_cache_dir() == tmp_path / "shared" / "units"


# -- rate limiter --------------------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_rate_limiter_allows_a_short_burst_then_keeps_the_pace() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=60, burst_s=5, clock=clock, sleep=clock.sleep)

    async def take(count: int) -> None:
        for _ in range(count):
            await limiter.acquire(1)

    asyncio.run(take(5))
    assert clock.now == 0  # the burst
    asyncio.run(take(10))
    assert clock.now == pytest.approx(10.0)  # then one a second


def test_token_limiter_clamps_big_requests_and_settles_real_usage() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=600, burst_s=6, clock=clock, sleep=clock.sleep)  # 10/s, holds 60

    async def scenario() -> None:
        assert await limiter.acquire(500) == 60  # clamped: one big request still goes through
        limiter.settle(60, 30)  # it used only 30: 30 back
        await limiter.acquire(30)
        assert clock.now == 0
        await limiter.acquire(10)
        assert clock.now == pytest.approx(1.0)

    asyncio.run(scenario())


def test_rate_limits_reach_the_client_from_params(tmp_path: Path) -> None:
    """llm.requests_per_minute and llm.tokens_per_minute, read from a params file, are the client's limits."""
    import socket

    import yaml

    from synthclf.config import load_params
    from synthclf.generation.client import LLMClient

    raw = yaml.safe_load((Path(__file__).resolve().parents[1] / "params.yaml").read_text(encoding="utf-8"))
    raw["llm"].update(base_url="http://127.0.0.1:9/v1", model="gpt-4o-mini", requests_per_minute=120,
                      tokens_per_minute=9000)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    llm = load_params(tmp_path / "params.yaml").llm
    with socket.socket() as listener:            # something listening, so the client's reachability check passes
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = LLMClient(llm, f"http://127.0.0.1:{listener.getsockname()[1]}/v1", "k", llama_cpp=False)
    assert client.requests_limiter.rate == pytest.approx(2.0) and not client.requests_limiter.unlimited
    assert client.tokens_limiter.rate == pytest.approx(150.0) and not client.tokens_limiter.unlimited


def test_unlimited_limiter_never_waits() -> None:
    limiter = RateLimiter(per_minute=0)
    assert asyncio.run(limiter.acquire(10**9)) == 10**9


# -- retries -------------------------------------------------------------------------------------
def test_retry_after_parsing() -> None:
    assert retry_after_seconds(httpx.Headers({"retry-after": "3"})) == 3
    assert retry_after_seconds(httpx.Headers({"retry-after-ms": "250"})) == 0.25
    assert retry_after_seconds(httpx.Headers({})) is None
    assert retry_after_seconds(None) is None
    assert retry_after_seconds(httpx.Headers({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})) == 0


def test_backoff_is_jittered_exponential_and_respects_retry_after() -> None:
    policy = RetryPolicy(max_retries=6, base_s=0.5, max_s=4)
    rng = random.Random(0)
    for number in range(8):
        ceiling = min(4, 0.5 * 2 ** number)          # 0.5, 1, 2, 4, 4, ...: doubles, then capped
        delays = [policy.delay(number, None, rng) for _ in range(400)]
        assert all(0 <= delay <= ceiling for delay in delays), number
        # full jitter: spread uniformly over [0, ceiling], so it reaches both ends and centres on half of it
        assert max(delays) >= 0.95 * ceiling and min(delays) <= 0.05 * ceiling, number
        assert sum(delays) / len(delays) == pytest.approx(ceiling / 2, rel=0.1), number
    # a server's Retry-After is a floor, with up to base_s of jitter on top
    after = [policy.delay(0, 2, rng) for _ in range(200)]
    assert all(2 <= delay <= 2.5 for delay in after) and max(after) - min(after) > 0.4


def test_errors_are_sorted_into_transient_and_fatal() -> None:
    request_ = httpx.Request("POST", "http://127.0.0.1/v1/completions")

    def status(code: int) -> openai.APIStatusError:
        response = httpx.Response(code, request=request_)
        cls = {429: openai.RateLimitError, 500: openai.InternalServerError, 401: openai.AuthenticationError,
               404: openai.NotFoundError, 503: openai.InternalServerError}[code]
        return cls("x", response=response, body=None)

    assert transient_kind(status(429)) == "rate_limited"
    assert transient_kind(status(500)) == transient_kind(status(503)) == "server_error"
    assert transient_kind(MalformedResponse("x")) == "malformed"
    assert transient_kind(status(401)) is None and transient_kind(status(404)) is None
    assert transient_kind(ValueError("x")) is None
