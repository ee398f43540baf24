"""A team's long texts in few-shot prompts: every shown example over the card's length limit is cut
inside it (two thirds of it) at a word boundary, and further until the prompt and its completion
budget fit the endpoint's context; a prompt that cannot fit is never sent. Unit tests of the
budget, then e-mail-length pools (thousands of characters, one of ~100,000) through the real
bundled server and its context."""

from __future__ import annotations

import json
import random

import pytest

from synthclf import paths
from synthclf.config import load_params
from synthclf.errors import SynthclfError
from synthclf.generation import generate
from synthclf.generation.prompts import PromptBuilder, cut_length, cut_words, estimated_tokens, tokens_per_text
from synthclf.records import read_json, read_jsonl

from conftest_generation import POOL

WORDS = ("please find attached the quarterly figures for the northern region together with the notes from "
         "tuesday and a summary of the open questions about invoices shipping and the new supplier").split()


def email(rng: random.Random, chars: int) -> str:
    words = []
    while sum(len(word) + 1 for word in words) < chars:
        words.append(rng.choice(WORDS))
    return "Dear team,\n\n" + " ".join(words) + "\n\nBest regards,\nSam"


def long_pool(seed: int = 0) -> dict[str, list[str]]:
    rng = random.Random(seed)
    pool = {label: [email(rng, rng.choice([1000, 2000, 3500])) for _ in range(6)] for label in ("ham", "spam")}
    pool["spam"][0] = email(rng, 100_000)
    return pool


def builder(**overrides) -> PromptBuilder:
    options = dict(task="sms_spam", setting="few_shot", style="completion", context_prompt="You write e-mails.",
                   text_kind="e-mail", labels={"ham": "a work e-mail", "spam": "an advert"}, max_words=60,
                   pool_by_label=long_pool(), few_shot_k=4, diversity_every=5, seed=0, texts_per_call=5,
                   tokens_per_text=90, context_tokens=2048)
    options.update(overrides)
    return PromptBuilder(**options)


def test_cut_words_keeps_whole_words():
    assert cut_words("one two  three\nfour", 3) == ("one two three", True)
    assert cut_words("one two", 3) == ("one two", False)


def test_examples_over_the_length_limit_are_cut_inside_it_and_counted():
    """An example over max_words (60) is cut to two thirds of it (40), so the longest text the prompt
    shows sits inside the limit it states; one within the limit is shown whole."""
    prompt = builder(context_tokens=None).build("spam", 0)
    assert cut_length(60) == 40
    assert prompt.examples_cut == 4 and all(len(example.split()) == 40 for example in prompt.examples)
    assert builder(context_tokens=None, max_words=10_000).build("spam", 0).examples_cut == 0
    short = {"ham": ["one two three four five six seven eight nine ten eleven twelve"] * 4, "spam": ["buy now"] * 4}
    whole = builder(context_tokens=None, max_words=12, pool_by_label=short).build("ham", 0)
    assert whole.examples_cut == 0 and all(len(example.split()) == 12 for example in whole.examples)
    assert cut_length(9) == 8   # never below the shortest example that still shows a style


@pytest.mark.parametrize("context", [2048, 700])
def test_the_prompt_and_its_completion_budget_fit_the_context(context):
    few = builder(context_tokens=context)
    for index in range(20):
        prompt = few.build("spam", index)
        assert estimated_tokens(prompt.text) + prompt.max_tokens <= context
    cut = max(len(example.split()) for example in few.build("ham", 0).examples)
    assert cut == 40 if context == 2048 else 8 <= cut < 40   # cut further only where needed


def test_a_prompt_that_cannot_fit_is_refused_with_the_fix():
    with pytest.raises(SynthclfError, match=r"needs about \d+ tokens .* context of 150 tokens; shorten the task "
                                            r"card's context_prompt .* raise llm.context_tokens"):
        builder(context_tokens=150).build("spam", 0)


def test_the_completion_budget_follows_max_words_and_the_tasks_words():
    terse = ["ok see u at 5"] * 5
    wordy = ["internationalisation considerations notwithstanding, the committee reconvened"] * 5
    assert tokens_per_text(60, terse) > tokens_per_text(20, terse)
    assert tokens_per_text(20, wordy) > tokens_per_text(20, terse)
    assert tokens_per_text(60, []) == tokens_per_text(60, ["one two three four"] * 0) > 60


def write_long_pool(root) -> None:
    path = root / "data" / "prepared" / "sms_spam" / "pool.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"sms_spam-{label}-{i}", "task": "sms_spam", "text": text, "label": label, "source": "real"}
            for label, texts in long_pool().items() for i, text in enumerate(texts)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("server_context", [2048, 640])
def test_email_length_pool_through_the_bundled_server(gen_project, server_context):
    """The bundled server (started by the stage: llm.base_url null) rejects a request over its context
    with HTTP 400; with e-mails of thousands of characters every call fits, at 2,048 tokens and at 640."""
    root = gen_project(llm={"base_url": None, "max_tokens": 0, "server_context": server_context},
                       generate={"per_class": 2, "texts_per_call": 5})
    write_long_pool(root)
    generate.run(load_params("params.yaml"), "sms_spam", "few_shot")
    records = read_jsonl(paths.synthetic_file("sms_spam", "few_shot"))
    metrics = read_json(paths.metrics_file("generate", "sms_spam", "few_shot"))
    assert records and metrics["calls"] > 0 and not metrics["errors"]
    assert all(record["examples_cut"] >= 1 for record in records)   # the long examples were cut
    assert POOL  # the short default pool is not what this test used
    assert all(len(record["text"].split()) <= 35 for record in records)   # sms_spam's card: max_words 35


def test_a_list_asks_for_fewer_texts_before_a_prompt_is_refused():
    prompt = builder(context_tokens=400).build("spam", 0)
    assert 1 <= prompt.items < 5 and prompt.max_tokens == prompt.items * 90
    assert estimated_tokens(prompt.text) + prompt.max_tokens <= 400
