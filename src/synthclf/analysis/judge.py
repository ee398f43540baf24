"""Stage `judge` (optional): the configured LLM, as a panel of judges, says which of two tasks is
more objective, the question the study put to crowd workers (540 comparisons).

Every pair of tasks goes to every judge (a persona and a seed), in both orders when
analyze.judge_both_orders is set so that a judge's preference for the first or second position
cancels out. The prompt shows each task's description, labels and a few real examples from its
few-shot pool. Answers are parsed to A or B; an answer with neither is asked again, then dropped.

Writes data/judgments/llm_panel.csv (task_a, task_b, winner, judge, order, answer), which
analyze reads through Bradley-Terry when analyze.judgments_file points at it, and beside it
llm_panel.stats.json (calls, parse rate, position bias, agreement of the panel's levels with the
task cards).
"""

from __future__ import annotations

import contextlib
import csv
import itertools
import re
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from synthclf import paths
from synthclf.analysis import bradley_terry
from synthclf.config import Params
from synthclf.errors import SynthclfError
from synthclf.generation.generate import api_key, prompt_style
from synthclf.generation.server import local_server
from synthclf.generation.settings import LLMParams
from synthclf.records import atomic_write, read_jsonl, write_json
from synthclf.tasks import TaskCard, load_card

PERSONAS = (
    "an experienced data annotator who labels text for machine learning",
    "a computational linguist",
    "a social scientist who studies how people read and interpret texts",
    "a software engineer who builds text classifiers",
    "a newspaper editor",
    "a psychology researcher",
)
OBJECTIVE = ("A task is objective when the correct label follows from clear, identifiable features of the "
             "text, such as keywords or phrases, so that different readers would agree. A task is "
             "subjective when the label depends on a reader's personal interpretation, emotions or beliefs.")
EXAMPLE_WORDS = 40
CSV_COLUMNS = ("task_a", "task_b", "winner", "judge", "order", "answer")


def judgments_file() -> Path:
    return Path("data/judgments/llm_panel.csv")


def judge_metrics_file() -> Path:
    """Beside the CSV, so both travel together in data/judgments/ (a dependency of analyze and report)."""
    return Path("data/judgments/llm_panel.stats.json")


@dataclass(frozen=True)
class Judge:
    name: str
    persona: str
    seed: int


@dataclass(frozen=True)
class Question:
    judge: Judge
    task_a: str
    task_b: str
    order: str         # "ab": pair as listed, "ba": swapped, to cancel position bias


# --- the panel and its questions ------------------------------------------------------------------

def make_panel(size: int) -> list[Judge]:
    """`size` judges: personas in turn, each with its own sampling seed."""
    return [Judge(f"llm{i}", PERSONAS[i % len(PERSONAS)], seed=i) for i in range(size)]


def judged_tasks(params: Params) -> list[str]:
    tasks = params.analyze.judge_tasks or params.tasks
    if len(tasks) < 2:
        raise SynthclfError("judge: needs at least two tasks; list them in analyze.judge_tasks or tasks")
    for task in tasks:
        load_card(task)     # a clear error for an unknown task
    return list(tasks)


def make_questions(tasks: Sequence[str], panel: Sequence[Judge], both_orders: bool) -> list[Question]:
    questions = []
    for judge in panel:
        for first, second in itertools.combinations(tasks, 2):
            questions.append(Question(judge, first, second, "ab"))
            if both_orders:
                questions.append(Question(judge, second, first, "ba"))
    return questions


# --- prompts --------------------------------------------------------------------------------------

def pool_examples(task: str, count: int) -> list[tuple[str, str]]:
    """Up to `count` (text, label) pairs from the few-shot pool, labels taken in turn."""
    path = paths.prepared_split(task, "pool")
    if count == 0 or not path.exists():
        return []
    by_label: dict[str, list[str]] = {}
    for record in read_jsonl(path):
        by_label.setdefault(record["label"], []).append(record["text"])
    turns = itertools.chain.from_iterable(itertools.zip_longest(*([(t, l) for t in texts] for l, texts in by_label.items())))
    return [pair for pair in turns if pair is not None][:count]


def shorten(text: str, words: int = EXAMPLE_WORDS) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" ..." if len(parts) > words else "")


def describe_task(card: TaskCard, examples: Sequence[tuple[str, str]]) -> str:
    labels = "; ".join(f"{label} ({description})" for label, description in card.labels.items())
    lines = [f"{card.title}. {card.description}", f"Labels: {labels}."]
    lines += [f'Example {card.text_kind}: "{shorten(text)}" -> {label}' for text, label in examples]
    return "\n".join(lines)


def question_text(card_a: TaskCard, card_b: TaskCard, examples: int) -> str:
    return (f"{OBJECTIVE}\n\n"
            f"Task A: {describe_task(card_a, pool_examples(card_a.name, examples))}\n\n"
            f"Task B: {describe_task(card_b, pool_examples(card_b.name, examples))}\n\n"
            "Which task is more objective, A or B?")


def chat_messages(judge: Judge, text: str) -> list[dict]:
    return [{"role": "system", "content": f"You are {judge.persona}. You judge how objective text-classification tasks are."},
            {"role": "user", "content": text + " Answer with one letter: A or B."}]


def completion_prompt(judge: Judge, text: str) -> str:
    """Small local models continue a pattern better than they follow an instruction."""
    return f"The following judgment was written by {judge.persona}.\n\n{text}\n\nAnswer: The more objective task is Task"


# --- answers --------------------------------------------------------------------------------------

# words that may follow a leading "A" when it names the task ("A is more objective"), not an article
AFTER_CHOICE = r"(?:is|was|because|since|seems|appears|as)\b"
NO_CHOICE = re.compile(r"^\W*\(?[AB]\)?\s+(?:or|and|nor)\s+\(?[AB](?![\w'])")
MORE_OBJECTIVE = re.compile(r"(?<![\w'])([AB])\*{0,2}\)?\s+(?:is|seems|appears)\s+(?:the\s+|much\s+|clearly\s+)?more\s+objective")
LEADING = re.compile(rf"^\W*\(?([AB])(?![\w'])(?!\s+(?!{AFTER_CHOICE})[a-z])")
EXPLICIT = re.compile(r"(?i:\b(?:task|option|answer|choice))\s*(?:(?i:is)\s*)?:?\s*\(?\*{0,2}([AB])(?![\w'])")
ARTICLE = re.compile(rf"(?<![\w'])A\s+(?!{AFTER_CHOICE})[a-z]")


def parse_choice(text: str) -> str | None:
    """'A' or 'B' from answers such as 'B', ' A.', '**Task B**', 'The answer is (A)',
    'B is more objective'; None when unclear ('A or B', 'A task that...', both letters named)."""
    text = (text or "").strip()
    if not text or NO_CHOICE.match(text):
        return None
    for pattern in (MORE_OBJECTIVE, LEADING):
        match = pattern.search(text)
        if match:
            return match.group(1)
    named = set(EXPLICIT.findall(text))        # 'Task A', 'answer: B'; naming both decides nothing
    if named:
        return named.pop() if len(named) == 1 else None
    lone = set(re.findall(r"(?<![\w'])([AB])(?![\w'])", text))
    return lone.pop() if len(lone) == 1 and not ARTICLE.search(text) else None


# --- calling the model ----------------------------------------------------------------------------

@contextlib.contextmanager
def endpoint(llm: LLMParams) -> Iterator[str]:
    """The configured base_url, or the bundled model's local server for the length of the block."""
    if llm.base_url:
        yield llm.base_url
        return
    with local_server(llm) as base_url:
        yield base_url


def make_client(llm: LLMParams, base_url: str):
    import openai

    return openai.OpenAI(base_url=base_url, api_key=api_key(llm),
                         timeout=llm.timeout_s, max_retries=llm.max_retries)


def ask_once(client, llm: LLMParams, style: str, judge: Judge, text: str, seed: int) -> tuple[str, int, int]:
    """One request; returns (answer text, prompt tokens, completion tokens)."""
    import openai

    common = {"model": llm.model, "temperature": llm.temperature, "top_p": llm.top_p, "seed": seed}
    if llm.base_url is None:
        common["extra_body"] = {"repeat_penalty": llm.repeat_penalty}
    try:
        if style == "chat":
            response = client.chat.completions.create(messages=chat_messages(judge, text), max_tokens=24, **common)
            answer = response.choices[0].message.content or ""
        else:
            response = client.completions.create(prompt=completion_prompt(judge, text), max_tokens=4,
                                                 stop=["\n"], **common)
            answer = response.choices[0].text or ""
    except openai.OpenAIError as exc:
        raise SynthclfError(f"judge: the LLM request failed ({type(exc).__name__}: {exc}); check llm.base_url, "
                            f"llm.model and ${llm.api_key_env}") from exc
    usage = response.usage
    return answer, (usage.prompt_tokens if usage else 0), (usage.completion_tokens if usage else 0)


def ask(client, llm: LLMParams, style: str, question: Question, text: str, attempts: int) -> dict:
    """Ask until the answer names A or B (at most `attempts` times, a new seed each time)."""
    tokens_in = tokens_out = 0
    answer = ""
    for attempt in range(attempts):
        seed = question.judge.seed * 1_000_003 + attempt
        answer, used_in, used_out = ask_once(client, llm, style, question.judge, text, seed)
        tokens_in, tokens_out = tokens_in + used_in, tokens_out + used_out
        choice = parse_choice(answer)
        if choice:
            return {"choice": choice, "answer": answer.strip(), "calls": attempt + 1,
                    "tokens_in": tokens_in, "tokens_out": tokens_out}
    return {"choice": None, "answer": answer.strip(), "calls": attempts, "tokens_in": tokens_in, "tokens_out": tokens_out}


# --- the stage ------------------------------------------------------------------------------------

def to_row(question: Question, outcome: dict) -> dict | None:
    if outcome["choice"] is None:
        return None
    winner = question.task_a if outcome["choice"] == "A" else question.task_b
    return {"task_a": question.task_a, "task_b": question.task_b, "winner": winner,
            "judge": question.judge.name, "order": question.order, "answer": outcome["answer"][:200]}


def write_csv(path: Path, rows: Sequence[dict]) -> None:
    with atomic_write(path) as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def panel_stats(questions: Sequence[Question], outcomes: Sequence[dict], rows: Sequence[dict],
                tasks: Sequence[str], levels: int) -> dict:
    """Calls, parse rate, position bias and how the panel's Bradley-Terry levels match the cards."""
    choices = [o["choice"] for o in outcomes if o["choice"]]
    stats = {"questions": len(questions), "judgments": len(rows), "unparsed": len(questions) - len(rows),
             "calls": sum(o["calls"] for o in outcomes), "tokens_in": sum(o["tokens_in"] for o in outcomes),
             "tokens_out": sum(o["tokens_out"] for o in outcomes), "tasks": len(tasks),
             "judges": len({q.judge.name for q in questions}),
             "share_first_position": round(choices.count("A") / len(choices), 6) if choices else None,
             "spearman_with_cards": None}
    if rows:
        from scipy.stats import spearmanr

        result = bradley_terry.estimate([bradley_terry.Comparison(r["task_a"], r["task_b"], r["winner"], r["judge"])
                                         for r in rows], levels)
        judged = sorted(result.levels)
        cards, panel = [load_card(t).subjectivity.level for t in judged], [result.levels[t] for t in judged]
        if len(judged) >= 3 and len(set(cards)) > 1 and len(set(panel)) > 1:    # else undefined (ties)
            stats["spearman_with_cards"] = round(float(spearmanr(cards, panel).statistic), 6)
    return stats


def run(params: Params) -> dict:
    analysis, llm = params.analyze, params.llm
    tasks = judged_tasks(params)
    questions = make_questions(tasks, make_panel(analysis.judge_panel), analysis.judge_both_orders)
    cards = {task: load_card(task) for task in tasks}
    texts = {(q.task_a, q.task_b): question_text(cards[q.task_a], cards[q.task_b], analysis.judge_examples)
             for q in questions}
    style = prompt_style(llm)
    with endpoint(llm) as base_url:
        client = make_client(llm, base_url)
        with ThreadPoolExecutor(max_workers=llm.concurrency) as pool:
            outcomes = list(pool.map(lambda q: ask(client, llm, style, q, texts[(q.task_a, q.task_b)],
                                                   analysis.judge_attempts), questions))
    rows = [row for q, o in zip(questions, outcomes, strict=True) if (row := to_row(q, o))]
    if not rows:
        raise SynthclfError(f"judge: none of {len(questions)} answers named task A or B; try a larger model "
                            "(llm.base_url, llm.model) or llm.prompt_style: chat")
    write_csv(judgments_file(), rows)
    stats = panel_stats(questions, outcomes, rows, tasks, analysis.levels)
    write_json(judge_metrics_file(), stats)
    return stats
