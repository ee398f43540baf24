"""Prompts as in Li et al. (EMNLP 2023), rendered from the template files in ./templates.

Two settings x two styles, one YAML template each:
- zero_shot: context prompt + data-generation prompt (label, description, text kind, length limit);
  every `diversity_every` generations a diversity prompt that shows what was written before.
- few_shot: the same context + k real examples of the label drawn at random from the pool before
  each generation, with the instruction to imitate them without copying.
- chat: messages for /chat/completions (instruction models), one text per call;
  completion: a numbered list the model continues, for /completions (small and base models),
  `texts_per_call` items per call: the shared prompt is read once for several texts. The list
  stops before the item after the last one wanted, and `split_items` cuts the answer into texts.
  The list is the diversity prompt there ("each one different from the others"): a zero-shot call
  does not list earlier calls' texts, because a small model continuing such a list mostly repeats
  it (measured on sms_spam with Qwen2.5-Coder-0.5B: 84 of 148 texts rejected as duplicates with the
  previous call's texts listed; 2 of 40 without).

Everything a prompt depends on (the example draw, the seed) comes from the sample index, so a
prompt can be rebuilt exactly on a rerun and found in the response cache.

Length: a shown example longer than the card's `max_words` is cut at a word boundary to two thirds
of it (an example must not teach a length the prompt forbids; `cut_length`), and further, all
examples alike, until the prompt and its completion budget fit the endpoint's context
(`context_tokens`; tokens estimated from UTF-8 bytes, conservatively). A prompt that cannot fit
even then is never sent: one clear error says what to shorten. `Prompt.examples_cut` counts the
examples shown cut (provenance).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import yaml

from synthclf.errors import SynthclfError

TEMPLATES_DIR = Path(__file__).parent / "templates"
Style = Literal["chat", "completion"]
REQUIRED_PARTS = {"chat": ("system", "user", "diversity"), "completion": ("prompt", "item", "open_item", "stop")}


@dataclass(frozen=True)
class Template:
    """One template file. `prompt_id` is its declared id plus a digest of its content, so an edited
    template can never be mistaken for the old one in provenance."""

    setting: str
    style: Style
    parts: dict[str, str]
    prompt_id: str
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prompt:
    """A rendered request body: chat messages or a completion prompt, plus stop sequences (and a
    token cap where it differs from llm.max_tokens)."""

    style: Style
    prompt_id: str
    messages: tuple[tuple[str, str], ...] = ()
    text: str = ""
    stop: tuple[str, ...] = ()
    opens_quote: bool = False  # the prompt ends inside an opened quote the text should close
    max_tokens: int | None = None  # the answer's token cap when not llm.max_tokens (a one-letter verdict, a list)
    items: int = 1                 # texts the answer holds (split_items), for a completion-style list
    examples_cut: int = 0          # shown examples cut to fit the length limit or the context
    examples: tuple[str, ...] = field(default=(), compare=False)

    def body(self) -> dict:
        """The prompt part of the API request (also what the cache key hashes)."""
        if self.style == "chat":
            return {"messages": [{"role": role, "content": content} for role, content in self.messages]}
        return {"prompt": self.text}


@cache
def load_template(setting: str, style: Style) -> Template:
    path = TEMPLATES_DIR / f"{setting}.{style}.yaml"
    if not path.exists():
        raise SynthclfError(f"no prompt template {path.name} in {TEMPLATES_DIR}; reinstall synthclf")
    raw_text = path.read_text(encoding="utf-8")
    raw = yaml.safe_load(raw_text)
    missing = [part for part in ("id", *REQUIRED_PARTS[style]) if part not in raw]
    if missing:
        raise SynthclfError(f"{path}: missing {missing}; every {style} template needs {REQUIRED_PARTS[style]}")
    digest = hashlib.sha256(raw_text.encode("utf-8")).hexdigest()[:8]
    parts = {key: str(value) for key, value in raw.items() if key not in ("id", "stop")}
    return Template(setting=setting, style=style, parts=parts, prompt_id=f"{raw['id']}@{digest}",
                    stop=tuple(raw.get("stop") or ()))


def stable_int(*parts: object) -> int:
    """A 31-bit integer from the parts, the same on every machine and Python run (unlike hash())."""
    digest = hashlib.sha256("\x1f".join(str(part) for part in parts).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def one_line(text: str) -> str:
    """Examples are listed one per line; a newline inside one would end the model's item early."""
    return " ".join(text.split())


BYTES_PER_TOKEN = 3.0   # BPE vocabularies hold about 4 bytes of English per token: 3 leaves a margin
CONTEXT_MARGIN = 16     # tokens a chat template or a BOS may add around the prompt
MIN_EXAMPLE_WORDS = 8   # below this an example shows no style at all


def estimated_tokens(text: str) -> int:
    """A conservative token count for any endpoint's tokenizer (none is asked)."""
    return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)


def tokens_per_text(max_words: int, texts: list[str]) -> int:
    """The completion budget of one text of at most `max_words` words: the task's own tokens per word
    (estimated on its texts; 1.5 without any), a quarter on top for a text at the limit, and its quotes."""
    counted = [(estimated_tokens(text), len(text.split())) for text in texts if text.split()]
    per_word = sum(tokens for tokens, _ in counted) / sum(words for _, words in counted) if counted else 1.5
    return math.ceil(max_words * min(max(per_word, 1.2), 4.0) * 1.25) + 4


def cut_length(max_words: int) -> int:
    """The words an example over the card's limit keeps: two thirds of the limit. Cut at the limit
    itself it showed the longest text allowed, ending mid-sentence, and the model wrote on past it
    (a long-text task, few-shot: 19 of 52 texts too long; cut to two thirds: none, 11 calls for 20
    texts instead of 16 for 13; docs/your-own-task.md)."""
    return max(MIN_EXAMPLE_WORDS, max_words * 2 // 3)


def cut_words(text: str, words: int) -> tuple[str, bool]:
    """The text's first `words` words (at a word boundary) and whether anything was cut."""
    parts = text.split()
    return (" ".join(parts[:words]), True) if len(parts) > words else (" ".join(parts), False)


@dataclass
class PromptBuilder:
    """Builds the prompt for (label, sample index) of one task and setting."""

    task: str
    setting: str
    style: Style
    context_prompt: str
    text_kind: str
    labels: dict[str, str]
    max_words: int
    pool_by_label: dict[str, list[str]]
    few_shot_k: int
    diversity_every: int
    seed: int
    texts_per_call: int = 1
    tokens_per_text: int = 60
    context_tokens: int | None = None   # the endpoint's context window (None: unknown, examples cut to max_words only)

    def __post_init__(self) -> None:
        self.template = load_template(self.setting, self.style)
        if self.style == "chat":
            self.texts_per_call = 1  # the paper's protocol: one text per conversation

    @property
    def listed(self) -> bool:
        """Several texts per call, as one numbered list."""
        return self.texts_per_call > 1

    @property
    def prompt_id(self) -> str:
        return self.template.prompt_id

    def sample_seed(self, label: str, sample_index: int) -> int:
        """The seed sent to the server and used for the example draw of this sample."""
        return stable_int(self.seed, self.task, self.setting, label, sample_index)

    def history_indices(self, sample_index: int) -> range:
        """Earlier samples a diversity prompt shows ("what you wrote before"): every `diversity_every`-th
        sample of one text per call shows the ones before it. A list per call is its own diversity prompt."""
        every = self.diversity_every
        if self.setting != "zero_shot" or self.listed or every <= 0 or sample_index == 0 or sample_index % every:
            return range(0)
        return range(sample_index - every, sample_index)

    def draw_examples(self, label: str, sample_index: int) -> list[str]:
        """k real examples of the label, drawn afresh for every sample (seeded by its index)."""
        pool = self.pool_by_label.get(label, [])
        rng = random.Random(self.sample_seed(label, sample_index))
        return rng.sample(pool, min(self.few_shot_k, len(pool)))

    def build(self, label: str, sample_index: int, history: list[str] | None = None) -> Prompt:
        fields = {
            "context_prompt": self.context_prompt.strip(),
            "text_kind": self.text_kind,
            "label": label,
            "label_description": self.labels[label],
            "max_words": self.max_words,
        }
        drawn = self.draw_examples(label, sample_index) if self.setting == "few_shot" else []
        render = self._chat if self.style == "chat" else self._completion
        words, items = self.max_words, self.texts_per_call
        over_limit = cut_length(self.max_words)
        while True:
            shown = [cut_words(one_line(text), words if len(text.split()) <= self.max_words else min(words, over_limit))
                     for text in drawn]
            prompt = dataclasses.replace(render(dict(fields), [text for text, _ in shown], history or [], items),
                                         examples_cut=sum(cut for _, cut in shown))
            if self.fits(prompt):
                break
            if drawn and words > MIN_EXAMPLE_WORDS:      # first the examples get shorter ...
                words = max(MIN_EXAMPLE_WORDS, words * 2 // 3)
            elif items > 1:                              # ... then the list asks for fewer texts
                items -= 1
            else:
                break
        if not self.fits(prompt):
            raise SynthclfError(
                f"the {self.setting} prompt for {self.task}/{label} needs about {self.prompt_tokens(prompt)} tokens "
                f"with its examples cut to {words} words, more than the endpoint's context of {self.context_tokens} "
                f"tokens; shorten the task card's context_prompt or label descriptions, lower generate.few_shot_k "
                "or generate.texts_per_call, or raise llm.context_tokens (llm.server_context for the bundled server)")
        return prompt

    def prompt_tokens(self, prompt: Prompt) -> int:
        body = prompt.text if prompt.style == "completion" else "\n".join(content for _, content in prompt.messages)
        return estimated_tokens(body) + CONTEXT_MARGIN

    def fits(self, prompt: Prompt) -> bool:
        """Whether the prompt and its whole completion budget fit the endpoint's context."""
        if self.context_tokens is None:
            return True
        return self.prompt_tokens(prompt) + (prompt.max_tokens or self.tokens_per_text) <= self.context_tokens

    def _chat(self, fields: dict, examples: list[str], history: list[str], items: int = 1) -> Prompt:
        parts = self.template.parts
        if examples:
            fields["examples"] = "\n".join(parts["example"].format(number=number, text=one_line(text))
                                           for number, text in enumerate(examples, start=1))
        user = parts["user"].format(**fields)
        messages = [("system", parts["system"].format(**fields))]
        for earlier in history:  # the paper's multi-turn conversation: earlier asks and answers
            messages += [("user", user), ("assistant", earlier)]
        if history:
            user = parts["diversity"].format(**fields) + "\n\n" + user
        messages.append(("user", user))
        return Prompt(style="chat", prompt_id=self.prompt_id, messages=tuple(messages), examples=tuple(examples),
                      max_tokens=self.tokens_per_text)

    def _completion(self, fields: dict, examples: list[str], history: list[str], items: int = 1) -> Prompt:
        parts = self.template.parts
        listed = [one_line(text) for text in (examples or history)]
        lines = [parts["item"].format(number=number, text=text) for number, text in enumerate(listed, start=1)]
        # The open item: the model writes its text and stops at the end of the line.
        open_item = parts["open_item"].format(number=len(listed) + 1)
        lines.append(open_item)
        fields["items"] = "\n".join(lines)
        text = parts["prompt"].format(**fields)
        opens_quote = open_item.rstrip().endswith('"')
        if not self.listed:   # (a list cut down to one text still ends like a list)
            return Prompt(style="completion", prompt_id=self.prompt_id, text=text, stop=self.template.stop,
                          opens_quote=opens_quote, examples=tuple(examples), max_tokens=self.tokens_per_text)
        # The list ends before the item after the last one wanted, or where the model ends it.
        after_last = len(listed) + 1 + items
        return Prompt(style="completion", prompt_id=self.prompt_id, text=text, stop=(f"\n{after_last}.", "\n\n"),
                      opens_quote=opens_quote, max_tokens=items * self.tokens_per_text, items=items,
                      examples=tuple(examples))


ITEM_LINE = re.compile(r'^\s*\d{1,3}[.)]\s*"?(.*)$')


def split_items(raw: str, items: int) -> list[str]:
    """The texts of a completion-style list answer, in order, at most `items`: the first continues the
    open item; each later one is a numbered line. The list ends at the first line that is not one."""
    if items <= 1:
        return [raw]
    lines = raw.split("\n")
    texts = [lines[0]]
    for line in lines[1:]:
        match = ITEM_LINE.match(line)
        if match is None or len(texts) == items:
            break
        texts.append(match.group(1))
    return texts
