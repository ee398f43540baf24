"""The `synthclf` command line. Each DVC stage calls exactly one command; each command lives in one module.

Commands import their module lazily so `synthclf --help` and params errors answer in a moment.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from synthclf import interrupts
from synthclf.interrupts import guarded

if Path(sys.argv[0]).name == "synthclf":  # the console script: a signal during the imports below
    interrupts.hold_until_handled()      # is raised once the command starts, as one line

import typer

from synthclf.config import DEFAULT_PARAMS, Params, load_params
from synthclf.errors import SynthclfError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Synthetic text-classification data from LLMs: generate, validate, train, compare.")

# `synthclf task new` / `synthclf task check`: authoring a user's own task (not a pipeline stage).
from synthclf.tasks.authoring import app as task_app  # noqa: E402

app.add_typer(task_app, name="task")

ParamsOption = Annotated[Path, typer.Option("--params", help="the params file to read")]
TaskOption = Annotated[str, typer.Option("--task", help="task name (a card in src/synthclf/tasks/cards)")]
SourceOption = Annotated[str, typer.Option("--source", help="training source: real, zero_shot, few_shot or a mix")]
AllSourcesOption = Annotated[str | None, typer.Option(
    "--source", help="one source only; without it every source of the task (what the dvc stage runs)")]


def _params_with_task(params_path: Path, task: str | None) -> Params:
    """The validated params, their `resources` made this process's threads and device."""
    from synthclf import resources

    params = load_params(params_path)
    resources.activate(params.resources)
    if task is not None and task not in params.tasks:
        raise SynthclfError(f"--task: got {task!r}; params.yaml tasks are {', '.join(params.tasks)}")
    return params


def _check_source(params: Params, source: str | None) -> None:
    if source is not None and source not in params.sources:
        raise SynthclfError(f"--source: got {source!r}; allowed: {', '.join(params.sources)}")


def run_stage(module: str, params_path: Path, task: str | None, *args: str,
              check: Callable[[Params], None] | None = None) -> None:
    """The body of every stage command: validated params, an optional argument check, then the
    stage module's run(params, [task], *args), imported only now (so --help stays instant)."""
    def action() -> None:
        params = _params_with_task(params_path, task)
        if check is not None:
            check(params)
        stage = importlib.import_module(module)
        stage.run(params, *([task] if task is not None else []), *args)
    guarded(action)


@app.command()
def fetch(task: TaskOption, params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Download (pinned, sha256-checked) and extract a task's real data to data/raw/<task>."""
    def action() -> None:
        _params_with_task(params, task)
        from synthclf.tasks import fetch as stage
        stage.run(task)
    guarded(action)


@app.command()
def prepare(task: TaskOption, params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Clean, deduplicate and split a task's real data; build the few-shot pool."""
    run_stage("synthclf.tasks.prepare", params, task)


@app.command()
def generate(task: TaskOption, setting: Annotated[str, typer.Option(help="zero_shot or few_shot")],
             params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Generate synthetic training data for a task with the configured LLM."""
    def check(p: Params) -> None:
        if setting not in p.generate.settings:
            raise SynthclfError(f"--setting: got {setting!r}; allowed: {', '.join(p.generate.settings)}")
    run_stage("synthclf.generation.generate", params, task, setting, check=check)


@app.command()
def serve(host: str = "127.0.0.1", port: Annotated[int, typer.Option(help="0 = a free port")] = 8000,
          params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Start the bundled SmolLM2 model behind an OpenAI-compatible server, until Ctrl-C."""
    def action() -> None:
        p = _params_with_task(params, None)
        from synthclf.generation import server
        server.serve_forever(p.llm, host=host, port=port)
    guarded(action)


@app.command()
def validate(task: TaskOption, source: AllSourcesOption = None, params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Run the Great Expectations suites on a task's datasets; quarantine or fail per params."""
    def check(p: Params) -> None:
        if source is not None and source not in ("real", *p.generate.settings):
            raise SynthclfError(f"--source: got {source!r}; allowed: real, {', '.join(p.generate.settings)}")
    run_stage("synthclf.validation.validate", params, task, source, check=check)


@app.command()
def mix(task: TaskOption, source: AllSourcesOption = None, params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Build a task's real+synthetic training mixes such as few_shot+real100 from validated data."""
    def check(p: Params) -> None:
        if source is not None and p.mix(source) is None:
            names = [mix.source for mix in p.mixes]
            raise SynthclfError(f"--source: got {source!r}; params.yaml mixes are {names or 'empty'}")
    run_stage("synthclf.training.mix", params, task, source, check=check)


@app.command()
def train(task: TaskOption, source: AllSourcesOption = None, params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Fit the classifier (train.backend) on a task's training sources and predict the real test set."""
    run_stage("synthclf.training.train", params, task, source, check=lambda p: _check_source(p, source))


@app.command()
def evaluate(task: TaskOption, source: AllSourcesOption = None, params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Score a task's trained sources on the real test set."""
    run_stage("synthclf.training.evaluate", params, task, source, check=lambda p: _check_source(p, source))


@app.command()
def judge(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Ask the configured LLM, as a panel of judges, which of two tasks is more objective."""
    run_stage("synthclf.analysis.judge", params, None)


@app.command()
def analyze(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Compare sources across subjectivity levels; instance-level agreement curves."""
    run_stage("synthclf.analysis.analyze", params, None)


@app.command()
def report(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Write reports/report.md and reports/report.html with figures."""
    run_stage("synthclf.analysis.report", params, None)


@app.command()
def experiments(repo: Annotated[Path, typer.Option("--repo", help="the DVC project")] = Path("."),
                from_json: Annotated[Path | None, typer.Option(
                    "--from-json", help="a saved `dvc exp show --json` output, instead of running it")] = None) -> None:
    """Per DVC experiment: the params it changed, each task's verdict, share recovered and headline score."""
    def action() -> None:
        from synthclf.analysis.experiments import run
        typer.echo(run(repo, from_json), nl=False)
    guarded(action)


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())


if __name__ == "__main__":  # python -m synthclf.cli
    main()
