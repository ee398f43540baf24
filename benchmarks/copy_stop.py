"""Does stopping a few-shot answer at its first copied text (generate.stop_at_copy) cost text quality?

The rule drops the texts a list answer writes after one that copies a pool example (the small model
mostly goes on copying), and streams the call so it stops there. This scores the few-shot texts of
replicate 0 of two runs alike: one that judged every text of a list (`stop_at_copy: false`, or a
run made before the rule) and one made with it. The measures are benchmarks/texts_per_call.py's:
calls and rejects per kept text, label fidelity (TF-IDF on real data), the default classifier's
Macro-F1 on the real test set with the paired difference (stopped - whole), and diversity over
real texts of the same number. Both arms share the generation seeds, but two from-scratch runs of
llama.cpp do not repeat every answer token for token (batching and prompt-prefix reuse change the
arithmetic), so each arm is its own draw: read a difference against the replicate spread.

  python benchmarks/copy_stop.py --whole <run without the rule> --stopped <run with it> \\
      --tasks trec sms_spam rt_sentiment vader_tweets vader_nyt seinfeld_humor \\
      --json benchmarks/results/copy_stop.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from texts_per_call import arm_cells, compare_runs, difference_cells

ARMS = ("whole", "stopped")


def markdown(results: dict) -> str:
    lines = ["| task | answers | calls / kept | rejected / kept | label fidelity | Macro-F1 [95%] | "
             "Remote-Clique / real | Chamfer / real |", "|---|---|---|---|---|---|---|---|"]
    for task, cell in results["cells"].items():
        lines += [f"| {task} | {arm} | {arm_cells(cell[arm])}" for arm in ARMS]
        lines.append(f"| {task} | stopped - whole{difference_cells(cell['stopped_minus_whole'])}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--whole", type=Path, required=True, help="project folder generated without the rule")
    parser.add_argument("--stopped", type=Path, required=True, help="project folder generated with it")
    parser.add_argument("--tasks", nargs="+", required=True)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    results = compare_runs({"whole": args.whole, "stopped": args.stopped}, args.tasks, ("few_shot",),
                           key=lambda task, _setting: task)
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
