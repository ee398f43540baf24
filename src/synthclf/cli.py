"""The `synthclf` command line. Each DVC stage calls exactly one command; each command lives in one module.

Commands import their module lazily so `synthclf --help` and params errors answer in a moment.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

from synthclf import interrupts

if Path(sys.argv[0]).name == "synthclf":  # the console script: a signal during the imports below
    interrupts.hold_until_handled()      # is raised once the command starts, as one line

import typer  # noqa: E402

from synthclf.config import DEFAULT_PARAMS, Params, load_params  # noqa: E402
from synthclf.errors import SynthclfError  # noqa: E402

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Synthetic text-classification data from LLMs: generate, validate, train, compare.")

# `synthclf task new` / `synthclf task check`: authoring a user's own task (not a pipeline stage).
from synthclf.tasks.authoring import app as task_app  # noqa: E402

app.add_typer(task_app, name="task")

T = TypeVar("T")
ParamsOption = Annotated[Path, typer.Option("--params", help="the params file to read")]
TaskOption = Annotated[str, typer.Option("--task", help="task name (a card in src/synthclf/tasks/cards)")]
SourceOption = Annotated[str, typer.Option("--source", help="training source: real, zero_shot, few_shot or a mix")]


def guarded(action: Callable[[], T]) -> T:
    """Run a command; a user error becomes one line on stderr and exit code 2, SIGINT or SIGTERM
    one `interrupted: ...` line and exit code 130 or 143 (see synthclf.interrupts)."""
    try:
        with interrupts.handled():
            return action()
    except SynthclfError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt as exc:
        stopped = interrupts.as_interrupted(exc)
        typer.echo(stopped.line, err=True)
        raise typer.Exit(stopped.exit_code) from None


def _params_with_task(params_path: Path, task: str | None) -> Params:
    """The validated params, their `resources` made this process's threads and device."""
    from synthclf import resources

    params = load_params(params_path)
    resources.activate(params.resources)
    if task is not None and task not in params.tasks:
        raise SynthclfError(f"--task: got {task!r}; params.yaml tasks are {', '.join(params.tasks)}")
    return params


def _check_source(params: Params, source: str) -> None:
    if source not in params.sources:
        raise SynthclfError(f"--source: got {source!r}; allowed: {', '.join(params.sources)}")


@app.command()
def fetch(task: TaskOption, params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Download (pinned, sha256-checked) and extract a task's real data to data/raw/<task>."""
    def action():
        _params_with_task(params, task)
        from synthclf.tasks import fetch as stage
        stage.run(task)
    guarded(action)


@app.command()
def prepare(task: TaskOption, params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Clean, deduplicate and split a task's real data; build the few-shot pool."""
    def action():
        p = _params_with_task(params, task)
        from synthclf.tasks import prepare as stage
        stage.run(p, task)
    guarded(action)


@app.command()
def generate(task: TaskOption, setting: Annotated[str, typer.Option(help="zero_shot or few_shot")],
             params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Generate synthetic training data for a task with the configured LLM."""
    def action():
        p = _params_with_task(params, task)
        if setting not in p.generate.settings:
            raise SynthclfError(f"--setting: got {setting!r}; allowed: {', '.join(p.generate.settings)}")
        from synthclf.generation import generate as stage
        stage.run(p, task, setting)
    guarded(action)


@app.command()
def serve(host: str = "127.0.0.1", port: Annotated[int, typer.Option(help="0 = a free port")] = 8000,
          params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Start the bundled SmolLM2 model behind an OpenAI-compatible server, until Ctrl-C."""
    def action():
        p = _params_with_task(params, None)
        from synthclf.generation import server
        server.serve_forever(p.llm, host=host, port=port)
    guarded(action)


@app.command()
def validate(task: TaskOption, source: SourceOption, params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Run the Great Expectations suite on a dataset; quarantine or fail per params."""
    def action():
        p = _params_with_task(params, task)
        if source not in ("real", *p.generate.settings):
            raise SynthclfError(f"--source: got {source!r}; allowed: real, {', '.join(p.generate.settings)}")
        from synthclf.validation import validate as stage
        stage.run(p, task, source)
    guarded(action)


@app.command()
def mix(task: TaskOption, source: SourceOption, params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Build a real+synthetic training mix such as few_shot+real100 from validated data."""
    def action():
        p = _params_with_task(params, task)
        if p.mix(source) is None:
            names = [mix.source for mix in p.mixes]
            raise SynthclfError(f"--source: got {source!r}; params.yaml mixes are {names or 'empty'}")
        from synthclf.training import mix as stage
        stage.run(p, task, source)
    guarded(action)


@app.command()
def train(task: TaskOption, source: SourceOption, params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Fine-tune the classifier on one training source, once per seed."""
    def action():
        p = _params_with_task(params, task)
        _check_source(p, source)
        from synthclf.training import train as stage
        stage.run(p, task, source)
    guarded(action)


@app.command()
def evaluate(task: TaskOption, source: SourceOption, params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Score a trained source's checkpoints on the real test set."""
    def action():
        p = _params_with_task(params, task)
        _check_source(p, source)
        from synthclf.training import evaluate as stage
        stage.run(p, task, source)
    guarded(action)


@app.command()
def judge(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Ask the configured LLM, as a panel of judges, which of two tasks is more objective."""
    def action():
        p = _params_with_task(params, None)
        from synthclf.analysis import judge as stage
        stage.run(p)
    guarded(action)


@app.command()
def analyze(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Compare sources across subjectivity levels; instance-level agreement curves."""
    def action():
        p = _params_with_task(params, None)
        from synthclf.analysis import analyze as stage
        stage.run(p)
    guarded(action)


@app.command()
def report(params: ParamsOption = DEFAULT_PARAMS) -> None:
    """Write reports/report.md and reports/report.html with figures."""
    def action():
        p = _params_with_task(params, None)
        from synthclf.analysis import report as stage
        stage.run(p)
    guarded(action)


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())


if __name__ == "__main__":  # python -m synthclf.cli
    main()
