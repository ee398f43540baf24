"""The LLM judge panel: answer parsing, the questions, and whole runs against real HTTP servers
(a loopback OpenAI-compatible stub, and the bundled llama.cpp model when it is installed)."""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from scipy.stats import spearmanr

from synthclf.analysis import judge
from synthclf.analysis.bradley_terry import read_judgments
from synthclf.config import Params
from synthclf.errors import SynthclfError
from synthclf.generation.access import prompt_style
from synthclf.tasks import load_card

TASKS = ["trec", "sms_spam", "vader_nyt", "seinfeld_humor"]      # card levels 1, 2, 4, 5


@pytest.mark.parametrize(("answer", "choice"), [
    ("A", "A"), (" B.", "B"), ("B\n", "B"), ("(A)", "A"), ("**Task B**", "B"), ("Task A is more objective.", "A"),
    ("The answer is (B).", "B"), ("Answer: A", "A"), ("B is more objective because it uses keywords", "B"),
    (" A, because spam has clear keywords", "A"), ("A is clearly more objective.", "A"),
    ("Compared with Task A, Task B is more objective.", "B"), ("I would pick B", "B"),
])
def test_parse_choice_reads_answers(answer, choice):
    assert judge.parse_choice(answer) == choice


@pytest.mark.parametrize("answer", [
    "", "   ", "A or B", "Both tasks are equally objective.", "A task that uses keywords is objective",
    "Task A and Task B", "a", "I think the first one", "A movie review and B", "ABBA",
])
def test_parse_choice_refuses_unclear_answers(answer):
    assert judge.parse_choice(answer) is None


def test_questions_cover_every_pair_for_every_judge_in_both_orders():
    panel = judge.make_panel(3)
    assert [j.persona for j in panel] == list(judge.PERSONAS[:3]) and [j.seed for j in panel] == [0, 1, 2]
    questions = judge.make_questions(TASKS, panel, both_orders=True)
    assert len(questions) == 3 * 6 * 2
    pairs = {(q.task_a, q.task_b) for q in questions}
    assert ("trec", "sms_spam") in pairs and ("sms_spam", "trec") in pairs
    assert len(judge.make_questions(TASKS, panel, both_orders=False)) == 18


def params_for(base_url: str | None, generate: dict | None = None, **analyze) -> Params:
    return Params.model_validate({
        "tasks": TASKS, "split": {t: {"train_size": 10, "test_size": 10, "pool_size": 4} for t in TASKS},
        "llm": {"base_url": base_url, "max_retries": 0, "timeout_s": 60, "concurrency": 2},
        "generate": generate or {}, "analyze": {"judge_panel": 2, "judge_examples": 2, **analyze}})


def write_pool(root: Path, task: str) -> None:
    labels = list(load_card(task).labels)
    path = root / f"data/prepared/{task}/pool.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"{task}-{i}", "text": f"{task} example number {i} " + "word " * 50,
             "label": labels[i % len(labels)]} for i in range(4)]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_prompt_describes_both_tasks_with_pool_examples(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_pool(tmp_path, "trec")
    text = judge.question_text(load_card("trec"), load_card("sms_spam"), examples=2)
    assert text.startswith(judge.OBJECTIVE)
    assert f"Task A: {load_card('trec').title}" in text and f"Task B: {load_card('sms_spam').title}" in text
    assert text.count("-> ") == 2                                   # sms_spam has no pool here
    first_two_labels = list(load_card("trec").labels)[:2]
    assert all(f"-> {label}" in text for label in first_two_labels)  # labels taken in turn
    assert " ..." in text                                           # long examples are shortened
    assert "spam" in text.split("Task B:")[1]


# --- a real loopback OpenAI-compatible server ----------------------------------------------------

# The stub judge's own view, most objective first: not the cards' order (trec 1, sms_spam 2, vader_nyt 4,
# seinfeld_humor 5), so what the run reports about the panel comes from the panel, not from the cards.
STUB_ORDER = {"sms_spam": 1, "trec": 2, "seinfeld_humor": 3, "vader_nyt": 4}


class StubJudge(BaseHTTPRequestHandler):
    """Answers /v1/chat/completions like a consistent judge with its own view (STUB_ORDER: the task
    it ranks first is more objective), in a different wording each time; seinfeld-vs-vader_nyt
    questions get an unclear answer on the first attempt (seed ending in 0) to exercise the retry.
    With `unclear` set it answers every question without naming A or B, as a confused model would."""

    requests: ClassVar[list[dict]] = []   # shared by the per-request handler instances: the test reads it
    unclear = False

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StubJudge.requests.append(body)
        prompt = body["messages"][-1]["content"]
        title_a = re.search(r"Task A: (.+?)\. ", prompt).group(1)
        title_b = re.search(r"Task B: (.+?)\. ", prompt).group(1)
        task_of = {load_card(t).title: t for t in TASKS}
        task_a, task_b = task_of[title_a], task_of[title_b]
        letter = "A" if STUB_ORDER[task_a] < STUB_ORDER[task_b] else "B"
        if StubJudge.unclear:
            unclear = ["Both are hard to say.", "A or B", "A task that uses keywords is objective"]
            answer = unclear[len(StubJudge.requests) % 3]
        elif {task_a, task_b} == {"vader_nyt", "seinfeld_humor"} and body["seed"] % 1_000_003 == 0:
            answer = "Both are hard to say."
        else:
            wordings = [f"{letter}", f"**Task {letter}**", f"Task {letter} is more objective."]
            answer = wordings[len(StubJudge.requests) % 3]
        payload = {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                   "choices": [{"index": 0, "finish_reason": "stop",
                                "message": {"role": "assistant", "content": answer}}],
                   "usage": {"prompt_tokens": 100, "completion_tokens": 3, "total_tokens": 103}}
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def stub_server(monkeypatch):
    monkeypatch.delenv("SYNTHCLF_CACHE_DIR", raising=False)     # the response cache lives in the test's cwd
    StubJudge.requests, StubJudge.unclear = [], False
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubJudge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_panel_run_against_a_loopback_server(tmp_path, monkeypatch, stub_server):
    monkeypatch.chdir(tmp_path)
    for task in TASKS:
        write_pool(tmp_path, task)
    stats = judge.run(params_for(stub_server))
    questions = 2 * 6 * 2
    assert stats["questions"] == questions and stats["judgments"] == questions and stats["unparsed"] == 0
    assert stats["asks"] == stats["calls"] == questions + 2 * 2       # one retry per seinfeld/vader_nyt question
    assert stats["http_requests"] == stats["calls"] == len(StubJudge.requests) and stats["cache_hits"] == 0
    assert stats["tokens_in"] == 100 * stats["calls"] and stats["judges"] == 2
    assert stats["share_first_position"] == pytest.approx(0.5)
    # the panel's order (Bradley-Terry on its answers) against the cards': the stub's view, not the cards'
    cards = [load_card(t).subjectivity.level for t in TASKS]
    expected = spearmanr(cards, [STUB_ORDER[t] for t in TASKS]).statistic      # 0.6: two swapped pairs
    assert expected == pytest.approx(0.6) and stats["spearman_with_cards"] == pytest.approx(expected)
    with Path("data/judgments/llm_panel.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == questions and list(rows[0]) == list(judge.CSV_COLUMNS)
    assert all(row["winner"] == min((row["task_a"], row["task_b"]), key=STUB_ORDER.get) for row in rows)
    assert {row["judge"] for row in rows} == {"llm0", "llm1"}
    assert len(read_judgments("data/judgments/llm_panel.csv")) == questions      # Bradley-Terry reads it
    assert json.loads(Path("data/judgments/llm_panel.stats.json").read_text()) == stats
    first = StubJudge.requests[0]
    assert first["model"] == "SmolLM2-135M-Instruct" and first["max_tokens"] == 24
    assert first["messages"][0]["role"] == "system" and judge.PERSONAS[0] in first["messages"][0]["content"]
    assert "Answer with one letter: A or B." in first["messages"][1]["content"]
    # an OpenAI-style endpoint (backend auto with a base_url) gets no llama.cpp-only field
    assert all("repeat_penalty" not in body for body in StubJudge.requests)


def test_a_rerun_is_answered_from_the_response_cache(tmp_path, monkeypatch, stub_server):
    monkeypatch.chdir(tmp_path)
    for task in TASKS:
        write_pool(tmp_path, task)
    params = params_for(stub_server)
    first = judge.run(params)
    csv_first = Path("data/judgments/llm_panel.csv").read_text()
    sent = len(StubJudge.requests)
    assert Path(".synthclf_cache/responses.sqlite").exists()          # generate.cache_path, shared with generate
    second = judge.run(params)
    assert len(StubJudge.requests) == sent                             # not one request more
    assert second["calls"] == second["http_requests"] == 0 and second["cache_hits"] == first["asks"] == sent
    assert Path("data/judgments/llm_panel.csv").read_text() == csv_first
    same = ("questions", "judgments", "asks", "tokens_in", "share_first_position", "spearman_with_cards")
    assert {key: second[key] for key in same} == {key: first[key] for key in same}
    # What sets a judge call apart is in its key: another seed (a third attempt, another judge) is a miss.
    judge.run(params.model_copy(update={"analyze": params.analyze.model_copy(update={"judge_panel": 3})}))
    assert len(StubJudge.requests) == sent + 6 * 2 + 2                 # only the new judge's questions


def test_the_budget_stops_the_panel_with_a_clear_error_and_a_rerun_resumes(tmp_path, monkeypatch, stub_server):
    monkeypatch.chdir(tmp_path)
    for task in TASKS:
        write_pool(tmp_path, task)
    # $1 per 100 prompt tokens: every call the stub answers costs $1.00; the budget buys 5 of them.
    priced = {"budget_usd": 5.0, "prices": {"SmolLM2-135M-Instruct": {"input_per_1m": 10_000, "output_per_1m": 0}}}
    with pytest.raises(SynthclfError, match=r"generate.budget_usd \$5.0 was spent .* questions unanswered"):
        judge.run(params_for(stub_server, generate=priced))
    spent = len(StubJudge.requests)
    assert 5 <= spent <= 6                          # then nothing more is sent; the call in flight lands
    assert not Path("data/judgments/llm_panel.csv").exists()
    stats = judge.run(params_for(stub_server))      # no cap: the rest, and nothing is asked twice
    assert stats["judgments"] == 24 and stats["cache_hits"] == spent
    assert len(StubJudge.requests) == 24 + 2 * 2


def test_unparseable_panel_is_an_error(tmp_path, monkeypatch, stub_server):
    monkeypatch.chdir(tmp_path)
    StubJudge.unclear = True                                            # the server answers badly, nothing is patched
    with pytest.raises(SynthclfError, match="none of 24 answers"):
        judge.run(params_for(stub_server, judge_attempts=1))
    assert len(StubJudge.requests) == 24
    assert not Path("data/judgments/llm_panel.csv").exists()


def test_unreachable_endpoint_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SYNTHCLF_CACHE_DIR", raising=False)
    with pytest.raises(SynthclfError, match=r"llm.base_url http://127.0.0.1:9/v1 is not reachable"):
        judge.run(params_for("http://127.0.0.1:9/v1", judge_panel=1, judge_tasks=["trec", "sms_spam"]))


def test_judge_needs_two_tasks():
    with pytest.raises(SynthclfError, match="at least two tasks"):
        judge.judged_tasks(params_for("http://x", judge_tasks=["trec"]))


# --- the bundled model ---------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.timeout(300)
def test_panel_run_against_the_bundled_llama_cpp_server(tmp_path, monkeypatch):
    """The real model's answers, read back from the response cache, are what the panel recorded: each
    answer the parser reads names the winner of its question's row, each it cannot read is an ask
    without a row. (`make setup` installs the model and llama-cpp-python: without them this fails.)"""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv("SYNTHCLF_CACHE_DIR", raising=False)
    tasks = ["trec", "seinfeld_humor", "sms_spam"]
    for task in tasks:
        write_pool(tmp_path, task)
    params = params_for(None, judge_panel=1, judge_tasks=tasks)
    assert prompt_style(params.llm) == "completion"
    stats = judge.run(params)
    assert stats["questions"] == 6 and stats["judgments"] >= 1 and stats["tokens_in"] > 0
    rows = sorted((c.task_a, c.task_b, c.winner) for c in read_judgments("data/judgments/llm_panel.csv"))
    task_of = {load_card(t).title: t for t in tasks}
    parsed, unparsed = [], 0
    with sqlite3.connect(".synthclf_cache/responses.sqlite") as db:
        for request, response in db.execute("SELECT request, response FROM responses"):
            prompt = json.loads(request)["prompt"]
            task_a = task_of[re.search(r"Task A: (.+?)\. ", prompt).group(1)]
            task_b = task_of[re.search(r"Task B: (.+?)\. ", prompt).group(1)]
            choice = judge.parse_choice(json.loads(response)["text"])
            if choice is None:
                unparsed += 1
            else:
                parsed.append((task_a, task_b, task_a if choice == "A" else task_b))
    assert sorted(parsed) == rows
    assert len(parsed) + unparsed == stats["asks"] == stats["calls"]
    assert stats["unparsed"] == stats["questions"] - len(rows)

    def no_server(*args, **kwargs):
        raise AssertionError("a fully cached run must not start the bundled server")

    monkeypatch.setattr("synthclf.generation.server.spawned_server", no_server)
    again = judge.run(params)                      # all cached: the bundled server is not even started
    assert again["calls"] == 0 and again["cache_hits"] == stats["asks"]
    print("bundled-model panel:", stats)
