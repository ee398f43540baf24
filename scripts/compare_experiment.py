"""Compare this checkout with a base branch in the light profile: `dvc metrics diff`, `dvc plots diff`.

    python scripts/compare_experiment.py                          # against origin/main (else main)
    python scripts/compare_experiment.py --base main --out comparison.md
    python scripts/compare_experiment.py --base v1.2 --profile profiles/light.yaml --plots-dir cmp_plots

The same steps run in CI (.github/workflows/experiments.yml, on a pull request against its base).
Your workspace is never touched: everything runs in a scratch clone (`git clone --shared`, objects
borrowed read-only from this repository) in a temporary directory.

1. head = this checkout as it is: HEAD plus uncommitted edits of tracked files and new files git does
   not ignore (committed in the scratch clone only); --head REF takes a committed ref instead.
2. base = --base REF. For each side in turn, in the same scratch clone: check it out on a branch
   (compare/base, compare/head), merge the profile into its params.yaml (key by key; a list replaces
   the list; the profile is read from this checkout, so both sides get the same one), `dvc repro`,
   and commit params.yaml, dvc.lock and the metrics on that branch. The two runs share one DVC cache,
   so a stage the head did not change is restored from the base run's run-cache instead of rerun, and
   one LLM response cache ($SYNTHCLF_CACHE_DIR, else this checkout's .synthclf_cache), so the same
   prompt is never generated twice (nor again on the next comparison).
3. `dvc params diff`, `dvc metrics diff` and `dvc plots diff compare/base compare/head` (HTML under
   --plots-dir); `dvc diff` names the plot files that changed.
4. The Markdown comparison goes to stdout, to --out, and is appended to $GITHUB_STEP_SUMMARY when set.
   It leads with what changed (synthclf.analysis.experiments, from each side's metrics/summary.json):
   the params, the verdicts that changed (with the head's verdict in full), the headline score per
   task and source base -> head with intervals and whether the move is beyond them, the findings
   whose status changed. The full params and metrics diffs follow, folded (<details>): point
   estimates first, then interval bounds and standard errors, then texts in full.

Progress goes to stderr. A failing step prints one line `error: ...` (naming the step and the full log,
kept with the scratch clone) and exits 1; a bad argument exits 2.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from synthclf.analysis.experiments import SUMMARY, comparison_summary

HERE = Path(__file__).resolve().parents[1]
DEFAULT_PROFILE = HERE / "profiles" / "light.yaml"
WORKTREE = "WORKTREE"           # --head default: the checkout as it is, uncommitted edits included
BRANCHES = {"base": "compare/base", "head": "compare/head"}
STAGE_LINE = re.compile(r"(Running stage '[^']+'|Stage '[^']+' is cached - skipping run|"
                        r"Stage '[^']+' didn't change, skipping)")
IDENTITY = ["-c", "user.name=synthclf compare", "-c", "user.email=compare@localhost", "-c", "commit.gpgsign=false"]


class StepError(Exception):
    """A step failed; the message is the one line the user sees."""


STARTED = time.perf_counter()


def progress(message: str) -> None:
    print(f"[compare {time.perf_counter() - STARTED:4.0f} s] {message}", file=sys.stderr, flush=True)


class Runner:
    """Runs commands in the scratch clone, every command and its output appended to one log."""

    def __init__(self, repo: Path, log: Path, env: dict[str, str]) -> None:
        self.repo, self.log, self.env = repo, log, env

    def _record(self, command: list[str], output: str) -> None:
        with self.log.open("a", encoding="utf-8") as handle:
            handle.write(f"$ {' '.join(command)}\n{output}\n")

    def __call__(self, *command: str, step: str, cwd: Path | None = None) -> str:
        done = subprocess.run(list(command), cwd=cwd or self.repo, env=self.env, capture_output=True, text=True)
        self._record(list(command), done.stdout + done.stderr)
        if done.returncode != 0:
            raise StepError(f"{step} failed ({exit_status(done.returncode)}): {last_error(done.stdout + done.stderr)} "
                            f"(full log: {self.log})")
        return done.stdout

    def streamed(self, *command: str, step: str) -> list[str]:
        """Run, echoing DVC's stage lines to stderr as they come; the stage lines."""
        stages: list[str] = []
        with self.log.open("a", encoding="utf-8") as handle:
            handle.write(f"$ {' '.join(command)}\n")
            process = subprocess.Popen(list(command), cwd=self.repo, env=self.env, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, bufsize=1)
            tail: list[str] = []
            for line in process.stdout:
                handle.write(line)
                tail = [*tail, line][-80:]
                found = STAGE_LINE.search(line)
                if found:
                    stages.append(found.group(1))
                    progress(f"  {found.group(1)}")
            code = process.wait()
        if code != 0:
            with self.log.open("a", encoding="utf-8") as handle:
                handle.write(f"[{exit_status(code)}]\n")
            raise StepError(f"{step} failed ({exit_status(code)}): {last_error(''.join(tail))} (full log: {self.log})")
        return stages


def exit_status(code: int) -> str:
    return f"killed by signal {-code}" if code < 0 else f"exit {code}"


def last_error(output: str) -> str:
    """The line that says what went wrong: DVC's last ERROR line with the failing command's own
    `error:` line (synthclf's one-line message), else git's fatal/error line, else the last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    dvc_errors = [index for index, line in enumerate(lines) if line.startswith("ERROR")]
    own = [line for line in lines[:dvc_errors[-1] if dvc_errors else len(lines)]
           if re.match(r"^(fatal|error):", line, re.IGNORECASE)]
    if dvc_errors:
        return lines[dvc_errors[-1]] + (f" ({own[-1]})" if own else "")
    return own[-1] if own else (lines[-1] if lines else "no output")


# -- params ----------------------------------------------------------------------------------------
def merged(params: dict, profile: dict) -> dict:
    """params with the profile merged in key by key; a list or scalar replaces what was there."""
    result = copy.deepcopy(params)
    for key, value in profile.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def leaf_paths(profile: dict, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths: list[tuple[str, ...]] = []
    for key, value in profile.items():
        if isinstance(value, dict) and value:
            paths.extend(leaf_paths(value, (*prefix, key)))
        else:
            paths.append((*prefix, key))
    return paths


def lookup(params: dict, path: tuple[str, ...]):
    for key in path:
        if not isinstance(params, dict) or key not in params:
            return None
        params = params[key]
    return params


def masked_keys(base: dict, head: dict, profile: dict) -> list[str]:
    """Keys the head changed but the profile overrides: the comparison cannot see these changes."""
    return [".".join(path) for path in leaf_paths(profile) if lookup(base, path) != lookup(head, path)]


def load_profile(path: Path) -> dict:
    try:
        profile = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StepError(f"profile {path} not found; pass --profile FILE (e.g. profiles/light.yaml)") from None
    except UnicodeDecodeError as exc:
        raise StepError(f"profile {path}: byte {exc.start} is not valid UTF-8; save the profile as UTF-8") from None
    except (yaml.YAMLError, ValueError, TypeError, AttributeError, RecursionError) as exc:  # PyYAML raises
        # the last four on some explicit tags and dates, e.g. `!!timestamp 2024-13-45`
        raise StepError(f"profile {path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(profile, dict) or not profile:
        raise StepError(f"profile {path} must be a mapping of params.yaml keys to override")
    _check_shape(path, profile, ())
    return profile


def _check_shape(path: Path, value, inside: tuple[int, ...]) -> None:
    """Keys are params.yaml key names (text), and no value contains itself (a YAML alias inside its own
    anchor, `&a [*a]`): either would break the merge and the overrides."""
    if not isinstance(value, (dict, list)):
        return
    if id(value) in inside:
        raise StepError(f"profile {path}: a value contains itself (a YAML alias inside its own anchor); write it out")
    for key in value if isinstance(value, dict) else ():
        if not isinstance(key, str):
            raise StepError(f"profile {path}: key {key!r} is not a params.yaml key name; write the key as text")
    for item in value.values() if isinstance(value, dict) else value:
        _check_shape(path, item, (*inside, id(value)))


# -- git -------------------------------------------------------------------------------------------
def git_out(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    if done.returncode != 0:
        raise StepError(f"git {' '.join(args)} failed in {repo}: {last_error(done.stderr + done.stdout)}")
    return done.stdout


def resolve(workspace: Path, ref: str) -> str:
    done = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=workspace,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise StepError(f"git ref {ref!r} not found in {workspace} (git fetch it first, "
                        "or pass --base main / --base origin/<branch>)")
    return done.stdout.strip()


def default_base(workspace: Path) -> str:
    for ref in ("origin/main", "main", "origin/master", "master"):
        if subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], cwd=workspace,
                          capture_output=True).returncode == 0:
            return ref
    raise StepError("no origin/main, main, origin/master or master here; pass --base REF")


def dirty_files(workspace: Path) -> tuple[list[str], list[str]]:
    """(files changed against HEAD, staged or not, and new files git does not ignore; deleted files)."""
    def names(*args: str) -> set[str]:
        return set(git_out(workspace, *args).split("\0")) - {""}
    changed = names("diff", "-z", "--name-only", "--no-renames", "--diff-filter=d", "HEAD") | names(
        "ls-files", "-z", "--others", "--exclude-standard")
    deleted = names("diff", "-z", "--name-only", "--no-renames", "--diff-filter=D", "HEAD")
    return sorted(changed - deleted), sorted(deleted)


def snapshot_worktree(workspace: Path, repo: Path, run: Runner, head_sha: str) -> tuple[str, int]:
    """Commit the workspace's uncommitted edits on top of HEAD in the scratch clone: (commit, files)."""
    run("git", "checkout", "-q", "--detach", head_sha, step="git checkout HEAD")
    changed, deleted = dirty_files(workspace)
    for relative in changed:
        source, target = workspace / relative, repo / relative
        if source.is_symlink() or not source.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    for relative in deleted:
        (repo / relative).unlink(missing_ok=True)
    if not changed and not deleted:
        return head_sha, 0
    run("git", "add", "-A", step="git add (uncommitted edits)")
    if not run("git", "status", "--porcelain", step="git status").strip():
        return head_sha, 0
    run("git", *IDENTITY, "commit", "-q", "--no-verify", "-m", "uncommitted edits of the workspace",
        step="git commit (uncommitted edits)")
    return run("git", "rev-parse", "HEAD", step="git rev-parse").strip(), len(changed) + len(deleted)


# -- the comparison --------------------------------------------------------------------------------
def reproduce(side: str, sha: str, label: str, profile: dict, run: Runner) -> dict:
    """Check out one side on its branch, apply the profile, dvc repro, commit the results."""
    repo = run.repo
    run("git", "checkout", "-q", "-f", "-B", BRANCHES[side], sha, step=f"git checkout {label}")
    params_file = repo / "params.yaml"
    if not params_file.exists() or not (repo / "dvc.yaml").exists():
        raise StepError(f"{label} has no params.yaml or dvc.yaml at the repository root")
    own = yaml.safe_load(params_file.read_text(encoding="utf-8")) or {}
    params_file.write_text(yaml.safe_dump(merged(own, profile), sort_keys=False), encoding="utf-8")
    progress(f"{side} {label} ({sha[:10]}): dvc repro in the light profile")
    started = time.perf_counter()
    stages = run.streamed(sys.executable, "-m", "dvc", "repro", step=f"dvc repro of {side} ({label})")
    seconds = time.perf_counter() - started
    ran = sum(line.startswith("Running stage") for line in stages)
    progress(f"{side}: {ran} stage(s) run, {len(stages) - ran} restored or unchanged, {seconds:.0f} s")
    run("git", "add", "-A", step=f"git add ({side} results)")
    run("git", *IDENTITY, "commit", "-q", "--no-verify", "--allow-empty", "-m",
        f"{side} {label} in the light profile", step=f"git commit ({side} results)")
    return {"params": own, "ran": ran, "stages": len(stages), "seconds": seconds}


def changed_plots(run: Runner) -> list[str]:
    """Files of plot outputs (under plots/) that differ between the two branches, per `dvc diff`."""
    out = run(sys.executable, "-m", "dvc", "diff", "--json", BRANCHES["base"], BRANCHES["head"], step="dvc diff")
    diff = json.loads(out or "{}")
    rows = []
    for kind in ("added", "deleted", "modified", "renamed"):
        for entry in diff.get(kind, []):
            path = entry["path"] if isinstance(entry.get("path"), str) else entry["path"].get("new", "")
            if path.startswith("plots/") and not path.endswith("/"):
                rows.append(f"{path} ({kind})")
    return sorted(rows)


def side_summary(run: Runner, side: str) -> dict | None:
    """metrics/summary.json as committed on one side's branch; None where the run has none."""
    done = subprocess.run(["git", "show", f"{BRANCHES[side]}:{SUMMARY}"], cwd=run.repo, env=run.env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        return None
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        return None


# -- the Markdown ----------------------------------------------------------------------------------
BOUND_KEYS = ("low", "high", "se", "std")     # a key's last word that makes it a bound, not an estimate


def number(value) -> str:
    """As `dvc metrics diff --md` shows numbers: at most 5 decimals, no float noise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "—" if value is None else str(value)
    return str(round(value, 5))


def is_bound(key: str) -> bool:
    last = key.rsplit(".", 1)[-1]
    return last in BOUND_KEYS or last.endswith(tuple(f"_{word}" for word in BOUND_KEYS))


def changed_params_line(params_diff: dict) -> str:
    changes = [f"`{key}` {number(change.get('old'))} → {number(change.get('new'))}"
               for path, keys in params_diff.items() for key, change in keys.items()]
    return "**Params:** " + ("; ".join(changes) if changes else "none differ between the two runs.")


def params_table(params_diff: dict) -> list[str]:
    rows = [f"| {path} | {key} | {number(change.get('old'))} | {number(change.get('new'))} |"
            for path, keys in sorted(params_diff.items()) for key, change in sorted(keys.items())]
    return ["| Path | Param | base | head |", "|---|---|---|---|", *rows] if rows else ["No param differs."]


def metrics_tables(metrics_diff: dict) -> list[str]:
    """The `dvc metrics diff`, point estimates first, then bounds and standard errors; texts (a
    verdict's sentence) in full in a list, never cut in a table cell."""
    numbers: dict[bool, list[str]] = {False: [], True: []}
    texts = []
    for path, keys in sorted(metrics_diff.items()):
        for key, change in sorted(keys.items()):
            old, new = change.get("old"), change.get("new")
            if isinstance(old, str) or isinstance(new, str):
                texts.append(f"- {path} `{key}`\n  - base: {old}\n  - head: {new}")
                continue
            numbers[is_bound(key)].append(f"| {path} | {key} | {number(old)} | {number(new)} | "
                                          f"{number(change.get('diff'))} |")
    header = ["| Path | Metric | base | head | Change |", "|---|---|---|---|---|"]
    lines = []
    for bounds, title in ((False, "Point estimates"), (True, "Interval bounds and standard errors")):
        if numbers[bounds]:
            lines += [f"**{title}** ({len(numbers[bounds])})", "", *header, *numbers[bounds], ""]
    if texts:
        lines += [f"**Texts** ({len(texts)})", "", *texts, ""]
    return lines or ["No metric changed.", ""]


def folded(summary: str, body: list[str]) -> list[str]:
    return ["<details>", f"<summary>{summary}</summary>", "", *body, "", "</details>", ""]


def markdown(*, base_label: str, base_sha: str, head_label: str, head_sha: str, profile_path: Path,
             profile: dict, masked: list[str], params_diff: dict, metrics_diff: dict,
             summaries: dict[str, dict | None], plots: list[str], plots_html: Path, runs: dict) -> str:
    """What changed first (params, verdicts, headline scores, findings), the full diffs folded."""
    lines = [
        "## Experiment comparison (light profile)",
        "",
        f"base `{base_label}` ({base_sha[:10]}) → head `{head_label}` ({head_sha[:10]}), "
        f"both reproduced with `{profile_path.name}` merged into their params.yaml "
        f"(it overrides: {', '.join(f'`{key}`' for key in profile)}).",
        "",
    ]
    if masked:
        lines += [f"> **Not compared:** the head changes {', '.join(f'`{key}`' for key in masked)}, which the "
                  "light profile overrides; this comparison cannot see that change.", ""]
    lines += ["### What changed", "", changed_params_line(params_diff), "",
              *comparison_summary(summaries["base"], summaries["head"]),
              f"Stages run: base {runs['base']['ran']} of {runs['base']['stages']} "
              f"({runs['base']['seconds']:.0f} s), head {runs['head']['ran']} of {runs['head']['stages']} "
              f"({runs['head']['seconds']:.0f} s; the others restored from the base run). "
              f"Plots: {len(plots)} file(s) changed; both revisions side by side: `{plots_html}`", ""]
    metric_count = sum(len(keys) for keys in metrics_diff.values())
    lines += ["### Full diff", "",
              *folded(f"Params (`dvc params diff`): {sum(len(keys) for keys in params_diff.values())} key(s)",
                      params_table(params_diff)),
              *folded(f"Metrics (`dvc metrics diff`): {metric_count} key(s) changed", metrics_tables(metrics_diff)),
              *folded(f"Plots (`dvc plots diff`): {len(plots)} file(s) changed",
                      [f"- `{row}`" for row in plots] or ["No plot changed."])]
    return "\n".join(lines)


def compare(args: argparse.Namespace) -> str:
    workspace = Path(git_out(Path(args.repo), "rev-parse", "--show-toplevel").strip())
    profile_path = Path(args.profile).resolve()
    profile = load_profile(profile_path)
    base_label = args.base or default_base(workspace)
    base_sha = resolve(workspace, base_label)
    head_label = "HEAD" if args.head == WORKTREE else args.head
    head_sha = resolve(workspace, head_label)

    workdir = Path(args.workdir).resolve() if args.workdir else Path(tempfile.mkdtemp(prefix="synthclf-compare-"))
    workdir.mkdir(parents=True, exist_ok=True)
    repo, log = workdir / "repo", workdir / "compare.log"
    if repo.exists():
        raise StepError(f"{repo} already exists; pass an empty --workdir")
    llm_cache = Path(args.llm_cache or os.environ.get("SYNTHCLF_CACHE_DIR") or workspace / ".synthclf_cache")
    llm_cache = llm_cache.expanduser().resolve()
    llm_cache.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SYNTHCLF_CACHE_DIR=str(llm_cache), DVC_NO_ANALYTICS="1", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", GX_ANALYTICS_ENABLED="false",
               # each side runs its own code, not the package installed in editable mode from the workspace
               PYTHONPATH=os.pathsep.join(filter(None, [str(repo / "src"), os.environ.get("PYTHONPATH")])),
               PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    run = Runner(repo, log, env)
    progress(f"scratch clone {repo} (log {log}); LLM response cache {llm_cache}")
    run("git", "clone", "-q", "--shared", "--no-checkout", str(workspace), str(repo), step="git clone --shared",
        cwd=workdir)
    if args.head == WORKTREE:
        head_sha, edits = snapshot_worktree(workspace, repo, run, head_sha)
        if edits:
            head_label = f"HEAD + {edits} uncommitted file(s)"

    runs = {"base": reproduce("base", base_sha, base_label, profile, run),
            "head": reproduce("head", head_sha, head_label, profile, run)}
    masked = masked_keys(runs["base"]["params"], runs["head"]["params"], profile)

    progress("dvc params diff, dvc metrics diff, dvc plots diff")
    dvc = (sys.executable, "-m", "dvc")
    params_diff = json.loads(run(*dvc, "params", "diff", BRANCHES["base"], BRANCHES["head"], "--json",
                                 step="dvc params diff") or "{}")
    metrics_diff = json.loads(run(*dvc, "metrics", "diff", BRANCHES["base"], BRANCHES["head"], "--json",
                                  step="dvc metrics diff") or "{}")
    summaries = {side: side_summary(run, side) for side in BRANCHES}
    if args.plots_dir:
        plots_dir = Path(args.plots_dir).resolve()
    elif args.out:
        plots_dir = Path(args.out).resolve().with_name(Path(args.out).stem + "_plots")
    else:
        plots_dir = Path(tempfile.mkdtemp(prefix="synthclf-compare-plots-"))
    if plots_dir.exists() and any(plots_dir.iterdir()):
        if not (plots_dir / "index.html").exists():   # never wipe a folder that is not an earlier plots diff
            raise StepError(f"--plots-dir {plots_dir} is not empty; name a new or an earlier plots folder")
        shutil.rmtree(plots_dir)
    plots_dir.mkdir(parents=True, exist_ok=True)   # dvc plots diff -o does not create missing parents
    run(*dvc, "plots", "diff", BRANCHES["base"], BRANCHES["head"], "-o", str(plots_dir), step="dvc plots diff")
    plots = changed_plots(run)

    report = markdown(base_label=base_label, base_sha=base_sha, head_label=head_label, head_sha=head_sha,
                      profile_path=profile_path, profile=profile, masked=masked, params_diff=params_diff,
                      metrics_diff=metrics_diff, summaries=summaries, plots=plots,
                      plots_html=plots_dir / "index.html", runs=runs)
    if args.keep:
        progress(f"kept the scratch clone: {repo}")
    else:
        shutil.rmtree(repo if args.workdir else workdir, ignore_errors=True)
    return report


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", help="git ref to compare with (default: origin/main, else main)")
    parser.add_argument("--head", default=WORKTREE,
                        help="git ref of the changed side (default: this checkout, uncommitted edits included)")
    parser.add_argument("--profile", default=str(DEFAULT_PROFILE),
                        help="overrides merged into both sides' params.yaml (default: profiles/light.yaml)")
    parser.add_argument("--out", help="also write the Markdown comparison to this file")
    parser.add_argument("--plots-dir", help="where `dvc plots diff` writes its HTML "
                        "(default: <out stem>_plots beside --out, else a new temporary directory)")
    parser.add_argument("--llm-cache", help="LLM response cache directory shared by both runs "
                        "(default: $SYNTHCLF_CACHE_DIR, else this checkout's .synthclf_cache)")
    parser.add_argument("--workdir", help="scratch directory (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch clone after a success")
    parser.add_argument("-C", "--repo", default=".", help="the repository to compare (default: the current one)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    started = time.perf_counter()
    try:
        report = compare(args)
    except StepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    print(report)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(report, encoding="utf-8")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(report + "\n")
    progress(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
