"""Stage `judge` (optional): the configured LLM, as a panel of judges, says which of two tasks is
more objective, the question the study put to crowd workers (540 comparisons).

Every pair of tasks goes to every judge (a persona and a seed), in both orders when
analyze.judge_both_orders is set so that a judge's preference for the first or second position
cancels out. The prompt shows each task's description, labels and a few real examples from its
few-shot pool. Answers are parsed to A or B; an answer with neither is asked again (a new seed),
then dropped.

The model is asked through the same path as `generate` (generation/access.py): the same endpoint
rule (llm.base_url, or the bundled server started only on a cache miss), client, retries,
concurrency and rate limits, prompt style and backend options, and the same response cache, so a
rerun asks nothing again. Fresh calls are priced by generate.prices; once generate.budget_usd is
spent nothing more is sent and the run stops with an error (what was answered stays cached).

Writes data/judgments/llm_panel.csv (task_a, task_b, winner, judge, order, answer), which
analyze reads through Bradley-Terry when analyze.judgments_file points at it, and beside it
llm_panel.stats.json (asks, fresh calls, cache hits, cost, parse rate, position bias, agreement
of the panel's levels with the task cards).
"""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from synthclf import paths
from synthclf.analysis import bradley_terry
from synthclf.config import Params
from synthclf.errors import SynthclfError
from synthclf.generation.access import LLMSession, call_counts, gather_all, open_session
from synthclf.generation.prompts import Prompt, Style
from synthclf.interrupts import Interrupted, run_async
from synthclf.metrics import JudgeStats, write_metrics
from synthclf.records import atomic_write, read_jsonl
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
CHAT_MAX_TOKENS = 24          # room for "**Task B**" or "Task A is more objective."
COMPLETION_MAX_TOKENS = 4     # the prompt ends in "... is Task": one letter is the answer
PROMPT_ID = "judge-objectivity"


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
    columns = ([(text, label) for text in texts] for label, texts in by_label.items())
    turns = itertools.chain.from_iterable(itertools.zip_longest(*columns))   # one of each label in turn
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
    system = f"You are {judge.persona}. You judge how objective text-classification tasks are."
    return [{"role": "system", "content": system},
            {"role": "user", "content": text + " Answer with one letter: A or B."}]


def completion_prompt(judge: Judge, text: str) -> str:
    """Small local models continue a pattern better than they follow an instruction."""
    return (f"The following judgment was written by {judge.persona}.\n\n{text}\n\n"
            "Answer: The more objective task is Task")


# --- answers --------------------------------------------------------------------------------------

# words that may follow a leading "A" when it names the task ("A is more objective"), not an article
AFTER_CHOICE = r"(?:is|was|because|since|seems|appears|as)\b"
NO_CHOICE = re.compile(r"^\W*\(?[AB]\)?\s+(?:or|and|nor)\s+\(?[AB](?![\w'])")
MORE_OBJECTIVE = re.compile(r"(?<![\w'])([AB])\*{0,2}\)?\s+(?:is|seems|appears)\s+"
                            r"(?:the\s+|much\s+|clearly\s+)?more\s+objective")
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

def judge_prompt(style: Style, judge: Judge, text: str) -> Prompt:
    """The request body in the session's prompt style, with the short answer's own token cap."""
    if style == "chat":
        messages = tuple((m["role"], m["content"]) for m in chat_messages(judge, text))
        return Prompt(style="chat", prompt_id=PROMPT_ID, messages=messages, max_tokens=CHAT_MAX_TOKENS)
    return Prompt(style="completion", prompt_id=PROMPT_ID, text=completion_prompt(judge, text), stop=("\n",),
                  max_tokens=COMPLETION_MAX_TOKENS)


def attempt_seed(judge: Judge, attempt: int) -> int:
    return judge.seed * 1_000_003 + attempt


async def ask(session: LLMSession, question: Question, text: str, attempts: int) -> dict | None:
    """Ask until the answer names A or B (at most `attempts` times, a new seed each time).
    None when the budget ran out before the question was settled."""
    prompt = judge_prompt(session.style, question.judge, text)
    tokens_in = tokens_out = 0
    answer = ""
    for attempt in range(attempts):
        # Keyed like every LLM request (model, style, prompt, sampling with this seed), plus the stage.
        reply = await session.complete(prompt, attempt_seed(question.judge, attempt), stage="judge")
        if reply is None:
            return None
        answer = reply.response.text
        tokens_in += reply.response.prompt_tokens
        tokens_out += reply.response.completion_tokens
        choice = parse_choice(answer)
        if choice:
            return {"choice": choice, "answer": answer.strip(), "asks": attempt + 1,
                    "tokens_in": tokens_in, "tokens_out": tokens_out}
    return {"choice": None, "answer": answer.strip(), "asks": attempts,
            "tokens_in": tokens_in, "tokens_out": tokens_out}


async def ask_all(session: LLMSession, questions: Sequence[Question], texts: dict, attempts: int) -> list[dict | None]:
    """Every question at once; the session's client bounds the calls in flight (llm.concurrency)."""
    try:
        return await gather_all(ask(session, q, texts[(q.task_a, q.task_b)], attempts) for q in questions)
    finally:
        await session.close()


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
             "asks": sum(o["asks"] for o in outcomes), "tokens_in": sum(o["tokens_in"] for o in outcomes),
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
    with open_session(llm, params.generate) as session:
        try:
            outcomes = run_async(ask_all(session, questions, texts, analysis.judge_attempts))
        except Interrupted as error:    # every finished call was committed before it was counted
            finished = session.stats.calls + session.accounting.cache_hits
            error.detail = f"{finished} finished calls are cached; rerun to resume"
            raise
    calls = call_counts(session.stats, session.accounting)
    unsettled = sum(outcome is None for outcome in outcomes)
    if unsettled:
        raise SynthclfError(f"judge: generate.budget_usd ${params.generate.budget_usd} was spent "
                            f"(${calls['cost_usd']:.4f} in {calls['calls']} calls) with {unsettled} of "
                            f"{len(questions)} questions unanswered; "
                            "the answers so far are cached: raise generate.budget_usd (0 = no cap) and rerun")
    settled: list[dict] = [outcome for outcome in outcomes if outcome is not None]   # all of them now
    rows = [row for q, o in zip(questions, settled, strict=True) if (row := to_row(q, o))]
    if not rows:
        raise SynthclfError(f"judge: none of {len(questions)} answers named task A or B; try a larger model "
                            "(llm.base_url, llm.model) or llm.prompt_style: chat")
    write_csv(paths.judgments_file(), rows)
    stats = {**panel_stats(questions, settled, rows, tasks, analysis.levels), **calls}
    write_metrics(paths.judge_metrics_file(), stats, JudgeStats)
    return stats

