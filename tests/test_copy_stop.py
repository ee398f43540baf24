"""generate.stop_at_copy: a few-shot answer ends at its first text that copies a pool example, read
as it streams (the call is stopped there) or cut from a whole answer, with the same texts either way.
The end-to-end case runs the real bundled model through the real `openai` client and server."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest

from synthclf import paths
from synthclf.config import load_params
from synthclf.errors import SynthclfError
from synthclf.generation import generate
from synthclf.generation.access import open_session
from synthclf.generation.cache import CachedResponse, cache_key
from synthclf.generation.cleaning import CopyDetector, clean_text
from synthclf.generation.client import read_stream
from synthclf.generation.copies import COPY_STOP, CopyWatch, first_copying_item, through_first_copy
from synthclf.generation.prompts import Prompt, split_items
from synthclf.generation.server import free_port
from synthclf.records import read_json, read_jsonl
from synthclf.settings.generate import GenerationParams
from synthclf.settings.llm import LLMParams

from conftest_generation import POOL

EXAMPLE = "WINNER you have won a cash prize call now to claim"
DETECTOR = CopyDetector([EXAMPLE], 6)
POOL_TEXTS = [text for texts in POOL.values() for text in texts]


def clean(raw: str) -> str:
    return clean_text(raw, ["ham", "spam"], opened_quote=True)


def test_the_answer_ends_at_its_first_copying_text() -> None:
    answer = 'Free tickets for you"\n6. "WINNER you have won a cash prize today"\n7. "See you at 8"'
    items = split_items(answer, 5)
    assert first_copying_item(items, DETECTOR, clean) == 1
    assert through_first_copy(items, DETECTOR, clean) == items[:2]   # the copy is judged, the rest is not
    assert through_first_copy(items[:1], DETECTOR, clean) == items[:1]


def test_the_watch_stops_once_six_whole_words_are_copied() -> None:
    watch = CopyWatch(DETECTOR, 5, clean)
    streamed = 'Free tickets for you"\n6. "WINNER you have won a ca'
    assert watch(streamed) is None                       # five words copied so far
    assert watch(streamed + "sh") is None                # "cash" may still be "cashback": not a word yet
    kept = watch(streamed + "sh prize")                  # "cash" is settled by the space after it
    assert kept == streamed + "sh "
    # the kept text, read again from the cache as a whole answer, gives the same texts
    assert through_first_copy(split_items(kept, 5), DETECTOR, clean) == split_items(kept, 5)
    assert first_copying_item(split_items(kept, 5), DETECTOR, clean) == 1
    assert watch('Free tickets for you"\n6. "See you at 8"') is None


class Chunk:
    def __init__(self, text: str | None, finish: str | None = None) -> None:
        self.usage = None
        self.choices = [type("Choice", (), {"text": text, "finish_reason": finish})()]


class Stream:
    """The shape of openai's AsyncStream (an async iterator and context manager), fed from a list."""

    def __init__(self, chunks: list[Chunk]) -> None:
        self.chunks, self.read, self.closed = chunks, 0, False

    async def __aenter__(self) -> Stream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.closed = True

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> Chunk:
        if self.read == len(self.chunks):
            raise StopAsyncIteration
        self.read += 1
        return self.chunks[self.read - 1]


def test_a_stream_is_closed_at_the_copy_and_stored_cut() -> None:
    pieces = ["Free", " tickets", '"\n6. "WIN', "NER you", " have won a", " cash", " prize", " today", '"']
    stream = Stream([Chunk(piece) for piece in pieces] + [Chunk(None, "stop")])
    answer = asyncio.run(read_stream(stream, chat=False, watch=CopyWatch(DETECTOR, 5, clean), prompt_tokens=40))
    assert answer.finish_reason == COPY_STOP and stream.closed
    assert stream.read == 7 < len(stream.chunks)          # nothing after " prize" was read
    assert answer.text == 'Free tickets"\n6. "WINNER you have won a cash ' and answer.completion_tokens == 7
    whole = Stream([Chunk("See you"), Chunk(' at 8"'), Chunk(None, "stop")])
    answer = asyncio.run(read_stream(whole, chat=False, watch=CopyWatch(DETECTOR, 5, clean), prompt_tokens=40))
    assert (answer.text, answer.finish_reason, answer.completion_tokens) == ('See you at 8"', "stop", 2)


def test_a_stream_that_never_finishes_is_malformed() -> None:
    from synthclf.generation.client import MalformedResponse, transient_kind

    with pytest.raises(MalformedResponse) as error:
        asyncio.run(read_stream(Stream([Chunk("half a")]), chat=False, watch=CopyWatch(DETECTOR, 5, clean),
                                prompt_tokens=1))
    assert transient_kind(error.value) == "malformed"   # retried like any malformed answer


def test_an_answer_stopped_at_a_copy_serves_only_a_run_with_the_rule(tmp_path: Path) -> None:
    """A cached stopped answer is a hit for a watching caller and a miss for one without the watch:
    that one goes to the endpoint (here a closed port, so the attempt is the error) for a whole answer."""
    llm = LLMParams(base_url=f"http://127.0.0.1:{free_port()}/v1", timeout_s=2)
    prompt = Prompt(style="completion", prompt_id="few_shot.completion.test", text='1. "a"\n2. "', items=4)
    with open_session(llm, GenerationParams(cache_path=str(tmp_path / "responses.sqlite"))) as session:
        key = cache_key(session.request(prompt, 7, sample_index=0))
        stopped = CachedResponse(text='WINNER you have won a cash ', finish_reason=COPY_STOP, prompt_tokens=9,
                                 completion_tokens=7)
        session.cache.put(key, session.request(prompt, 7, sample_index=0), stopped)
        watch = CopyWatch(DETECTOR, 4, clean)
        reply = asyncio.run(session.complete(prompt, 7, watch=watch, sample_index=0))
        assert reply.from_cache and reply.response == stopped
        with pytest.raises(SynthclfError, match="not reachable"):
            asyncio.run(session.complete(prompt, 7, sample_index=0))
        whole = CachedResponse(text='WINNER you have won a cash prize"', finish_reason="stop", prompt_tokens=9,
                               completion_tokens=9)
        session.cache.put(key, session.request(prompt, 7, sample_index=0), whole, replace=True)
        for watching in (watch, None):   # a whole answer serves both
            assert asyncio.run(session.complete(prompt, 7, watch=watching, sample_index=0)).response == whole


def cache_answers(root: Path) -> dict[str, dict]:
    with sqlite3.connect(root / ".synthclf_cache" / "responses.sqlite") as db:
        return {key: json.loads(response) for key, response in db.execute("SELECT key, response FROM responses")}


def run_few_shot() -> tuple[bytes, dict]:
    generate.run(load_params("params.yaml"), "sms_spam", "few_shot")
    path = Path(paths.synthetic_file("sms_spam", "few_shot"))
    read_jsonl(path)  # whole, valid JSON lines
    return path.read_bytes(), read_json(paths.metrics_file("generate", "sms_spam", "few_shot"))


@pytest.mark.slow
def test_streamed_calls_stop_at_the_copy_and_a_run_without_the_rule_asks_again(gen_project, fault_proxy) -> None:
    # copy_ngram 3: many texts share three words with the pool, so many answers stop early.
    # timeout_s 120: a list of four texts waits behind the other call, and on busy cores 30 s ran out
    few_shot = {"per_class": 3, "texts_per_call": 4, "copy_ngram": 3, "max_attempts_factor": 8.0}
    llm = {"base_url": fault_proxy.url, "backend": "llama_cpp", "timeout_s": 120}
    root = gen_project(llm=llm, generate=few_shot)
    streamed, metrics = run_few_shot()
    answers = cache_answers(root)
    stopped = {key for key, answer in answers.items() if answer["finish_reason"] == COPY_STOP}
    assert metrics["copy_stops"] == len(stopped) > 0 and metrics["calls"] == len(answers)
    assert all(body.get("stream") is True for body in fault_proxy.forwarded)
    # a label ends full or with its whole attempt budget (texts judged) spent, however few texts a
    # stopped call judged (its call cap once was the budget over texts_per_call: 6 calls, 6 texts)
    assert all(tally["kept"] == 3 or tally["attempts"] == 24 for tally in metrics["labels"].values())
    for key in stopped:   # a stopped answer ends in the text that copies
        items = split_items(answers[key]["text"], 4)
        assert first_copying_item(items, CopyDetector(POOL_TEXTS, 3), clean) == len(items) - 1

    fault_proxy.reset()
    assert run_few_shot()[0] == streamed and fault_proxy.seen == []    # a rerun: all from the cache

    # Without the rule every answer must be whole: stopped ones it needs are asked again, not streamed
    gen_project(llm=llm, generate={**few_shot, "stop_at_copy": False})
    _whole_run, whole_metrics = run_few_shot()
    assert whole_metrics["copy_stops"] == 0 and whole_metrics["calls"] == len(fault_proxy.forwarded)
    assert all(not body.get("stream") for body in fault_proxy.forwarded)
    still_stopped = {key for key, answer in cache_answers(root).items() if answer["finish_reason"] == COPY_STOP}
    assert still_stopped <= stopped and len(stopped - still_stopped) <= whole_metrics["calls"]
    # (Whether a re-asked whole answer, cut by the rule, gives the streamed texts again is llama.cpp's
    # determinism, which a server reusing prompt prefixes does not promise; the rule itself is checked
    # on the same text both ways above.)
