"""Fixtures for the generation tests: the real bundled llama.cpp server (started once per session),
a fault-injecting proxy in front of it, and throwaway project directories with a tiny params.yaml.

Nothing here touches the network beyond loopback, and nothing writes into the repository's data/.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ.setdefault("HF_HUB_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]

# A small, hand-written few-shot pool (the real one comes from `synthclf prepare`).
POOL = {
    "ham": [
        "Hey are we still on for dinner tonight? I can pick you up at 7",
        "Sorry I missed your call, I was in the shower. Call you back in 5 mins",
        "Mum says thanks for the flowers, she loved them x",
        "Running late, the bus broke down again. Save me a seat",
        "Did you finish the essay yet? I'm stuck on the last question",
        "Happy birthday mate! Drinks on me this weekend",
    ],
    "spam": [
        "WINNER!! You have won a 1000 cash prize. Call 09061701461 now to claim. T&Cs apply",
        "FREE entry into our weekly competition to win FA Cup final tickets. Text FA to 87121",
        "Urgent! Your mobile number has been awarded a bonus. Call 08712300220 before midnight",
        "Congratulations, you've been selected for a free holiday to Spain. Reply YES to claim",
        "Get the latest ringtones for just 1.50 a week. Text TONE to 85222 now. Stop to end",
        "Your account will be suspended. Verify your details at www.secure-update.co.uk today",
    ],
}


def write_pool(root: Path, task: str = "sms_spam") -> Path:
    path = root / "data" / "prepared" / task / "pool.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for label, texts in POOL.items():
            for number, text in enumerate(texts):
                record = {"id": f"{task}-{label}-{number}", "task": task, "text": text, "label": label,
                          "source": "real"}
                handle.write(json.dumps(record) + "\n")
    return path


def project_params(llm: dict[str, Any] | None = None, generate: dict[str, Any] | None = None) -> dict[str, Any]:
    """A one-task params file: the repository's own `llm` and `generate` sections with overrides;
    every other section is left to its defaults, so other subsystems' settings cannot break these tests."""
    repo = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    return {
        "seed": 0,
        "tasks": ["sms_spam"],
        "split": {"sms_spam": {"train_size": 100, "test_size": 100, "pool_size": 12}},
        "sources": ["real", "zero_shot", "few_shot"],
        # the light profile: SmolLM2 whatever the default generator is (the tests' server serves it)
        "llm": {**repo["llm"], "model": "SmolLM2-135M-Instruct", "concurrency": 2, "max_tokens": 48, "timeout_s": 30,
                "retry_base_s": 0.05, "retry_max_s": 0.5, **(llm or {})},
        # one text per call (where a call may write several): these tests count calls, retries and cache
        # rows per text; several texts per call have their own tests (tests/test_generation_lists.py)
        "generate": {**repo["generate"], "per_class": 3, "replicates": 1, "max_attempts_factor": 4.0, "budget_usd": 0,
                     **({"texts_per_call": 1} if "texts_per_call" in repo["generate"] else {}), **(generate or {})},
        "compare": {"sizes": []},   # one learning-curve point: these tests generate a handful of texts
    }


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """The bundled SmolLM2 model behind llama-cpp-python's OpenAI-compatible server, once per session."""
    from synthclf.generation.server import local_server
    from synthclf.settings.llm import LLMParams

    with local_server(LLMParams(server_threads=2)) as base_url:
        yield base_url


@pytest.fixture
def fault_proxy(llama_server: str) -> Iterator[Any]:
    from fault_proxy import FaultProxy

    with FaultProxy(upstream=llama_server, retry_after_s=1, stall_s=6) as proxy:
        yield proxy


@pytest.fixture
def gen_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Factory: a project dir (params.yaml + few-shot pool) that becomes the working directory."""
    monkeypatch.delenv("SYNTHCLF_CACHE_DIR", raising=False)

    def make(llm: dict[str, Any] | None = None, generate: dict[str, Any] | None = None) -> Path:
        write_pool(tmp_path)
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(project_params(llm, generate), sort_keys=False),
                                              encoding="utf-8")
        monkeypatch.chdir(tmp_path)
        return tmp_path

    return make
