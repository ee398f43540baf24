"""Several texts per call (generate.texts_per_call): the completion-style list a call continues, how its
answer is cut into texts, and the diversity prompt in list form. The engine's run through the real
bundled server is in tests/test_generation_server.py's pipeline tests (the default is a list)."""

from __future__ import annotations

import pytest

from synthclf.generation.cleaning import clean_text
from synthclf.generation.prompts import PromptBuilder, split_items


def builder(setting: str, style: str = "completion", **overrides) -> PromptBuilder:
    options = dict(task="sms_spam", setting=setting, style=style, context_prompt="You write UK text messages.",
                   text_kind="SMS message", labels={"ham": "a personal message", "spam": "an advert or scam"},
                   max_words=35, pool_by_label={"ham": [f"ham example {i}" for i in range(10)],
                                                "spam": [f"spam example {i}" for i in range(10)]},
                   few_shot_k=4, diversity_every=5, seed=0, texts_per_call=5, tokens_per_text=50)
    options.update(overrides)
    return PromptBuilder(**options)


def test_a_few_shot_list_asks_for_n_texts_after_the_examples() -> None:
    prompt = builder("few_shot").build("spam", 3)
    assert prompt.items == 5 and prompt.max_tokens == 250
    assert prompt.text.endswith('\n5. "') and prompt.opens_quote
    assert len(prompt.examples) == 4 and all(f'"{text}"' in prompt.text for text in prompt.examples)
    # the list stops before item 10 (4 examples + 5 new), or where the model ends it
    assert prompt.stop == ("\n10.", "\n\n")


def test_a_zero_shot_list_is_its_own_diversity_prompt() -> None:
    """A small model continuing a list of earlier texts repeats them: list calls show no history."""
    zero = builder("zero_shot")
    assert not any(zero.history_indices(index) for index in range(12))
    first = zero.build("ham", 0)
    assert first.text.endswith('1. "') and first.stop == ("\n6.", "\n\n") and "each one different" in first.text
    assert zero.build("ham", 1) == first
    assert zero.sample_seed("ham", 1) != zero.sample_seed("ham", 0)   # the seed differs


def test_chat_style_keeps_one_text_per_call() -> None:
    chat = builder("zero_shot", style="chat")
    assert chat.texts_per_call == 1 and not chat.listed
    assert chat.build("ham", 0).items == 1 and list(chat.history_indices(5)) == [0, 1, 2, 3, 4]


def test_one_text_per_call_keeps_the_template_stop_with_one_text_budget() -> None:
    single = builder("few_shot", texts_per_call=1).build("spam", 0)
    assert single.items == 1 and single.max_tokens == 50 and single.stop == ('"\n', "\n")


@pytest.mark.parametrize(("raw", "items", "expected"), [
    ('first text"\n6. "second text"\n7. "third"', 5, ['first text"', 'second text"', 'third"']),
    ('only one"', 5, ['only one"']),
    ('a"\n2. "b"\n3. "c"\n4. "d"', 2, ['a"', 'b"']),                  # never more than asked for
    ('a"\nThat was the list.\n3. "c"', 5, ['a"']),                    # the list ends at a line that is no item
    ('a"\n12) b', 5, ['a"', "b"]),
    ("whole answer\nsecond line", 1, ["whole answer\nsecond line"]),  # one text per call: untouched
])
def test_split_items(raw: str, items: int, expected: list[str]) -> None:
    assert split_items(raw, items) == expected


def test_items_clean_like_single_answers() -> None:
    texts = [clean_text(item, ["ham", "spam"], opened_quote=True)
             for item in split_items('Call me at 6" (Jerry)\n6. "WIN cash now! Text WIN to 8000"\n7. "half', 5)]
    assert texts == ["Call me at 6", "WIN cash now! Text WIN to 8000", "half"]
