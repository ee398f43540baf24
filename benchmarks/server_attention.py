"""The bundled llama.cpp server with flash attention against without: prompt reading and writing speed.

Few-shot calls spend about half their time reading their prompt (four shown examples, ~220 new
tokens a call; a zero-shot call reuses its prefix and only writes). This starts the bundled
generator's real server twice per round, `--flash_attn false` and `true`, alternating, and sends
each the same requests through the openai client:

1. reading: 12 prompts of ~250 tokens that share only their first line (so the server's prefix
   reuse cannot help), one completion token each: prompt tokens per second;
2. writing: 6 short prompts, 64 completion tokens each: completion tokens per second.

Each arm's best round is reported, and the ratios on / off. Measured on 2 cores (2026-12-07,
`benchmarks/results/server_attention.json`): reading x1.05, writing x0.95, within the host's noise
between rounds (reading 123-143 tokens/s, writing 27-36 with it off), so the pipeline's server
keeps llama.cpp's default (off). Needs the bundled generator (`make generator`); time it with the
machine to itself.

    python benchmarks/server_attention.py [--threads 2] [--rounds 2] [--model NAME] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from openai import OpenAI

from synthclf.config import load_params
from synthclf.generation.server import free_port, server_command, stop, wait_until_ready
from synthclf.settings.llm import LLMParams

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HEADER = "Here are examples of a short text. Every new example is original.\n\n"


def reading_prompts(count: int, words_per_example: int = 45) -> list[str]:
    """Prompts of four numbered 'examples' cut from the docs, different in each prompt."""
    words = " ".join(path.read_text(encoding="utf-8") for path in sorted(DOCS.glob("*.md"))).split()
    prompts, start = [], 0
    for _ in range(count):
        items = []
        for number in range(1, 5):
            items.append(f'{number}. "{" ".join(words[start:start + words_per_example])}"')
            start += words_per_example
        prompts.append(HEADER + "\n".join(items) + '\n5. "')
    return prompts


def timed_writes(client: OpenAI, model: str, prompts: list[str], max_tokens: int = 64) -> list[tuple[int, float]]:
    """(completion tokens, seconds) of one call per prompt (seed: its position), each asked for
    max_tokens with no stop sequence; also pipeline_time.py's measure of a host's speed."""
    calls = []
    for seed, prompt in enumerate(prompts):
        started = time.perf_counter()
        answer = client.completions.create(model=model, prompt=prompt, max_tokens=max_tokens, seed=seed,
                                           temperature=0.8, stop=[])
        calls.append((answer.usage.completion_tokens, time.perf_counter() - started))
    return calls


def measure(base_url: str, model: str) -> dict[str, float]:
    client = OpenAI(base_url=base_url, api_key="unused", timeout=300, max_retries=0)
    prompt_tokens = read_s = 0.0
    for seed, prompt in enumerate(reading_prompts(12)):
        started = time.perf_counter()
        answer = client.completions.create(model=model, prompt=prompt, max_tokens=1, seed=seed, temperature=0.8)
        read_s += time.perf_counter() - started
        prompt_tokens += answer.usage.prompt_tokens
    writes = timed_writes(client, model, [f'{HEADER}{number}. "' for number in range(1, 7)])
    return {"prompt_tokens_per_s": prompt_tokens / read_s,
            "completion_tokens_per_s": sum(tokens for tokens, _ in writes) / sum(seconds for _, seconds in writes)}


def run_arm(llm: LLMParams, flash_attn: bool) -> dict[str, float]:
    port = free_port()
    # the pipeline's own server command; a later flag overrides an earlier one
    command = [*server_command(llm, "127.0.0.1", port), "--flash_attn", str(flash_attn).lower()]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base_url = f"http://127.0.0.1:{port}/v1"
        wait_until_ready(base_url, process, Path(os.devnull))
        return measure(base_url, llm.model)
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model", help="a bundled generator (default: llm.model of params.yaml)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.model = args.model or load_params(ROOT / "params.yaml").llm.model
    llm = LLMParams(model=args.model, server_threads=args.threads)
    best: dict[str, dict[str, float]] = {"off": {}, "on": {}}
    for round_number in range(args.rounds):
        for arm, flash in (("off", False), ("on", True)):
            figures = run_arm(llm, flash)
            print(f"round {round_number + 1}, flash attention {arm}: "
                  f"reading {figures['prompt_tokens_per_s']:.0f} tokens/s, "
                  f"writing {figures['completion_tokens_per_s']:.1f} tokens/s", flush=True)
            for name, value in figures.items():
                best[arm][name] = max(best[arm].get(name, 0.0), value)
    ratios = {name: best["on"][name] / best["off"][name] for name in best["on"]}
    print(f"best of {args.rounds}, on / off: reading x{ratios['prompt_tokens_per_s']:.2f}, "
          f"writing x{ratios['completion_tokens_per_s']:.2f} ({args.model}, {args.threads} threads)")
    if args.json:
        result = {"model": args.model, "threads": args.threads, "rounds": args.rounds, "best": best,
                  "ratio_on_over_off": ratios}
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
